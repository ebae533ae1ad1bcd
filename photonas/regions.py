"""Automatic regions: label maps that pair content and style regions, with no painted masks.

Region transfer (:func:`photonas.transforms.region_transfer`) gives each content region the
statistics of the style region with the same label. This module finds such label maps from
the deep VGG features the encoder computes anyway (no other model, nothing downloaded):

1. **Descriptors** (:func:`region_descriptors`): relu4_1 and relu5_1 (relu5_1 upsampled to
   the /8 grid), each centred per channel and scaled per channel, so what is left is *what*
   the pixel looks like relative to the rest of its photo, not the photo's global colour
   and tone (those differ between content and style by design). Optional colour (the
   image's own normalised RGB) and vertical-position terms; a small box filter smooths them.
2. **Clustering** (:func:`kmeans`): deterministic k-means in torch (k-means++ seeded with a
   fixed generator, on a strided pixel sample).
3. **Matching** (:func:`fit_regions`), three ways, measured in ``bench/auto_regions.py``:
   ``"style"`` clusters the style and gives every content pixel its nearest style centroid;
   ``"joint"`` clusters content and style together; ``"separate"`` clusters each photo on
   its own and sends each content cluster to the nearest style cluster.
4. **Clean-up**: regions under ``min_fraction`` of either photo are merged into the next
   nearest region, and a content whose descriptors barely vary (a flat colour) is one region
   taking the whole style's statistics.

The fitted :class:`RegionMatcher` holds the centroids, so a style preset can carry it
(:class:`~photonas.style.StyleStats` ``regions``) and a video labels every frame against the
same style clusters (nearest-centroid assignment on smoothed descriptors: near-identical
frames get the same labels). The descriptors are built as pixel rows (cells × channels), the
encoder's own channels-last layout, so that every step reads memory in order.

Where the labels act is the caller's choice: the photo-faithful output
(:func:`photonas.highres.fit_photo_mapping`) labels the content from the network's own
encoder pass and uses the regions in its colour calibration alone; the raw output transfers
region by region inside the network.

Examples:
    >>> matcher, style_labels = fit_regions(style_feats, style_box)  # doctest: +SKIP
    >>> frame_labels = matcher.label(frame_feats, frame_box)         # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from photonas.encoder import LEVEL_STRIDE, Features
from photonas.padding import Box, crop

#: Matching strategies, see the module docstring.
METHODS: tuple[str, ...] = ("style", "joint", "separate")
#: Descriptors live on the relu4_1 grid (/8): fine enough for region borders, small to cluster.
GRID_LEVEL = "relu4_1"


@dataclass(frozen=True)
class RegionConfig:
    """How automatic regions are found.

    Defaults from ``bench/auto_regions.py`` on held-out BSDS pairs: ``"style"`` (the only
    method that needs no content, so a style preset can carry it), k = 5 (closed 0.55 of the
    colour gap to true regions, against 0.26 at k = 2), every channel, position 0.25.

    Attributes:
        regions: most regions per photo (k of k-means); merging may leave fewer.
        method: ``"style"``, ``"joint"`` or ``"separate"`` (see the module docstring).
        levels: encoder levels whose normalised features make the descriptor.
        color_weight: weight of the photo's own normalised RGB in the descriptor (0: none);
            colour alone would pair by hue, which is what the transfer is about to change.
        position_weight: weight of the vertical position (sky is usually on top in both).
        smoothing: box-filter side on the /8 grid for the descriptors (1: none).
        min_fraction: regions smaller than this share of either photo are merged away.
        flat_variance: a content whose mean descriptor variance is under this is one region.
        iterations: Lloyd iterations of k-means.
        projection: channels each level is randomly projected to, for speed (0: all of them;
            64 was 3x faster but paired worse on the BSDS study).
        max_cells: most grid cells per photo; larger photos are pooled to this (bounded cost).
        max_samples: most cells (strided, per photo) k-means is fitted on.
        seed: seed of the k-means++ initialisation.
    """

    regions: int = 5
    method: str = "style"
    levels: tuple[str, ...] = ("relu4_1", "relu5_1")
    color_weight: float = 0.0
    position_weight: float = 0.25
    smoothing: int = 3
    min_fraction: float = 0.05
    flat_variance: float = 0.05
    iterations: int = 25
    projection: int = 0
    max_cells: int = 4096
    max_samples: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if min(self.regions, self.smoothing, self.iterations, self.max_cells, self.max_samples) < 1:
            raise ValueError("regions, smoothing, iterations, max_cells and max_samples must be positive")
        if not self.levels or any(level not in LEVEL_STRIDE for level in self.levels):
            raise ValueError(f"levels must be encoder levels, got {self.levels}")


def _grid_box(box: Box, stride: int) -> Box:
    """The part of a /``stride`` grid that an image's ``box`` inside its padding covers."""
    top, left, height, width = box
    t, lft = top // stride, left // stride
    return t, lft, -(-(top + height) // stride) - t, -(-(left + width) // stride) - lft


def _column_moments(points: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and biased variance of each column of ``(n, D)`` points, as two matrix–vector products
    (torch's reductions along the first dimension take a slow path on a CPU)."""
    weights = torch.full((points.shape[0],), 1 / points.shape[0], dtype=points.dtype, device=points.device)
    mean = weights @ points
    return mean, (weights @ points.square() - mean.square()).clamp_min(0)


def _box_smooth(rows: Tensor, side: int) -> Tensor:
    """``(h, w, D)`` rows averaged over ``side × side`` cells, edges replicated; shifted slices of
    contiguous rows, so every pass reads memory in order whatever D is."""
    pad = side // 2
    for dim in (0, 1):
        n = rows.shape[dim]
        first, last = rows.narrow(dim, 0, 1), rows.narrow(dim, n - 1, 1)
        sizes = list(rows.shape)
        sizes[dim] = pad
        padded = torch.cat([first.expand(sizes), rows, last.expand(sizes)], dim)
        total = padded.narrow(dim, 0, n).clone()
        for shift in range(1, side):
            total += padded.narrow(dim, shift, n)
        rows = total / side
    return rows


def _normalise(rows: Tensor, box: Box, projection: int = 0, seed: int = 0) -> Tensor:
    """Centre and scale each channel of ``(h, w, C)`` pixel rows by its statistics inside ``box``.

    The scale is floored at a tenth of the level's overall RMS activation, so a flat photo's
    near-constant channels stay near 0 instead of blowing JPEG noise up to unit variance.
    Divided by sqrt(C) so every level (and every extra term) weighs about 1 per cell.
    With ``projection`` > 0 the result is also multiplied by a fixed seeded Gaussian
    ``(C, projection)`` matrix (scaled to keep distances on average, Johnson–Lindenstrauss),
    folded into one matmul: every later step then reads ``projection`` channels instead of C.
    Pixel rows (channels last, as the encoder's features are) keep every step one pass over
    contiguous memory.
    """
    c = rows.shape[-1]
    top, left, height, width = box
    mean, var = _column_moments(rows[top : top + height, left : left + width].reshape(-1, c))
    std = var.sqrt()
    floor = 0.1 * (std.pow(2) + mean.pow(2)).mean().sqrt().clamp_min(1e-6)
    scale = 1 / (std.clamp_min(floor) * c**0.5)
    if projection <= 0:
        return (rows - mean) * scale
    generator = torch.Generator(device="cpu").manual_seed(seed)
    matrix = torch.randn(c, projection, generator=generator).to(rows.device) / projection**0.5
    weight = matrix * scale[:, None]  # (C, d)
    return rows @ weight - mean @ weight


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``(1, C, h, w)`` to ``size``: box averages when shrinking, bilinear when growing."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class Descriptors:
    """Per-cell descriptors of one padded photo.

    Attributes:
        rows: ``(h, w, D)`` float32 descriptors, one row of D values per grid cell.
        stride: image pixels per grid cell (8, or a multiple of 8 for large photos).
        box: where the photo lies inside its padding, in image pixels.
    """

    rows: Tensor
    stride: int
    box: Box

    def inside(self) -> Tensor:
        """``(n, D)`` descriptors of the cells the photo covers (padding left out)."""
        top, left, height, width = _grid_box(self.box, self.stride)
        return self.rows[top : top + height, left : left + width].reshape(-1, self.rows.shape[-1])


def region_descriptors(
    feats: Features, box: Box, config: RegionConfig = RegionConfig(), image: Tensor | None = None
) -> Descriptors:
    """Descriptors of one padded photo on the relu4_1 grid, pooled to at most ``max_cells`` cells.

    Pooling keeps the cost of large photos bounded: regions need no more than a few thousand
    cells, and the scores are upsampled smoothly to full resolution at the end.

    Args:
        feats: encoder features of the padded photo (batch 1), any float dtype.
        box: where the photo lies inside its padding (from :func:`~photonas.padding.pad_to_grid`);
            statistics are taken there only.
        config: which levels and extra terms.
        image: the padded ``(1, 3, H, W)`` photo, needed when ``config.color_weight`` > 0.
    """
    base = feats[GRID_LEVEL].shape[-2:]
    factor = max(1, math.ceil(math.sqrt(base[0] * base[1] / config.max_cells)))
    size = (-(-base[0] // factor), -(-base[1] // factor))
    stride = LEVEL_STRIDE[GRID_LEVEL] * factor
    grid_box = _grid_box(box, stride)

    def rows(x: Tensor) -> Tensor:  # (1, C, h, w) → (h, w, C) pixel rows at the grid's size
        return _resize(x[:1].float(), size)[0].permute(1, 2, 0).contiguous()

    parts = [_normalise(rows(feats[level]), grid_box, config.projection, seed=i) for i, level in enumerate(config.levels)]
    if config.color_weight > 0:
        if image is None:
            raise ValueError("color_weight > 0 needs the padded image")
        parts.append(config.color_weight * _normalise(rows(image), grid_box))
    if config.position_weight > 0:
        top, _, height, _ = grid_box
        ys = (torch.arange(size[0], dtype=torch.float32, device=parts[0].device) - top + 0.5) / height
        # Uniform on [0, 1] has variance 1/12: scale to unit variance, like the other terms.
        parts.append(config.position_weight * ((ys - 0.5) * 12**0.5)[:, None, None].expand(*size, 1))
    desc = torch.cat(parts, dim=-1)
    if config.smoothing > 1:
        desc = _box_smooth(desc, config.smoothing)
    return Descriptors(desc, stride, box)


def _samples(desc: Descriptors, max_samples: int) -> Tensor:
    """``(n, D)`` descriptors inside the photo, every k-th cell so that n <= max_samples."""
    points = desc.inside()
    return points[:: -(-points.shape[0] // max_samples)].contiguous()


def _sq_distances(points: Tensor, centroids: Tensor) -> Tensor:
    """``(n, k)`` squared Euclidean distances, clamped at 0 against rounding."""
    d = points.pow(2).sum(1, keepdim=True) - 2 * points @ centroids.T + centroids.pow(2).sum(1)[None]
    return d.clamp_min(0)


def _nearest(points: Tensor, centroids: Tensor) -> Tensor:
    """Index of the nearest centroid of each point (|x|² is the same for every centroid)."""
    return (centroids.pow(2).sum(1)[None] - 2 * points @ centroids.T).argmin(1)


def kmeans(points: Tensor, k: int, *, iterations: int = 25, seed: int = 0) -> Tensor:
    """Deterministic k-means: ``(n, D)`` points → at most ``k`` distinct ``(k', D)`` centroids.

    k-means++ initialisation from a generator seeded with ``seed``; it stops early when every
    point already sits on a centroid (identical points give one centroid, never a NaN). An
    emptied cluster is moved to the point farthest from its centroid.

    >>> kmeans(torch.tensor([[0.0], [0.1], [5.0], [5.1]]), 2).sort(0).values.squeeze(1)
    tensor([0.0500, 5.0500])
    """
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (n, D) tensor, got {tuple(points.shape)}")
    generator = torch.Generator(device="cpu").manual_seed(seed)
    n = points.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    centroids = points[first : first + 1]
    nearest = _sq_distances(points, centroids)[:, 0]
    while centroids.shape[0] < k:
        total = float(nearest.sum())
        if total <= 1e-12 * n:
            break  # every point is on a centroid already
        pick = int(torch.multinomial((nearest / total).cpu().double(), 1, generator=generator))
        centroids = torch.cat([centroids, points[pick : pick + 1]])
        nearest = torch.minimum(nearest, _sq_distances(points, centroids[-1:])[:, 0])
    for _ in range(iterations):
        assign = _nearest(points, centroids)
        one_hot = F.one_hot(assign, centroids.shape[0]).to(points.dtype)
        counts = one_hot.sum(0)
        new = (one_hot.T @ points) / counts.clamp_min(1)[:, None]
        empty = counts == 0
        if empty.any():
            own = (points - centroids[assign]).pow(2).sum(1)
            new[empty] = points[own.argsort(descending=True)[: int(empty.sum())]]
        if torch.allclose(new, centroids):
            break
        centroids = new
    return centroids


def _argmax0(scores: Tensor) -> Tensor:
    """``scores.argmax(0)`` of ``(k, H, W)`` for small k, one contiguous pass per row (several
    times faster than the strided reduction at full resolution on a CPU); ties go to the first."""
    best, index = scores[0], torch.zeros(scores.shape[1:], dtype=torch.int64, device=scores.device)
    for i in range(1, scores.shape[0]):
        better = scores[i] > best
        index = torch.where(better, i, index)
        best = torch.maximum(best, scores[i])
    return index


def _assign(dist: Tensor, allowed: Tensor) -> Tensor:
    """Nearest allowed centroid of every row of ``(n, k)`` distances."""
    return dist.masked_fill(~allowed[None], float("inf")).argmin(1)


def _drop_tiny(dist: Tensor, targets: Tensor, min_fraction: float) -> Tensor:
    """The centroids allowed once those whose label covers under ``min_fraction`` of the points are
    disallowed, smallest first; at least one label always stays."""
    allowed = torch.ones_like(targets, dtype=torch.bool)
    while True:
        labels = targets[_assign(dist, allowed)]
        present, counts = labels.unique(return_counts=True)
        if present.numel() <= 1:
            return allowed
        smallest = int(counts.argmin())
        if counts[smallest] >= min_fraction * labels.numel():
            return allowed
        allowed &= targets != present[smallest]


@dataclass(frozen=True)
class RegionMatcher:
    """Fitted regions: each content pixel takes ``targets[nearest centroid]`` as its label.

    Attributes:
        centroids: ``(m, D)`` descriptor centroids a content pixel is compared with.
        targets: ``(m,)`` style label each centroid stands for.
        config: the settings the descriptors must be made with.
        flat_label: the label of a flat content, one the style lacks, so that it takes the
            whole style's statistics.
    """

    centroids: Tensor
    targets: Tensor
    config: RegionConfig
    flat_label: int

    def is_flat(self, desc: Descriptors) -> bool:
        """Whether the photo's appearance descriptors barely vary (position is left out)."""
        variance = _column_moments(desc.inside())[1]
        if self.config.position_weight > 0:
            variance = variance[:-1]  # the position term is the last descriptor column
        return float(variance.sum()) < self.config.flat_variance

    def label_descriptors(self, desc: Descriptors) -> Tensor:
        """Labels ``(1, H, W)`` int64 at the photo's own size (the height and width of its box).

        Centroids whose label would cover under ``min_fraction`` of the photo are left out
        (their cells go to the next nearest). The centroid scores are upsampled bilinearly
        before the arg-max, so region borders are smooth curves at full resolution rather
        than grid staircases. A flat photo is one region labelled :attr:`flat_label`.
        """
        rows = desc.rows
        if rows.ndim != 3 or rows.shape[-1] != self.centroids.shape[1]:
            raise ValueError(f"descriptors must be (h, w, D={self.centroids.shape[1]}), got {tuple(rows.shape)}")
        size = desc.box[2:]
        if self.is_flat(desc):
            return torch.full((1, *size), self.flat_label, dtype=torch.int64, device=rows.device)
        targets = self.targets.to(rows.device)
        centroids = self.centroids.to(rows.device, rows.dtype)
        allowed = _drop_tiny(_sq_distances(desc.inside(), centroids), targets, self.config.min_fraction)
        centroids, targets = centroids[allowed], targets[allowed]
        if centroids.shape[0] == 1:
            return torch.full((1, *size), int(targets[0]), dtype=torch.int64, device=rows.device)
        # Scores up to a per-cell constant (|x|², the same for every centroid): linear in x,
        # so upsampling them is upsampling the descriptors.
        h, w = rows.shape[:2]
        scores = (2 * rows.reshape(h * w, -1) @ centroids.T - centroids.pow(2).sum(1)).T.reshape(-1, h, w)
        top, left, height, width = desc.box
        cells = _grid_box(desc.box, desc.stride)
        # Upsample only the cells covering the photo, then cut the photo out of them.
        scores = crop(scores, cells)
        upsampled = F.interpolate(
            scores[None], size=(cells[2] * desc.stride, cells[3] * desc.stride), mode="bilinear", align_corners=False
        )[0]
        t0, l0 = top - cells[0] * desc.stride, left - cells[1] * desc.stride
        nearest = _argmax0(upsampled[:, t0 : t0 + height, l0 : l0 + width])
        return targets[nearest][None].long()

    def label(self, feats: Features, box: Box, image: Tensor | None = None) -> Tensor:
        """Labels ``(1, H, W)`` of a content photo (or video frame) from its padded encoder features.

        ``box`` is where the photo lies in its padding; ``image`` the padded photo (for colour).
        """
        return self.label_descriptors(region_descriptors(feats, box, self.config, image))


def fit_regions(
    style_feats: Features,
    style_box: Box,
    config: RegionConfig = RegionConfig(),
    *,
    style_image: Tensor | None = None,
    content_feats: Features | None = None,
    content_box: Box | None = None,
    content_image: Tensor | None = None,
) -> tuple[RegionMatcher, Tensor]:
    """Cluster the style (and, for ``"joint"``/``"separate"``, the content): a matcher and style labels.

    Args:
        style_feats: encoder features of the padded style photo (batch 1).
        style_box: where the style lies inside its padding (from :func:`~photonas.padding.pad_to_grid`).
        config: the method and its settings.
        style_image, content_image: padded photos, needed for ``color_weight`` > 0.
        content_feats, content_box: the content photo (first video frame), needed by
            ``"joint"`` and ``"separate"``.

    Returns:
        The :class:`RegionMatcher` that labels content photos, and the style's ``(1, H, W)`` labels.
    """
    style_desc = region_descriptors(style_feats, style_box, config, style_image)
    style_points = _samples(style_desc, config.max_samples)
    content_points = None
    if config.method != "style":
        if content_feats is None or content_box is None:
            raise ValueError(f"method {config.method!r} needs the content's features and box")
        content_desc = region_descriptors(content_feats, content_box, config, content_image)
        content_points = _samples(content_desc, config.max_samples)

    def clusters(points: Tensor) -> Tensor:
        return kmeans(points, config.regions, iterations=config.iterations, seed=config.seed)

    style_centroids = clusters(torch.cat([style_points, content_points]) if config.method == "joint" else style_points)
    # Style regions: drop tiny (or, for "joint", content-only) clusters so every label left has style pixels.
    style_ids = torch.arange(style_centroids.shape[0], device=style_centroids.device)
    style_allowed = _drop_tiny(_sq_distances(style_points, style_centroids), style_ids, config.min_fraction)
    flat_label = style_centroids.shape[0]
    style_matcher = RegionMatcher(style_centroids[style_allowed], style_ids[style_allowed], config, flat_label)
    style_labels = style_matcher.label_descriptors(style_desc)

    if config.method != "separate":
        return style_matcher, style_labels
    content_centroids = clusters(content_points)
    nearest_style = _sq_distances(content_centroids, style_matcher.centroids).argmin(1)
    return RegionMatcher(content_centroids, style_matcher.targets[nearest_style], config, flat_label), style_labels


#: Anything that maps a padded ``(1, 3, H, W)`` image in [0, 1] to encoder features.
Encode = Callable[[Tensor], Features]
