"""``bench.classical`` baselines on small generated images: each reaches the statistics it matches."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import gradient_photo
from skimage.color import rgb2lab

from bench.classical import CLASSICAL, histogram_matching, monge_kantorovich, reinhard

METHODS = sorted(CLASSICAL)
RED, BLUE = (0.8, 0.25, 0.15), (0.15, 0.3, 0.75)


def _photo(seed: int, size: tuple[int, int], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """A float photo-like gradient, squeezed into [low, high] so transfers need not clip."""
    rgb = np.asarray(gradient_photo(size, seed), dtype=np.float64) / 255
    return low + (high - low) * rgb


def _noisy_colour(shape: tuple[int, int], rgb: tuple[float, float, float], seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 0.03, (*shape, 3))
    return np.clip(np.array(rgb) + noise, 0, 1)


def _lab_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = rgb2lab(image).reshape(-1, 3)
    return lab.mean(axis=0), lab.std(axis=0)


@pytest.mark.parametrize("name", METHODS)
def test_output_keeps_shape_and_range(name: str) -> None:
    content, style = _photo(1, (40, 30)), _photo(2, (24, 36))
    out = CLASSICAL[name](content, style)
    assert out.shape == content.shape and out.dtype == content.dtype
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_reinhard_gives_the_style_lab_mean_and_std() -> None:
    content, style = _photo(3, (40, 30), 0.2, 0.8), _photo(4, (32, 32), 0.3, 0.7)
    mean, std = _lab_stats(reinhard(content, style))
    style_mean, style_std = _lab_stats(style)
    # Nothing leaves the gamut here, so the match is exact up to rounding.
    np.testing.assert_allclose(mean, style_mean, atol=1e-6)
    np.testing.assert_allclose(std, style_std, rtol=1e-6)


def test_monge_kantorovich_gives_the_style_rgb_covariance() -> None:
    content, style = _photo(5, (40, 30), 0.2, 0.8), _photo(6, (32, 32), 0.3, 0.7)
    out = monge_kantorovich(content, style)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), style.reshape(-1, 3).mean(axis=0), atol=1e-3)
    out_cov = np.cov(out.reshape(-1, 3), rowvar=False)
    style_cov = np.cov(style.reshape(-1, 3), rowvar=False)
    # Off by the regularisation only (the content's own covariance is off by over 200%).
    np.testing.assert_allclose(out_cov, style_cov, atol=0.01 * np.abs(style_cov).max())


def test_histogram_matching_gives_the_style_quantiles() -> None:
    content, style = _photo(7, (40, 30)), _photo(8, (32, 32))
    out = histogram_matching(content, style)
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    np.testing.assert_allclose(
        np.quantile(out.reshape(-1, 3), quantiles, axis=0),
        np.quantile(style.reshape(-1, 3), quantiles, axis=0),
        atol=0.02,
    )


@pytest.mark.parametrize("name", METHODS)
def test_style_equal_to_content_changes_nothing(name: str) -> None:
    content = _photo(9, (40, 30))
    np.testing.assert_allclose(CLASSICAL[name](content, content), content, atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_flat_style_gives_its_colour(name: str) -> None:
    content, style = _photo(10, (40, 30)), np.full((16, 16, 3), (0.6, 0.4, 0.2))
    out = CLASSICAL[name](content, style)
    np.testing.assert_allclose(out, np.broadcast_to(style[0, 0], out.shape), atol=0.03)


@pytest.mark.parametrize("name", METHODS)
def test_flat_content_gives_a_flat_finite_output(name: str) -> None:
    content, style = np.full((20, 24, 3), 0.5), _photo(11, (32, 32))
    out = CLASSICAL[name](content, style)
    assert np.isfinite(out).all()
    assert out.reshape(-1, 3).std(axis=0).max() < 1e-6


@pytest.mark.parametrize("name", METHODS)
def test_label_maps_keep_regions_apart(name: str) -> None:
    # Content: left half label 0, right half label 1. Style: top half label 0 (red), bottom label 1 (blue).
    content = _photo(12, (32, 24))
    content_labels = np.zeros((24, 32), dtype=np.int64)
    content_labels[:, 16:] = 1
    style = np.concatenate([_noisy_colour((10, 20), RED, 1), _noisy_colour((10, 20), BLUE, 2)])
    style_labels = np.zeros((20, 20), dtype=np.int64)
    style_labels[10:] = 1
    out = CLASSICAL[name](content, style, content_labels, style_labels)
    np.testing.assert_allclose(out[:, :16].reshape(-1, 3).mean(axis=0), RED, atol=0.03)
    np.testing.assert_allclose(out[:, 16:].reshape(-1, 3).mean(axis=0), BLUE, atol=0.03)
    # A content region the style lacks is transferred from the whole style.
    content_labels[:, 16:] = 5
    out = CLASSICAL[name](content, style, content_labels, style_labels)
    np.testing.assert_allclose(out[:, 16:], CLASSICAL[name](content[:, 16:], style), atol=1e-12)


def test_bad_inputs_raise() -> None:
    content, style = _photo(13, (16, 16)), _photo(14, (16, 16))
    labels = np.zeros((16, 16), dtype=np.int64)
    with pytest.raises(ValueError, match="both label maps"):
        reinhard(content, style, labels)
    with pytest.raises(ValueError, match="label maps must match"):
        reinhard(content, style, labels[:8], labels)
    with pytest.raises(ValueError, match="float"):
        monge_kantorovich((content * 255).astype(np.uint8), style)
