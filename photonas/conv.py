"""Reflection-padded 3×3 convolutions that never write a padded copy of their input at inference.

PhotoNet pads every 3×3 conv by reflection. ``F.pad(mode="reflect")`` writes a padded copy of
each activation (and on channels-last CPU tensors, reorders it twice), which at full
resolution costs as much as a convolution. At inference :class:`ReflectConv2d` instead runs the
conv zero-padded (on CPUs fused with its ReLU in oneDNN) and recomputes only the one-pixel
output border from four thin reflected strips: the same numbers, without the copy. Training
(anything needing gradients) takes the plain ``nn.Conv2d`` path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _fused_cpu_conv_relu(x: Tensor, weight: Tensor, bias: Tensor | None, padding: int) -> Tensor | None:
    """oneDNN's conv with a fused ReLU (the op torch.compile uses on CPUs), or None where absent."""
    op = getattr(torch.ops.mkldnn, "_convolution_pointwise", None)
    if op is None or x.device.type != "cpu":
        return None
    try:
        return op(x, weight, bias, [padding, padding], [1, 1], [1, 1], 1, "relu", [], "")
    except (RuntimeError, NotImplementedError):
        return None


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, padding: int, relu: bool) -> Tensor:
    """Zero-padded stride-1 conv, optionally followed by ReLU (fused on CPUs when possible)."""
    if relu:
        fused = _fused_cpu_conv_relu(x, weight, bias, padding)
        if fused is not None:
            return fused
        return F.conv2d(x, weight, bias, padding=padding).relu_()
    return F.conv2d(x, weight, bias, padding=padding)


def reflect_conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None, relu: bool = False) -> Tensor:
    """``conv2d(F.pad(x, 1, mode="reflect"), weight, bias)`` (then ReLU), computed without the padded copy.

    Inside the image a zero-padded and a reflection-padded 3×3 conv agree; only the outermost
    output ring differs, and each side of it is one valid conv over a 2-pixel strip of ``x``
    padded by reflection. Needs H, W >= 2 (as reflection padding does).
    """
    out = conv2d(x, weight, bias, 1, relu)
    every = slice(None)
    borders = (
        (slice(0, 1), every, F.pad(x[:, :, :2], (1, 1, 1, 0), mode="reflect")),  # top row
        (slice(-1, None), every, F.pad(x[:, :, -2:], (1, 1, 0, 1), mode="reflect")),  # bottom row
        (every, slice(0, 1), F.pad(x[:, :, :, :2], (1, 0, 1, 1), mode="reflect")),  # left column
        (every, slice(-1, None), F.pad(x[:, :, :, -2:], (0, 1, 1, 1), mode="reflect")),  # right column
    )
    for rows, cols, strip in borders:
        border = F.conv2d(strip, weight, bias)
        out[:, :, rows, cols] = border.relu_() if relu else border
    return out


class ReflectConv2d(nn.Conv2d):
    """A stride-1 conv with reflection padding (``k // 2``) and an optional ReLU after it.

    Same parameters and state-dict keys as ``nn.Conv2d(..., padding_mode="reflect")``. At
    inference 3×3 kernels take :func:`reflect_conv3x3`; training, other kernels and
    ``padding_mode="zeros"`` (a measured lever, see ``bench/levers.py``) take torch's path.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, relu: bool = False) -> None:
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, padding_mode="reflect")
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)):
            if self.kernel_size == (1, 1):
                return conv2d(x, self.weight, self.bias, 0, self.relu)
            if self.kernel_size == (3, 3) and self.padding_mode == "zeros":
                return conv2d(x, self.weight, self.bias, 1, self.relu)
            if self.kernel_size == (3, 3) and min(x.shape[-2:]) >= 2:
                return reflect_conv3x3(x, self.weight, self.bias, self.relu)
        out = super().forward(x)
        return out.relu_() if self.relu else out
