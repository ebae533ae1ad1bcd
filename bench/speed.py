"""Speed benchmark pieces: inputs at named resolutions, the timed calls, peak memory.

The pytest-benchmark tests (``tests/bench/test_speed.py``) time these callables and
:mod:`bench.speed_board` turns their JSON into the speed leaderboard; keeping them here lets
every device time exactly the same work. Every callable takes no argument, returns a tensor
and synchronises CUDA, so wall-clock timing is honest.

Examples:
    PHOTONAS_BENCH_SIZES=512,1024 python -m pytest tests/bench/test_speed.py --benchmark-only
    PHOTONAS_BENCH_SIZES=all PHOTONAS_BENCH_DEVICES=cuda PHOTONAS_BENCH_METHODS=photonas,photonet \\
        python -m pytest tests/bench/test_speed.py --benchmark-only --benchmark-json speed.json
"""

from __future__ import annotations

import os
import threading
import time
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
METHODS_ENV = "PHOTONAS_BENCH_METHODS"
PRECISION_ENV = "PHOTONAS_BENCH_PRECISION"
#: Stages timed for PhotoNAS-family models besides ``end_to_end`` (see :func:`stages`).
STAGES: tuple[str, ...] = ("end_to_end", "preset", "encoder", "transfers", "decoder")


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


def selected_methods(env: str | None = None) -> list[str]:
    """``$PHOTONAS_BENCH_METHODS`` (``photonas,reinhard``); default every timed method."""
    from bench.methods import DEFAULT_METHODS  # late: bench.methods loads the model table

    value = os.environ.get(METHODS_ENV) if env is None else env
    return [v.strip() for v in value.split(",") if v.strip()] if value else list(DEFAULT_METHODS)


def selected_precision(env: str | None = None) -> str:
    """``$PHOTONAS_BENCH_PRECISION`` (``auto``, ``fp32``, ``bf16``, ``fp16``); default ``auto``."""
    value = os.environ.get(PRECISION_ENV) if env is None else env
    return value or "auto"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_call(fn: Callable[[], Tensor], device: torch.device) -> Callable[[], Tensor]:
    """``fn`` under inference mode, returning only once the device has finished (honest wall time)."""

    def call() -> Tensor:
        with torch.inference_mode():
            out = fn()
        synchronize(device)
        return out

    return call


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
    """The timed callables of a PhotoNAS-family model.

    ``preset`` is content tensor in → tensor out with the style's statistics precomputed (a
    saved style preset); ``encoder`` is the encoder alone on the padded content;
    ``transfers`` applies every transfer of the code to the features that reach it (recorded
    once here); ``decoder`` runs the decoder with the transfers switched off, so the last three
    add up to about ``preset``.
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
        return timed_call(fn, device)

    def transfers() -> Tensor:
        outs = [region_transfer(x, stats.points[p], method=work.method) for p, x in reached.items()]
        return outs[-1] if outs else padded  # a code with no transfer positions

    return {
        "preset": timed(lambda: model.stylize(work.content, stats, method=work.method)),
        "encoder": timed(lambda: model.encode(padded)["relu5_1"]),
        "transfers": timed(transfers),
        "decoder": timed(lambda: crop(model.decode(feats), box)),
    }


def method_calls(method, size: str, device: str | torch.device, seed: int = 0) -> dict[str, Callable[[], Tensor]]:
    """Timed calls of one benchmark method (from :func:`bench.methods.build_methods`) at a size.

    Every method gets ``end_to_end``: content and style tensors of the size in, stylised
    tensor out, style work included. PhotoNAS-family models (``photonas``, ``photonet`` and
    their ``name=path`` rows) add the :func:`stages`. Classical methods convert to numpy and
    back inside the timed call.
    """
    height, width = RESOLUTIONS[size]
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, height, width, generator=generator).to(device)
    style = torch.rand(1, 3, height, width, generator=generator).to(device)

    def timed(fn: Callable[[], Tensor]) -> Callable[[], Tensor]:
        return timed_call(fn, device)

    if method.kind in ("classical", "refined"):  # numpy in and out, converted inside the timed call
        c_np, s_np = (t[0].permute(1, 2, 0).cpu().numpy() for t in (content, style))
        return {"end_to_end": timed(lambda: torch.from_numpy(method.run(c_np, s_np)).permute(2, 0, 1)[None].to(device))}
    if method.kind == "baseline":
        return {"end_to_end": timed(lambda: method.model.stylize(content, style, config=method.config))}
    model = method.model
    calls = {"end_to_end": timed(lambda: model.stylize(content, style, method=method.transfer, config=method.config))}
    if method.name in ("photonas-raw", "photonet-raw"):
        calls.update(stages(make_workload(model, size, device, method.transfer, seed)))
    return calls


def peak_memory_mb(fn: Callable[[], object], device: str | torch.device) -> float:
    """Extra memory one call of ``fn`` needs at its peak, in MiB.

    CUDA: the allocator's peak over what was allocated before the call. CPU: the resident set
    size (``/proc/self/statm``, sampled every millisecond on a thread) over its value before the
    call; NaN where that file does not exist. Memory the allocator kept from earlier calls is
    reused and not counted, so this is what the call adds, not a total.
    """
    device = torch.device(device)
    if device.type == "cuda":
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    if not os.path.exists("/proc/self/statm"):
        return float("nan")
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    before, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return (max(peak[0], rss()) - before) / 2**20


__all__ = [
    "FULL_SIZES",
    "RESOLUTIONS",
    "STAGES",
    "Workload",
    "make_workload",
    "method_calls",
    "peak_memory_mb",
    "selected_devices",
    "selected_methods",
    "selected_precision",
    "selected_sizes",
    "stages",
]
