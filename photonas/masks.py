"""Region label maps: which content region is styled from which style region.

Label maps pair regions of the content and style photos (sky with sky, building with
building). The DPST benchmark ships them as colour-coded PNGs with anti-aliased edges,
so each pixel is snapped to the nearest colour of a fixed palette. Maps are resized
with nearest-neighbour sampling to their photo when the aspect ratios agree (the
benchmark has a map one pixel shorter than its photo).

Examples:
    >>> content = load_label_map("content_seg/07.png", (700, 394), name="content label map")
    >>> style = load_label_map("style_seg/07.png", (700, 393), name="style label map")
    >>> sorted(set(content.ravel()) & set(style.ravel()))  # black, white and grey regions in both
    [2, 3, 6]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from photonas.io import ImageError, ImageSource, load_image
from photonas.transforms import resize_labels

if TYPE_CHECKING:
    from photonas.style import StyleStats

#: ``masks="auto"`` (``style_mask="auto"`` for a preset): photonas finds matching regions itself
#: (:mod:`photonas.regions`).
AUTO = "auto"

Palette = Sequence[tuple[str, tuple[float, float, float]]]

DPST_PALETTE: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("blue", (0.0, 0.0, 1.0)),
    ("green", (0.0, 1.0, 0.0)),
    ("black", (0.0, 0.0, 0.0)),
    ("white", (1.0, 1.0, 1.0)),
    ("red", (1.0, 0.0, 0.0)),
    ("yellow", (1.0, 1.0, 0.0)),
    ("grey", (0.5, 0.5, 0.5)),
    ("light blue", (0.0, 1.0, 1.0)),
    ("purple", (0.5, 0.0, 0.5)),
)

# A map may differ from its photo in aspect ratio by this much (rounding, crops by a pixel).
ASPECT_TOLERANCE = 0.02

# Pixels per quantisation chunk: bounds the (pixels, colours) distance matrix to ~40 MB.
_CHUNK_PIXELS = 1 << 20


def _palette_array(palette: Palette) -> np.ndarray:
    """(K, 3) float32 palette colours, checked."""
    colours = np.array([rgb for _, rgb in palette], dtype=np.float32)
    if colours.ndim != 2 or colours.shape[0] == 0 or colours.shape[1] != 3:
        raise ValueError("palette must be a non-empty sequence of (name, (r, g, b))")
    return colours


def quantize_labels(rgb: np.ndarray, palette: Palette = DPST_PALETTE) -> np.ndarray:
    """Index of the nearest palette colour (Euclidean in RGB) for every pixel.

    Args:
        rgb: Float (H, W, 3) in [0, 1].
        palette: (name, (r, g, b)) entries; the label is the entry's position.

    Returns:
        int64 (H, W) labels in [0, len(palette)).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"expected a float (H, W, 3) array in [0, 1], got {rgb.dtype} {rgb.shape}")
    colours = _palette_array(palette)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every colour.
    offsets = (colours**2).sum(axis=1)[:, None]
    pixels = rgb.reshape(-1, 3)
    labels = np.empty(pixels.shape[0], dtype=np.int64)
    for start in range(0, pixels.shape[0], _CHUNK_PIXELS):
        chunk = pixels[start : start + _CHUNK_PIXELS].astype(np.float32)
        # Scores as (K, N): about twice as fast as (N, K) for both the product and argmin.
        scores = offsets - 2 * (colours @ chunk.T)
        labels[start : start + chunk.shape[0]] = np.argmin(scores, axis=0)
    return labels.reshape(rgb.shape[:2])


def _image_name(map_name: str) -> str:
    """The photo a map belongs to, for messages: "content label map" -> "content image"."""
    if map_name.endswith("label map"):
        return map_name[: -len("label map")] + "image"
    return f"image for the {map_name}"


def _fit_to(labels: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    """Resizes to `size` when the aspect ratios agree within ASPECT_TOLERANCE."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be a positive (width, height), got {size}")
    map_height, map_width = labels.shape
    if (map_width, map_height) == (width, height):
        return labels
    ratio = (map_width / map_height) / (width / height)
    if abs(ratio - 1) > ASPECT_TOLERANCE:
        raise ImageError(
            f"{name} is {map_width}x{map_height} but the {_image_name(name)} is "
            f"{width}x{height}; their aspect ratios differ by more than "
            f"{ASPECT_TOLERANCE:.0%}"
        )
    resized = resize_labels(torch.from_numpy(np.ascontiguousarray(labels))[None], (height, width))
    return resized[0].numpy()


def load_label_map(
    source: ImageSource,
    size: tuple[int, int] | None = None,
    *,
    palette: Palette = DPST_PALETTE,
    name: str = "label map",
    max_pixels: int | None = None,
) -> np.ndarray:
    """Loads a label map as int64 (H, W) labels, optionally fitted to its photo's size.

    A 2-D integer numpy array is taken as labels as they are. Anything else is loaded
    as an image (transparency ignored) and each pixel is snapped to the nearest
    palette colour, which absorbs anti-aliased edges and grayscale maps.

    Args:
        source: Path, encoded bytes, PIL image, image array or 2-D integer label array.
        size: The photo's (width, height). The map is resized to it (nearest) when the
            aspect ratios agree within 2%, e.g. a map one pixel short or at half size.
        palette: Colours the labels index; label i is palette[i].
        name: What the map is, for messages, e.g. "content label map".
        max_pixels: Pixel limit for decoding, see `photonas.io.open_image`.

    Raises:
        ImageError: The map is unreadable, has negative labels, or does not fit `size`.
    """
    if isinstance(source, np.ndarray) and source.ndim == 2 and np.issubdtype(source.dtype, np.integer):
        if source.size == 0:
            raise ImageError(f"{name} is empty ({source.shape[1]}x{source.shape[0]} pixels)")
        if source.min() < 0:
            raise ImageError(f"{name} has negative labels (min {source.min()}); labels must be >= 0")
        labels = source.astype(np.int64)
    else:
        image = load_image(source, max_pixels=max_pixels, name=name)
        labels = quantize_labels(image.rgb, palette)
    return labels if size is None else _fit_to(labels, size, name)


# ---- which maps go together ----------------------------------------------------------------


def check_pairing(content: object | None, style: object | None, *, auto: bool = False, preset: bool = False) -> None:
    """The rules that pair label maps with a style, for every entry point (library, CLI, demo, video).

    ``content`` and ``style`` are the label maps given (None: not given), ``auto`` asks for
    automatic regions and ``preset`` says the style is a saved preset, which brings its own
    regions. Checked before any work; :func:`check_style_regions` checks the style once it is
    summarised.

    Raises:
        ValueError: automatic regions next to label maps; a style map without the content's
            (the content's regions are what get paired); a content map without the style's
            regions; a style map next to a preset, which already holds its regions.
    """
    if auto and (content is not None or style is not None):
        raise ValueError("automatic regions find the regions themselves: give them or label maps, not both")
    if style is not None and content is None:
        raise ValueError("a style label map needs the content's label map: the content's regions are what get paired")
    if content is not None and style is None and not preset:
        raise ValueError("a content label map needs the style's label map too (or a style preset made with one)")
    if style is not None and preset:
        raise ValueError("a style preset already holds its regions: give the style label map when making the preset")


def check_style_regions(stats: StyleStats, *, labels: bool = False, auto: bool = False) -> None:
    """A summarised style holds the regions that content ``labels`` or ``auto`` regions pair with.

    Raises:
        ValueError: automatic regions with a style summarised without them, or content label
            maps with a style that holds no regions (a preset made without a style label map,
            or regions too small to summarise), where masks would have no effect.
    """
    if auto and stats.regions is None:
        raise ValueError(
            "this style holds no automatic regions: summarise it with them "
            '(style_preset(style, style_mask="auto"), or photonas preset --auto-regions)'
        )
    if labels and stats.points and all(len(regions) == 1 for regions in stats.points.values()):
        raise ValueError(
            "the style statistics hold no regions (a preset made without a style label map, or regions "
            "too small to summarise), so masks would have no effect"
        )
