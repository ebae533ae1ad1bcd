"""Reconstruction fidelity measured one way everywhere: PSNR of images in [0, 1].

Training logs, ``train/evaluate.py``, ``train/export_weights.py`` and the benchmark all call
:func:`psnr` (scikit-image's formula on float64 copies), so their decibels compare.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio

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
