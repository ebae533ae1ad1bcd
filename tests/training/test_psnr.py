"""PSNR, defined once: known answers, tensors and arrays alike, batches as per-image means."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from photonas.training.metrics import mean_psnr, psnr


def test_psnr_known_answers() -> None:
    image = np.random.default_rng(0).random((6, 5, 3)) * 0.8
    assert psnr(image, image + 0.1) == pytest.approx(20.0)  # MSE 0.01
    assert psnr(image, image + 0.01) == pytest.approx(40.0)
    assert psnr(image, image.copy()) == math.inf


def test_psnr_takes_tensors_of_any_dtype_like_arrays() -> None:
    a = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    b = (a + 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    expected = psnr(a.numpy(), b.numpy())
    assert psnr(a, b) == pytest.approx(expected)
    assert psnr(a.double(), b.numpy()) == pytest.approx(expected)
    assert psnr(a.bfloat16(), b.bfloat16()) == pytest.approx(expected, abs=0.5)  # bf16 rounding, no error


def test_mean_psnr_averages_per_image_values() -> None:
    reference = torch.zeros(2, 3, 4, 4)
    output = reference + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    assert mean_psnr(reference, output) == pytest.approx(30.0, abs=1e-4)  # (20 + 40) / 2
    assert psnr(reference, output) == pytest.approx(10 * math.log10(2 / 0.0101), abs=1e-4)  # one pooled error


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="batches"):
        mean_psnr(torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4))
    with pytest.raises(ValueError, match="batches"):
        mean_psnr(torch.zeros(0, 3, 4, 4), torch.zeros(0, 3, 4, 4))
