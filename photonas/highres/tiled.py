"""Exact high-resolution stylisation: tiles with halos, whole-image statistics gathered in passes.

Stylising a 12 MP photo in one piece needs tens of GB (relu1_1 alone is 64 channels at full
resolution), so the padded image is cut into tiles whose cores cover it and whose halos (at
least the network's receptive field) give every core pixel the context it would have in one
piece. Tiling alone would change the result, because every WCT transfer whitens with the
content covariance of the *whole* image and BFA/INSL instance-normalise with whole-image
statistics. So the work runs in passes:

1. encode every tile; accumulate the moments of each encoder level over the tile cores (and
   of each region, with label maps); every instance norm and every transfer on an encoder
   feature is now known;
2. for each in-decoder transfer position, in call order: decode every tile up to that
   position, accumulate its input moments, stop;
3. decode every tile with every statistic known and write its core into the output.

PhotoNAS (transfers at ``d5`` only) takes three encodes of every tile; PhotoNet, with ten
transfer positions, takes eight. The result equals the untiled one up to float rounding
(tested), with peak memory set by the tile size, not the photo's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from photonas.arch import PHOTONAS
from photonas.highres.stats import NormTable, accumulate_regions, region_output_moments
from photonas.model import StyleTransferModel
from photonas.padding import MULTIPLE, Box, crop, pad_to_grid
from photonas.style import StyleStats
from photonas.transforms import (
    GLOBAL,
    RegionAffine,
    RegionMoments,
    WCTConfig,
    check_labels,
    region_transfer_map,
    resize_labels,
)

#: Context each side of a tile core, in pixels: at least the receptive field's reach. VGG19 to
#: relu5_1 reaches 85 px; PhotoNet's decoder adds 3×3 convs at every scale (16 px each at /16,
#: 8 at /8, …) for about 170 px in all, so 192 covers any code. PhotoNAS's thin decoder (one 3×3
#: conv per scale from /8 up) reaches about 105 px: 128 gives the untiled result to 1e-6.
DEFAULT_HALO = 192
_HALOS = {str(PHOTONAS): 128}
#: Longest tile side (core plus halos) by default.
DEFAULT_TILE = 1024


@dataclass(frozen=True)
class Tile:
    """One piece of the padded image.

    Attributes:
        core: the pixels this tile writes to the output.
        outer: the core plus its halo, clipped to the image: what the network sees.
    """

    core: Box
    outer: Box

    def core_of(self, x: Tensor) -> Tensor:
        """The core of ``(B, C, h, w)`` features computed on ``outer`` at any stride."""
        stride = self.outer[2] // x.shape[-2]
        top, left = (self.core[0] - self.outer[0]) // stride, (self.core[1] - self.outer[1]) // stride
        return x[..., top : top + self.core[2] // stride, left : left + self.core[3] // stride]


def _spans(length: int, core: int, halo: int) -> list[tuple[int, int, int, int]]:
    """(core start, core length, outer start, outer length) along one side."""
    spans = []
    for start in range(0, length, core):
        size = min(core, length - start)
        lo, hi = max(0, start - halo), min(length, start + size + halo)
        spans.append((start, size, lo, hi - lo))
    return spans


def plan_tiles(height: int, width: int, tile: int = DEFAULT_TILE, halo: int = DEFAULT_HALO) -> list[Tile]:
    """Tiles covering a padded ``height × width`` image (both multiples of 16).

    Raises:
        ValueError: the tile leaves no core inside its halos, or sizes off the 16-pixel grid.
    """
    if height % MULTIPLE or width % MULTIPLE or halo % MULTIPLE:
        raise ValueError(f"image sides and halo must be multiples of {MULTIPLE}, got {height}x{width}, halo {halo}")
    core = (tile - 2 * halo) // MULTIPLE * MULTIPLE
    if core < MULTIPLE:
        raise ValueError(
            f"max_side {tile} leaves no room for a tile inside this model's two {halo} px halos: "
            f"use at least {2 * halo + MULTIPLE}"
        )
    return [
        Tile((top, left, h, w), (otop, oleft, oh, ow))
        for top, h, otop, oh in _spans(height, core, halo)
        for left, w, oleft, ow in _spans(width, core, halo)
    ]


@dataclass
class _Gathering:
    """The in-decoder transfer position one pass measures, and its input moments so far."""

    point: str = ""
    moments: RegionMoments | None = None


class _Pause(Exception):
    """Raised inside a decode once the statistic a pass is gathering has been recorded."""


def stylize_tiled(
    model: StyleTransferModel,
    content: Tensor,
    style: StyleStats,
    *,
    alpha: float = 1.0,
    method: str = "wct",
    config: WCTConfig = WCTConfig(),
    content_labels: Tensor | None = None,
    tile: int = DEFAULT_TILE,
    halo: int | None = None,
) -> Tensor:
    """Stylise ``(1, 3, H, W)`` content tile by tile; equals :meth:`StyleTransferModel.stylize`.

    Args:
        model: the network.
        content: one image in [0, 1], any size.
        style: statistics from :meth:`StyleTransferModel.style_stats` (with regions for labels).
        alpha: style strength in [0, 1].
        method: ``"wct"`` or ``"adain"``.
        config: regularisation of the whitening.
        content_labels: ``(1, H, W)`` region labels: each region takes the style's matching
            region, with the region's statistics over the whole image.
        tile: longest side the network sees at once (core plus halos), pixels.
        halo: context each side of a core, pixels (a multiple of 16); default: the
            model's receptive field (:data:`DEFAULT_HALO`).

    Returns:
        ``(1, 3, H, W)`` float32 on the content's device.
    """
    if content.ndim != 4 or content.shape[:2] != (1, 3):
        raise ValueError(f"tiled stylisation takes one (1, 3, H, W) image, got {tuple(content.shape)}")
    model.check_style_stats(style)
    if content_labels is not None:
        check_labels(content_labels, batch=1)
        if content_labels.shape[-2:] != content.shape[-2:]:
            raise ValueError(
                f"content labels are {tuple(content_labels.shape[-2:])}, the content {tuple(content.shape[-2:])}"
            )
    style = style.to(content.device)
    kwargs = {"alpha": alpha, "method": method, "config": config}
    padded, box = pad_to_grid(content)
    labels = pad_to_grid(content_labels)[0] if content_labels is not None else None
    halo = _HALOS.get(str(model.code), DEFAULT_HALO) if halo is None else halo
    tiles = plan_tiles(padded.shape[-2], padded.shape[-1], tile, halo)
    if len(tiles) == 1:
        return model.stylize(content, style, content_labels=content_labels, **kwargs).float()

    def labels_at(piece: Tile, x: Tensor) -> Tensor | None:
        """The tile's labels at the resolution of ``x`` (computed on the tile's outer box)."""
        return None if labels is None else resize_labels(crop(labels, piece.outer), tuple(x.shape[-2:]))

    def core_labels(piece: Tile, x: Tensor) -> Tensor | None:
        small = labels_at(piece, x)
        return None if small is None else piece.core_of(small)

    levels: dict[str, RegionMoments] = {}
    for piece in tiles:  # pass 1: encoder statistics
        for level, feat in model.encode(crop(padded, piece.outer)).items():
            levels[level] = accumulate_regions(levels.get(level), piece.core_of(feat), core_labels(piece, feat))
    inputs: dict[str, RegionMoments] = {}
    maps: dict[str, RegionAffine] = {}
    for point in model.transfer_points:
        level = model.decoder.encoder_level(point)
        if level is not None:
            inputs[point] = levels[level]
            maps[point] = region_transfer_map(levels[level], style.points[point], **kwargs)

    out = torch.empty(1, 3, *padded.shape[-2:], dtype=torch.float32, device=content.device)
    while True:  # passes 2…: one per in-decoder transfer position, then the output
        gathering = _Gathering()
        for piece in tiles:
            feats = model.encode(crop(padded, piece.outer))
            norms = NormTable()
            for level, feat in feats.items():
                norms.add(feat, levels[level][GLOBAL])

            def transfer(
                point: str, x: Tensor, piece: Tile = piece, norms: NormTable = norms, gathering: _Gathering = gathering
            ) -> Tensor:
                if point not in maps:
                    gathering.point = point
                    gathering.moments = accumulate_regions(gathering.moments, piece.core_of(x), core_labels(piece, x))
                    raise _Pause
                y = maps[point](x, labels_at(piece, x))
                norms.add(y, region_output_moments(maps[point], inputs[point]))
                return y

            try:
                result = model.decode(feats, transfer, norm_stats=norms)
            except _Pause:
                continue
            top, left, h, w = piece.core
            out[..., top : top + h, left : left + w] = piece.core_of(result).float()
        if gathering.moments is None:
            return crop(out, box)
        inputs[gathering.point] = gathering.moments
        maps[gathering.point] = region_transfer_map(gathering.moments, style.points[gathering.point], **kwargs)
