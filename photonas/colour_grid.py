"""Carry a colour change made at low resolution to full resolution: a bilateral grid of affine maps.

Fast mode stylises a downscaled copy, then fits how each colour changed there: a 3×4 affine
colour map per vertex of a coarse grid over (x, y, luminance), fitted by weighted least
squares from the low-resolution input/output pair (Chen et al., "Bilateral guided
upsampling", SIGGRAPH Asia 2016, with local fits in place of their global solve). The map is
then *sliced* at full resolution: every full-resolution pixel reads the maps at its own
position and luminance (trilinear interpolation) and applies them to its own colour. Edges
stay as sharp as the full-resolution photo, because the output is a smooth function applied
to its pixels, and the luminance axis keeps light and dark sides of an edge on separate maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: Rec. 601 luma weights: the grid's third axis.
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ColourGrid:
    """Affine colour maps on a grid over (luminance, y, x).

    Attributes:
        coeffs: ``(1, 12, D, Gy, Gx)`` float32: a row-major 3×4 map ``[A | b]`` per vertex.
        size: ``(h, w)`` of the image the grid was fitted on (its coordinates are in those pixels).
        cell: vertex spacing in those pixels.
    """

    coeffs: Tensor
    size: tuple[int, int]
    cell: int


def luminance(image: Tensor) -> Tensor:
    """``(B, 3, H, W)`` RGB → ``(B, H, W)`` luma, clamped to [0, 1]."""
    weights = torch.tensor(_LUMA, dtype=image.dtype, device=image.device)
    return torch.einsum("bchw,c->bhw", image, weights).clamp(0, 1)


def _corners(coord: Tensor, count: int) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Lower/upper vertex index and their tent weights for continuous grid coordinates."""
    coord = coord.clamp(0, count - 1)
    low = coord.floor().clamp(max=count - 2).long() if count > 1 else torch.zeros_like(coord, dtype=torch.long)
    frac = coord - low
    return (low, 1 - frac), (low + (1 if count > 1 else 0), frac)


def _grid_coords(h: int, w: int, cell: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Continuous vertex coordinates of pixel centres along y and x."""
    ys = (torch.arange(h, device=device, dtype=torch.float64) + 0.5) / cell
    xs = (torch.arange(w, device=device, dtype=torch.float64) + 0.5) / cell
    return ys, xs


def fit_colour_grid(
    source: Tensor,
    target: Tensor,
    *,
    cell: int = 16,
    bins: int = 8,
    reg: float = 1e-2,
    weights: Tensor | None = None,
    noise: float = 0.0,
) -> ColourGrid:
    """Fit per-vertex affine maps taking ``source`` colours to ``target`` colours.

    Args:
        source: ``(1, 3, h, w)`` the content at the working resolution, in [0, 1].
        target: ``(1, 3, h, w)`` its stylised version.
        cell: vertex spacing in pixels of ``source``: larger is smoother, smaller more local.
        bins: luminance intervals (``bins + 1`` vertices along luminance).
        reg: pull of each vertex's map towards the image's single global affine map, as a
            fraction of the vertex's own weight; keeps vertices with flat or few pixels stable.
        weights: ``(h, w)`` per-pixel weights (a region's mask): the fit sees only those
            pixels, and its global map is theirs.
        noise: standard deviation of the source's own noise (sensor, JPEG blocks), [0, 1]
            scale. The fit treats colour variations below it as noise, not signal: a flat sky
            gets no gains large enough to turn its chroma noise into visible blotches.

    Example:
        >>> src = torch.rand(1, 3, 64, 64)
        >>> grid = fit_colour_grid(src, src.flip(1))
        >>> tuple(grid.coeffs.shape)
        (1, 12, 9, 5, 5)
    """
    if source.shape != target.shape or source.ndim != 4 or source.shape[:2] != (1, 3):
        raise ValueError(
            f"source and target must both be (1, 3, h, w), got {tuple(source.shape)} and {tuple(target.shape)}"
        )
    h, w = source.shape[-2:]
    gy, gx, gz = -(-h // cell) + 1, -(-w // cell) + 1, bins + 1
    with torch.autocast(device_type=source.device.type, enabled=False):
        x = source[0].double().flatten(1).T  # (N, 3)
        y = target[0].double().flatten(1).T
        feats = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)  # (N, 4)
        # per-pixel products: 16 of X Xᵀ and 12 of X Yᵀ
        products = torch.cat(
            [(feats[:, :, None] * feats[:, None, :]).flatten(1), (feats[:, :, None] * y[:, None, :]).flatten(1)], 1
        )
        if weights is not None:
            pixel_weight = weights.to(products).flatten()[:, None]
            products = products * pixel_weight
            feats, y = feats * pixel_weight.sqrt(), y * pixel_weight.sqrt()
        ys, xs = _grid_coords(h, w, cell, source.device)
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        cz = luminance(source)[0].double() * bins
        sums = torch.zeros(gz * gy * gx, products.shape[1], dtype=torch.float64, device=source.device)
        for iz, wz in _corners(cz.flatten(), gz):
            for iy, wy in _corners(cy.flatten(), gy):
                for ix, wx in _corners(cx.flatten(), gx):
                    sums.index_add_(0, (iz * gy + iy) * gx + ix, products * (wz * wy * wx)[:, None])
        # a [1, 2, 1] blur along each axis: each map also sees its neighbours' pixels
        volume = sums.T.reshape(1, -1, gz, gy, gx)
        kernel = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64, device=source.device)
        for dim in (2, 3, 4):
            shape = [1, 1, 1, 1, 1]
            shape[dim] = 3
            k = kernel.view(shape).expand(volume.shape[1], 1, *shape[2:])
            pad = [0, 0, 0, 0, 0, 0]
            pad[2 * (4 - dim)] = pad[2 * (4 - dim) + 1] = 1
            volume = F.conv3d(F.pad(volume, pad, mode="replicate"), k, groups=volume.shape[1])
        sums = volume.reshape(volume.shape[1], -1).T
        gram, cross = sums[:, :16].reshape(-1, 4, 4), sums[:, 16:].reshape(-1, 4, 3)
        # the global map, fitted over every pixel: what sparse vertices fall back to
        global_gram, global_cross = feats.T @ feats, feats.T @ y
        if noise:  # errors-in-variables ridge: each pixel's colour carries noise² of variance per channel
            ridge = torch.diag(torch.tensor([noise**2] * 3 + [0.0], dtype=torch.float64, device=source.device))
            gram = gram + gram[:, 3, 3].clamp_min(0).view(-1, 1, 1) * ridge
            global_gram = global_gram + global_gram[3, 3] * ridge
        global_map = torch.linalg.solve(
            global_gram + 1e-6 * len(feats) * torch.eye(4, dtype=torch.float64, device=source.device), global_cross
        )
        weight = gram[:, 3, 3].clamp_min(0)  # each vertex's total pixel weight
        strength = (reg * weight + 1e-3 * weight.mean()).view(-1, 1, 1)
        eye = torch.eye(4, dtype=torch.float64, device=source.device)
        maps = torch.linalg.solve(gram + strength * eye, cross + strength * global_map)  # (V, 4, 3)
        coeffs = maps.transpose(1, 2).reshape(gz, gy, gx, 12).permute(3, 0, 1, 2)[None]
    return ColourGrid(coeffs.float().contiguous(), (h, w), cell)


def apply_colour_grid(grid: ColourGrid, image: Tensor, rows: int = 256) -> Tensor:
    """Slice ``grid`` at each pixel of ``(1, 3, H, W)`` ``image`` (any size) and apply its map.

    Runs ``rows`` image rows at a time, so memory beyond the output stays small at any size.
    Returns ``(1, 3, H, W)`` float32, clamped to [0, 1].
    """
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image must be (1, 3, H, W), got {tuple(image.shape)}")
    big_h, big_w = image.shape[-2:]
    h, w = grid.size
    _, _, gz, gy, gx = grid.coeffs.shape
    coeffs = grid.coeffs.to(image.device)
    out = torch.empty(1, 3, big_h, big_w, dtype=torch.float32, device=image.device)
    # full-resolution pixel centres in the fitted image's pixels, then in vertex units
    xs = ((torch.arange(big_w, device=image.device, dtype=torch.float32) + 0.5) * (w / big_w)) / grid.cell
    norm_x = (2 * xs / (gx - 1) - 1).view(1, -1)
    with torch.autocast(device_type=image.device.type, enabled=False):
        for top in range(0, big_h, rows):
            part = image[..., top : top + rows, :].float()
            n = part.shape[-2]
            ys = (
                (torch.arange(top, top + n, device=image.device, dtype=torch.float32) + 0.5) * (h / big_h)
            ) / grid.cell
            norm_y = (2 * ys / (gy - 1) - 1).view(-1, 1)
            norm_z = 2 * luminance(part)[0] - 1  # (n, W): luminance spans the bins exactly
            where = torch.stack(torch.broadcast_tensors(norm_x, norm_y, norm_z), dim=-1)  # (n, W, 3) as x, y, z
            maps = F.grid_sample(coeffs, where[None, None], mode="bilinear", padding_mode="border", align_corners=True)
            maps = maps[0, :, 0].view(3, 4, n, big_w)  # (3, 4, n, W)
            colour = (maps[:, :3] * part[0][None]).sum(1) + maps[:, 3]
            out[0, :, top : top + n] = colour.clamp_(0, 1)
    return out


def resize_long_side(image: Tensor, max_side: int) -> Tensor:
    """``(B, C, H, W)`` scaled (antialiased) so its longer side is at most ``max_side``; smaller ones unchanged."""
    h, w = image.shape[-2:]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
