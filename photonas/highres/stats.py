"""Feature statistics gathered piece by piece, for transfers whose content moments come from outside.

The network's results depend on whole-image statistics in two places: the content moments of
every WCT/AdaIN transfer, and the instance norms of BFA and the INSL skips. Tiles (exact
high-resolution mode) need those statistics to come from somewhere other than the tensor at
hand: accumulated over all tiles. This module accumulates the moments
(:class:`~photonas.transforms.Moments`, merged tile by tile), derives the moments a transfer's
output will have, and hands the decoder's instance norms their statistics (:class:`NormTable`).
The transfer maps themselves come from the one transfer core, :mod:`photonas.transforms`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from photonas.transforms import GLOBAL, Affine, Moments, RegionAffine, RegionMoments, region_moments


def accumulate_regions(total: RegionMoments | None, feat: Tensor, labels: Tensor | None) -> RegionMoments:
    """``total`` with the pixels of ``(1, C, h, w)`` ``feat`` added, whole and per label of ``(1, h, w)`` labels."""
    total = dict(total or {})
    for label, part in region_moments(feat, labels).items():
        total[label] = part if label not in total else total[label].merge(part)
    return total


def output_moments(mapping: Affine, m: Moments) -> Moments:
    """The moments of features with moments ``m`` after ``mapping`` (exact for an affine map)."""
    matrix = mapping.matrix[0].to(m.mean)
    mean = matrix @ (m.mean - mapping.centre[0].to(m.mean)) + mapping.offset[0].to(m.mean)
    return Moments(m.count, mean, matrix @ m.scatter @ matrix.T)


def region_output_moments(maps: RegionAffine, content: RegionMoments) -> Moments:
    """Whole-image moments of a region-wise transfer's output, merged from each region's mapped moments."""
    regions = [(label, m) for label, m in content.items() if label != GLOBAL]
    if not regions:
        return output_moments(maps.maps[GLOBAL], content[GLOBAL])
    parts = [output_moments(maps.maps.get(label, maps.maps[GLOBAL]), m) for label, m in regions]
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total


class NormTable:
    """Whole-image instance-norm statistics of the tensors one decoder call will normalise, by identity.

    Passed as the decoder's ``norm_stats`` (:data:`photonas.decoder.NormStats`). A feature it
    does not know raises, rather than being normalised by the statistics of one tile or frame.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Tensor, Moments]] = {}

    def add(self, x: Tensor, m: Moments) -> None:
        """Normalise ``x`` (this very tensor) with the mean and variance of ``m``."""
        self._entries[id(x)] = (x, m)

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        entry = self._entries.get(id(x))
        if entry is None or entry[0] is not x:
            raise RuntimeError(
                "the decoder normalised a feature whose whole-image statistics are unknown: photonas.highres "
                "needs the decoder's instance norms to act on encoder features or transfer outputs"
            )
        m = entry[1]
        return m.mean.to(x.device, torch.float32)[None], m.var.to(x.device, torch.float32)[None]
