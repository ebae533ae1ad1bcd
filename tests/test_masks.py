"""Tests for photonas.masks: palette quantisation, fitting maps to photos, the DPST maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import photonas.masks as masks
from photonas.io import ImageError, open_image
from photonas.masks import (
    DPST_PALETTE,
    load_label_map,
    quantize_labels,
    shared_labels,
)
from photonas.transforms import resize_labels

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


def test_shared_labels() -> None:
    content = np.array([[0, 2, 2], [7, 3, 3]])
    style = np.array([[3, 3, 8], [0, 0, 1]])
    assert shared_labels(content, style) == [0, 3]
    assert all(type(label) is int for label in shared_labels(content, style))
    assert shared_labels(content, np.full((2, 2), 5)) == []


# --- the DPST benchmark's 60 content and 60 style maps --------------------------------


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


DPST_MAPS = [(kind, index) for kind in ("content", "style") for index in range(1, 61)]


@pytest.mark.parametrize(("kind", "index"), DPST_MAPS, ids=[f"{k}_seg/{i:02d}" for k, i in DPST_MAPS])
def test_dpst_label_maps(kind: str, index: int, shared_data: Path) -> None:
    dpst = shared_data / "dpst"
    photo_size = open_image(dpst / kind / f"{index:02d}.jpg").size
    seg = dpst / f"{kind}_seg" / f"{index:02d}.png"
    labels = load_label_map(seg, photo_size, name=f"{kind} label map")
    assert labels.shape == (photo_size[1], photo_size[0])
    assert labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(DPST_PALETTE)
    # Most pixels sit on a few real regions; stray edge colours stay a thin fringe.
    shares = np.bincount(labels.ravel(), minlength=len(DPST_PALETTE)) / labels.size
    assert shares[shares >= 0.01].sum() > 0.95
    assert 1 <= (shares >= 0.01).sum() <= 8
    # Where DPST's own thresholds decide a pixel, nearest-colour agrees with them.
    with Image.open(seg) as image:
        rgb = np.asarray(image.convert("RGB"), np.float32) / 255
    reference = resize_labels(torch.from_numpy(dpst_threshold_labels(rgb))[None], photo_size[::-1])[0].numpy()
    decided = reference >= 0
    assert decided.mean() > 0.5
    np.testing.assert_array_equal(labels[decided], reference[decided])


def test_dpst_special_maps(shared_data: Path) -> None:
    dpst = shared_data / "dpst"
    with Image.open(dpst / "content_seg" / "08.png") as image:
        assert image.mode == "L"
    gray = load_label_map(dpst / "content_seg" / "08.png", (700, 463))
    assert set(np.unique(gray)) <= {BLACK, WHITE, GREY}
    assert (gray == WHITE).sum() > 0 and (gray == BLACK).sum() > 0
    with Image.open(dpst / "content_seg" / "07.png") as image:
        assert image.size == (700, 393)
    content = load_label_map(dpst / "content_seg" / "07.png", (700, 394), name="content label map")
    assert content.shape == (394, 700)
    style_size = open_image(dpst / "style" / "07.jpg").size
    style = load_label_map(dpst / "style_seg" / "07.png", style_size, name="style label map")
    assert shared_labels(content, style) == sorted(set(np.unique(content)) & set(np.unique(style)))
    assert len(shared_labels(content, style)) >= 2
