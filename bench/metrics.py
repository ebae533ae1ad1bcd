"""Quality metrics for photorealistic style transfer: structure, stylisation, colour, artefacts.

Each metric answers one question about an output, and the choice of formula is argued in its
docstring. Images are float ``(H, W, 3)`` sRGB arrays in [0, 1], label maps integer ``(H, W)``
arrays; every metric returns a Python float and is deterministic (the sliced-Wasserstein
projections and pixel subsamples come from a seeded generator, the VGG pass runs on the CPU or
the encoder's device without randomness).

Examples:
    >>> edge_ssim(content, output)  # structure kept: 1 is best  # doctest: +SKIP
    >>> gram_loss(output, style, VGGEncoder())  # style statistics: 0 is best  # doctest: +SKIP
    >>> sliced_wasserstein_lab(output, style)  # colour palette, Lab units: 0 is best  # doctest: +SKIP
    >>> artifact_energy(content, output)  # fraction of pixels with new texture: 0 is best  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import maximum_filter
from skimage.color import rgb2gray, rgb2lab
from skimage.filters import laplace, sobel
from skimage.metrics import structural_similarity
from torch import Tensor

from photonas.encoder import LEVEL_STRIDE, LEVELS, VGGEncoder
from photonas.io import image_to_tensor
from photonas.padding import Box, pad_to_grid
from photonas.training.metrics import psnr as psnr  # pixel fidelity (reconstruction, self-transfer), not stylisation
from photonas.training.metrics import ssim as ssim
from photonas.training.metrics import ssim_window

#: Pixels per image kept for sliced Wasserstein: on 700-pixel-wide DPST photos, 65,536 samples
#: move the distance by under 0.1 Lab unit (a visible difference is about 2) at a tenth of the cost.
MAX_PIXELS = 1 << 16
#: Laplacian magnitude, per RGB channel on the [0, 1] scale, that counts as visible texture:
#: a ±1/255 checkerboard gives 8/255 ≈ 0.03 (8-bit rounding noise stays below it), a ±2/255
#: one ≈ 0.063 and a step edge of 13/255 gives 0.05 on each side — about where haloes,
#: checkerboards and blotches on a mid-grey become visible.
ARTIFACT_THRESHOLD = 0.05
#: How much a method may raise the content's local high-frequency energy before the excess
#: counts: colour transfers legitimately change local contrast (a Reinhard transfer from a dull
#: photo to a contrasty one scales Lab standard deviations by up to about 2).
ARTIFACT_MAX_GAIN = 2.0
#: Floor on an SSIM data range, so that two flat maps compare as equal instead of as 0 / 0.
_MIN_RANGE = 1e-8
#: Floor on a style Gram matrix's squared norm (an all-zero feature level).
_MIN_GRAM_NORM = 1e-12


def _check_rgb(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be a float (H, W, 3) array, got {getattr(image, 'shape', type(image))}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must be float in [0, 1], got {image.dtype}")


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")


# ---- structure ---------------------------------------------------------------------------


def edge_ssim(content: np.ndarray, output: np.ndarray) -> float:
    """SSIM between the Sobel gradient magnitudes of the content's and output's luminance.

    The structure / photorealism proxy: a photorealistic transfer may change every colour but
    should keep where the edges are and how strong they are relative to each other, and add
    none. Gradient maps ignore the (intended) colour and brightness change that full-image
    SSIM penalises. The data range is the joint range of the two maps, not 1: gradients use a
    small part of [0, 1], and with range 1 SSIM's stabilising constants would swamp the
    differences in smooth areas.
    """
    _check_rgb(content, "content")
    _check_rgb(output, "output")
    _check_same_shape(content, output)
    edges_c = sobel(rgb2gray(content.astype(np.float64)))
    edges_o = sobel(rgb2gray(output.astype(np.float64)))
    data_range = max(float(max(edges_c.max(), edges_o.max()) - min(edges_c.min(), edges_o.min())), _MIN_RANGE)
    return float(structural_similarity(edges_c, edges_o, data_range=data_range, win_size=ssim_window(content.shape)))


# ---- stylisation -------------------------------------------------------------------------


def _feature_box(box: Box, stride: int) -> tuple[slice, slice]:
    """Rows and columns of a feature map (at ``stride``) that the unpadded image covers."""
    top, left, height, width = box
    rows = slice(top // stride, -(-(top + height) // stride))
    cols = slice(left // stride, -(-(left + width) // stride))
    return rows, cols


def gram_matrices(image: np.ndarray, encoder: VGGEncoder) -> dict[str, Tensor]:
    """Normalised Gram matrices ``F Fᵀ / (C·H·W)``, float64 ``(C, C)``, of relu1_1…relu5_1.

    The image is reflection-padded to the encoder's grid and each feature map is cropped back
    to the image's own footprint, so padding adds no duplicated pixels to the statistics.
    Dividing by C·H·W makes images of different sizes comparable. Compute the style's once
    and reuse it across methods.
    """
    _check_rgb(image, "image")
    device = encoder.device
    padded, box = pad_to_grid(image_to_tensor(image).to(device))
    with torch.inference_mode():
        features = encoder(padded)
    grams: dict[str, Tensor] = {}
    for level in LEVELS:
        rows, cols = _feature_box(box, LEVEL_STRIDE[level])
        feat = features[level][0, :, rows, cols]  # (C, h, w)
        flat = feat.reshape(feat.shape[0], -1)  # (C, h·w)
        grams[level] = (flat @ flat.T).double().cpu() / flat.numel()
    return grams


def gram_loss(
    output: np.ndarray, style: np.ndarray | dict[str, Tensor], encoder: VGGEncoder
) -> float:
    """Normalised Gram-matrix loss between the output's and the style's VGG features.

    The usual stylisation measure (Gatys et al.): how far the output's feature correlations are
    from the style's. Normalisation, so the number means the same at any image size and every
    level counts equally: each level's Gram is divided by C·H·W (:func:`gram_matrices`), and
    each level's loss ``‖G_out − G_style‖²_F`` by ``‖G_style‖²_F``, a relative error (raw VGG
    activations grow by orders of magnitude with depth, so unnormalised the deep levels
    dominate). Returns the mean over relu1_1…relu5_1; 0 when the statistics match.

    Args:
        output: The stylised image.
        style: The style image, or its :func:`gram_matrices` (cached across methods).
        encoder: The project's frozen VGG19.
    """
    style_grams = style if isinstance(style, dict) else gram_matrices(style, encoder)
    output_grams = gram_matrices(output, encoder)
    losses = [
        float(((output_grams[level] - style_grams[level]) ** 2).sum())
        / max(float((style_grams[level] ** 2).sum()), _MIN_GRAM_NORM)
        for level in LEVELS
    ]
    return float(np.mean(losses))


# ---- colour ------------------------------------------------------------------------------


def _subsample(pixels: np.ndarray, max_pixels: int, seed: int) -> np.ndarray:
    """At most ``max_pixels`` rows, drawn without replacement by a generator fresh from ``seed``,
    so the same image always gives the same subset (and the distance stays symmetric)."""
    if pixels.shape[0] <= max_pixels:
        return pixels
    keep = np.random.default_rng(seed).choice(pixels.shape[0], size=max_pixels, replace=False)
    return pixels[np.sort(keep)]


def wasserstein_1d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact Wasserstein-1 distance between matching columns of ``(N, P)`` and ``(M, P)`` samples.

    ``∫₀¹ |F⁻¹(t) − G⁻¹(t)| dt`` for the empirical quantile functions, summed over the merged
    grid of their steps (k/N and j/M), on which both are constant. Gives the same value as
    ``scipy.stats.wasserstein_distance`` (checked in the tests), for all P columns in one sort
    instead of P calls (scipy takes ~50 ms per call at 65,536 points).
    """
    xs, ys = np.sort(x, axis=0), np.sort(y, axis=0)
    n, m = xs.shape[0], ys.shape[0]
    grid = np.union1d(np.arange(n + 1) / n, np.arange(m + 1) / m)
    middle = (grid[:-1] + grid[1:]) / 2
    rows_x = np.minimum((middle * n).astype(np.int64), n - 1)
    rows_y = np.minimum((middle * m).astype(np.int64), m - 1)
    return (np.abs(xs[rows_x] - ys[rows_y]) * np.diff(grid)[:, None]).sum(axis=0)


def sliced_wasserstein(
    x: np.ndarray, y: np.ndarray, n_projections: int = 64, seed: int = 0, max_pixels: int = MAX_PIXELS
) -> float:
    """Sliced Wasserstein-1 distance between two point clouds ``(N, D)`` and ``(M, D)``.

    The mean over ``n_projections`` random unit directions of the exact 1-D Wasserstein-1
    distance of the projections. Projections and subsamples are seeded, so it is reproducible.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) point clouds, got {x.shape} and {y.shape}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("cannot compare an empty set of pixels")
    if n_projections < 1 or max_pixels < 1:
        raise ValueError(f"n_projections and max_pixels must be positive, got {n_projections}, {max_pixels}")
    x, y = _subsample(x, max_pixels, seed), _subsample(y, max_pixels, seed)
    directions = np.random.default_rng(seed).normal(size=(n_projections, x.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return float(wasserstein_1d(x @ directions.T, y @ directions.T).mean())


def _lab_pixels(image: np.ndarray) -> np.ndarray:
    """``(N, 3)`` CIELAB pixels (D65) of an sRGB image or of an ``(N, 3)`` pixel list."""
    return rgb2lab(np.clip(image, 0.0, 1.0).astype(np.float64)).reshape(-1, 3)


def sliced_wasserstein_lab(
    a: np.ndarray, b: np.ndarray, n_projections: int = 64, seed: int = 0, max_pixels: int = MAX_PIXELS
) -> float:
    """Sliced Wasserstein-1 distance, in Lab units, between the colours of two images.

    The colour-palette measure: it compares whole colour distributions (several modes, their
    shapes and weights), not just means and variances, which Reinhard-style transfers match by
    construction. Lab makes a unit roughly one just-noticeable difference everywhere. Sliced
    rather than full optimal transport: exact 1-D distances on 64 directions cost a few sorts.
    Symmetric; a translation ``d`` of every Lab colour gives ``E|θ·d| = |d|/2`` (θ uniform on
    the sphere), up to the projection sample. That sample matters: on DPST pairs the value moves
    by about 10% between seeds at 64 directions, so compare methods under one seed (the same
    directions for all) or raise ``n_projections``.
    """
    _check_rgb(a, "a")
    _check_rgb(b, "b")
    return sliced_wasserstein(_lab_pixels(a), _lab_pixels(b), n_projections, seed, max_pixels)


def region_color_distance(
    output: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray,
    style_labels: np.ndarray,
    n_projections: int = 64,
    seed: int = 0,
    max_pixels: int = MAX_PIXELS,
) -> float:
    """Area-weighted Lab sliced-Wasserstein distance between matching regions.

    What neural, content-aware transfer is for: the sky should take the style's sky colours and
    the buildings the style's buildings', which one global colour mapping cannot fake. For each
    label present in both maps, the output's pixels in that content region are compared with
    the style's pixels with the same label; the mean is weighted by the region's content area.
    Sliced Wasserstein rather than a mean/covariance distance because regions are often
    multi-modal (clouds in a sky) and because Reinhard-style methods match means and variances
    per region exactly, which would make that distance 0 for them by construction.
    Labels missing from the style are skipped.

    Raises:
        ValueError: Label maps of the wrong size, or no label shared by the two maps.
    """
    _check_rgb(output, "output")
    _check_rgb(style, "style")
    if content_labels.shape != output.shape[:2] or style_labels.shape != style.shape[:2]:
        raise ValueError(
            f"label maps must match their images: content labels {content_labels.shape} for output "
            f"{output.shape[:2]}, style labels {style_labels.shape} for style {style.shape[:2]}"
        )
    shared = np.intersect1d(content_labels, style_labels)
    if shared.size == 0:
        raise ValueError("the content and style label maps share no region")
    out_lab, style_lab = _lab_pixels(output), _lab_pixels(style)
    flat_c, flat_s = content_labels.reshape(-1), style_labels.reshape(-1)
    areas, distances = [], []
    for label in shared:
        in_region = flat_c == label
        areas.append(int(in_region.sum()))
        distances.append(
            sliced_wasserstein(out_lab[in_region], style_lab[flat_s == label], n_projections, seed, max_pixels)
        )
    return float(np.average(distances, weights=areas))


# ---- artefacts ---------------------------------------------------------------------------


def _laplacian_magnitude(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` largest absolute 3x3 Laplacian over the RGB channels."""
    return np.max([np.abs(laplace(image[..., c].astype(np.float64))) for c in range(3)], axis=0)


def artifact_energy(
    content: np.ndarray,
    output: np.ndarray,
    threshold: float = ARTIFACT_THRESHOLD,
    max_gain: float = ARTIFACT_MAX_GAIN,
) -> float:
    """Fraction of pixels where the output has high-frequency energy that the content lacks.

    A proxy for haloes, checkerboards and colour blotches, the typical failures of feature-space
    transfers. A pixel counts when the output's 3x3 Laplacian magnitude is visible (over
    ``threshold``, see :data:`ARTIFACT_THRESHOLD`) and more than ``max_gain`` times the
    content's largest magnitude in the pixel's 3x3 neighbourhood. The Laplacian responds to
    exactly these patterns and not to smooth colour changes, so a global colour mapping scores
    0; comparing with the content's own energy (rather than asking the content to be below a
    fixed level) keeps sensor and JPEG noise in smooth content areas from hiding real
    artefacts there. The largest magnitude over R, G, B catches chroma-only blotches that
    luminance misses; the neighbourhood maximum forgives an edge moved by one pixel.
    """
    _check_rgb(content, "content")
    _check_rgb(output, "output")
    _check_same_shape(content, output)
    if threshold <= 0 or max_gain < 1:
        raise ValueError(f"need threshold > 0 and max_gain >= 1, got {threshold}, {max_gain}")
    content_energy = maximum_filter(_laplacian_magnitude(content), size=3, mode="nearest")
    output_energy = _laplacian_magnitude(output)
    new_energy = (output_energy > threshold) & (output_energy > max_gain * content_energy)
    return float(new_energy.mean())
