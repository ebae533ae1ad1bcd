"""Tests for photonas.io: every bad input becomes ImageError, every good one loads exactly."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import gradient_photo
from PIL import Image, ImageCms, ImageFile

from photonas.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    ImageTooLargeError,
    LoadedImage,
    fit_long_side,
    image_to_tensor,
    load_image,
    open_image,
    resize_rgb,
    save_image,
    tensor_to_image,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Random uint8 pixels; noise makes files large, so truncation cuts pixel data."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A grayscale PNG whose header claims width x height but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def half_red_half_blue(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the result."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = RED
    pixels[:, width // 2 :] = BLUE
    return Image.fromarray(pixels)


def swapped_primaries_profile() -> bytes:
    """sRGB with its red and blue primaries swapped: a real non-sRGB RGB profile.

    Pillow can only build sRGB, so the tag table of its sRGB profile is edited to point
    rXYZ at the blue primary and bXYZ at the red one. Pure red in this space is blue.
    """
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", data, 128)
    entries = {}
    for i in range(count):
        signature, offset, _ = struct.unpack_from(">4sII", data, 132 + 12 * i)
        entries[signature] = (132 + 12 * i, offset)
    (red_entry, red_offset), (blue_entry, blue_offset) = entries[b"rXYZ"], entries[b"bXYZ"]
    struct.pack_into(">I", data, red_entry + 4, blue_offset)
    struct.pack_into(">I", data, blue_entry + 4, red_offset)
    return bytes(data)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --- inputs that must fail with ImageError -------------------------------------------


def test_missing_path_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "photo.jpg"
    with pytest.raises(ImageError, match="not found") as info:
        load_image(path, name="content image")
    assert str(path) in str(info.value)
    assert "content image" in str(info.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_empty_file_and_empty_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        load_image(path)
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        load_image(b"")


def test_random_bytes(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path = tmp_path / "random.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="not an image in a supported format"):
        load_image(path)
    with pytest.raises(ImageError, match="5000 bytes in memory"):
        load_image(data, name="style image")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_fails_on_open(fmt: str, tmp_path: Path) -> None:
    data = encode(Image.fromarray(noise(64, 64)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(path)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_pixel_limit_message_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageError) as info:
        load_image(data, max_pixels=5000, name="style image")
    message = str(info.value)
    for part in ("style image", "100x100", "10,000", "5,000", "max_pixels", "PHOTONAS_MAX_PIXELS"):
        assert part in message
    monkeypatch.setenv("PHOTONAS_MAX_PIXELS", "5000")
    with pytest.raises(ImageError, match="over the limit of 5,000"):
        load_image(data)
    assert load_image(data, max_pixels=10_000).size == (100, 100)
    monkeypatch.setenv("PHOTONAS_MAX_PIXELS", "not a number")
    with pytest.raises(ValueError, match="PHOTONAS_MAX_PIXELS"):
        load_image(data)
    monkeypatch.delenv("PHOTONAS_MAX_PIXELS")
    assert DEFAULT_MAX_PIXELS == 40_000_000
    with pytest.raises(ImageError, match="40,000,000"):
        load_image(png_header(8000, 5001))


def test_too_large_error_carries_the_size_and_limit() -> None:
    with pytest.raises(ImageTooLargeError) as ours:
        open_image(png_header(3000, 2000), max_pixels=1_000_000, name="content image")
    assert ours.value.label.startswith("content image (") and "bytes in memory" in ours.value.label
    assert (ours.value.size, ours.value.limit) == ((3000, 2000), 1_000_000)
    with pytest.raises(ImageTooLargeError) as pillows:
        open_image(png_header(20_000, 20_000), max_pixels=10**9, name="style image")
    assert pillows.value.label.startswith("style image (") and (pillows.value.size, pillows.value.limit) == (None, None)


def test_pixel_limit_checked_before_decoding() -> None:
    # The file is truncated: if it were decoded first, the error would be truncation.
    with pytest.raises(ImageError, match="3000x3000 = 9,000,000 pixels, over the limit"):
        open_image(png_header(3000, 3000), max_pixels=1_000_000)


def test_pillow_bomb_error_and_warning_do_not_leak() -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    # Over twice Pillow's own limit: Pillow refuses even when ours allows it.
    with pytest.raises(ImageError, match="larger than Pillow allows"):
        open_image(png_header(20_000, 20_000), max_pixels=10**9)
    # Between Pillow's warning and error levels: our limit governs, no warning escapes.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match="truncated"):
            open_image(png_header(10_000, 10_000), max_pixels=10**9)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert Image.MAX_IMAGE_PIXELS == limit_before


def test_torch_tensor_rejected_with_advice() -> None:
    with pytest.raises(ImageError, match="torch.Tensor.*numpy array"):
        load_image(torch.rand(1, 3, 8, 8), name="content image")
    with pytest.raises(ImageError, match="torch.Tensor"):
        open_image(torch.rand(3, 8, 8))


@pytest.mark.parametrize("source", [42, [[0, 1]], None])
def test_unsupported_type(source: object) -> None:
    with pytest.raises(ImageError, match="unsupported type"):
        load_image(source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros(16, np.uint8),
        np.zeros((1, 4, 4, 3), np.uint8),
        np.zeros((0, 5, 3), np.uint8),
        np.zeros((5, 0), np.uint8),
        np.zeros((4, 4, 3), np.int32),
        np.zeros((4, 4, 3), np.int64),
        np.zeros((4, 4), np.complex64),
        np.full((4, 4, 3), 1.5, np.float32),
        np.full((4, 4), -0.2, np.float64),
        np.full((4, 4, 3), 255.0, np.float32),
        np.full((4, 4, 3), np.nan, np.float32),
        np.full((4, 4, 3), np.inf, np.float16),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_bad_arrays(array: np.ndarray) -> None:
    with pytest.raises(ImageError, match="image"):
        load_image(array)


def test_float_range_error_says_expected_range() -> None:
    with pytest.raises(ImageError, match=r"expected \[0, 1\]"):
        load_image(np.full((4, 4, 3), 255.0, np.float32))


# --- pixel modes ---------------------------------------------------------------------


def test_mode_1(write_image) -> None:
    bits = np.indices((6, 8)).sum(axis=0) % 2 == 0
    loaded = load_image(write_image(Image.fromarray(bits), "bits.png"))
    np.testing.assert_array_equal(loaded.rgb, np.repeat(bits[..., None], 3, axis=2).astype(np.float32))
    assert loaded.alpha is None


def test_mode_l_is_three_equal_channels(write_image) -> None:
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    loaded = load_image(write_image(Image.fromarray(gray), "gray.png"))
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (16, 16, 3)
    for channel in range(3):
        np.testing.assert_allclose(loaded.rgb[..., channel], gray / 255, atol=1e-7)
    assert loaded.alpha is None


def test_mode_la_keeps_alpha_and_colour(write_image) -> None:
    gray = np.full((4, 5), 200, np.uint8)
    alpha = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    image = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(alpha)])
    loaded = load_image(write_image(image, "la.png"))
    np.testing.assert_allclose(loaded.rgb, 200 / 255, atol=1e-7)
    np.testing.assert_allclose(loaded.alpha, alpha / 255, atol=1e-7)


def test_palette_without_transparency(write_image) -> None:
    image = Image.new("P", (3, 2))
    image.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30])
    image.putdata([0, 1, 2, 2, 1, 0])
    loaded = load_image(write_image(image, "p.png"))
    assert loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb[0, 2] * 255, (10, 20, 30), atol=1e-4)
    np.testing.assert_allclose(loaded.rgb[1, 2] * 255, RED, atol=1e-4)


@pytest.mark.parametrize("fmt", ["png", "gif"])
def test_palette_with_transparency(fmt: str, write_image) -> None:
    image = Image.new("P", (2, 2))
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.putdata([0, 1, 1, 1])
    loaded = load_image(write_image(image, f"pt.{fmt}", transparency=0))
    np.testing.assert_array_equal(loaded.alpha, [[0, 1], [1, 1]])
    np.testing.assert_allclose(loaded.rgb[0, 0], (1, 0, 0))  # colour kept under alpha 0
    np.testing.assert_allclose(loaded.rgb[1, 1], (0, 0, 1))


def palette_with_alpha(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """A PA image; built with putalpha because Pillow 10.0's RGBA -> PA drops alpha."""
    image = Image.fromarray(rgb).convert("P")
    image.putalpha(Image.fromarray(alpha))
    return image


def test_mode_pa() -> None:
    image = palette_with_alpha(np.array([[RED, BLUE]], np.uint8), np.array([[255, 100]], np.uint8))
    assert image.mode == "PA"
    loaded = load_image(image)
    np.testing.assert_allclose(loaded.rgb[0] * 255, [RED, BLUE], atol=1e-4)
    np.testing.assert_allclose(loaded.alpha * 255, [[255, 100]], atol=1e-4)


def test_rgb_and_rgba(write_image) -> None:
    rgba = noise(5, 7, channels=4)
    loaded = load_image(write_image(Image.fromarray(rgba), "rgba.png"))
    np.testing.assert_allclose(loaded.rgb, rgba[..., :3] / 255, atol=1e-7)
    np.testing.assert_allclose(loaded.alpha, rgba[..., 3] / 255, atol=1e-7)
    rgb = load_image(write_image(Image.fromarray(rgba[..., :3]), "rgb.png"))
    np.testing.assert_array_equal(rgb.rgb, loaded.rgb)
    assert rgb.alpha is None


def test_opaque_alpha_becomes_none(write_image) -> None:
    rgba = noise(5, 7, channels=4)
    rgba[..., 3] = 255
    assert load_image(write_image(Image.fromarray(rgba), "opaque.png")).alpha is None


def test_cmyk(write_image) -> None:
    cmyk = np.array([[[255, 0, 0, 0], [0, 0, 0, 255], [0, 255, 255, 0], [0, 0, 0, 0]]], np.uint8)
    loaded = load_image(write_image(Image.fromarray(cmyk, mode="CMYK"), "cmyk.tif"))
    expected = [(0, 1, 1), (0, 0, 0), (1, 0, 0), (1, 1, 1)]  # cyan, black, red, white
    np.testing.assert_allclose(loaded.rgb[0], expected, atol=1e-6)


def test_cmyk_jpeg(write_image) -> None:
    original = Image.fromarray(noise(16, 16)).resize((64, 64))
    loaded = load_image(write_image(original.convert("CMYK"), "cmyk.jpg", quality=98))
    assert np.abs(loaded.rgb * 255 - np.asarray(original)).mean() < 4


def _to_lab(image: Image.Image) -> Image.Image:
    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    return ImageCms.profileToProfile(image, srgb, lab, outputMode="LAB")


@pytest.mark.parametrize(
    "convert",
    [lambda im: im.convert("YCbCr"), lambda im: im.convert("HSV"), _to_lab],
    ids=["YCbCr", "HSV", "LAB"],
)
def test_other_colour_spaces_become_rgb(convert) -> None:
    original = Image.fromarray(noise(8, 8) // 2 + 64)  # in gamut for 8-bit LAB
    converted = convert(original)
    loaded = load_image(converted)
    assert converted.mode in ("YCbCr", "HSV", "LAB")
    error = np.abs(loaded.rgb * 255 - np.asarray(original))
    assert error.max() < 8 and error.mean() < 1.5  # 8-bit HSV/LAB round trips are lossy


def test_ycbcr_jpeg_file(write_image) -> None:
    original = Image.fromarray(np.full((16, 16, 3), (30, 120, 200), np.uint8))
    loaded = load_image(write_image(original.convert("YCbCr"), "ycc.jpg", quality=100))
    np.testing.assert_allclose(loaded.rgb[8, 8] * 255, (30, 120, 200), atol=3)


def test_16_bit_png_is_scaled_not_clipped(write_image) -> None:
    ramp = np.linspace(0, 65535, 300).astype(np.uint16).reshape(3, 100)
    image = Image.fromarray(ramp)
    path = write_image(image, "ramp16.png")
    with Image.open(path) as saved:
        assert saved.mode in ("I;16", "I")
        clipped = np.asarray(saved.convert("L"))
    loaded = load_image(path)
    values = loaded.rgb[..., 0].ravel()
    assert values.min() == 0 and values.max() == 1
    assert np.all(np.diff(values) > 0)  # order kept: clipping would flatten the top
    np.testing.assert_allclose(loaded.rgb[..., 1], ramp / 65535, atol=1e-6)
    # The gotcha this guards against: Pillow's own conversion clips instead of scaling.
    assert clipped.min() == 0 and (clipped == 255).mean() > 0.9


def test_mode_i(write_image) -> None:
    values = np.array([[0, 1000, 65535]], np.int32)
    loaded = load_image(Image.fromarray(values))
    np.testing.assert_allclose(loaded.rgb[0, :, 2], values[0] / 65535, atol=1e-7)
    with pytest.raises(ImageError, match=r"\[0, 65535\]"):
        load_image(Image.fromarray(np.array([[-5, 70000]], np.int32)))


def test_mode_f(write_image) -> None:
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    loaded = load_image(write_image(Image.fromarray(values), "float.tif"))
    np.testing.assert_array_equal(loaded.rgb[..., 0], values)
    with pytest.raises(ImageError, match=r"expected \[0, 1\]"):
        load_image(Image.fromarray(values * 255))


# --- orientation, colour profiles, sizes, sources ------------------------------------


@pytest.mark.parametrize("fmt", ["jpg", "png"])
@pytest.mark.parametrize(
    ("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED)]
)
def test_exif_orientation(fmt: str, orientation: int, top, bottom, write_image) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = write_image(half_red_half_blue(40, 20), f"rot.{fmt}", exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.size == (20, 40)
    np.testing.assert_allclose(loaded.rgb[5, 10] * 255, top, atol=8)
    np.testing.assert_allclose(loaded.rgb[34, 10] * 255, bottom, atol=8)


def test_exif_orientation_of_pil_input() -> None:
    image = half_red_half_blue(40, 20)
    image.getexif()[0x0112] = 6
    assert load_image(image).size == (20, 40)
    assert image.size == (40, 20)  # the caller's image is not modified


def test_embedded_srgb_profile_is_a_no_op(write_image) -> None:
    pixels = noise(8, 8)
    path = write_image(Image.fromarray(pixels), "srgb.png", icc_profile=srgb_profile())
    np.testing.assert_array_equal(load_image(path).rgb, pixels / np.float32(255))
    assert "icc_profile" not in open_image(path).info


def test_non_srgb_profile_is_converted(write_image) -> None:
    image = half_red_half_blue(4, 2)
    path = write_image(image, "swapped.png", icc_profile=swapped_primaries_profile())
    loaded = load_image(path)
    np.testing.assert_allclose(loaded.rgb[0, 0] * 255, BLUE, atol=2)
    np.testing.assert_allclose(loaded.rgb[0, 3] * 255, RED, atol=2)


def test_profile_conversion_keeps_alpha(write_image) -> None:
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0], rgba[0, 1] = (255, 0, 0, 77), (0, 0, 255, 255)
    path = write_image(Image.fromarray(rgba), "swapped_rgba.png", icc_profile=swapped_primaries_profile())
    loaded = load_image(path)
    np.testing.assert_allclose(loaded.alpha * 255, [[77, 255]], atol=1e-4)
    np.testing.assert_allclose(loaded.rgb[0] * 255, [BLUE, RED], atol=2)


@pytest.mark.parametrize(
    ("mode", "profile"), [("RGB", b"this is not an ICC profile" * 8), ("L", None)]
)
def test_unusable_profile_warns_and_keeps_pixels(mode: str, profile: bytes | None, write_image) -> None:
    # ("L", sRGB profile): a valid profile that does not fit the pixel mode.
    pixels = noise(6, 6)[..., :1].repeat(3, axis=2)
    image = Image.fromarray(pixels).convert(mode)
    path = write_image(image, "badicc.png", icc_profile=profile or srgb_profile())
    with pytest.warns(UserWarning, match="ICC profile"):
        loaded = load_image(path)
    np.testing.assert_allclose(loaded.rgb, pixels / 255, atol=1e-7)


@pytest.mark.parametrize("size", [(1, 1), (1, 500), (500, 1)])
def test_tiny_and_thin_images(size: tuple[int, int], write_image) -> None:
    width, height = size
    pixels = noise(height, width)
    loaded = load_image(write_image(Image.fromarray(pixels), f"thin{width}x{height}.png"))
    assert loaded.size == size
    np.testing.assert_allclose(loaded.rgb, pixels / 255, atol=1e-7)


def test_bytes_path_and_pil_sources_agree(write_image) -> None:
    image = Image.fromarray(noise(9, 11))
    path = write_image(image, "same.png")
    from_path = load_image(path)
    np.testing.assert_array_equal(load_image(str(path)).rgb, from_path.rgb)
    np.testing.assert_array_equal(load_image(path.read_bytes()).rgb, from_path.rgb)
    np.testing.assert_array_equal(load_image(image).rgb, from_path.rgb)


def test_open_image_keeps_mode_and_detaches_file(write_image) -> None:
    path = write_image(Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)), "keep.png")
    image = open_image(path)
    assert image.mode == "L" and image.size == (4, 3)
    path.unlink()  # decoded fully: the image no longer needs its file
    assert np.asarray(image)[2, 3] == 11


# --- numpy arrays --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 3)])
def test_uint8_arrays(shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    loaded = load_image(array)
    assert loaded.size == (6, 5) and loaded.alpha is None
    expected = array.reshape(5, 6, -1) / 255
    np.testing.assert_allclose(loaded.rgb, np.broadcast_to(expected, (5, 6, 3)), atol=1e-7)


def test_rgba_array() -> None:
    array = noise(4, 4, channels=4)
    loaded = load_image(array)
    np.testing.assert_allclose(loaded.alpha, array[..., 3] / 255, atol=1e-7)
    np.testing.assert_allclose(loaded.rgb, array[..., :3] / 255, atol=1e-7)


def test_uint16_and_bool_arrays() -> None:
    wide = np.array([[0, 32768, 65535]], np.uint16)
    np.testing.assert_allclose(load_image(wide).rgb[0, :, 0], wide[0] / 65535, atol=1e-7)
    big_endian = wide.astype(">u2")
    np.testing.assert_array_equal(load_image(big_endian).rgb, load_image(wide).rgb)
    mask = np.array([[True, False]])
    np.testing.assert_array_equal(load_image(mask).rgb[0, :, 1], [1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_arrays(dtype: type) -> None:
    array = np.linspace(0, 1, 48).reshape(4, 4, 3).astype(dtype)
    array[0, 0, 0] = 1 + 4e-4  # rounding overshoot within tolerance is clipped
    loaded = load_image(array)
    assert loaded.rgb.dtype == np.float32
    assert loaded.rgb.max() == 1.0
    np.testing.assert_allclose(loaded.rgb[1:], array[1:].astype(np.float32), atol=1e-7)


def test_open_image_from_arrays() -> None:
    assert open_image(np.zeros((3, 4), np.uint8)).mode == "L"
    assert open_image(np.zeros((3, 4, 3), np.float32)).mode == "RGB"
    rgba = open_image(np.full((3, 4, 4), 0.5, np.float32))
    assert rgba.mode == "RGBA" and np.asarray(rgba)[0, 0, 3] == 128


def test_loaded_image_validates_and_reports_size() -> None:
    loaded = LoadedImage(np.zeros((2, 5, 3), np.float32))
    assert loaded.size == (5, 2)
    with pytest.raises(ValueError, match="float32"):
        LoadedImage(np.zeros((2, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        LoadedImage(np.zeros((2, 5, 3), np.float32), np.zeros((5, 2), np.float32))


def test_flattened_composites_over_white() -> None:
    rgb = np.zeros((1, 3, 3), np.float32)
    rgb[0, :] = (1, 0, 0)
    loaded = LoadedImage(rgb, np.array([[0.0, 1.0, 0.5]], np.float32))
    flat = loaded.flattened()
    assert flat.dtype == np.float32
    np.testing.assert_allclose(flat[0], [(1, 1, 1), (1, 0, 0), (1, 0.5, 0.5)])
    opaque = LoadedImage(rgb)
    assert opaque.flattened() is opaque.rgb


# --- tensors -------------------------------------------------------------------------


def test_image_to_tensor() -> None:
    rgb = np.random.default_rng(3).random((5, 7, 3))
    tensor = image_to_tensor(rgb)
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32
    assert tensor.is_contiguous()
    np.testing.assert_allclose(tensor[0, 1].numpy(), rgb[..., 1], atol=1e-7)
    rgb32 = rgb.astype(np.float32)
    image_to_tensor(rgb32).zero_()
    assert rgb32.any()  # a copy, never a view of the caller's array
    with pytest.raises(ValueError, match="float"):
        image_to_tensor(np.zeros((5, 7, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        image_to_tensor(np.zeros((3, 5, 7), np.float32))


def test_tensor_to_image_clamps_and_rounds() -> None:
    values = torch.tensor([-0.3, 0.0, 0.5, 0.999, 1.7, 2.0 / 255]).reshape(1, 1, 6).expand(3, 1, 6)
    image = tensor_to_image(values)
    assert image.mode == "RGB" and image.size == (6, 1)
    np.testing.assert_array_equal(np.asarray(image)[0, :, 0], [0, 0, 128, 255, 255, 2])
    batched = tensor_to_image(values.unsqueeze(0).to(torch.float16))
    np.testing.assert_array_equal(np.asarray(batched), np.asarray(image))


def test_tensor_to_image_rejects_nan_and_bad_shapes() -> None:
    bad = torch.zeros(1, 3, 2, 2)
    bad[0, 1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        tensor_to_image(bad)
    for shape in [(2, 3, 4, 4), (4, 4, 4), (3, 4)]:
        with pytest.raises(ValueError, match="expected"):
            tensor_to_image(torch.zeros(shape))


def test_tensor_to_image_with_alpha_round_trips() -> None:
    rgba = noise(6, 5, channels=4)
    loaded = load_image(rgba)
    image = tensor_to_image(image_to_tensor(loaded.rgb), loaded.alpha)
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image), rgba)
    with pytest.raises(ValueError, match="alpha"):
        tensor_to_image(image_to_tensor(loaded.rgb), loaded.alpha.T)


# --- saving --------------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["png", "bmp", "tif", "tiff", "PNG", "webp", "jpg", "jpeg"])
def test_save_formats_round_trip(extension: str, tmp_path: Path) -> None:
    y, x = np.indices((32, 48))
    pixels = np.stack([x * 5, y * 7, 255 - x * 3], axis=2).astype(np.uint8)  # smooth: lossy codecs do well
    path = tmp_path / "deep" / "er" / f"out.{extension}"
    save_image(Image.fromarray(pixels), path)
    with Image.open(path) as saved:
        expected_format = {"jpg": "JPEG", "tif": "TIFF"}.get(extension.lower(), extension.upper())
        assert saved.format == expected_format
        error = np.abs(np.asarray(saved.convert("RGB"), dtype=int) - pixels).mean()
    lossy = extension.lower() in ("jpg", "jpeg", "webp")
    assert error < 2 if lossy else error == 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_save_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"unknown extension '\.gif'.*\.png"):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "out.gif")
    with pytest.raises(ImageError, match="unknown extension ''"):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "out")
    with pytest.raises(ValueError, match="quality"):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "out.jpg", quality=0)


@pytest.mark.parametrize("extension", ["jpg", "bmp"])
def test_save_alpha_without_alpha_support_composites_on_white(extension: str, tmp_path: Path) -> None:
    rgba = np.zeros((8, 24, 4), np.uint8)
    rgba[:, :8] = (0, 0, 0, 0)  # transparent -> white
    rgba[:, 8:16] = (255, 0, 0, 255)  # opaque red stays red
    rgba[:, 16:] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    path = tmp_path / f"flat.{extension}"
    save_image(Image.fromarray(rgba), path)
    with Image.open(path) as saved:
        assert saved.mode == "RGB"
        pixels = np.asarray(saved).astype(int)
    np.testing.assert_allclose(pixels[4, 4], (255, 255, 255), atol=3)
    np.testing.assert_allclose(pixels[4, 12], RED, atol=3)
    np.testing.assert_allclose(pixels[4, 20], (127, 127, 127), atol=3)


def test_save_png_keeps_alpha(tmp_path: Path) -> None:
    rgba = noise(4, 4, channels=4)
    save_image(Image.fromarray(rgba), tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as saved:
        np.testing.assert_array_equal(np.asarray(saved), rgba)
    pa = palette_with_alpha(rgba[..., :3], rgba[..., 3])  # a mode PNG cannot store directly
    save_image(pa, tmp_path / "pa.png")
    with Image.open(tmp_path / "pa.png") as saved:
        assert saved.mode == "RGBA"


@pytest.mark.parametrize("extension", ["jpg", "png", "webp", "tif"])
def test_save_writes_no_metadata(extension: str, write_image, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)  # GPS latitude
    source = write_image(Image.fromarray(noise(8, 8)), "with_exif.jpg", exif=exif.tobytes(),
                         icc_profile=srgb_profile())
    image = open_image(source)
    assert "exif" in image.info
    out = tmp_path / f"clean.{extension}"
    save_image(image, out)
    with Image.open(out) as saved:
        exif = saved.getexif()  # a TIFF's own structure tags show up here too
        assert 0x010F not in exif and 0x8825 not in exif
        assert "exif" not in saved.info and "icc_profile" not in saved.info
    assert b"SpyCam" not in out.read_bytes()


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "result.png"
    save_image(Image.new("RGB", (4, 4), RED), path)
    before = path.read_bytes()

    def crash(self: Image.Image, fp: Path, *args: object, **kwargs: object) -> None:
        Path(fp).write_bytes(b"half an image")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_image(Image.new("RGB", (4, 4), BLUE), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def _frames(fmt: str, count: int) -> bytes:
    frames = [Image.new("RGB", (8, 6), (40 * i, 0, 0)) for i in range(count)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP", "PNG"])
def test_multi_frame_file_warns_that_one_frame_is_used(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"animated.{fmt.lower()}"
    path.write_bytes(_frames(fmt, 3))
    with pytest.warns(UserWarning, match=r"content image '.*animated.* holds 3 frames or pages; only frame 1 is used"):
        image = load_image(path, name="content image")
    assert image.rgb[0, 0, 0] == 0  # the first frame's colour
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image(_frames(fmt, 1))  # one frame: quiet


def test_multi_frame_pil_input_names_the_frame_used() -> None:
    with Image.open(io.BytesIO(_frames("GIF", 3))) as animated:
        animated.seek(2)
        with pytest.warns(UserWarning, match="holds 3 frames or pages; only frame 3 is used"):
            image = load_image(animated)
    assert image.rgb[0, 0, 0] == pytest.approx(80 / 255, abs=2 / 255)


@pytest.mark.parametrize("where", ["below_a_file", "proc"])
def test_save_error_names_the_path_not_the_temporary_file(where: str, tmp_path: Path) -> None:
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"x")
    path = blocker / "result.png" if where == "below_a_file" else Path("/proc/photonas_result.png")
    with pytest.raises(OSError) as caught:
        save_image(Image.new("RGB", (4, 4), RED), path)
    assert str(caught.value).startswith(f"cannot write '{path}'") and ".tmp" not in str(caught.value)


def test_resize_keeps_range_and_size() -> None:
    rgb = np.asarray(gradient_photo((40, 30), 0), np.float32) / 255
    out = resize_rgb(rgb, (20, 10))
    assert out.shape == (10, 20, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.array_equal(resize_rgb(rgb, (40, 30)), rgb)  # already that size: unchanged
    assert fit_long_side(rgb, 20).shape == (15, 20, 3)
    assert fit_long_side(rgb.transpose(1, 0, 2), 20).shape == (20, 15, 3)
