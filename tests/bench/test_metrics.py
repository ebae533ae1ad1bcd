"""``bench.metrics`` on small generated images with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import gradient_photo
from scipy.stats import wasserstein_distance
from skimage.color import lab2rgb

from bench import metrics
from photonas.encoder import VGGEncoder

SIZE = (40, 32)  # (width, height): off the encoder's 16-pixel grid, so padding is exercised


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def encoder() -> VGGEncoder:
    return VGGEncoder()


def _photo(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A float photo-like gradient in [0, 1]."""
    return np.asarray(gradient_photo(size, seed), dtype=np.float64) / 255


def _shuffled(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """The same pixels in a random order: same colours, no structure."""
    pixels = image.reshape(-1, 3)
    return pixels[np.random.default_rng(seed).permutation(len(pixels))].reshape(image.shape)


def _shifted(image: np.ndarray, amount: float) -> np.ndarray:
    return np.clip(image + np.array([amount, -amount / 2, amount / 4]), 0, 1)


def _checkerboard(shape: tuple[int, int], amplitude: float) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (amplitude * np.where((rows + cols) % 2, 1.0, -1.0))[..., None]


def _halves(shape: tuple[int, int], vertical_split: bool) -> np.ndarray:
    """Labels 0 and 1: left/right halves, or top/bottom."""
    labels = np.zeros(shape, dtype=np.int64)
    if vertical_split:
        labels[:, shape[1] // 2 :] = 1
    else:
        labels[shape[0] // 2 :] = 1
    return labels


def _noisy_colour(shape: tuple[int, int], rgb: tuple[float, float, float], seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 0.03, (*shape, 3))
    return np.clip(np.array(rgb) + noise, 0, 1)


# ---- identical images: the best score ----------------------------------------------------


def test_identical_images_score_best(encoder: VGGEncoder) -> None:
    image = _photo(1)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.edge_ssim(image, image) == pytest.approx(1.0)
    assert metrics.gram_loss(image, image, encoder) == 0.0
    assert metrics.sliced_wasserstein_lab(image, image) == 0.0
    assert metrics.artifact_energy(image, image) == 0.0
    assert metrics.psnr(image, image) == math.inf


def test_flat_images_give_finite_values(encoder: VGGEncoder) -> None:
    flat, other = np.full((32, 32, 3), 0.4), np.full((32, 32, 3), 0.7)
    photo = _photo(2, (32, 32))
    values = [
        metrics.ssim(flat, flat),
        metrics.ssim(flat, other),
        metrics.edge_ssim(flat, flat),
        metrics.edge_ssim(flat, photo),
        metrics.gram_loss(flat, other, encoder),
        metrics.gram_loss(photo, flat, encoder),
        metrics.sliced_wasserstein_lab(flat, other),
        metrics.artifact_energy(flat, photo),
        metrics.region_color_distance(flat, other, _halves((32, 32), True), _halves((32, 32), False)),
        metrics.psnr(flat, other),
    ]
    assert all(math.isfinite(v) for v in values), values
    assert metrics.edge_ssim(flat, flat) == pytest.approx(1.0)


def test_tiny_images_use_a_smaller_ssim_window() -> None:
    a, b = _photo(3, (5, 6)), _photo(4, (5, 6))
    assert -1 <= metrics.ssim(a, b) < 1
    assert metrics.edge_ssim(a, a) == pytest.approx(1.0)


# ---- each metric moves the expected way --------------------------------------------------


def test_structure_metrics_prefer_a_colour_shift_to_shuffled_pixels() -> None:
    content = _photo(5)
    shifted, shuffled = _shifted(content, 0.1), _shuffled(content)
    assert metrics.ssim(content, shifted) < 1
    assert metrics.edge_ssim(content, shifted) > 0.9
    assert metrics.edge_ssim(content, shuffled) < 0.5
    assert metrics.ssim(content, shifted) > metrics.ssim(content, shuffled)


def test_gram_loss_grows_with_a_colour_shift(encoder: VGGEncoder) -> None:
    style = _photo(6)
    small, large = (metrics.gram_loss(_shifted(style, d), style, encoder) for d in (0.05, 0.2))
    assert 0 < small < large


def test_gram_loss_accepts_cached_style_grams_and_other_sizes(encoder: VGGEncoder) -> None:
    output, style = _photo(7), _photo(8, (48, 36))
    grams = metrics.gram_matrices(style, encoder)
    assert grams["relu1_1"].shape == (64, 64) and grams["relu5_1"].shape == (512, 512)
    assert metrics.gram_loss(output, grams, encoder) == metrics.gram_loss(output, style, encoder) > 0


def test_sliced_wasserstein_ignores_pixel_order_and_is_symmetric() -> None:
    a, b = _photo(9), _photo(10, (36, 30))
    assert metrics.sliced_wasserstein_lab(a, _shuffled(a)) == pytest.approx(0.0, abs=1e-9)
    assert metrics.sliced_wasserstein_lab(a, b) == pytest.approx(metrics.sliced_wasserstein_lab(b, a))


def test_sliced_wasserstein_grows_with_a_shift() -> None:
    image = _photo(11)
    distances = [metrics.sliced_wasserstein_lab(image, _shifted(image, d)) for d in (0.0, 0.05, 0.1, 0.2)]
    assert distances[0] == 0.0
    assert distances == sorted(distances) and distances[1] > 0


def test_sliced_wasserstein_of_a_lab_translation_is_half_its_length() -> None:
    # Mid-grey colours well inside the sRGB gamut, so converting to Lab and back loses nothing.
    rng = np.random.default_rng(12)
    lab = np.stack([rng.uniform(40, 55, (16, 16)), rng.uniform(-8, 8, (16, 16)), rng.uniform(-8, 8, (16, 16))], -1)
    shift = np.array([6.0, 0.0, 8.0])  # length 10
    distance = metrics.sliced_wasserstein_lab(lab2rgb(lab), lab2rgb(lab + shift), n_projections=256)
    assert distance == pytest.approx(5.0, rel=0.08)


def test_sliced_wasserstein_is_deterministic_and_subsamples_large_images() -> None:
    a, b = _photo(13, (64, 64)), _photo(14, (64, 64))
    full = metrics.sliced_wasserstein_lab(a, b)
    assert metrics.sliced_wasserstein_lab(a, b) == full
    assert metrics.sliced_wasserstein_lab(a, b, seed=1) != full
    subsampled = metrics.sliced_wasserstein_lab(a, b, max_pixels=1024)
    assert metrics.sliced_wasserstein_lab(a, b, max_pixels=1024) == subsampled
    assert subsampled == pytest.approx(full, rel=0.2)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (5, 7), (64, 64), (100, 37)])
def test_wasserstein_1d_matches_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n * m)
    x, y = rng.normal(size=(n, 3)), rng.normal(1.0, 2.0, size=(m, 3))
    expected = [wasserstein_distance(x[:, i], y[:, i]) for i in range(3)]
    np.testing.assert_allclose(metrics.wasserstein_1d(x, y), expected, rtol=1e-12)


def _smooth(shape: tuple[int, int]) -> np.ndarray:
    """A noise-free colour gradient: no high frequencies of its own."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / np.array(shape)[:, None, None]
    return np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.7 - 0.4 * x * y], axis=-1)


def test_artifact_energy_sees_added_texture_not_colour_changes() -> None:
    content = _smooth((32, 40))
    assert metrics.artifact_energy(content, _shifted(content, 0.2)) == 0.0
    faint = content + _checkerboard(content.shape[:2], 0.002)  # 8-bit rounding noise
    assert metrics.artifact_energy(content, faint) == 0.0
    visible = content + _checkerboard(content.shape[:2], 0.01)
    assert metrics.artifact_energy(content, visible) > 0.9
    blotch = content.copy()
    blotch[10:20, 10:20, 1] += 0.1  # a green square: only its outline is new texture
    assert 0 < metrics.artifact_energy(content, blotch) < metrics.artifact_energy(content, visible)


def test_artifact_energy_ignores_texture_the_content_has() -> None:
    content = np.clip(0.5 + _checkerboard((32, 32), 0.05), 0, 1).repeat(3, axis=-1)
    stronger = np.clip(0.5 + _checkerboard((32, 32), 0.08), 0, 1).repeat(3, axis=-1)
    assert metrics.artifact_energy(content, stronger) == 0.0
    # Counted once any gain over the content's own energy is too much.
    assert metrics.artifact_energy(content, stronger, max_gain=1.0) > 0.9
    noisy = _photo(15)  # the noise of its own hides a faint checkerboard
    assert metrics.artifact_energy(noisy, np.clip(noisy + _checkerboard(noisy.shape[:2], 0.01), 0, 1)) < 0.05


def test_region_distance_prefers_matched_regions() -> None:
    shape = (32, 32)
    content_labels, style_labels = _halves(shape, True), _halves(shape, False)
    red, blue = (0.8, 0.2, 0.1), (0.1, 0.3, 0.8)
    style = np.concatenate([_noisy_colour((16, 32), red, 1), _noisy_colour((16, 32), blue, 2)])
    matched = np.concatenate([_noisy_colour((32, 16), red, 3), _noisy_colour((32, 16), blue, 4)], axis=1)
    swapped = matched[:, ::-1]
    near = metrics.region_color_distance(matched, style, content_labels, style_labels)
    far = metrics.region_color_distance(swapped, style, content_labels, style_labels)
    assert 0 <= near < 5 < far
    # The whole-image palette is the same either way: only the regional distance tells them apart.
    assert metrics.sliced_wasserstein_lab(matched, style) == pytest.approx(
        metrics.sliced_wasserstein_lab(swapped, style), rel=0.1
    )


def test_region_distance_skips_regions_missing_in_the_style() -> None:
    shape = (32, 32)
    style = np.concatenate([_noisy_colour((16, 32), (0.8, 0.2, 0.1), 5), _noisy_colour((16, 32), (0.1, 0.3, 0.8), 6)])
    output = _photo(16, (32, 32))
    content_labels, style_labels = _halves(shape, True), _halves(shape, False)
    only_left = np.where(content_labels == 1, 7, 0)  # the right half's label is not in the style
    distance = metrics.region_color_distance(output, style, only_left, style_labels)
    assert distance == pytest.approx(metrics.sliced_wasserstein_lab(output[:, :16], style[:16]))
    with pytest.raises(ValueError, match="share no region"):
        metrics.region_color_distance(output, style, np.full(shape, 7), style_labels)


def test_psnr_of_a_constant_offset() -> None:
    image = np.full((8, 8, 3), 0.5)
    assert metrics.psnr(image, image + 0.1) == pytest.approx(20.0)


def test_bad_inputs_raise() -> None:
    a, b = _photo(17), _photo(18, (32, 32))
    with pytest.raises(ValueError, match="same shape"):
        metrics.edge_ssim(a, b)
    with pytest.raises(ValueError, match="float"):
        metrics.artifact_energy(a, (a * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="label maps"):
        metrics.region_color_distance(a, b, _halves((32, 32), True), _halves((32, 32), True))
