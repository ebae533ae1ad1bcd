"""Training-free colour-transfer baselines: Reinhard, histogram matching, Monge–Kantorovich.

They set the bar a neural photorealistic transfer has to clear: each maps colours pixel by
pixel, so it cannot blur an edge or invent texture, and with label maps it works per region.
Every method has one signature::

    method(content, style, content_labels=None, style_labels=None) -> output

with float ``(H, W, 3)`` sRGB images in [0, 1], integer ``(H, W)`` label maps, and an output
the size of the content, in [0, 1]. With label maps, each content region takes the statistics
of the style's region with the same label; a content region whose label the style lacks takes
the whole style's.

Examples:
    >>> out = CLASSICAL["reinhard"](content, style)  # doctest: +SKIP
    >>> out = monge_kantorovich(content, style, content_labels, style_labels)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from skimage.color import lab2rgb, rgb2lab
from skimage.exposure import match_histograms

#: Pixels in, pixels out: ``(N, 3)`` content pixels and ``(M, 3)`` style pixels → ``(N, 3)``.
PixelTransfer = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: The benchmark's signature for a baseline.
Method = Callable[..., np.ndarray]

#: Floor on a Lab channel's standard deviation: a flat content channel maps to the style's mean.
_MIN_STD = 1e-6
#: Added to both RGB covariances (≈ a 1/255 standard deviation per channel, the 8-bit noise
#: floor) so flat or rank-deficient images have finite inverse square roots; it moves a
#: well-conditioned photo's result by well under one 8-bit level.
MK_REGULARISATION = 1.5e-5


def _check_inputs(
    content: np.ndarray, style: np.ndarray, content_labels: np.ndarray | None, style_labels: np.ndarray | None
) -> None:
    for name, image in (("content", content), ("style", style)):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name} must be a float (H, W, 3) array, got {getattr(image, 'shape', type(image))}")
        if not np.issubdtype(image.dtype, np.floating):
            raise ValueError(f"{name} must be float in [0, 1], got {image.dtype}")
    if (content_labels is None) != (style_labels is None):
        raise ValueError("pass both label maps or neither")
    if content_labels is not None and style_labels is not None and (
        content_labels.shape != content.shape[:2] or style_labels.shape != style.shape[:2]
    ):
        raise ValueError(
            f"label maps must match their images: content labels {content_labels.shape} for "
            f"{content.shape[:2]}, style labels {style_labels.shape} for {style.shape[:2]}"
        )


def _regional(
    transfer: PixelTransfer,
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray | None,
    style_labels: np.ndarray | None,
) -> np.ndarray:
    """Applies a pixel transfer to the whole image, or region by region with label maps."""
    _check_inputs(content, style, content_labels, style_labels)
    pixels_c = content.reshape(-1, 3).astype(np.float64)
    pixels_s = style.reshape(-1, 3).astype(np.float64)
    if content_labels is None or style_labels is None:
        out = transfer(pixels_c, pixels_s)
    else:
        flat_c, flat_s = content_labels.reshape(-1), style_labels.reshape(-1)
        out = np.empty_like(pixels_c)
        for label in np.unique(flat_c):
            region = flat_c == label
            source = flat_s == label
            out[region] = transfer(pixels_c[region], pixels_s[source] if source.any() else pixels_s)
    return np.clip(out, 0.0, 1.0).reshape(content.shape).astype(content.dtype, copy=False)


def _to_lab(pixels: np.ndarray) -> np.ndarray:
    return rgb2lab(np.clip(pixels, 0.0, 1.0)[:, None, :])[:, 0, :]


def _reinhard_pixels(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    lab_c, lab_s = _to_lab(content), _to_lab(style)
    mean_c, std_c = lab_c.mean(axis=0), np.maximum(lab_c.std(axis=0), _MIN_STD)
    lab = (lab_c - mean_c) / std_c * lab_s.std(axis=0) + lab_s.mean(axis=0)
    lab[:, 0] = np.clip(lab[:, 0], 0.0, 100.0)
    with warnings.catch_warnings():
        # Stretched chroma can leave the sRGB gamut; lab2rgb clips it, as the output is clipped anyway.
        warnings.filterwarnings("ignore", message=".*negative Z values", category=UserWarning)
        return lab2rgb(lab[:, None, :])[:, 0, :]


def reinhard(
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray | None = None,
    style_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Reinhard et al. (2001) colour transfer: match each Lab channel's mean and std.

    Reinhard used lαβ; CIELAB (scikit-image) is the common stand-in, equally decorrelated for
    natural photos and the space every colour metric here uses. Per region with label maps.
    """
    return _regional(_reinhard_pixels, content, style, content_labels, style_labels)


def _histogram_pixels(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    return match_histograms(content[:, None, :], style[:, None, :], channel_axis=-1)[:, 0, :]


def histogram_matching(
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray | None = None,
    style_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Per-channel RGB histogram matching (``skimage.exposure.match_histograms``).

    Matches every channel's whole distribution, not just two moments, but each channel on its
    own, so colour correlations (and hues) can come out wrong. Per region with label maps.
    """
    return _regional(_histogram_pixels, content, style, content_labels, style_labels)


def _sqrtm_psd(matrix: np.ndarray, power: float = 0.5) -> np.ndarray:
    """A symmetric positive semi-definite matrix to ``power`` (±0.5), by eigendecomposition."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.clip(values, 0.0, None) ** power) @ vectors.T


def _mk_pixels(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    mean_c, mean_s = content.mean(axis=0), style.mean(axis=0)
    eye = MK_REGULARISATION * np.eye(3)
    cov_c = np.cov(content, rowvar=False, bias=True).reshape(3, 3) + eye
    cov_s = np.cov(style, rowvar=False, bias=True).reshape(3, 3) + eye
    root_c, inv_root_c = _sqrtm_psd(cov_c), _sqrtm_psd(cov_c, -0.5)
    transform = inv_root_c @ _sqrtm_psd(root_c @ cov_s @ root_c) @ inv_root_c  # symmetric
    return (content - mean_c) @ transform + mean_s


def monge_kantorovich(
    content: np.ndarray,
    style: np.ndarray,
    content_labels: np.ndarray | None = None,
    style_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Linear Monge–Kantorovich colour transfer (Pitié & Kokaram 2007) in RGB.

    ``x ↦ T (x − μc) + μs`` with ``T = Σc^{-1/2} (Σc^{1/2} Σs Σc^{1/2})^{1/2} Σc^{-1/2}``: the
    optimal-transport map between Gaussians with the two means and covariances, so the output
    takes the style's full covariance (colour correlations included) with the least change.
    Both covariances get :data:`MK_REGULARISATION` on the diagonal, so flat images give a finite
    result (a flat content maps to the style's mean). Per region with label maps.
    """
    return _regional(_mk_pixels, content, style, content_labels, style_labels)


#: The training-free baselines by their benchmark name.
CLASSICAL: dict[str, Method] = {
    "reinhard": reinhard,
    "histogram": histogram_matching,
    "mk": monge_kantorovich,
}
