"""Automatic regions (photonas.regions): pairing, flat photos, determinism, shapes, video stability."""

from __future__ import annotations

import pytest
import torch

from photonas.encoder import VGGEncoder
from photonas.padding import pad_to_grid
from photonas.regions import METHODS, RegionConfig, fit_regions, kmeans


@pytest.fixture(scope="module")
def encoder() -> VGGEncoder:
    torch.set_num_threads(1)
    return VGGEncoder()


def auto_label_maps(
    encoder: VGGEncoder, content: torch.Tensor, style: torch.Tensor, config: RegionConfig = RegionConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(content labels, style labels) at each photo's own size, found as the library finds them."""
    with torch.inference_mode():
        (content_feats, content_box, content_padded), (style_feats, style_box, style_padded) = (
            (encoder(padded), box, padded) for padded, box in (pad_to_grid(content), pad_to_grid(style))
        )
    matcher, style_labels = fit_regions(
        style_feats, style_box, config, style_image=style_padded,
        content_feats=content_feats, content_box=content_box, content_image=content_padded,
    )  # fmt: skip
    return matcher.label(content_feats, content_box, content_padded), style_labels


def two_band(top: tuple[float, float, float], bottom: tuple[float, float, float], h: int, w: int) -> torch.Tensor:
    """A (1, 3, h, w) photo: one colour above the middle, another below, with a little noise."""
    image = torch.empty(1, 3, h, w)
    image[..., : h // 2, :] = torch.tensor(top)[:, None, None]
    image[..., h // 2 :, :] = torch.tensor(bottom)[:, None, None]
    noise = 0.01 * torch.randn(image.shape, generator=torch.Generator().manual_seed(1))
    return (image + noise).clamp(0, 1)


BLUE, GREEN = (0.3, 0.5, 0.9), (0.2, 0.55, 0.2)
ORANGE, BROWN = (1.0, 0.6, 0.15), (0.45, 0.3, 0.15)


@pytest.mark.parametrize("method", METHODS)
def test_two_region_pair_matches_top_with_top(encoder: VGGEncoder, method: str) -> None:
    content = two_band(BLUE, GREEN, 96, 128)
    style = two_band(ORANGE, BROWN, 112, 112)
    content_labels, style_labels = auto_label_maps(encoder, content, style, RegionConfig(method=method))
    style_half = torch.zeros(112, dtype=torch.long)
    style_half[56:] = 1  # 0: top, 1: bottom
    # Away from the border band (which may form regions of its own), every content label of a
    # half must take its statistics from the same half of the style.
    for half, rows in ((0, slice(0, 32)), (1, slice(-32, None))):
        for label in content_labels[0, rows].unique().tolist():
            source_rows = (style_labels[0] == label).nonzero()[:, 0]
            assert source_rows.numel() > 0, f"content label {label} has no style region"
            assert (style_half[source_rows] == half).float().mean() > 0.9
    top, bottom = set(content_labels[0, :32].unique().tolist()), set(content_labels[0, -32:].unique().tolist())
    assert not top & bottom


@pytest.mark.parametrize("method", METHODS)
def test_flat_content_is_one_region(encoder: VGGEncoder, method: str) -> None:
    flat = torch.full((1, 3, 70, 90), 0.4)
    flat[:, 2] = 0.8
    style = two_band(ORANGE, BROWN, 64, 64)
    content_labels, style_labels = auto_label_maps(encoder, flat, style, RegionConfig(method=method))
    assert content_labels.unique().numel() == 1
    # The flat content's label is absent from the style: it takes the whole style's statistics.
    assert content_labels[0, 0, 0].item() not in style_labels.unique().tolist()


def test_flat_style_and_flat_content_give_finite_labels(encoder: VGGEncoder) -> None:
    flat = torch.full((1, 3, 48, 48), 0.5)
    content_labels, style_labels = auto_label_maps(encoder, flat, flat.clone())
    assert content_labels.unique().numel() == style_labels.unique().numel() == 1


@pytest.mark.parametrize("method", METHODS)
def test_labels_shape_dtype_and_tiny_images(encoder: VGGEncoder, method: str) -> None:
    generator = torch.Generator().manual_seed(0)
    for (hc, wc), (hs, ws) in (((57, 83), (64, 40)), ((5, 7), (9, 3)), ((1, 1), (31, 200))):
        content = torch.rand(1, 3, hc, wc, generator=generator)
        style = torch.rand(1, 3, hs, ws, generator=generator)
        content_labels, style_labels = auto_label_maps(encoder, content, style, RegionConfig(method=method))
        assert content_labels.shape == (1, hc, wc) and style_labels.shape == (1, hs, ws)
        assert content_labels.dtype == style_labels.dtype == torch.int64
        assert int(content_labels.min()) >= 0 and int(style_labels.min()) >= 0


@pytest.mark.parametrize("method", METHODS)
def test_deterministic(encoder: VGGEncoder, method: str) -> None:
    generator = torch.Generator().manual_seed(3)
    content = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=generator), size=(96, 128), mode="bilinear")
    style = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 6, generator=generator), size=(128, 96), mode="bilinear")
    config = RegionConfig(method=method, regions=4)
    first = auto_label_maps(encoder, content, style, config)
    second = auto_label_maps(encoder, content.clone(), style.clone(), config)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert first[0].unique().numel() > 1  # a non-trivial labelling was compared


def test_near_identical_frames_get_the_same_labels(encoder: VGGEncoder) -> None:
    """A matcher fitted once labels every frame; sensor-level noise must not move the regions."""
    generator = torch.Generator().manual_seed(5)
    frame = torch.nn.functional.interpolate(torch.rand(1, 3, 5, 7, generator=generator), size=(112, 160), mode="bicubic")
    frame = frame.clamp(0, 1)
    style = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 6, generator=generator), size=(128, 128), mode="bicubic")
    style_padded, style_box = pad_to_grid(style.clamp(0, 1))
    with torch.inference_mode():
        matcher, _ = fit_regions(encoder(style_padded), style_box, RegionConfig(regions=3))
    labels = []
    for _ in range(3):
        noisy = (frame + 0.002 * torch.randn(frame.shape, generator=generator)).clamp(0, 1)
        padded, box = pad_to_grid(noisy)
        with torch.inference_mode():
            labels.append(matcher.label(encoder(padded), box))
    assert labels[0].unique().numel() > 1
    for other in labels[1:]:
        assert torch.equal(other.unique(), labels[0].unique())
        assert (other == labels[0]).float().mean() > 0.99


def test_kmeans_finds_separated_clusters_and_stops_on_identical_points() -> None:
    points = torch.cat([torch.zeros(50, 3), torch.ones(30, 3) * 4, torch.tensor([[0.0, 9.0, 0.0]]).repeat(20, 1)])
    centroids = kmeans(points, 3)
    assert centroids.shape == (3, 3)
    assert sorted(centroids.sum(1).round().tolist()) == [0.0, 9.0, 12.0]
    same = kmeans(torch.ones(40, 5), 4)
    assert same.shape == (1, 5) and torch.isfinite(same).all()


def test_config_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="method"):
        RegionConfig(method="nearest")
    with pytest.raises(ValueError, match="levels"):
        RegionConfig(levels=("relu9_1",))
    with pytest.raises(ValueError, match="positive"):
        RegionConfig(regions=0)


def test_joint_needs_the_content(encoder: VGGEncoder) -> None:
    padded, box = pad_to_grid(torch.rand(1, 3, 48, 48))
    with torch.inference_mode(), pytest.raises(ValueError, match="content"):
        fit_regions(encoder(padded), box, RegionConfig(method="joint"))
