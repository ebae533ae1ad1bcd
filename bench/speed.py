"""Speed benchmark pieces: inputs at named resolutions and the stages of one stylisation.

The pytest-benchmark tests (``tests/bench/test_speed.py``) time these callables; keeping them
here lets a GPU script time exactly the same work. Every callable takes no argument, returns
a tensor and synchronises CUDA, so wall-clock timing is honest.

Examples:
    PHOTONAS_BENCH_SIZES=512,1024 python -m pytest tests/bench/test_speed.py --benchmark-only
    PHOTONAS_BENCH_SIZES=all PHOTONAS_BENCH_DEVICES=cuda python -m pytest tests/bench/test_speed.py \\
        --benchmark-only --benchmark-json bench/results/speed.json
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from photonas.model import StyleTransferModel
from photonas.padding import crop, pad_to_grid
from photonas.style import StyleStats
from photonas.transforms import region_transfer

#: Named resolutions as (height, width).
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "64": (64, 64),
    "512": (512, 512),
    "1024": (1024, 1024),
    "2048": (2048, 2048),
    "4k": (2160, 3840),
}
#: The real runs' resolutions (``PHOTONAS_BENCH_SIZES=all``); CI times 64² only.
FULL_SIZES: tuple[str, ...] = ("512", "1024", "2048", "4k")
SIZES_ENV = "PHOTONAS_BENCH_SIZES"
DEVICES_ENV = "PHOTONAS_BENCH_DEVICES"


def selected_sizes(env: str | None = None) -> list[str]:
    """Resolution names from ``$PHOTONAS_BENCH_SIZES`` (``512,4k`` or ``all``); default ``64``."""
    value = os.environ.get(SIZES_ENV, "64") if env is None else env
    names = list(FULL_SIZES) if value.strip() == "all" else [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in RESOLUTIONS]
    if unknown:
        raise ValueError(f"{SIZES_ENV}: unknown sizes {unknown}; choose from {', '.join(RESOLUTIONS)} or all")
    return names


def selected_devices(env: str | None = None) -> list[str]:
    """``$PHOTONAS_BENCH_DEVICES`` (``cpu,cuda``); default cpu, plus cuda when present."""
    value = os.environ.get(DEVICES_ENV) if env is None else env
    if value:
        return [v.strip() for v in value.split(",") if v.strip()]
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Workload:
    """One content image and precomputed style statistics for a model on a device.

    Attributes:
        model: the model, on ``device``, in eval mode.
        content: ``(1, 3, H, W)`` content in [0, 1].
        stats: the style's statistics (precomputed: not part of any timed stage).
    """

    model: StyleTransferModel
    content: Tensor
    stats: StyleStats
    method: str = "wct"

    @property
    def device(self) -> torch.device:
        return self.content.device


def make_workload(model: StyleTransferModel, size: str, device: str | torch.device, method: str = "wct", seed: int = 0) -> Workload:
    """Random content and style of a named resolution; style statistics computed once here."""
    height, width = RESOLUTIONS[size]
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, height, width, generator=generator).to(device)
    style = torch.rand(1, 3, height, width, generator=generator).to(device)
    model = model.to(device).eval()
    with torch.inference_mode():
        stats = model.style_stats(style)
    return Workload(model, content, stats, method)


def stages(work: Workload) -> dict[str, Callable[[], Tensor]]:
    """The timed callables: ``end_to_end`` (tensor in → tensor out), ``encoder``, ``transfers``, ``decoder``.

    ``transfers`` applies every transfer of the code to the features that reach it (recorded
    once here); ``decoder`` runs the decoder with the transfers switched off, so the three
    stages add up to about ``end_to_end``.
    """
    model, device = work.model, work.device
    stats = work.stats.to(device)
    padded, box = pad_to_grid(work.content)
    with torch.inference_mode():
        feats = model.encode(padded)
        reached: dict[str, Tensor] = {}

        def record(point: str, x: Tensor) -> Tensor:
            reached[point] = x
            return region_transfer(x, stats.points[point], method=work.method)

        model.decode(feats, record)

    def timed(fn: Callable[[], Tensor]) -> Callable[[], Tensor]:
        def call() -> Tensor:
            with torch.inference_mode():
                out = fn()
            synchronize(device)
            return out

        return call

    def transfers() -> Tensor:
        outs = [region_transfer(x, stats.points[p], method=work.method) for p, x in reached.items()]
        return outs[-1] if outs else padded  # a code with no transfer positions

    return {
        "end_to_end": timed(lambda: model.stylize(work.content, stats, method=work.method)),
        "encoder": timed(lambda: model.encode(padded)["relu5_1"]),
        "transfers": timed(transfers),
        "decoder": timed(lambda: crop(model.decode(feats), box)),
    }


__all__ = ["FULL_SIZES", "RESOLUTIONS", "Workload", "make_workload", "selected_devices", "selected_sizes", "stages"]
