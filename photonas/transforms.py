"""Feature transforms: WCT (whiten–colour) and AdaIN, global or per region.

Plain functions on tensors: batch-aware, device and dtype taken from the inputs, no hidden
state. A style is summarised once as :class:`FeatureStats` (mean, colouring matrix, std),
so one style can be applied to many content images.

Statistics are computed in float64 (covariances of raw VGG activations span many orders of
magnitude) and stored in float32; the transform is applied as one ``(C, C)`` matmul in at
least float32. On Apple MPS, which has no float64, the eigen-solves run on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: Label key of whole-image statistics in a :data:`RegionStats` mapping.
GLOBAL = -1


@dataclass(frozen=True)
class WCTConfig:
    """How the content covariance is regularised before whitening.

    Exact whitening amplifies noise along low-variance directions (haloes, bright outlines);
    the reference shrinks the content covariance to ``cov_scale·Σ + diag_boost·diag(Σ)``
    (off-diagonal ×1.5, diagonal ×2.5). ``WCTConfig(1.0, 0.0)`` is exact WCT.

    Attributes:
        cov_scale: multiplies the whole content covariance.
        diag_boost: adds this multiple of the covariance's diagonal.
        eps: eigenvalues at or below this (absolute) are dropped, so flat features give no NaN.
    """

    cov_scale: float = 1.5
    diag_boost: float = 1.0
    eps: float = 1e-6


EXACT_WCT = WCTConfig(cov_scale=1.0, diag_boost=0.0)


@dataclass(frozen=True)
class FeatureStats:
    """Second-order statistics of a feature map, enough to colour another feature like it.

    Attributes:
        mean: ``(B, C)`` channel means.
        color: ``(B, C, C)`` symmetric square root of the covariance (the colouring matrix).
        std: ``(B, C)`` channel standard deviations (for AdaIN).
    """

    mean: Tensor
    color: Tensor
    std: Tensor

    def to(self, device: torch.device | str) -> FeatureStats:
        """The same statistics on another device."""
        return FeatureStats(self.mean.to(device), self.color.to(device), self.std.to(device))


#: Label → statistics of that region; :data:`GLOBAL` holds the whole image's.
RegionStats = dict[int, FeatureStats]


def _linalg_device(x: Tensor) -> torch.device:
    return torch.device("cpu") if x.device.type == "mps" else x.device


def _full_precision(x: Tensor) -> torch.autocast:
    """Switch autocast off: statistics and their application must not drop to bf16/fp16."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def moments(feat: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (unbiased) covariance of ``(B, C, N)`` features, in float64.

    Returns:
        ``(B, C)`` means and ``(B, C, C)`` covariances; a single sample gives zero covariance.
    """
    with _full_precision(feat), torch.no_grad():
        x = feat.to(_linalg_device(feat), torch.float64)
        mean = x.mean(dim=2)
        centred = x - mean.unsqueeze(2)
        cov = centred @ centred.mT / max(x.shape[2] - 1, 1)
    return mean, cov


def _matrix_power(cov: Tensor, power: float, eps: float) -> Tensor:
    """``cov ** power`` for symmetric PSD ``(B, C, C)``, eigenvalues ``<= eps`` dropped."""
    evals, evecs = torch.linalg.eigh(0.5 * (cov + cov.mT))
    keep = evals > eps
    scaled = torch.where(keep, evals.clamp_min(eps) ** power, torch.zeros_like(evals))
    return (evecs * scaled.unsqueeze(-2)) @ evecs.mT


def feature_stats(feat: Tensor, eps: float = WCTConfig.eps) -> FeatureStats:
    """Statistics of ``(B, C, H, W)`` (or ``(B, C, N)``) features.

    Example:
        >>> stats = feature_stats(torch.rand(2, 8, 4, 4))
        >>> stats.mean.shape, stats.color.shape
        (torch.Size([2, 8]), torch.Size([2, 8, 8]))
    """
    mean, cov = moments(feat.flatten(2))
    with _full_precision(feat), torch.no_grad():
        color = _matrix_power(cov, 0.5, eps)
        std = cov.diagonal(dim1=1, dim2=2).clamp_min(0).sqrt()
    out = FeatureStats(mean.float(), color.float(), std.float())
    return out.to(feat.device)


def _check(content: Tensor, style: FeatureStats) -> None:
    if content.ndim != 4:
        raise ValueError(f"content features must be (B, C, H, W), got {tuple(content.shape)}")
    b, c = content.shape[:2]
    if style.mean.shape[1] != c:
        raise ValueError(f"style statistics have {style.mean.shape[1]} channels, content features {c}")
    if style.mean.shape[0] not in (1, b):
        raise ValueError(f"style statistics have batch {style.mean.shape[0]}, content {b} (need 1 or {b})")


def _blend(transformed: Tensor, content: Tensor, alpha: float) -> Tensor:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (style strength) must be in [0, 1], got {alpha}")
    out = transformed.to(content.dtype)
    return out if alpha == 1.0 else alpha * out + (1.0 - alpha) * content


def wct(content: Tensor, style: FeatureStats, alpha: float = 1.0, config: WCTConfig = WCTConfig()) -> Tensor:
    """Whiten ``(B, C, H, W)`` content features, colour them with the style's covariance.

    ``alpha`` blends the result with the untouched content (0 returns the content).

    Example:
        >>> content, style = torch.rand(1, 8, 16, 16), torch.rand(1, 8, 16, 16)
        >>> wct(content, feature_stats(style)).shape
        torch.Size([1, 8, 16, 16])
    """
    _check(content, style)
    if alpha == 0.0:
        return content
    flat = content.flatten(2)
    transform, c_mean = _wct_matrix(flat, style, config)
    out = _apply(flat, transform, c_mean, style.mean)
    return _blend(out.view_as(content), content, alpha)


def _wct_matrix(flat: Tensor, style: FeatureStats, config: WCTConfig) -> tuple[Tensor, Tensor]:
    """The ``(B, C, C)`` colour·whiten matrix for ``(B, C, N)`` content and its mean (float64)."""
    c_mean, cov = moments(flat)
    with _full_precision(flat), torch.no_grad():
        cov = config.cov_scale * cov + config.diag_boost * torch.diag_embed(cov.diagonal(dim1=1, dim2=2))
        whiten = _matrix_power(cov, -0.5, config.eps)
        return style.color.to(whiten) @ whiten, c_mean


def _apply(flat: Tensor, transform: Tensor, c_mean: Tensor, s_mean: Tensor) -> Tensor:
    """``transform @ (x - c_mean) + s_mean`` on ``(B, C, N)``, in at least float32.

    Gradients flow to ``flat`` through the (constant) matrix: statistics are not differentiated,
    since eigen-decompositions have undefined gradients at the repeated zero eigenvalues that
    dead ReLU channels produce.
    """
    dtype = torch.promote_types(flat.dtype, torch.float32)
    with _full_precision(flat):
        x = flat.to(dtype) - c_mean.to(flat.device, dtype).unsqueeze(2)
        return transform.to(flat.device, dtype) @ x + s_mean.to(flat.device, dtype).unsqueeze(2)


def adain(content: Tensor, style: FeatureStats, alpha: float = 1.0, eps: float = 1e-5) -> Tensor:
    """Adaptive instance normalisation: match each channel's mean and std to the style's.

    Example:
        >>> adain(torch.rand(2, 8, 5, 5), feature_stats(torch.rand(1, 8, 5, 5))).shape
        torch.Size([2, 8, 5, 5])
    """
    _check(content, style)
    if alpha == 0.0:
        return content
    dtype = torch.promote_types(content.dtype, torch.float32)
    with _full_precision(content):
        x = content.to(dtype)
        mean = x.mean(dim=(2, 3), keepdim=True)
        # unbiased, like the style's std from its covariance; a single pixel has none
        std = x.std(dim=(2, 3), keepdim=True) if x[0, 0].numel() > 1 else torch.zeros_like(mean)
        out = (x - mean) / (std + eps) * style.std.to(dtype)[..., None, None] + style.mean.to(dtype)[..., None, None]
    return _blend(out, content, alpha)


TRANSFORMS = {"wct": wct, "adain": adain}


def check_labels(labels: Tensor, batch: int | None = None) -> None:
    """Labels are ``(B, H, W)`` non-negative integers (B = ``batch`` when given)."""
    if labels.ndim != 3 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be (B, H, W) integers, got {labels.dtype} {tuple(labels.shape)}")
    if batch is not None and labels.shape[0] != batch:
        raise ValueError(f"labels have batch {labels.shape[0]}, features {batch}")
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"labels must be >= 0 (label {GLOBAL} names the whole image), got {int(labels.min())}")


def downsample_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """``(B, H, W)`` integer labels → ``(B, h, w)`` by nearest-neighbour sampling."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()


def region_stats(feat: Tensor, labels: Tensor | None = None, min_pixels: int = 64, eps: float = WCTConfig.eps) -> RegionStats:
    """Statistics of the whole of ``(1, C, H, W)`` features and of each labelled region.

    Regions with fewer than ``min_pixels`` feature pixels are left out: too few samples for a
    covariance, so the transfer falls back to the global statistics there.
    """
    stats: RegionStats = {GLOBAL: feature_stats(feat, eps)}
    if labels is None:
        return stats
    if feat.shape[0] != 1:
        raise ValueError("region statistics take one image at a time")
    check_labels(labels, batch=1)
    small = downsample_labels(labels, tuple(feat.shape[-2:]))[0]
    flat = feat[0].flatten(1)
    for label in torch.unique(small).tolist():
        mask = (small == label).flatten()
        if int(mask.sum()) >= min_pixels:
            stats[label] = feature_stats(flat[:, mask].unsqueeze(0), eps)
    return stats


def region_transfer(
    content: Tensor,
    style: RegionStats,
    content_labels: Tensor | None = None,
    *,
    method: str = "wct",
    alpha: float = 1.0,
    config: WCTConfig = WCTConfig(),
    min_pixels: int = 64,
) -> Tensor:
    """Transfer ``(B, C, H, W)`` content features region by region.

    Each content region takes the statistics of the same label in the style; a label the
    style lacks (or has too little of), or a content region too small for its own
    statistics, is transferred with the whole-image statistics of both sides instead.
    Without ``content_labels`` (``(B, H, W)`` at any resolution) this is a global transfer.
    """
    if method not in TRANSFORMS:
        raise ValueError(f"unknown transfer method {method!r}; choose one of {sorted(TRANSFORMS)}")
    if content_labels is not None:
        check_labels(content_labels, batch=content.shape[0])
    if content_labels is None or len(style) == 1:
        if method == "wct":
            return wct(content, style[GLOBAL], alpha, config)
        return adain(content, style[GLOBAL], alpha)
    if alpha == 0.0:
        return content
    labels = downsample_labels(content_labels, tuple(content.shape[-2:]))
    out = torch.stack([_region_transfer_one(x, style, lab, method, config, min_pixels) for x, lab in zip(content, labels)])
    return _blend(out, content, alpha)


def _region_transfer_one(
    x: Tensor, style: RegionStats, labels: Tensor, method: str, config: WCTConfig, min_pixels: int
) -> Tensor:
    """One ``(C, H, W)`` feature map, ``(H, W)`` labels at its resolution."""
    transform = TRANSFORMS[method]
    kwargs = {"config": config} if method == "wct" else {}
    flat = x.flatten(1)
    out = transform(x[None], style[GLOBAL], **kwargs)[0].flatten(1)
    for label in torch.unique(labels).tolist():
        mask = (labels == label).flatten()
        if label not in style or int(mask.sum()) < min_pixels:
            continue  # keeps the global transfer for this region
        region = flat[:, mask][:, :, None].unsqueeze(0)  # (1, C, n, 1)
        out[:, mask] = transform(region, style[label], **kwargs)[0, :, :, 0].to(out.dtype)
    return out.view_as(x)
