"""Tests for photonas.masks: palette quantisation, fitting maps to photos, maps painted like DPST's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import photonas.masks as masks
from photonas.io import ImageError
from photonas.masks import (
    DPST_PALETTE,
    load_label_map,
    quantize_labels,
)
from photonas.style import StyleStats
from photonas.transforms import region_stats, resize_labels

NAMES = [name for name, _ in DPST_PALETTE]
COLOURS = np.array([rgb for _, rgb in DPST_PALETTE], np.float32)
BLUE, GREEN, BLACK, WHITE, RED, YELLOW, GREY, LIGHT_BLUE, PURPLE = range(9)


def label_image(labels: np.ndarray) -> Image.Image:
    """Colour-codes labels with the DPST palette, as the benchmark's PNGs are."""
    return Image.fromarray(np.round(COLOURS[labels] * 255).astype(np.uint8))


def test_palette() -> None:
    assert NAMES == ["blue", "green", "black", "white", "red", "yellow", "grey", "light blue", "purple"]
    np.testing.assert_array_equal(COLOURS[GREY], (0.5, 0.5, 0.5))
    np.testing.assert_array_equal(COLOURS[LIGHT_BLUE], (0, 1, 1))
    np.testing.assert_array_equal(COLOURS[PURPLE], (0.5, 0, 0.5))


def test_quantize_exact_and_anti_aliased_colours() -> None:
    exact = COLOURS[None]  # (1, 9, 3): every palette colour maps to itself
    np.testing.assert_array_equal(quantize_labels(exact), [list(range(9))])
    blended = np.array(
        [[[0.1, 0.05, 0.9], [0.9, 0.85, 0.2], [0.55, 0.45, 0.5], [0.45, 0.1, 0.6], [0.2, 0.2, 0.2]]],
        np.float64,
    )
    np.testing.assert_array_equal(quantize_labels(blended), [[BLUE, YELLOW, GREY, PURPLE, BLACK]])
    assert quantize_labels(blended).dtype == np.int64


def test_quantize_matches_brute_force_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = np.random.default_rng(0).random((37, 23, 3)).astype(np.float32)
    brute = np.argmin(((rgb[..., None, :] - COLOURS) ** 2).sum(axis=-1), axis=-1)
    monkeypatch.setattr(masks, "_CHUNK_PIXELS", 100)  # many chunks and a ragged last one
    np.testing.assert_array_equal(quantize_labels(rgb), brute)


def test_quantize_custom_palette_and_errors() -> None:
    palette = (("dark", (0.2, 0.2, 0.2)), ("light", (0.8, 0.8, 0.8)))
    rgb = np.array([[[0.0, 0.0, 0.0], [0.6, 0.6, 0.6]]])
    np.testing.assert_array_equal(quantize_labels(rgb, palette), [[0, 1]])
    with pytest.raises(ValueError, match="float"):
        quantize_labels(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        quantize_labels(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="palette"):
        quantize_labels(rgb, ())


def test_load_label_map_from_png(write_image) -> None:
    labels = np.random.default_rng(1).integers(0, 9, (12, 20))
    path = write_image(label_image(labels), "seg.png")
    np.testing.assert_array_equal(load_label_map(path), labels)
    np.testing.assert_array_equal(load_label_map(path.read_bytes()), labels)
    with Image.open(path) as image:
        np.testing.assert_array_equal(load_label_map(image), labels)


def test_load_label_map_grayscale(write_image) -> None:
    gray = np.array([[0, 255, 128, 20, 230, 110]], np.uint8)
    path = write_image(Image.fromarray(gray), "gray_seg.png")
    np.testing.assert_array_equal(load_label_map(path), [[BLACK, WHITE, GREY, BLACK, WHITE, GREY]])


def test_load_label_map_ignores_transparency(write_image) -> None:
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0], rgba[0, 1] = (255, 0, 0, 0), (0, 255, 0, 128)
    np.testing.assert_array_equal(load_label_map(write_image(Image.fromarray(rgba), "a.png")), [[RED, GREEN]])


def test_integer_array_taken_as_labels() -> None:
    labels = np.array([[0, 5], [12, 3]], np.int32)
    result = load_label_map(labels)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, labels)  # 12 is kept: a caller's own labelling
    with pytest.raises(ImageError, match="negative"):
        load_label_map(np.array([[0, -1]]), name="style label map")
    with pytest.raises(ImageError, match="empty"):
        load_label_map(np.zeros((0, 3), np.int64))


def test_float_array_is_quantised() -> None:
    rgb = np.stack([COLOURS[RED], COLOURS[LIGHT_BLUE] * 0.95])[None]
    np.testing.assert_array_equal(load_label_map(rgb), [[RED, LIGHT_BLUE]])


def test_fit_to_size_off_by_one_and_half_resolution(write_image) -> None:
    labels = np.zeros((393, 700), np.int64)
    labels[200:] = GREEN
    path = write_image(label_image(labels), "short.png")
    fitted = load_label_map(path, (700, 394))
    assert fitted.shape == (394, 700)
    assert set(np.unique(fitted)) == {BLUE, GREEN}
    assert fitted[0, 0] == BLUE and fitted[-1, -1] == GREEN
    assert abs(int((fitted == GREEN).sum()) - 194 * 700) <= 700
    half = load_label_map(label_image(labels[::2, ::2]), (700, 394))
    assert half.shape == (394, 700) and half[0, 0] == BLUE and half[-1, 0] == GREEN


def test_fit_to_size_rejects_other_aspect_ratio() -> None:
    square = label_image(np.zeros((300, 300), np.int64))
    with pytest.raises(ImageError) as info:
        load_label_map(square, (700, 394), name="content label map")
    assert "content label map is 300x300 but the content image is 700x394" in str(info.value)
    with pytest.raises(ImageError, match="700x394"):
        load_label_map(np.zeros((300, 300), np.int64), (700, 394))


def test_bad_label_map_inputs(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="style label map.*not found"):
        load_label_map(tmp_path / "missing.png", name="style label map")
    with pytest.raises(ImageError, match="over the limit"):
        load_label_map(label_image(np.zeros((50, 50), np.int64)), max_pixels=100)


# --- maps painted like DPST's: anti-aliased edges, JPEG noise, grayscale, one pixel short ---------


def dpst_threshold_labels(rgb: np.ndarray) -> np.ndarray:
    """DPST's own rule: each channel near 0, 0.5 or 1 per colour; -1 where none fits."""
    low, high = rgb < 0.1, rgb > 0.9
    mid = (rgb > 0.4) & (rgb < 0.6)
    pattern = {"0": low, "1": high, "h": mid}
    codes = ["001", "010", "000", "111", "100", "110", "hhh", "011", "h0h"]
    labels = np.full(rgb.shape[:2], -1)
    for index, code in enumerate(codes):
        fits = np.logical_and.reduce([pattern[c][..., i] for i, c in enumerate(code)])
        labels[fits] = index
    return labels


def painted_map(size: tuple[int, int], regions: tuple[int, ...], scale: int = 4) -> tuple[Image.Image, np.ndarray]:
    """A DPST-like map and its true labels, both ``size`` (width, height).

    Regions (background, ground under a wavy horizon, an ellipse, a triangle: the first 2 to 4 of
    ``regions``) are painted at ``scale``x and shrunk with a bilinear filter, so every border gets
    blended colours as in DPST's painted maps: blue|green gives grey, red|blue purple, black|white grey.
    """
    width, height = size
    w, h = width * scale, height * scale
    truth = Image.new("L", (w, h), regions[0])
    draw = ImageDraw.Draw(truth)
    x = np.linspace(0, w, 50)
    draw.polygon([*zip(x, h * (0.6 + 0.08 * np.sin(7 * x / w))), (w, h), (0, h)], fill=regions[1])
    if len(regions) > 2:
        draw.ellipse((0.1 * w, 0.1 * h, 0.35 * w, 0.4 * h), fill=regions[2])
    if len(regions) > 3:
        draw.polygon([(0.5 * w, 0.55 * h), (0.75 * w, 0.15 * h), (0.95 * w, 0.55 * h)], fill=regions[3])
    labels = np.asarray(truth, np.int64)
    painted = label_image(labels).resize(size, Image.Resampling.BILINEAR)
    return painted, resize_labels(torch.from_numpy(labels)[None], (height, width))[0].numpy()


def near_border(labels: np.ndarray, radius: int = 1) -> np.ndarray:
    """Pixels with another label within ``radius`` (a square window): where edges blend."""
    height, width = labels.shape
    padded = np.pad(labels, radius, mode="edge")
    side = 2 * radius + 1
    windows = np.stack([padded[dy : dy + height, dx : dx + width] for dy in range(side) for dx in range(side)])
    return windows.min(axis=0) != windows.max(axis=0)


# (regions, file name, PIL mode, map size, photo size): the quirks of DPST's 120 maps, small.
PAINTED = {
    "colour png": ((BLUE, GREEN, RED, YELLOW), "seg.png", "RGB", (350, 233), (350, 233)),
    "colour jpeg": ((LIGHT_BLUE, GREEN, PURPLE, WHITE), "seg.jpg", "RGB", (350, 233), (350, 233)),
    "grayscale png": ((WHITE, BLACK, GREY), "seg.png", "L", (350, 233), (350, 233)),  # as content_seg/08
    "one pixel short": ((WHITE, BLACK), "seg.png", "RGB", (700, 393), (700, 394)),  # as content_seg/07
}


@pytest.mark.parametrize("case", PAINTED)
def test_painted_label_maps(write_image, case: str) -> None:
    regions, filename, mode, map_size, photo_size = PAINTED[case]
    painted, truth = painted_map(map_size, regions)
    path = write_image(painted.convert(mode), filename)  # JPEG at PIL's default quality, 75
    labels = load_label_map(path, photo_size, name="content label map")
    assert labels.shape == (photo_size[1], photo_size[0])
    assert labels.dtype == np.int64
    # Away from the borders every pixel has its painted label; stray colours are a thin fringe.
    truth = resize_labels(torch.from_numpy(truth)[None], photo_size[::-1])[0].numpy()
    border = near_border(truth)
    np.testing.assert_array_equal(labels[~border], truth[~border])
    shares = np.bincount(labels.ravel(), minlength=len(DPST_PALETTE)) / labels.size
    assert set(np.flatnonzero(shares >= 0.01)) == set(regions)
    assert shares[list(regions)].sum() > 0.99
    # Where DPST's own thresholds decide a pixel, nearest-colour agrees with them.
    with Image.open(path) as image:
        assert image.mode == mode
        rgb = np.asarray(image.convert("RGB"), np.float32) / 255
    reference = resize_labels(torch.from_numpy(dpst_threshold_labels(rgb))[None], photo_size[::-1])[0].numpy()
    decided = reference >= 0
    assert decided.mean() > 0.5
    np.testing.assert_array_equal(labels[decided], reference[decided])


def test_painted_pair_shares_its_regions_and_their_fringe(write_image) -> None:
    """Black|white borders blend to grey in both maps, so grey is shared too (as in DPST pair 07)."""
    content_map, _ = painted_map((700, 393), (WHITE, BLACK))
    style_map, _ = painted_map((300, 400), (BLACK, WHITE, GREEN))
    content = load_label_map(write_image(content_map, "content_seg.png"), (700, 394), name="content label map")
    style = load_label_map(write_image(style_map, "style_seg.png"), (300, 400), name="style label map")
    assert GREEN in style and GREEN not in content
    assert np.intersect1d(content, style).tolist() == [BLACK, WHITE, GREY]


# ---- pairing rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "style", "auto", "preset", "fragment"),
    [
        ("c.png", "s.png", True, False, "not both"),
        (None, "s.png", True, False, "not both"),
        (None, "s.png", False, False, "needs the content's label map"),
        ("c.png", None, False, False, "needs the style's label map"),
        ("c.png", "s.png", False, True, "already holds its regions"),
    ],
)
def test_pairing_rules_refuse(content, style, auto: bool, preset: bool, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        masks.check_pairing(content, style, auto=auto, preset=preset)


@pytest.mark.parametrize(
    ("content", "style", "auto", "preset"),
    [(None, None, False, False), (None, None, True, True), ("c.png", "s.png", False, False), ("c.png", None, False, True)],
)
def test_pairing_rules_allow(content, style, auto: bool, preset: bool) -> None:
    masks.check_pairing(content, style, auto=auto, preset=preset)


def test_style_regions_are_checked_once_summarised() -> None:
    features = torch.rand(1, 4, 8, 8)
    labels = torch.zeros(1, 8, 8, dtype=torch.int64)
    labels[..., 4:] = 1
    plain = StyleStats({"p": region_stats(features)}, "code")
    regional = StyleStats({"p": region_stats(features, labels, min_pixels=1)}, "code")
    masks.check_style_regions(plain)
    masks.check_style_regions(regional, labels=True)
    with pytest.raises(ValueError, match="hold no regions"):
        masks.check_style_regions(plain, labels=True)
    with pytest.raises(ValueError, match="no automatic regions"):
        masks.check_style_regions(regional, auto=True)
