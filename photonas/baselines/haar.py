"""Haar wavelet pooling and unpooling (WCT2's replacement for max pooling).

Each 2×2 block ``[[a, b], [c, d]]`` of a feature map becomes four half-size maps with the
orthonormal Haar filters: LL (the low-pass, ``(a + b + c + d) / 2``) goes on down the
encoder; LH, HL and HH (the details) are kept as skips. Unpooling is the exact inverse, so
an encoder–decoder that carries the skips loses nothing at the pooling steps.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class HaarSkip(NamedTuple):
    """The high-frequency components of one Haar pooling step, each ``(B, C, H/2, W/2)``."""

    lh: Tensor
    hl: Tensor
    hh: Tensor


#: Names of the skip components, in :class:`HaarSkip` order.
SKIP_BANDS: tuple[str, ...] = HaarSkip._fields


def haar_pool(x: Tensor) -> tuple[Tensor, HaarSkip]:
    """``(B, C, H, W)`` with even H and W → the LL band ``(B, C, H/2, W/2)`` and the detail bands.

    Example:
        >>> ll, skip = haar_pool(torch.ones(1, 1, 2, 2))
        >>> ll.item(), skip.lh.item(), skip.hl.item(), skip.hh.item()
        (2.0, 0.0, 0.0, 0.0)
    """
    h, w = x.shape[-2:]
    if x.ndim != 4 or h % 2 or w % 2:
        raise ValueError(f"Haar pooling needs (B, C, H, W) with even H and W, got {tuple(x.shape)}")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    ll = (a + b + c + d) / 2
    lh = (a - b + c - d) / 2  # left minus right: vertical edges
    hl = (a + b - c - d) / 2  # top minus bottom: horizontal edges
    hh = (a - b - c + d) / 2  # diagonal
    return ll, HaarSkip(lh, hl, hh)


def haar_unpool(ll: Tensor, skip: HaarSkip) -> Tensor:
    """The inverse of :func:`haar_pool`: ``(B, C, h, w)`` bands → ``(B, C, 2h, 2w)``."""
    if any(band.shape != ll.shape for band in skip):
        raise ValueError(f"Haar bands must share one shape, got LL {tuple(ll.shape)} and {[tuple(b.shape) for b in skip]}")
    lh, hl, hh = skip
    a = (ll + lh + hl + hh) / 2
    b = (ll - lh + hl - hh) / 2
    c = (ll + lh - hl - hh) / 2
    d = (ll - lh - hl + hh) / 2
    top = torch.stack((a, b), dim=-1).flatten(-2)  # (B, C, h, 2w): a b a b …
    bottom = torch.stack((c, d), dim=-1).flatten(-2)
    return torch.stack((top, bottom), dim=-2).flatten(-3, -2)  # rows interleaved
