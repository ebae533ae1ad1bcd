"""Feature transforms: WCT (whiten–colour) and AdaIN, global or per region.

Plain functions on tensors: batch-aware, device and dtype taken from the inputs, no hidden
state. A style is summarised once as :class:`FeatureStats` (mean, colouring matrix, std),
so one style can be applied to many content images.

Fast path (the default): moments are accumulated in float32 over chunks of :data:`CHUNK`
pixels, each shifted by a sampled estimate of the mean, and merged in float64, so no
full-resolution float64 (or, for bf16 features, float32) copy is ever made; the small
``(C, C)`` eigen-solves run in float64, single-threaded on CPUs; the transform is applied as
one matmul plus bias in the features' own dtype (float32 accumulation) and memory layout
(channels-last features stay channels-last). ``WCTConfig(reference=True)`` computes
everything in float64 instead: the slow reference the fast path is tested against. On Apple
MPS, which has no float64, the eigen-solves run on the CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

#: Label key of whole-image statistics in a :data:`RegionStats` mapping.
GLOBAL = -1
#: Pixels per chunk of the fast statistics: bounds the float32 copy made of low-precision
#: features (64 channels × 65,536 pixels is 16 MB) while keeping each matmul large.
CHUNK = 1 << 16


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
        reference: compute moments and apply the transform in float64 (slow; the accuracy
            reference of the default float32 path).
    """

    cov_scale: float = 1.5
    diag_boost: float = 1.0
    eps: float = 1e-6
    reference: bool = False


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


def _pixel_rows(flat: Tensor) -> bool:
    """Whether ``(B, C, N)`` features are channels-last in memory (pixels are rows of C values)."""
    return flat.shape[1] > 1 and flat.stride(1) == 1


def _chunks(flat: Tensor) -> list[Tensor]:
    """``(B, C, N)`` features as pieces of at most :data:`CHUNK` pixels, each contiguous in memory.

    Channels-last features give ``(B, n, C)`` pixel rows, others ``(B, C, n)`` pieces.
    """
    src, dim = (flat.mT, 1) if _pixel_rows(flat) else (flat, 2)
    n = flat.shape[2]
    return [src.narrow(dim, start, min(CHUNK, n - start)) for start in range(0, n, CHUNK)]


def channel_moments(feat: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and biased variance of ``(B, C, H, W)`` features, float32 ``(B, C)``.

    Instance norm's statistics without its costs: torch's reductions over H and W are slow on
    bf16 and on channels-last tensors, so the fast path converts chunk by chunk to float32,
    shifted by a sampled mean, and sums there. Gradients (training) take torch's own path.
    """
    if torch.is_grad_enabled() and feat.requires_grad:
        var, mean = torch.var_mean(feat.float(), dim=(2, 3), correction=0)
        return mean, var
    with _full_precision(feat), torch.no_grad():
        flat = feat.flatten(2)
        n = flat.shape[2]
        shift = flat[:, :, :: max(1, n // 4096)].float().mean(dim=2)
        rows = _pixel_rows(flat)
        dim = 1 if rows else 2
        shift_b = shift.unsqueeze(dim)
        total = torch.zeros_like(shift)
        squares = torch.zeros_like(shift)
        for centred in _float_chunks(flat):
            centred.sub_(shift_b)
            total += centred.sum(dim=dim)
            squares += centred.square_().sum(dim=dim)
        offset = total / n
        return shift + offset, (squares / n - offset.square()).clamp_min_(0)


def _float_chunks(flat: Tensor) -> Iterator[Tensor]:
    """:func:`_chunks` converted to float32, each written into one reused buffer.

    Fresh multi-megabyte temporaries cost page faults on every chunk (more than the conversion
    itself on a CPU); reusing one buffer pays them once. Each yielded chunk is overwritten by
    the next, and may be modified in place by the caller.
    """
    buffer: Tensor | None = None
    for part in _chunks(flat):
        if buffer is None:
            buffer = torch.empty(part.shape, dtype=torch.float32, device=part.device)
        view = buffer[:, : part.shape[1]] if _pixel_rows(flat) else buffer[:, :, : part.shape[2]]
        yield view.copy_(part)


def moments(feat: Tensor, *, reference: bool = False) -> tuple[Tensor, Tensor]:
    """Mean and (unbiased) covariance of ``(B, C, N)`` features, returned in float64.

    Fast path: one pass over chunks, each shifted by a per-channel estimate of the mean (taken
    from a strided sample) as it is converted to float32, then summed and multiplied by its own
    transpose; the sums merge in float64. The shift keeps the float32 products from cancelling
    against large raw activations. ``reference=True`` does it all in float64 in one piece.

    Returns:
        ``(B, C)`` means and ``(B, C, C)`` covariances; a single sample gives zero covariance.
    """
    with _full_precision(feat), torch.no_grad():
        x = feat.to(_linalg_device(feat))
        n = x.shape[2]
        if reference:
            x = x.to(torch.float64)
            mean = x.mean(dim=2)
            centred = x - mean.unsqueeze(2)
            return mean, centred @ centred.mT / max(n - 1, 1)
        stride = max(1, n // 4096)
        shift = x[:, :, ::stride].to(torch.float64).mean(dim=2)
        rows = _pixel_rows(x)
        shift32 = shift.float().unsqueeze(1 if rows else 2)
        total = torch.zeros_like(shift)
        gram = torch.zeros(*shift.shape, shift.shape[1], dtype=torch.float64, device=x.device)
        for centred in _float_chunks(x):
            centred.sub_(shift32)
            total += centred.sum(dim=1 if rows else 2).double()
            gram += (centred.mT @ centred if rows else centred @ centred.mT).double()
        offset = total / n
        cov = (gram - n * offset.unsqueeze(2) * offset.unsqueeze(1)) / max(n - 1, 1)
        if not (torch.isfinite(cov).all() and torch.isfinite(offset).all()):
            # float32 squares overflow past ~1.8e19 (a barely trained decoder can get there)
            return moments(feat, reference=True)
        return shift + offset, cov


class _OneThread:
    """Run small CPU eigen-solves on one thread, process-wide, re-entrant across threads.

    LAPACK's threaded ``syevd`` on a (C, C) matrix with C <= 512 gains nothing from a second
    thread and, when the other core is busy, stalls on it: a 64×64 solve took 77 ms on two
    threads of this 2-core machine under load and 0.4 ms on one. The thread count is
    process-global, so concurrent users share one switch (the first in sets it, the last out
    restores it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 1

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                torch.set_num_threads(self._saved)


_ONE_THREAD = _OneThread()


def _eigh(matrix: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.linalg.eigh``, single-threaded on the CPU (see :class:`_OneThread`)."""
    if matrix.device.type != "cpu":
        return torch.linalg.eigh(matrix)
    with _ONE_THREAD:
        return torch.linalg.eigh(matrix)


def _matrix_power(cov: Tensor, power: float, eps: float) -> Tensor:
    """``cov ** power`` for symmetric PSD ``(B, C, C)``, eigenvalues ``<= eps`` dropped."""
    evals, evecs = _eigh(0.5 * (cov + cov.mT))
    keep = evals > eps
    scaled = torch.where(keep, evals.clamp_min(eps) ** power, torch.zeros_like(evals))
    return (evecs * scaled.unsqueeze(-2)) @ evecs.mT


def feature_stats(feat: Tensor, eps: float = WCTConfig.eps, *, reference: bool = False) -> FeatureStats:
    """Statistics of ``(B, C, H, W)`` (or ``(B, C, N)``) features.

    Example:
        >>> stats = feature_stats(torch.rand(2, 8, 4, 4))
        >>> stats.mean.shape, stats.color.shape
        (torch.Size([2, 8]), torch.Size([2, 8, 8]))
    """
    mean, cov = moments(feat.flatten(2), reference=reference)
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


@dataclass(frozen=True)
class Affine:
    """The per-pixel channel map every transfer is: ``x ↦ matrix @ (x − centre) + offset``.

    ``matrix`` ``(B, C, C)``, ``centre`` and ``offset`` ``(B, C)``, float64 (B may be 1 for a
    whole batch). The centred form lets low-precision features be centred before the matmul
    (see :func:`_apply`). :func:`transfer_map` makes one from content moments, however they were
    gathered: from the tensor at hand (:func:`wct`, :func:`adain`), over the tiles of a large
    photo (:mod:`photonas.highres.tiled`), or smoothed over video frames (``bench/``).
    """

    matrix: Tensor
    centre: Tensor
    offset: Tensor

    def __call__(self, x: Tensor, *, reference: bool = False) -> Tensor:
        """Apply to ``(B, C, ...)`` features; returned in their shape and dtype.

        ``reference`` computes in float64 (see :class:`WCTConfig`).
        """
        out = _apply(x.flatten(2), self.matrix, self.centre, self.offset, reference=reference)
        return out.view_as(x).to(x.dtype)


#: The transfers a map can be made for (:func:`transfer_map`).
METHODS = ("wct", "adain")
#: Added to AdaIN's content standard deviations (a flat channel gets no infinite gain).
ADAIN_EPS = 1e-5


def check_method(method: str) -> None:
    """``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"unknown transfer method {method!r}; choose one of {sorted(METHODS)}")


def transfer_map(
    mean: Tensor, cov: Tensor, style: FeatureStats, method: str = "wct", alpha: float = 1.0, config: WCTConfig = WCTConfig()
) -> Affine:
    """The affine map a WCT or AdaIN transfer applies, from the content's moments.

    WCT: ``color_s · whiten(Σ') · (x − μ_c) + μ_s`` with the regularised ``Σ'`` of ``config``;
    AdaIN: per channel ``(x − μ_c) / (σ_c + ε) · σ_s + μ_s``. Blended with the identity by
    ``alpha`` (0: the content unchanged). The eigen-solve runs in float64.

    Args:
        mean: ``(B, C)`` content means.
        cov: ``(B, C, C)`` unbiased content covariances (:func:`moments`).
        style: the target statistics (batch 1 or B).
        method: ``"wct"`` or ``"adain"``.
        alpha: style strength in [0, 1].
        config: regularisation of the whitening.
    """
    check_method(method)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (style strength) must be in [0, 1], got {alpha}")
    with _full_precision(mean), torch.no_grad():
        mean, cov = mean.double(), cov.double()
        s_mean = style.mean.to(mean)
        if method == "wct":
            cov = config.cov_scale * cov + config.diag_boost * torch.diag_embed(cov.diagonal(dim1=1, dim2=2))
            matrix = style.color.to(cov) @ _matrix_power(cov, -0.5, config.eps)
        else:
            std = cov.diagonal(dim1=1, dim2=2).clamp_min(0).sqrt()
            matrix = torch.diag_embed(style.std.to(std) / (std + ADAIN_EPS))
        matrix = matrix.expand(mean.shape[0], -1, -1)
        offset = s_mean.expand_as(mean)
        if alpha != 1.0:
            eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
            matrix, offset = alpha * matrix + (1 - alpha) * eye, alpha * offset + (1 - alpha) * mean
        return Affine(matrix, mean, offset)


def _apply(flat: Tensor, transform: Tensor, c_mean: Tensor, s_mean: Tensor, *, reference: bool = False) -> Tensor:
    """``transform @ (x - c_mean) + s_mean`` on ``(B, C, N)`` features, as one matmul plus bias (:class:`Affine`).

    The reference path (and any call that needs gradients) computes in float64 / float32. The
    fast path is a single ``baddbmm`` in the features' own dtype, written straight into an
    output of their strides: bf16/fp16 matmuls accumulate in float32 (oneDNN/AMX on CPUs,
    tensor cores on GPUs), so only the ``(C, C)`` matrix and the result are rounded, and no
    full-resolution float32 copy is made. Gradients flow to ``flat`` through the (constant)
    matrix: statistics are not differentiated, since eigen-decompositions have undefined
    gradients at the repeated zero eigenvalues that dead ReLU channels produce.
    """
    with _full_precision(flat):
        matrix = transform.to(flat.device, torch.float64)
        bias = s_mean.to(flat.device, torch.float64) - (matrix @ c_mean.to(flat.device, torch.float64).unsqueeze(2)).squeeze(2)
        if reference or (torch.is_grad_enabled() and flat.requires_grad):
            dtype = torch.float64 if reference else torch.promote_types(flat.dtype, torch.float32)
            return torch.baddbmm(bias.to(dtype).unsqueeze(2), matrix.to(dtype), flat.to(dtype))
        source = flat
        if flat.dtype in (torch.bfloat16, torch.float16):
            # Centre first: raw activations sit far from zero, and ``T x`` and ``-T mean`` rounded
            # to 8 bits apiece would cancel into errors of a few per cent. The mean is rounded to
            # the features' dtype; the bias absorbs that rounding exactly (in float64).
            rounded = c_mean.to(flat.device, flat.dtype)
            source = flat - rounded.unsqueeze(2)
            shift = rounded.double() - c_mean.to(flat.device, torch.float64)
            bias = s_mean.to(flat.device, torch.float64) + (matrix @ shift.unsqueeze(2)).squeeze(2)
        matrix, bias = matrix.to(flat.dtype), bias.to(flat.dtype)
        out = torch.empty_like(source)
        if _pixel_rows(source):  # channels-last: (B, N, C) rows times the transposed matrix
            torch.baddbmm(bias.unsqueeze(1), source.mT, matrix.mT, out=out.mT)
        else:
            torch.baddbmm(bias.unsqueeze(2), matrix, source, out=out)
        return out


def _transfer(content: Tensor, style: FeatureStats, method: str, alpha: float, config: WCTConfig) -> Tensor:
    """Global transfer of ``(B, C, H, W)`` features: their moments, the map, applied."""
    _check(content, style)
    if alpha == 0.0:
        return content
    mean, cov = moments(content.flatten(2), reference=config.reference)
    return transfer_map(mean, cov, style, method, alpha, config)(content, reference=config.reference)


def wct(content: Tensor, style: FeatureStats, alpha: float = 1.0, config: WCTConfig = WCTConfig()) -> Tensor:
    """Whiten ``(B, C, H, W)`` content features, colour them with the style's covariance.

    ``alpha`` blends the result with the untouched content (0 returns the content).

    Example:
        >>> content, style = torch.rand(1, 8, 16, 16), torch.rand(1, 8, 16, 16)
        >>> wct(content, feature_stats(style)).shape
        torch.Size([1, 8, 16, 16])
    """
    return _transfer(content, style, "wct", alpha, config)


def adain(content: Tensor, style: FeatureStats, alpha: float = 1.0) -> Tensor:
    """Adaptive instance normalisation: match each channel's mean and std to the style's.

    Example:
        >>> adain(torch.rand(2, 8, 5, 5), feature_stats(torch.rand(1, 8, 5, 5))).shape
        torch.Size([2, 8, 5, 5])
    """
    return _transfer(content, style, "adain", alpha, WCTConfig())


def check_labels(labels: Tensor, batch: int | None = None) -> None:
    """Labels are ``(B, H, W)`` non-negative integers (B = ``batch`` when given)."""
    if labels.ndim != 3 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be (B, H, W) integers, got {labels.dtype} {tuple(labels.shape)}")
    if batch is not None and labels.shape[0] != batch:
        raise ValueError(f"labels have batch {labels.shape[0]}, features {batch}")
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"labels must be >= 0 (label {GLOBAL} names the whole image), got {int(labels.min())}")


def resize_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """``(B, H, W)`` integer labels resampled to ``size`` (height, width), never blended.

    The one label resize of the project (maps to images, to working copies, to feature grids):
    each output pixel takes the input pixel under its centre, computed in integers (no float
    rounding at exact halves), so a label map resized to a feature grid samples the middle of
    each cell and tiles cut on the grid resize exactly like the whole image.
    """
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"size must be a positive (height, width), got {tuple(size)}")
    if tuple(labels.shape[-2:]) == (height, width):
        return labels
    h, w = labels.shape[-2:]
    device = labels.device
    rows = ((2 * torch.arange(height, device=device) + 1) * h) // (2 * height)
    cols = ((2 * torch.arange(width, device=device) + 1) * w) // (2 * width)
    return labels[..., rows[:, None], cols[None, :]]


def region_stats(
    feat: Tensor, labels: Tensor | None = None, min_pixels: int = 64, eps: float = WCTConfig.eps, *, reference: bool = False
) -> RegionStats:
    """Statistics of the whole of ``(1, C, H, W)`` features and of each labelled region.

    Regions with fewer than ``min_pixels`` feature pixels are left out: too few samples for a
    covariance, so the transfer falls back to the global statistics there.
    """
    stats: RegionStats = {GLOBAL: feature_stats(feat, eps, reference=reference)}
    if labels is None:
        return stats
    if feat.shape[0] != 1:
        raise ValueError("region statistics take one image at a time")
    check_labels(labels, batch=1)
    small = resize_labels(labels, tuple(feat.shape[-2:]))[0]
    flat = feat[0].flatten(1)
    for label in torch.unique(small).tolist():
        mask = (small == label).flatten()
        if int(mask.sum()) >= min_pixels:
            stats[label] = feature_stats(flat[:, mask].unsqueeze(0), eps, reference=reference)
    return stats


@dataclass
class Moments:
    """Count, mean and scatter (sum of centred outer products) of ``C``-channel features, float64.

    What a transfer needs from its content, in a form that merges: the tiler adds tiles' moments
    up (:meth:`merge`), a video experiment averages them over frames (:meth:`blend`).
    """

    count: int
    mean: Tensor
    scatter: Tensor

    @classmethod
    def of(cls, feat: Tensor, *, reference: bool = False) -> Moments:
        """Moments of one ``(1, C, ...)`` feature map (on the device the eigen-solves run on)."""
        n = feat[0, 0].numel()
        mean, cov = moments(feat.flatten(2), reference=reference)
        return cls(n, mean[0], cov[0] * max(n - 1, 1))

    def merge(self, other: Moments) -> Moments:
        """Moments of both sets of pixels together (Chan et al.'s pairwise update)."""
        n = self.count + other.count
        delta = other.mean - self.mean.to(other.mean)
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
        """Unbiased covariance, like :func:`moments`."""
        return self.scatter / max(self.count - 1, 1)

    @property
    def var(self) -> Tensor:
        """Biased per-channel variance, as instance norm uses."""
        return self.scatter.diagonal() / self.count

    def transfer_map(
        self, style: FeatureStats, method: str = "wct", alpha: float = 1.0, config: WCTConfig = WCTConfig()
    ) -> Affine:
        """:func:`transfer_map` from these moments."""
        return transfer_map(self.mean[None], self.cov[None], style, method, alpha, config)


#: Moments of one feature map over the whole image (:data:`GLOBAL`) and over each region label.
RegionMoments = dict[int, Moments]


def region_moments(feat: Tensor, labels: Tensor | None = None, *, reference: bool = False) -> RegionMoments:
    """Moments of ``(1, C, h, w)`` features, whole and per label of ``(1, h, w)`` labels at their resolution."""
    out = {GLOBAL: Moments.of(feat, reference=reference)}
    if labels is not None:
        flat = feat.flatten(2)
        for label in torch.unique(labels).tolist():
            out[label] = Moments.of(flat[:, :, (labels == label).flatten()], reference=reference)
    return out


@dataclass(frozen=True)
class RegionAffine:
    """One affine map per region: a label's pixels take its own map when it has one, else the global map."""

    maps: dict[int, Affine]

    def __call__(self, x: Tensor, labels: Tensor | None = None, *, reference: bool = False) -> Tensor:
        """Apply to ``(1, C, h, w)`` features with ``(1, h, w)`` labels at their resolution."""
        y = self.maps[GLOBAL](x, reference=reference)
        if labels is None or len(self.maps) == 1:
            return y
        flat_x, flat_y = x.flatten(2), y.flatten(2)
        for label, mapping in self.maps.items():
            mask = (labels == label).flatten()
            if label != GLOBAL and mask.any():
                flat_y[:, :, mask] = mapping(flat_x[:, :, mask], reference=reference)
        return y


def region_transfer_map(
    content: RegionMoments,
    style: RegionStats,
    method: str = "wct",
    alpha: float = 1.0,
    config: WCTConfig = WCTConfig(),
    min_pixels: int = 64,
) -> RegionAffine:
    """The per-region maps of a region-wise transfer, from the content's region moments.

    A label gets its own map when the style has that region and the content has at least
    ``min_pixels`` of it; every other pixel takes the global map (whole image to whole style).
    """
    maps = {GLOBAL: content[GLOBAL].transfer_map(style[GLOBAL], method, alpha, config)}
    for label, m in content.items():
        if label != GLOBAL and label in style and m.count >= min_pixels:
            maps[label] = m.transfer_map(style[label], method, alpha, config)
    return RegionAffine(maps)


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
    check_method(method)
    if content_labels is not None:
        check_labels(content_labels, batch=content.shape[0])
    if content_labels is None or len(style) == 1:
        return _transfer(content, style[GLOBAL], method, alpha, config)
    _check(content, style[GLOBAL])
    if alpha == 0.0:
        return content
    labels = resize_labels(content_labels, tuple(content.shape[-2:]))
    out = []
    for x, lab in zip(content, labels):
        gathered = region_moments(x[None], lab[None], reference=config.reference)
        maps = region_transfer_map(gathered, style, method, alpha, config, min_pixels)
        out.append(maps(x[None], lab[None], reference=config.reference))
    return torch.cat(out)
