"""Photo-faithful output: the network decides how colours change, the photo supplies the pixels.

A feature-space transfer decodes its result, so the decoder's faults (soft edges, haloes
around bright edges, ghost streaks) land in every output pixel. This stage keeps the
network's *colour decision* and drops its pixels:

1. **Fit** a bilateral grid of local affine colour maps (:mod:`photonas.colour_grid`)
   taking the content to the stylised image, on copies at most :attr:`Refinement.fit_side`
   long, with few cells along the long side (:attr:`Refinement.cells`). A coarse grid cannot
   represent a halo a few pixels wide next to an edge: within a cell the sky's pixels share
   one luminance bin, so the halo is averaged away, while the luminance axis keeps bright
   and dark sides of an edge on separate maps.
2. **Calibrate** the strength of the change: the stylised image's colour moments (mean and
   covariance in RGB), globally or per region, are carried onto the style photo's by the
   linear Monge–Kantorovich map, before the grid is fitted. The network's regularised WCT and
   an imperfect decoder both mute colours; this restores full strength while the network
   still decides where each colour goes. With label maps each region is calibrated on its own
   region of the style, so the correction does not undo the regions.
3. **Apply** the grid to the full-resolution content: each pixel reads the maps at its own
   position and luminance, so edges, texture, text and noise stay as the photo has them.
4. **Guard** the photo's structure: a local map can only be as sound as the image it was
   fitted to, and a badly trained decoder can return something unrelated to the photo. The
   luminance gradients of the fitted result are correlated with the photo's (at the fitting
   size); where that correlation falls below :data:`STRUCTURE_FLOOR`, the result slides towards
   one global Monge–Kantorovich map onto the same colours, which keeps every edge.
5. **Blend** with the content by ``alpha`` in pixel space: 0 is the content itself.

Any method that returns a stylised image can use it (:func:`refine` takes images, not a
model); the benchmark runs it on every neural method and on Monge–Kantorovich as an ablation.
This departs from the paper's "no post-processing"; the raw network output stays available.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from photonas.colour_grid import (
    ColourGrid,
    apply_colour_grid,
    fit_colour_grid,
    luminance,
    resize_long_side,
)
from photonas.transforms import GLOBAL, FeatureStats, RegionStats, _matrix_power, region_stats, resize_labels

#: The :class:`~photonas.style.StyleStats` key of the style photo's own RGB statistics (per region).
PIXELS = "pixels"
#: Added to both RGB covariances of the calibration (about a 1/255 standard deviation per
#: channel, the 8-bit noise floor): flat images get finite maps.
COLOUR_EPS = 4e-4
#: A style photo whose every channel varies less than this (standard deviation, [0, 1] scale)
#: is "flat": see :func:`flat_style_stand_in`.
FLAT_STD = 2.0 / 255
#: Largest gain the calibration may give any colour direction: a dull photo onto a
#: contrasty style must not amplify its noise without bound.
MAX_GAIN = 3.0
#: Structure guard (step 4): gradient correlation to the photo below which the global map
#: starts to take over, and at which it has taken over entirely. Trained decoders on
#: held-out pairs stay well above the first (README); an untrained one falls below the second.
STRUCTURE_FLOOR = (0.7, 0.4)
#: Smallest region (pixels at the fitting size) given its own grid; smaller ones use the whole image's.
MIN_REGION_PIXELS = 64
#: :attr:`Refinement.feather` for automatic regions. On held-out BSDS pairs (README, "Automatic
#: regions"), 0.05 of the long side kept 95 % of the hard borders' region colour gain and gave
#: back a fifth of their edge-SSIM cost; wider feathering gave back more colour than edges.
AUTO_FEATHER = 0.05


@dataclass(frozen=True)
class Refinement:
    """Settings of the photo-faithful stage; defaults chosen on held-out BSDS pairs (README).

    Attributes:
        cells: grid cells along the fitted image's long side: fewer is smoother (no haloes),
            more is more local.
        bins: luminance intervals of the grid.
        reg: pull of each vertex's map towards the image's single global map.
        fit_side: the map is fitted on copies at most this long (cost, and a coarser view).
        calibrate: share of the colour calibration onto the style's moments, in [0, 1].
        recalibrate: share of a second moment match after the grid is fitted, in [0, 1]
            (the grid's smoothing takes back some of the calibrated spread): on held-out
            pairs 1 brought the colours closest to the style but cost edge SSIM, Gram loss
            and artefacts; 0.5 kept those level with Monge–Kantorovich.
        noise: the photo's own noise level ([0, 1] scale, about 2.5/255 by default): colour
            variations below it get no gain (:func:`~photonas.colour_grid.fit_colour_grid`).
        separate_regions: with label maps, fit each region's grid on its own pixels, so a
            seam stays exactly on the label border (right for drawn or published maps);
            False fits one grid to the region-calibrated colours, which smooths over label
            errors (right for automatic regions, whose small stray patches would show).
        feather: with label maps, each region's colour calibration fades into its
            neighbours' over a Gaussian of this share of the long side. None (default): hard
            borders for drawn maps, :data:`AUTO_FEATHER` for automatic regions, whose borders
            are guesses.
    """

    cells: int = 8
    bins: int = 8
    reg: float = 0.1
    fit_side: int = 256
    calibrate: float = 1.0
    recalibrate: float = 0.5
    noise: float = 0.01
    separate_regions: bool = True
    feather: float | None = None

    def __post_init__(self) -> None:
        if self.cells < 1 or self.bins < 1 or self.fit_side < 16:
            raise ValueError(f"refinement needs cells >= 1, bins >= 1, fit_side >= 16, got {self}")
        if self.reg < 0 or self.noise < 0 or (self.feather or 0) < 0 or not (0.0 <= self.calibrate <= 1.0 and 0.0 <= self.recalibrate <= 1.0):
            raise ValueError(
                f"refinement needs reg, noise and feather >= 0, calibrate and recalibrate in [0, 1], got {self}"
            )

    def for_automatic_regions(self) -> Refinement:
        """These settings for automatic label maps: one grid over softly calibrated regions.

        Automatic regions have stray patches and approximate borders: one grid fitted to the
        region-calibrated colours smooths over the patches, and feathered calibration keeps a
        misplaced border from showing as an edge.
        """
        return replace(self, separate_regions=False, feather=AUTO_FEATHER if self.feather is None else self.feather)


def colour_stats(image: Tensor, labels: Tensor | None = None, min_pixels: int = 64) -> RegionStats:
    """RGB statistics of a ``(1, 3, H, W)`` image, whole and per label of ``(1, H, W)`` labels."""
    return region_stats(image.float(), labels, min_pixels)


def colour_transport(source: FeatureStats, target: FeatureStats) -> tuple[Tensor, Tensor]:
    """The linear Monge–Kantorovich map ``x ↦ T x + b`` carrying ``source`` colours onto ``target``'s.

    ``T = Σs^{-1/2} (Σs^{1/2} Σt Σs^{1/2})^{1/2} Σs^{-1/2}``: of all affine maps that give the
    target's mean and covariance, the one that moves colours least (Pitié & Kokaram 2007).
    Its gains are capped at :data:`MAX_GAIN`. Returns ``(3, 3)`` and ``(3,)`` float64.
    """
    eye = COLOUR_EPS * torch.eye(3, dtype=torch.float64)
    color_s, color_t = source.color[0].double().cpu(), target.color[0].double().cpu()
    cov_s, cov_t = color_s @ color_s + eye, color_t @ color_t + eye
    root_s, inv_root_s = _matrix_power(cov_s, 0.5, 0.0), _matrix_power(cov_s, -0.5, 0.0)
    transform = inv_root_s @ _matrix_power(root_s @ cov_t @ root_s, 0.5, 0.0) @ inv_root_s
    values, vectors = torch.linalg.eigh(0.5 * (transform + transform.T))
    transform = (vectors * values.clamp(0, MAX_GAIN)) @ vectors.T
    bias = target.mean[0].double().cpu() - transform @ source.mean[0].double().cpu()
    return transform, bias


def _gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """``(1, C, h, w)`` blurred by a separable Gaussian of ``sigma`` pixels, edges replicated."""
    radius = min(max(1, round(3 * sigma)), min(x.shape[-2:]) - 1)
    if radius < 1:
        return x
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def calibrate_colours(
    styled: Tensor,
    style_pixels: RegionStats,
    labels: Tensor | None = None,
    strength: float = 1.0,
    feather: float = 0.0,
) -> Tensor:
    """``(1, 3, h, w)`` ``styled`` with its colour moments carried onto the style photo's.

    With ``(1, h, w)`` labels, each label that the style has its own statistics for is carried
    onto that region's; the others onto the whole style's. ``feather`` > 0 fades each region's
    map into its neighbours' over a Gaussian of that share of the long side (a weighted mix of
    the maps near a border). ``strength`` blends with ``styled``.
    """
    if strength == 0.0:
        return styled
    stats = colour_stats(styled, labels)
    regions = [label for label in stats if label != GLOBAL and label in style_pixels]
    maps = [colour_transport(stats[label], style_pixels[label]) for label in regions]
    maps.append(colour_transport(stats[GLOBAL], style_pixels[GLOBAL]))  # every other pixel
    if regions:
        keys = labels[0]
        own = torch.stack([keys == label for label in regions])
        weights = torch.cat([own, ~own.any(0, keepdim=True)]).to(torch.float32)[None]
        if feather > 0:
            weights = _gaussian_blur(weights, feather * max(keys.shape))
            weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
        weights = weights[0].flatten(1).double()
    else:
        weights = torch.ones(1, styled.shape[-2] * styled.shape[-1], dtype=torch.float64, device=styled.device)
    flat = styled[0].flatten(1).double()  # (3, N)
    out = torch.zeros_like(flat)
    for weight, (transform, bias) in zip(weights, maps):
        if bool(weight.any()):
            out += weight * (transform.to(flat.device) @ flat + bias.to(flat.device)[:, None])
    calibrated = out.view_as(styled).to(styled.dtype).clamp(0, 1)
    return torch.lerp(styled, calibrated, strength)


def _gradients(image: Tensor) -> Tensor:
    """``(1, 3, h, w)`` → forward-difference luminance gradients at half size, flattened ``(2 · pixels,)``.

    Half size (2×2 means) quiets pixel noise, whose gradients would otherwise outweigh the
    edges of a flat, noisy photo.
    """
    if min(image.shape[-2:]) >= 4:
        image = F.avg_pool2d(image, 2)
    lum = luminance(image)[0]
    return torch.cat([(lum[1:, :] - lum[:-1, :]).flatten(), (lum[:, 1:] - lum[:, :-1]).flatten()])


def structure_kept(source: Tensor, mapped: Tensor) -> float:
    """Correlation in [-1, 1] of the luminance gradients of two ``(1, 3, h, w)`` images.

    1 when ``mapped``'s edges are ``source``'s with one positive gain; it drops when edges
    vanish, flip or appear. An edge-free source counts as kept. Measured at half size.
    """
    a, b = _gradients(source.double()), _gradients(mapped.double())
    norm = float(a.norm() * b.norm())
    return float(a @ b) / norm if norm > 1e-12 else 1.0


def _guard_weight(kept: float) -> float:
    """Share of the local maps in the output (1: all of it) for a structure correlation ``kept``."""
    high, low = STRUCTURE_FLOOR
    return min(1.0, max(0.0, (kept - low) / (high - low)))


def _global_map(image: Tensor, transform: Tensor, bias: Tensor) -> Tensor:
    flat = image[0].flatten(1).double()
    out = transform.to(image.device) @ flat + bias.to(image.device)[:, None]
    return out.view_as(image).float().clamp(0, 1)


def _fit_grids(source: Tensor, target: Tensor, labels: Tensor | None, settings: Refinement) -> dict[int, ColourGrid]:
    """One grid for the whole image (:data:`GLOBAL`), or one per region of ``(1, h, w)`` labels.

    A region's grid is fitted to its own pixels alone, so two regions of similar luminance
    side by side do not share maps across their border: the seam stays where the label
    changes instead of spreading over a grid cell.
    """
    cell = max(2, round(max(source.shape[-2:]) / settings.cells))
    fit = functools.partial(
        fit_colour_grid, source, target, cell=cell, bins=settings.bins, reg=settings.reg, noise=settings.noise
    )
    grids = {GLOBAL: fit()}
    if labels is not None and settings.separate_regions:
        for label in torch.unique(labels).tolist():
            mask = labels[0] == label
            if int(mask.sum()) >= MIN_REGION_PIXELS:
                grids[label] = fit(weights=mask)
    return grids


def _recalibrate(
    grids: dict[int, ColourGrid], source: Tensor, labels: Tensor | None, style_pixels: RegionStats, strength: float
) -> dict[int, ColourGrid]:
    """Each grid followed by the affine map that puts its output's colour moments on the style's.

    A grid smooths what it is fitted to, so its output has a little less of the calibrated
    colour spread than its target; one more moment match, folded into the grid's own maps
    (``T [A | b] + [0 | c]``), restores it exactly at no cost when applied. Each region's grid
    is matched to its own style region, the whole image's to the whole style.
    """
    out = _apply_grids(grids, source, labels)
    stats = colour_stats(out, labels if len(grids) > 1 else None)
    eye = torch.eye(3, dtype=torch.float64)
    fixed = {}
    for label, grid in grids.items():
        if label not in stats:  # a region too small to measure keeps its maps
            fixed[label] = grid
            continue
        transform, bias = colour_transport(stats[label], style_pixels.get(label, style_pixels[GLOBAL]))
        transform, bias = torch.lerp(eye, transform, strength), strength * bias
        maps = grid.coeffs[0].double().reshape(3, 4, -1)  # (out, in + 1, vertices)
        composed = torch.einsum("ij,jkv->ikv", transform.to(maps.device), maps)
        composed[:, 3] += bias.to(maps.device)[:, None]
        fixed[label] = replace(grid, coeffs=composed.reshape_as(grid.coeffs[0])[None].float())
    return fixed


def _apply_grids(grids: dict[int, ColourGrid], image: Tensor, labels: Tensor | None) -> Tensor:
    """Each pixel of ``image`` through its region's grid (the whole image's where it has none)."""
    out = apply_colour_grid(grids[GLOBAL], image)
    if labels is None or len(grids) == 1:
        return out
    keys = resize_labels(labels, image.shape[-2:])[0]
    for label, grid in grids.items():
        if label != GLOBAL:
            mask = keys == label
            out[0][:, mask] = apply_colour_grid(grid, image)[0][:, mask]
    return out


def flat_style_stand_in(style: Tensor) -> Tensor:
    """A flat single-colour ``(1, 3, H, W)`` style as that colour with a full tonal ramp; others unchanged.

    A style with no variation has no covariance for a transfer to colour with, so WCT (and
    any moment matching) would flatten the content to one colour. What a user means by a flat
    style is a colour cast: the photo keeps its structure and takes that colour. The stand-in
    keeps the style's mean colour and adds a diagonal luminance ramp of ±0.25, so the transfer
    has tones to map the content's tones onto.
    """
    if style.float().flatten(2).std(dim=2).amax() >= FLAT_STD:
        return style
    h, w = style.shape[-2:]
    ys = torch.linspace(-1, 1, h, device=style.device).view(h, 1)
    xs = torch.linspace(-1, 1, w, device=style.device).view(1, w)
    ramp = 0.125 * (ys + xs)  # (H, W) in [-0.25, 0.25]
    mean = style.float().mean(dim=(2, 3), keepdim=True)
    return (mean + ramp).clamp(0, 1).to(style.dtype)


@dataclass(frozen=True)
class ColourMapping:
    """A fitted photo-faithful colour change, ready to apply to the photo at any size.

    Attributes:
        grids: the whole image's grid (:data:`GLOBAL`) and one per region of the labels.
        weight: the structure guard's share of the grids (1: all), the rest the global map.
        fallback: the global map ``(T, b)`` (``(3, 3)``, ``(3,)`` float64) the guard slides to.
    """

    grids: dict[int, ColourGrid]
    weight: float
    fallback: tuple[Tensor, Tensor]

    def apply(self, content: Tensor, labels: Tensor | None = None, alpha: float = 1.0) -> Tensor:
        """``(1, 3, H, W)`` ``content`` through the mapping, blended with itself by ``alpha``; float32 in [0, 1]."""
        content = content.float()
        if alpha == 0.0:
            return content.clamp(0, 1)
        out = _apply_grids(self.grids, content, labels) if self.weight > 0 else None
        if self.weight < 1:
            fallback = _global_map(content, *self.fallback)
            out = fallback if out is None else torch.lerp(fallback, out, self.weight)
        return out if alpha == 1.0 else torch.lerp(content, out, alpha).clamp(0, 1)

    def blend(self, previous: ColourMapping | None, keep: float) -> ColourMapping:
        """These maps with ``keep`` of ``previous``'s mixed in (video: one frame to the next).

        Grids of another shape or another set of regions (a new shot, a resized video) are not mixed.
        """
        if previous is None or keep == 0 or previous.grids.keys() != self.grids.keys():
            return self
        if any(previous.grids[k].coeffs.shape != g.coeffs.shape for k, g in self.grids.items()):
            return self
        grids = {
            k: replace(g, coeffs=torch.lerp(g.coeffs, previous.grids[k].coeffs, keep)) for k, g in self.grids.items()
        }
        weight = (1 - keep) * self.weight + keep * previous.weight
        fallback = tuple(torch.lerp(a, b, keep) for a, b in zip(self.fallback, previous.fallback))
        return ColourMapping(grids, weight, fallback)


def fit_mapping(
    content: Tensor,
    styled: Tensor,
    *,
    style_pixels: RegionStats | None = None,
    content_labels: Tensor | None = None,
    settings: Refinement = Refinement(),
) -> ColourMapping:
    """Steps 1, 2 and 4 of the module docstring: the calibrated, guarded colour maps of ``styled``.

    Args:
        content: ``(1, 3, H, W)`` the photo in [0, 1], any size (fitted on a copy at ``settings.fit_side``).
        styled: ``(1, 3, h, w)`` its stylisation by any method, at any size of the same aspect.
        style_pixels: the style photo's RGB statistics (:func:`colour_stats`; a
            :class:`~photonas.style.StyleStats` holds them under :data:`PIXELS`); None skips
            the calibration.
        content_labels: ``(1, h, w)`` region labels, at any size of the photo's aspect: regions
            are calibrated (and, with ``settings.separate_regions``, fitted) one by one.
        settings: grid and calibration settings.
    """
    if content.ndim != 4 or content.shape[:2] != (1, 3) or styled.ndim != 4 or styled.shape[:2] != (1, 3):
        raise ValueError(f"refine takes (1, 3, H, W) images, got {tuple(content.shape)} and {tuple(styled.shape)}")
    source = resize_long_side(content.float(), settings.fit_side)
    target = styled.float()
    if target.shape[-2:] != source.shape[-2:]:
        target = F.interpolate(target, size=source.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
    labels = None if content_labels is None else resize_labels(content_labels, source.shape[-2:])
    if style_pixels is not None and settings.calibrate > 0:
        target = calibrate_colours(target, style_pixels, labels, settings.calibrate, settings.feather or 0.0)
    grids = _fit_grids(source, target, labels, settings)
    if style_pixels is not None and settings.calibrate * settings.recalibrate > 0:
        grids = _recalibrate(grids, source, labels, style_pixels, settings.calibrate * settings.recalibrate)
    weight = _guard_weight(structure_kept(source, _apply_grids(grids, source, labels)))
    fallback = colour_transport(colour_stats(source)[GLOBAL], colour_stats(target)[GLOBAL])
    return ColourMapping(grids, weight, fallback)


def refine(
    content: Tensor,
    styled: Tensor,
    *,
    style_pixels: RegionStats | None = None,
    content_labels: Tensor | None = None,
    alpha: float = 1.0,
    settings: Refinement = Refinement(),
) -> Tensor:
    """The photo-faithful output: ``styled``'s colour change carried onto ``content``'s own pixels.

    :func:`fit_mapping` then :meth:`ColourMapping.apply`; ``alpha`` 0 returns ``content``, 1
    the full change. Returns ``(1, 3, H, W)`` float32 in [0, 1].
    """
    if alpha == 0.0:
        return content.float().clamp(0, 1)
    mapping = fit_mapping(content, styled, style_pixels=style_pixels, content_labels=content_labels, settings=settings)
    return mapping.apply(content, content_labels, alpha)
