"""Fidelity measured one way everywhere: PSNR and SSIM of images in [0, 1].

Training logs, ``train/evaluate.py``, ``train/export_weights.py`` and the benchmark all call
:func:`psnr` and :func:`ssim` (scikit-image's formulas on float64 copies), so their figures compare.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

#: scikit-image's SSIM window; images with a side under 7 pixels get the largest odd window that fits.
SSIM_WINDOW = 7
#: An image as numpy ``(H, W, 3)`` or a tensor ``(3, H, W)`` / ``(B, 3, H, W)``, values in [0, 1].
Image = np.ndarray | torch.Tensor


def psnr(reference: Image, output: Image) -> float:
    """Peak signal-to-noise ratio in dB of two same-shaped images in [0, 1]; ``inf`` when equal.

    The error is the mean over every value, whatever the layout (a batch counts as one image:
    see :func:`mean_psnr` for the mean of per-image values).

    Example:
        >>> round(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)), 6)
        20.0
    """
    a, b = _float64(reference), _float64(output)
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    if np.array_equal(a, b):
        return math.inf  # scikit-image would divide by a zero error, with a warning
    return float(peak_signal_noise_ratio(a, b, data_range=1.0))


def ssim_window(shape: tuple[int, ...]) -> int:
    """The default 7x7 window, or the largest odd window that fits a smaller image."""
    side = min(shape[:2])
    return min(SSIM_WINDOW, side if side % 2 else side - 1)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over the whole image (``(H, W)`` grayscale or ``(H, W, 3)`` per channel).

    Full-image SSIM to the content answers "is it still the same photo?", but a correct global
    colour change lowers it too (SSIM compares luminance and contrast as well as structure), so
    the benchmark reads it next to its ``edge_ssim``.
    """
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {a.shape}")
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    channels = -1 if a.ndim == 3 else None
    x, y = _float64(a), _float64(b)
    return float(structural_similarity(x, y, data_range=1.0, channel_axis=channels, win_size=ssim_window(a.shape)))


def mean_psnr(reference: Image, output: Image) -> float:
    """Mean over a batch ``(B, ...)`` of each image's :func:`psnr`.

    Example:
        >>> batch = torch.zeros(2, 3, 4, 4)
        >>> round(mean_psnr(batch, batch + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)), 4)
        30.0
    """
    if len(reference) != len(output) or not len(reference):
        raise ValueError(f"need two batches of one non-zero size, got {len(reference)} and {len(output)} images")
    return statistics.fmean(psnr(a, b) for a, b in zip(reference, output))


def _float64(image: Image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        return image.detach().to("cpu", torch.float64).numpy()
    return np.asarray(image, dtype=np.float64)
