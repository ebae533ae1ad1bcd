"""8-bit per-channel weight quantisation for shipped checkpoints, undone at load.

A conv weight ``W`` of shape ``(out, in, kh, kw)`` is stored as int8 ``round(W / s)`` with one
float32 scale ``s = max|W[o]| / 127`` per output channel, under the keys ``<name>`` and
``<name>.qscale``. Loading multiplies back; biases and small tensors stay as they are. This
halves the fp16 size again, at a reconstruction cost measured before shipping (model card).
"""

from __future__ import annotations

import torch
from torch import Tensor

SCALE_SUFFIX = ".qscale"
#: Tensors smaller than this stay in floating point (biases, the 3-channel output conv).
MIN_ELEMENTS = 4096


def quantize_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """int8 weights plus per-output-channel scales for every large conv weight."""
    out: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if tensor.ndim == 4 and tensor.numel() >= MIN_ELEMENTS and tensor.is_floating_point():
            w = tensor.detach().float()
            scale = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127.0
            out[name] = torch.round(w / scale.view(-1, 1, 1, 1)).clamp(-127, 127).to(torch.int8)
            out[name + SCALE_SUFFIX] = scale
        else:
            out[name] = tensor
    return out


def dequantize_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Undo :func:`quantize_state` (a state without int8 tensors passes through)."""
    out: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = state.get(name + SCALE_SUFFIX)
        if tensor.dtype == torch.int8:
            if scale is None:
                raise ValueError(f"int8 tensor {name} has no {name + SCALE_SUFFIX}")
            out[name] = tensor.float() * scale.float().view(-1, *([1] * (tensor.ndim - 1)))
        else:
            out[name] = tensor
    return out
