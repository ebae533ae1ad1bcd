"""Image loading and saving that fails with clear messages.

Every loader here turns an unusable input (missing file, random bytes, truncated
download, decompression bomb, odd pixel format) into an `ImageError` that names the
input and the reason, so the CLI and the demo can show it to the user as is. Loaded
images come back as float32 sRGB in [0, 1], oriented as displayed.

Examples:
    >>> image = load_image("content.jpg", name="content image")
    >>> x = image_to_tensor(image.rgb)          # (1, 3, H, W)
    >>> save_image(tensor_to_image(x, image.alpha), "out/result.png")
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps

from photonas.checkpoint import atomic_path

DEFAULT_MAX_PIXELS: int = 40_000_000
MAX_PIXELS_ENV = "PHOTONAS_MAX_PIXELS"

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray

# Float inputs may overshoot [0, 1] by rounding (float16 has ~1e-3 steps near 1).
_RANGE_TOLERANCE = 1e-3

#: Extensions photonas writes (and batch mode reads), with their Pillow format.
IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}  # fmt: skip
_NO_ALPHA_FORMATS = {"JPEG", "BMP"}
# Photo formats only: Pillow's other plugins (EPS runs Ghostscript, PDF, ICNS, …) are no
# business of an upload box.
_OPEN_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "AVIF", "HEIF")

# Everything Pillow and its C decoders raise on a broken or hostile file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, KeyError,
                  struct.error, zlib.error, Image.DecompressionBombError)  # fmt: skip
_ICC_ERRORS = (OSError, ValueError, TypeError, ImageCms.PyCMSError)


class ImageError(ValueError):
    """Any unusable input image or label map; the message says which input and why."""


class ImageTooLargeError(ImageError):
    """An image over the pixel limit (ours, or Pillow's decompression-bomb limit).

    The message advises the caller how to raise the limit; ``label``, ``size`` and ``limit`` let
    an application (the demo) say the same in its own words.

    Attributes:
        label: the input, e.g. "content image 'a.jpg'".
        size: (width, height), or None when Pillow refused the file before saying.
        limit: the largest number of pixels accepted, or None for Pillow's limit.
    """

    def __init__(
        self, message: str, label: str = "", size: tuple[int, int] | None = None, limit: int | None = None
    ) -> None:
        super().__init__(message)
        self.label, self.size, self.limit = label, size, limit


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image ready for the model.

    Attributes:
        rgb: float32 (H, W, 3) in [0, 1], sRGB, EXIF orientation applied.
        alpha: float32 (H, W) in [0, 1] when the source had real transparency, else None.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.float32:
            raise ValueError(f"rgb must be float32 (H, W, 3), got {self.rgb.dtype} {self.rgb.shape}")
        if self.alpha is not None and (
            self.alpha.shape != self.rgb.shape[:2] or self.alpha.dtype != np.float32
        ):
            raise ValueError(
                f"alpha must be float32 {self.rgb.shape[:2]}, got {self.alpha.dtype} {self.alpha.shape}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), in PIL's order."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def flattened(self) -> np.ndarray:
        """rgb composited over white, as JPEG saving does; rgb itself when opaque.

        Used where transparency has no meaning (style statistics), so that hidden
        pixels do not count with whatever colour they happen to hold.
        """
        if self.alpha is None:
            return self.rgb
        alpha = self.alpha[..., None]
        return self.rgb * alpha + (1 - alpha)


def _max_pixels(max_pixels: int | None) -> int:
    """The pixel limit: the argument, else env PHOTONAS_MAX_PIXELS, else the default."""
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(env.replace("_", ""))
        except ValueError:
            raise ValueError(f"{MAX_PIXELS_ENV}={env!r} is not an integer pixel count") from None
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    return max_pixels


def _describe(source: object, name: str) -> str:
    """How an input is named in error messages, e.g. "content image 'a/b.jpg'"."""
    if isinstance(source, (str, os.PathLike)):
        return f"{name} '{os.fspath(source)}'"
    if isinstance(source, (bytes, bytearray)):
        return f"{name} ({len(source)} bytes in memory)"
    return name


def _check_size(width: int, height: int, limit: int, label: str) -> None:
    """Rejects empty images and images over the pixel limit, before any decoding."""
    if width <= 0 or height <= 0:
        raise ImageError(f"{label} is empty ({width}x{height} pixels)")
    if width * height > limit:
        raise ImageTooLargeError(
            f"{label} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limit:,}; pass max_pixels=... or set the environment variable "
            f"{MAX_PIXELS_ENV} to allow larger images",
            label,
            (width, height),
            limit,
        )


def _reject_tensor(source: object, label: str) -> None:
    """Tensors have their own API; here they are almost certainly a mistake."""
    if isinstance(source, torch.Tensor):
        raise ImageError(
            f"{label} is a torch.Tensor; pass a file path, encoded bytes, a PIL image or a "
            "numpy array (tensors go straight to the transfer functions)"
        )


def _open_encoded(source: str | os.PathLike | bytes, label: str) -> Image.Image:
    """Reads the header of a file or in-memory encoded image, without decoding pixels."""
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{label} is empty (0 bytes)")
        fp: io.BytesIO | Path = io.BytesIO(source)
    else:
        fp = Path(os.fspath(source))
        try:
            stat = fp.stat()
        except FileNotFoundError:
            raise ImageError(f"{label} not found") from None
        except (OSError, ValueError) as exc:
            raise ImageError(f"{label} cannot be accessed: {exc}") from exc
        if fp.is_dir():
            raise ImageError(f"{label} is a directory, not an image file")
        if stat.st_size == 0:
            raise ImageError(f"{label} is empty (0 bytes)")
    # Our own pixel limit governs; Pillow's warning would only be noise, and its hard
    # error (at twice Image.MAX_IMAGE_PIXELS) is converted below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(fp, formats=_open_formats())
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(
                f"{label} is larger than Pillow allows ({exc}); raise PIL.Image.MAX_IMAGE_PIXELS to open it",
                label,
                None,
                None,
            ) from exc
        except Image.UnidentifiedImageError as exc:
            raise ImageError(f"{label} is not an image in a supported format ({', '.join(_open_formats())})") from exc
        except _DECODE_ERRORS as exc:
            raise ImageError(f"{label} cannot be read: {exc}") from exc


def _open_formats() -> list[str]:
    """The photo formats this Pillow build can open (it raises on unregistered names)."""
    Image.init()
    return [fmt for fmt in _OPEN_FORMATS if fmt in Image.OPEN]


def _decode(image: Image.Image, label: str) -> Image.Image:
    """Fully decodes (so truncation shows now) and applies the EXIF orientation."""
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{label} is truncated or corrupt: {exc}") from exc
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS as exc:
        warnings.warn(f"{label}: ignoring unreadable EXIF orientation ({exc})", stacklevel=3)
        return image.copy()


def _warn_if_several_frames(image: Image.Image, label: str) -> None:
    """Animated GIF/WebP/PNG and multi-page TIFF: say that one frame is used, rather than nothing.

    MPO (camera JPEGs with a preview or a second view) is left quiet: its first frame is the photo.
    """
    try:
        frames = getattr(image, "n_frames", 1)
        current = image.tell() + 1
    except _DECODE_ERRORS:  # a damaged frame table; decoding reports what matters
        return
    if frames > 1 and image.format != "MPO":
        warnings.warn(f"{label} holds {frames} frames or pages; only frame {current} is used", stacklevel=4)


def _to_srgb(image: Image.Image, label: str) -> Image.Image:
    """Converts pixels from an embedded ICC profile to sRGB; no profile means sRGB already.

    An unreadable or mismatched profile is warned about and the raw values are kept,
    which is what most viewers show for such files.
    """
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
        return image
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.profileToProfile(
            base, source_profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except _ICC_ERRORS as exc:
        warnings.warn(
            f"{label}: ignoring unusable embedded ICC profile ({exc}); using raw pixel values",
            stacklevel=3,
        )
        return image
    if alpha is not None:
        srgb.putalpha(alpha)
    srgb.info = {k: v for k, v in image.info.items() if k != "icc_profile"}
    return srgb


def open_image(
    source: ImageSource, *, max_pixels: int | None = None, name: str = "image"
) -> Image.Image:
    """Opens and validates an image without changing its pixel mode.

    Reads the header, checks the pixel limit before decoding, decodes fully (so a
    truncated file fails here, not later), applies the EXIF orientation and converts
    from an embedded ICC profile to sRGB (CMYK or grayscale with a profile become RGB).
    Numpy arrays are validated like in `load_image` and become 8-bit L, RGB or RGBA.

    Args:
        source: Path, encoded file bytes, PIL image or numpy array.
        max_pixels: Largest width * height accepted; default env PHOTONAS_MAX_PIXELS,
            else DEFAULT_MAX_PIXELS.
        name: What the input is, for error messages, e.g. "style image".

    Returns:
        A decoded PIL image detached from any file.

    Raises:
        ImageError: The input is missing, unreadable, too large or of an unusable kind.
    """
    label = _describe(source, name)
    _reject_tensor(source, label)
    limit = _max_pixels(max_pixels)
    if isinstance(source, np.ndarray):
        rgb, alpha = _array_to_float(source, label, limit)
        return _float_to_pil(rgb, alpha, gray=source.ndim == 2 or source.shape[2] == 1)
    if isinstance(source, Image.Image):
        _check_size(*source.size, limit, label)
        _warn_if_several_frames(source, label)
        return _to_srgb(_decode(source, label), label)
    if not isinstance(source, (str, os.PathLike, bytes, bytearray)):
        raise ImageError(
            f"{label} has unsupported type {type(source).__name__}; pass a file path, "
            "encoded bytes, a PIL image or a numpy array"
        )
    with _open_encoded(source, label) as image:
        _check_size(*image.size, limit, label)
        _warn_if_several_frames(image, label)
        decoded = _decode(image, label)
    return _to_srgb(decoded, label)


def _unit_float(values: np.ndarray, label: str) -> np.ndarray:
    """Float values as float32 in [0, 1]; NaN or values clearly outside are an error."""
    if not np.all(np.isfinite(values)):
        raise ImageError(f"{label} contains NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ImageError(
            f"{label} has float values in [{low:g}, {high:g}]; expected [0, 1] "
            "(divide 8-bit data by 255)"
        )
    return np.clip(values, 0, 1).astype(np.float32)


def _split_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3 or 4) float32 -> rgb and alpha, alpha None when fully opaque."""
    rgb = np.ascontiguousarray(pixels[..., :3])
    if pixels.shape[2] == 3:
        return rgb, None
    alpha = np.ascontiguousarray(pixels[..., 3])
    return rgb, None if np.all(alpha >= 1) else alpha


def _array_to_float(
    array: np.ndarray, label: str, limit: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validates a numpy image and scales it to float32 rgb (and alpha) in [0, 1]."""
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    if not shape_ok:
        raise ImageError(
            f"{label} has shape {array.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    _check_size(array.shape[1], array.shape[0], limit, label)
    # Kind and size rather than dtype equality, so big-endian data is accepted too.
    kind, itemsize = array.dtype.kind, array.dtype.itemsize
    if kind == "u" and itemsize in (1, 2):
        pixels = array.astype(np.float32) / (255 if itemsize == 1 else 65535)
    elif kind == "b":
        pixels = array.astype(np.float32)
    elif kind == "f":
        pixels = _unit_float(array, label)
    else:
        raise ImageError(
            f"{label} has dtype {array.dtype}; expected uint8, uint16, bool or float in [0, 1]"
        )
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return _split_alpha(pixels)


def _float_to_pil(rgb: np.ndarray, alpha: np.ndarray | None, *, gray: bool) -> Image.Image:
    """Rounds float rgb (and alpha) in [0, 1] to an 8-bit L, RGB or RGBA image."""
    pixels = rgb[..., :1] if gray and alpha is None else rgb
    if alpha is not None:
        pixels = np.concatenate([pixels, alpha[..., None]], axis=2)
    data = np.round(pixels * 255).astype(np.uint8)
    return Image.fromarray(data[..., 0] if data.shape[2] == 1 else data)


def _gray_to_float(image: Image.Image, label: str) -> np.ndarray:
    """Single-channel modes (1, L, I, I;16*, F) to float32 (H, W) in [0, 1]."""
    values = np.asarray(image)
    if image.mode == "F":
        return _unit_float(values, label)
    if image.mode == "I":
        # Mode I mostly holds 16-bit PNG/TIFF data (older Pillow opens them as I).
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise ImageError(
                f"{label} is a 32-bit integer image with values in [{low}, {high}]; "
                "expected 16-bit data in [0, 65535]"
            )
        return values.astype(np.float32) / 65535
    if image.mode.startswith("I;16"):
        # Never convert("L"): Pillow clips I;16 to 0..255 instead of scaling.
        return values.astype(np.float32) / 65535
    scale = 1 if image.mode == "1" else 255
    return values.astype(np.float32) / scale


def _pil_to_float(image: Image.Image, label: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Any decoded PIL image to float32 sRGB (H, W, 3) and alpha (or None)."""
    if image.mode in ("1", "L", "I", "F") or image.mode.startswith("I;16"):
        gray = _gray_to_float(image, label)
        return np.repeat(gray[..., None], 3, axis=2), None
    if image.mode == "LAB":
        # Image.convert has no LAB -> RGB before Pillow 11; littleCMS does it everywhere.
        lab = ImageCms.createProfile("LAB")
        image = ImageCms.profileToProfile(image, lab, ImageCms.createProfile("sRGB"), outputMode="RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La")
    try:
        data = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{label} has pixel mode {image.mode}, which cannot become RGB") from exc
    return _split_alpha(data.astype(np.float32) / 255)


def load_image(
    source: ImageSource, *, max_pixels: int | None = None, name: str = "image"
) -> LoadedImage:
    """Loads any supported input as float32 sRGB in [0, 1] plus optional alpha.

    Grayscale becomes three equal channels; 16-bit data is scaled by 1/65535; palette
    images go through RGBA; alpha is kept only when some pixel is not fully opaque.

    Args:
        source: Path, encoded file bytes, PIL image or numpy array ((H, W), (H, W, 1),
            (H, W, 3) or (H, W, 4) of uint8, uint16, bool or float in [0, 1]).
        max_pixels: Largest width * height accepted; see `open_image`.
        name: What the input is, for error messages, e.g. "content image".

    Raises:
        ImageError: The input is missing, unreadable, too large or of an unusable kind.
    """
    label = _describe(source, name)
    _reject_tensor(source, label)
    if isinstance(source, np.ndarray):
        rgb, alpha = _array_to_float(source, label, _max_pixels(max_pixels))
    else:
        rgb, alpha = _pil_to_float(open_image(source, max_pixels=max_pixels, name=name), label)
    return LoadedImage(rgb=rgb, alpha=alpha)


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float image -> contiguous float32 (1, 3, H, W) tensor (a copy)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"expected a float (H, W, 3) array, got {rgb.dtype} {rgb.shape}")
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).unsqueeze(0)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float ``(H, W, 3)`` image Lanczos-resized to ``(width, height)`` on float data (no 8-bit rounding)."""
    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb.astype(np.float32)
    channels = [np.asarray(Image.fromarray(rgb[..., c].astype(np.float32)).resize(size, Image.Resampling.LANCZOS)) for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)  # Lanczos rings past [0, 1]


def fit_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """A float ``(H, W, 3)`` image resized so its longer side is ``long_side`` pixels (aspect kept)."""
    height, width = rgb.shape[:2]
    scale = long_side / max(width, height)
    return resize_rgb(rgb, (max(1, round(width * scale)), max(1, round(height * scale))))


def tensor_to_image(t: torch.Tensor, alpha: np.ndarray | None = None) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in ~[0, 1] -> 8-bit RGB (RGBA with alpha) image.

    Values are clamped to [0, 1] and rounded. NaN or infinity means a bug upstream,
    so it raises instead of being clamped into a plausible-looking image.

    Args:
        t: Model output on any device, any float dtype.
        alpha: Optional float (H, W) in [0, 1], e.g. `LoadedImage.alpha`.
    """
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32)
    if not torch.isfinite(t).all():
        raise ValueError("tensor_to_image got NaN or infinite values: the model output is invalid")
    pixels = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if alpha is None:
        return Image.fromarray(pixels)
    if alpha.shape != pixels.shape[:2]:
        raise ValueError(f"alpha shape {alpha.shape} does not match image {pixels.shape[:2]}")
    a = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(np.concatenate([pixels, a[..., None]], axis=2))


def _prepare_for_format(image: Image.Image, fmt: str) -> Image.Image:
    """An 8-bit L, RGB or RGBA copy that `fmt` can hold, with no metadata attached.

    JPEG and BMP cannot hold alpha, so transparent images are composited over white.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        if fmt in _NO_ALPHA_FORMATS:
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            out = Image.alpha_composite(white, rgba).convert("RGB")
        else:
            out = rgba
    elif image.mode in ("L", "RGB"):
        out = image.copy()
    else:
        out = image.convert("RGB")
    out.info = {}
    return out


def save_image(image: Image.Image, path: str | os.PathLike, *, quality: int = 95) -> None:
    """Writes an image atomically, without EXIF/GPS or other metadata.

    The format follows the extension (jpg, jpeg, png, webp, tif, tiff, bmp). Parent
    folders are created. The file is written to a temporary name in the same folder
    and renamed into place, so a crash never leaves a half-written image. JPEG and BMP
    cannot hold alpha: RGBA is composited over white. Output is 8 bits per channel.

    Args:
        image: Any PIL image, e.g. from `tensor_to_image`.
        path: Destination file.
        quality: JPEG/WebP quality, 1-100; ignored by lossless formats.

    Raises:
        ImageError: The extension is not a supported format.
    """
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(
            f"cannot save '{path}': unknown extension {path.suffix!r}; "
            f"use one of {', '.join(sorted(IMAGE_FORMATS))}"
        )
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    out = _prepare_for_format(image, fmt)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(path) as tmp:
        out.save(tmp, format=fmt, **options)
