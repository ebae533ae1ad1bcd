"""Regions painted in the page, turned into the integer label maps photonas takes.

A visitor paints matching regions on the content and the style with the same brush colour
(sky in blue on both, say). Every brush colour is a label, the same on both photos, so the
two maps agree by construction; unpainted pixels share label 0 ("everything else").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Brush colours offered in the editors: (name, hex). Label i + 1 is colour i.
BRUSH_COLOURS: tuple[tuple[str, str], ...] = (
    ("red", "#e6194b"),
    ("green", "#3cb44b"),
    ("blue", "#4363d8"),
    ("yellow", "#ffe119"),
    ("purple", "#911eb4"),
)

# A layer pixel counts as painted from this alpha on (brush edges are anti-aliased).
_PAINTED_ALPHA = 128


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


_PALETTE = np.array([_rgb(hex_colour) for _, hex_colour in BRUSH_COLOURS], dtype=np.float32)


def painted_labels(layers: Sequence[np.ndarray]) -> np.ndarray | None:
    """int64 (H, W) labels from the editor's RGBA layers, later layers on top; None if nothing is painted.

    Each painted pixel takes the label of the nearest brush colour, which absorbs the
    blended colours at stroke edges.
    """
    labels: np.ndarray | None = None
    for layer in layers:
        if layer is None:
            continue
        if layer.ndim != 3 or layer.shape[2] != 4:
            raise ValueError(f"a painted layer must be RGBA (H, W, 4), got shape {layer.shape}")
        if labels is None:
            labels = np.zeros(layer.shape[:2], dtype=np.int64)
        elif layer.shape[:2] != labels.shape:
            raise ValueError("the painted layers differ in size; clear the painting and paint again")
        painted = layer[..., 3] >= _PAINTED_ALPHA
        if painted.any():
            rgb = layer[..., :3][painted].astype(np.float32)
            distance = ((rgb[:, None, :] - _PALETTE[None]) ** 2).sum(axis=2)  # (N, colours)
            labels[painted] = distance.argmin(axis=1) + 1
    return labels if labels is not None and labels.any() else None


def editor_labels(value: Mapping | None) -> np.ndarray | None:
    """Labels from a ``gr.ImageEditor`` value (a dict with ``layers``); None if nothing is painted."""
    if not value:
        return None
    return painted_labels(value.get("layers") or [])


def colour_names(labels: np.ndarray) -> list[str]:
    """Names of the brush colours used in ``labels``, for messages."""
    return [BRUSH_COLOURS[label - 1][0] for label in np.unique(labels) if label > 0]


#: Colours of automatic regions in the overlay, by label (cycled): distinct from the brush colours' meaning.
_REGION_COLOURS = np.array(
    [(230, 25, 75), (60, 180, 75), (67, 99, 216), (255, 225, 25), (145, 30, 180), (70, 240, 240), (245, 130, 49)],
    dtype=np.float32,
)


def region_overlay(photo: np.ndarray, labels: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """uint8 (H, W, 3): ``photo`` (uint8 RGB) with each region of int (H, W) ``labels`` tinted its own colour."""
    if photo.shape[:2] != labels.shape:
        raise ValueError(f"labels {labels.shape} do not match the photo {photo.shape[:2]}")
    _, index = np.unique(labels, return_inverse=True)
    tint = _REGION_COLOURS[index.reshape(labels.shape) % len(_REGION_COLOURS)]
    return np.clip(photo.astype(np.float32) * (1 - opacity) + tint * opacity + 0.5, 0, 255).astype(np.uint8)
