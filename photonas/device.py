"""Choosing the device and precision, once, at the entry point."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, else CUDA, then Apple MPS, then CPU.

    Raises:
        ValueError: the requested device is not usable here.
    """
    if device is not None:
        try:
            chosen = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps") from err
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available here")
        if chosen.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} requested but Apple MPS is not available here")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


Result = TypeVar("Result")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); a no-op elsewhere."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def wall_time(fn: Callable[[], Result], device: torch.device) -> tuple[Result, float]:
    """``fn()`` and its wall-clock seconds, the device synchronised before and after (else a
    timing measures the queueing, not the work)."""
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


def describe_device(device: torch.device) -> str:
    """The hardware a figure was measured on, for model cards and run summaries."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"{device.type} ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads), torch {torch.__version__}"


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), so bf16 is a speed-up.

    Uses torch's own CPU probes (private helpers, present in torch 2.1 onwards); False if absent.
    """
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            continue
    return False


def check_precision(precision: str) -> str:
    """``precision`` when it is one of :data:`PRECISIONS`, else a ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def resolve_precision(device: torch.device, precision: str = "auto") -> str:
    """``"auto"`` → a concrete precision for ``device``; others are checked and returned.

    ``"auto"`` is bfloat16 on CUDA and on CPUs with native bf16 (bf16 keeps float32's range, so
    raw VGG activations in the hundreds cannot overflow as they could in float16), float32
    elsewhere. Transfers always compute in float32 or float64 whatever this says.
    """
    if check_precision(precision) != "auto":
        return precision
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return "bf16"
    return "fp32"


def compute_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype the convolutions run in for ``precision`` on ``device``."""
    return _DTYPES[resolve_precision(device, precision)]


def convert_for_inference(model: nn.Module, device: torch.device, precision: str = "auto") -> nn.Module:
    """Move ``model`` (in place) to ``device``, its weights to the precision's dtype, channels-last.

    Weights stored in bf16/fp16 beat autocast (which re-casts every weight on every call), and
    channels-last lets oneDNN and cuDNN skip their layout reorders around each convolution.
    """
    memory_format = torch.contiguous_format if device.type == "mps" else torch.channels_last
    return model.to(device=device, dtype=compute_dtype(device, precision), memory_format=memory_format).eval()


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """Mixed precision for the convolutions of a float32 model (training, and models passed in).

    Transfers always compute in float32 or float64. ``"auto"`` is bf16 on CUDA and float32
    elsewhere: on a CPU, autocast re-casts every weight on every call and gains little (0.63 s
    against 0.84 s for the encoder at 512² here), where :func:`convert_for_inference` gains 5×.
    """
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    precision = resolve_precision(device, precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])
