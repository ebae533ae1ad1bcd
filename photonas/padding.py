"""Pad images to the encoder's grid and crop results back to the exact input size."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

#: relu5_1 is at 1/16 resolution, so sides must be multiples of 16 …
MULTIPLE = 16
#: … and at least 32, so reflection padding at relu5_1 has two pixels to reflect.
MIN_SIDE = 32

Box = tuple[int, int, int, int]  # top, left, height, width of the original inside the padded tensor


def pad_to_grid(x: Tensor, multiple: int = MULTIPLE, min_side: int = MIN_SIDE) -> tuple[Tensor, Box]:
    """Pad ``(B, C, H, W)`` (or integer ``(B, H, W)`` labels) symmetrically to the encoder grid.

    Reflection padding where the image is large enough (no hard border for the convs to see),
    edge replication for tiny or very thin images.
    """
    h, w = x.shape[-2:]
    if h == 0 or w == 0:
        raise ValueError(f"cannot pad an empty {h}x{w} image")
    ph = max(-(-h // multiple) * multiple, min_side) - h
    pw = max(-(-w // multiple) * multiple, min_side) - w
    top, left = ph // 2, pw // 2
    box = (top, left, h, w)
    if ph == 0 and pw == 0:
        return x, box
    pads = (left, pw - left, top, ph - top)
    mode = "reflect" if max(top, ph - top) < h and max(left, pw - left) < w else "replicate"
    if x.ndim == 3:  # labels: pad as float, keep integer values
        return F.pad(x[:, None].float(), pads, mode=mode)[:, 0].to(x.dtype), box
    return F.pad(x, pads, mode=mode), box


def crop(x: Tensor, box: Box) -> Tensor:
    """Undo :func:`pad_to_grid`."""
    top, left, h, w = box
    return x[..., top : top + h, left : left + w]
