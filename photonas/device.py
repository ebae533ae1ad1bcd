"""Choosing the device and precision, once, at the entry point."""

from __future__ import annotations

import contextlib

import torch


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


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """Mixed precision for the convolutions; transfers always compute in float32 or float64.

    ``"auto"`` is bfloat16 on CUDA (bf16 keeps float32's range, so raw VGG activations in the
    hundreds cannot overflow as they could in float16) and float32 elsewhere.
    """
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
