"""What a timing depends on: the machine's facts (saved with every result) and its folder name.

Examples:
    >>> machine_slug(torch.device("cpu"))  # doctest: +SKIP
    'cpu-2cores'
    >>> machine_facts(torch.device("cpu"))["device"]
    'cpu'
"""

from __future__ import annotations

import os
import platform
import re
from typing import Any

import torch


def machine_facts(device: torch.device) -> dict[str, Any]:
    """What the timings depend on; saved in the JSON."""
    facts: dict[str, Any] = {
        "device": str(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    if device.type == "cuda":
        facts["cuda_device"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
    return facts


def machine_slug(device: torch.device) -> str:
    """``cpu-2cores``, or the CUDA device name as a slug (``nvidia-h100-80gb-hbm3``)."""
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return f"{device.type}-{os.cpu_count()}cores"
