"""Feature statistics gathered piece by piece, and transfers applied with statistics given from outside.

The network's results depend on whole-image statistics in two places: the content moments of
every WCT/AdaIN transfer, and the instance norms of BFA and the INSL skips. Tiles (exact
high-resolution mode) and video frames (temporal smoothing) need those statistics to come
from somewhere other than the tensor at hand: accumulated over all tiles, or smoothed over
frames. This module holds the running moments, turns them into the affine map each transfer
is, and hands the decoder's instance norms their statistics (:class:`NormTable`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from photonas.style import StyleStats
from photonas.transforms import GLOBAL, WCTConfig, moments


@dataclass
class Moments:
    """Count, mean and scatter (sum of centred outer products) of ``C``-channel features, float64 on the CPU."""

    count: int
    mean: Tensor
    scatter: Tensor

    @classmethod
    def of(cls, feat: Tensor) -> Moments:
        """Moments of one ``(1, C, H, W)`` feature map, on the CPU (small; merged and solved there)."""
        n = feat.shape[-2] * feat.shape[-1]
        mean, cov = moments(feat.flatten(2))
        return cls(n, mean[0].cpu(), cov[0].cpu() * max(n - 1, 1))

    def merge(self, other: Moments) -> Moments:
        """Moments of both sets of pixels together (Chan et al.'s pairwise update)."""
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        scatter = self.scatter + other.scatter + torch.outer(delta, delta) * (self.count * other.count / n)
        return Moments(n, mean, scatter)

    def blend(self, new: Moments, keep: float) -> Moments:
        """Exponential moving average: ``keep`` of these moments, ``1 - keep`` of ``new`` (per pixel)."""
        mean = keep * self.mean + (1 - keep) * new.mean
        second = keep * (self.cov + torch.outer(self.mean, self.mean)) + (1 - keep) * (
            new.cov + torch.outer(new.mean, new.mean)
        )
        n = new.count
        return Moments(n, mean, (second - torch.outer(mean, mean)) * max(n - 1, 1))

    @property
    def cov(self) -> Tensor:
        """Unbiased covariance, like :func:`photonas.transforms.moments`."""
        return self.scatter / max(self.count - 1, 1)

    @property
    def var(self) -> Tensor:
        """Biased per-channel variance, as instance norm uses."""
        return self.scatter.diagonal() / self.count


def accumulate(total: Moments | None, feat: Tensor) -> Moments:
    """``total`` with the pixels of ``(1, C, H, W)`` ``feat`` added."""
    part = Moments.of(feat)
    return part if total is None else total.merge(part)


@dataclass(frozen=True)
class Affine:
    """A per-pixel channel map ``x ↦ matrix @ x + bias`` (``(C, C)`` and ``(C,)``, float64)."""

    matrix: Tensor
    bias: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        """Apply to ``(B, C, H, W)`` features in float32, returned in ``x``'s dtype."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = x.flatten(2).float()
            matrix, bias = self.matrix.to(x.device, torch.float32), self.bias.to(x.device, torch.float32)
            out = torch.baddbmm(bias[None, :, None], matrix[None], flat)
        return out.view_as(x).to(x.dtype)

    def moments_of_output(self, m: Moments) -> Moments:
        """The moments of the mapped features, from those of the input (exact for an affine map)."""
        return Moments(m.count, self.matrix @ m.mean + self.bias, self.matrix @ m.scatter @ self.matrix.T)


def _matrix_power(cov: Tensor, power: float, eps: float) -> Tensor:
    """``cov ** power`` of a symmetric PSD matrix, eigenvalues ``<= eps`` dropped (as in transforms.wct)."""
    evals, evecs = torch.linalg.eigh(0.5 * (cov + cov.T))
    keep = evals > eps
    scaled = torch.where(keep, evals.clamp_min(eps) ** power, torch.zeros_like(evals))
    return (evecs * scaled) @ evecs.T


def transfer_map(
    content: Moments,
    style: StyleStats,
    point: str,
    method: str,
    alpha: float,
    config: WCTConfig,
    label: int = GLOBAL,
) -> Affine:
    """The affine map that :func:`photonas.transforms.region_transfer` applies, from given content moments.

    WCT: ``color_s @ whiten(Σ') @ (x − μ_c) + μ_s`` with the regularised ``Σ'`` of ``config``;
    AdaIN: per-channel ``(x − μ_c) / (σ_c + 1e-5) · σ_s + μ_s``. Blended with the identity by
    ``alpha``. ``label`` picks the style region whose statistics are the target.
    """
    target = style.points[point][label]
    s_mean = target.mean[0].double().cpu()
    if method == "wct":
        cov = content.cov
        cov = config.cov_scale * cov + config.diag_boost * torch.diag(cov.diagonal())
        matrix = target.color[0].double().cpu() @ _matrix_power(cov, -0.5, config.eps)
    elif method == "adain":
        std = content.cov.diagonal().clamp_min(0).sqrt()
        matrix = torch.diag(target.std[0].double().cpu() / (std + 1e-5))
    else:
        raise ValueError(f"unknown transfer method {method!r}; choose 'wct' or 'adain'")
    bias = s_mean - matrix @ content.mean
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype)
    return Affine(alpha * matrix + (1 - alpha) * eye, alpha * bias)


#: Moments of one feature map over the whole image (:data:`GLOBAL`) and over each region label.
RegionMoments = dict[int, Moments]


def accumulate_regions(total: RegionMoments | None, feat: Tensor, labels: Tensor | None) -> RegionMoments:
    """``total`` with the pixels of ``(1, C, h, w)`` ``feat`` added, whole and per label of ``(1, h, w)`` labels."""
    total = dict(total or {})
    total[GLOBAL] = accumulate(total.get(GLOBAL), feat)
    if labels is not None:
        flat = feat.flatten(2)
        for label in torch.unique(labels).tolist():
            mask = (labels == label).flatten()
            total[label] = accumulate(total.get(label), flat[:, :, mask][..., None])
    return total


@dataclass(frozen=True)
class RegionAffine:
    """One affine map per region: a label's pixels take its own map when it has one, else the global map."""

    maps: dict[int, Affine]

    def __call__(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Apply to ``(1, C, h, w)`` features with ``(1, h, w)`` labels at their resolution."""
        y = self.maps[GLOBAL](x)
        if labels is None or len(self.maps) == 1:
            return y
        flat_x, flat_y = x.flatten(2), y.flatten(2)
        for label, mapping in self.maps.items():
            mask = (labels == label).flatten()
            if label != GLOBAL and mask.any():
                flat_y[:, :, mask] = mapping(flat_x[:, :, mask][..., None])[..., 0]
        return y

    def moments_of_output(self, content: RegionMoments) -> Moments:
        """Whole-image moments of the output, merged from each region's mapped moments."""
        regions = [(label, m) for label, m in content.items() if label != GLOBAL]
        if not regions:
            return self.maps[GLOBAL].moments_of_output(content[GLOBAL])
        parts = [self.maps.get(label, self.maps[GLOBAL]).moments_of_output(m) for label, m in regions]
        total = parts[0]
        for part in parts[1:]:
            total = total.merge(part)
        return total


def region_transfer_map(
    content: RegionMoments,
    style: StyleStats,
    point: str,
    method: str,
    alpha: float,
    config: WCTConfig,
    min_pixels: int = 64,
) -> RegionAffine:
    """The per-region maps :func:`photonas.transforms.region_transfer` applies, from given content moments.

    A label gets its own map when the style has that region at ``point`` and the content has at
    least ``min_pixels`` of it (whole image); every other pixel takes the global map.
    """
    maps = {GLOBAL: transfer_map(content[GLOBAL], style, point, method, alpha, config)}
    for label, m in content.items():
        if label != GLOBAL and label in style.points[point] and m.count >= min_pixels:
            maps[label] = transfer_map(m, style, point, method, alpha, config, label)
    return RegionAffine(maps)


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
