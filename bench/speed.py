"""Speed measurement: inputs at named resolutions, the timed calls, their timing and peak memory.

Every method is timed on the same work: content and style tensors of a named resolution in,
stylised tensor out, style work included (:func:`method_calls`); PhotoNAS's network also per
stage (:func:`stages`). Every callable synchronises CUDA before it returns, so wall-clock
timing is honest. :func:`time_call` times one callable (warm-up calls, then timed rounds,
median); :func:`measure_speed` does it for every method, stage and size and returns entries
that :mod:`bench.speed_board` turns into the speed tables. ``python -m bench`` calls it
directly; ``tests/bench/test_speed.py`` drives the same callables with pytest-benchmark.

Examples:
    >>> methods, _ = build_methods(["photonas", "reinhard"], device="cpu")  # doctest: +SKIP
    >>> entries = measure_speed(methods, ["512", "1024"], "cpu")  # doctest: +SKIP
    >>> time_call(method_calls(methods[1], "64", "cpu")["end_to_end"], "cpu").median  # doctest: +SKIP
    0.0031
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from pytest_benchmark.stats import Stats
from torch import Tensor

from bench.methods import Method
from bench.pairs import Pair
from photonas.device import synchronize, wall_time
from photonas.model import StyleTransferModel
from photonas.padding import crop, pad_to_grid
from photonas.transforms import region_transfer

#: Named resolutions as (height, width).
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "64": (64, 64),
    "512": (512, 512),
    "1024": (1024, 1024),
    "2048": (2048, 2048),
    "4k": (2160, 3840),
}
#: The real runs' resolutions (``all``); the tests time 64² only.
FULL_SIZES: tuple[str, ...] = ("512", "1024", "2048", "4k")
#: Stages timed for PhotoNAS-family networks besides ``end_to_end`` (see :func:`stages`).
STAGES: tuple[str, ...] = ("end_to_end", "preset", "encoder", "transfers", "decoder")
#: The rows timed per stage: the networks themselves (their default rows add the refinement).
STAGED_METHODS: tuple[str, ...] = ("photonas-raw", "photonet-raw")
#: Untimed calls before the timed ones (first-call allocations, kernel selection, caches).
WARMUP = 1
#: Timed calls per measurement; the tables report their median.
ROUNDS = 5


def parse_sizes(spec: str) -> list[str]:
    """Resolution names from ``"512,4k"`` (or ``"all"`` for :data:`FULL_SIZES`); unknown names raise."""
    names = list(FULL_SIZES) if spec.strip() == "all" else [v.strip().lower() for v in spec.split(",") if v.strip()]
    unknown = [n for n in names if n not in RESOLUTIONS]
    if unknown:
        raise ValueError(f"unknown sizes {unknown}; choose from {', '.join(RESOLUTIONS)} or all")
    return names


def default_devices() -> list[str]:
    """The CPU, plus CUDA when present."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def stages_of(name: str) -> tuple[str, ...]:
    """The stages timed for a row: every stage for :data:`STAGED_METHODS`, else ``end_to_end``."""
    return STAGES if name in STAGED_METHODS else ("end_to_end",)


def timed_call(fn: Callable[[], Tensor], device: torch.device) -> Callable[[], Tensor]:
    """``fn`` under inference mode, returning only once the device has finished (honest wall time)."""

    def call() -> Tensor:
        with torch.inference_mode():
            out = fn()
        synchronize(device)
        return out

    return call


def random_pair(size: str, device: str | torch.device, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A content and a style of random pixels at a named resolution, the same for a given seed."""
    height, width = RESOLUTIONS[size]
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(1, 3, height, width, generator=generator).to(device) for _ in range(2))


def stages(model: StyleTransferModel, content: Tensor, style: Tensor, method: str = "wct") -> dict[str, Callable[[], Tensor]]:
    """The timed callables of a PhotoNAS-family model on ``(1, 3, H, W)`` tensors on its device.

    ``preset`` is content tensor in → tensor out with the style's statistics precomputed (a
    saved style preset); ``encoder`` is the encoder alone on the padded content;
    ``transfers`` applies every transfer of the code to the features that reach it (recorded
    once here); ``decoder`` runs the decoder with the transfers switched off, so the last three
    add up to about ``preset``.
    """
    padded, box = pad_to_grid(content)
    with torch.inference_mode():
        stats = model.style_stats(style)
        feats = model.encode(padded)
        reached: dict[str, Tensor] = {}

        def record(point: str, x: Tensor) -> Tensor:
            reached[point] = x
            return region_transfer(x, stats.points[point], method=method)

        model.decode(feats, record)

    def transfers() -> Tensor:
        outs = [region_transfer(x, stats.points[p], method=method) for p, x in reached.items()]
        return outs[-1] if outs else padded  # a code with no transfer positions

    timed = partial(timed_call, device=content.device)
    return {
        "preset": timed(lambda: model.stylize(content, stats, method=method)),
        "encoder": timed(lambda: model.encode(padded)["relu5_1"]),
        "transfers": timed(transfers),
        "decoder": timed(lambda: crop(model.decode(feats), box)),
    }


def method_calls(method: Method, size: str, device: str | torch.device, seed: int = 0) -> dict[str, Callable[[], Tensor]]:
    """Timed calls of one benchmark method (from :func:`bench.methods.build_methods`) at a size.

    Every method gets ``end_to_end``: content and style tensors of the size in, stylised
    tensor out, style work included. PhotoNAS-family models (``photonas``, ``photonet`` and
    their ``name=path`` rows, :data:`STAGED_METHODS`) add the :func:`stages`. Classical methods convert to numpy and
    back inside the timed call.
    """
    device = torch.device(device)
    content, style = random_pair(size, device, seed)
    timed = partial(timed_call, device=device)
    if method.kind in ("classical", "refined"):  # numpy in and out, converted inside the timed call
        pair = Pair(size, *(t[0].permute(1, 2, 0).cpu().numpy() for t in (content, style)))
        return {"end_to_end": timed(lambda: torch.from_numpy(method.run(pair)).permute(2, 0, 1)[None].to(device))}
    if method.kind == "baseline":
        return {"end_to_end": timed(lambda: method.model.stylize(content, style, config=method.config))}
    model = method.model
    calls = {"end_to_end": timed(lambda: model.stylize(content, style, method=method.transfer, config=method.config))}
    if "preset" in stages_of(method.name):
        calls.update(stages(model, content, style, method.transfer))
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


@dataclass(frozen=True)
class Timing:
    """The seconds of each timed round of one call; the tables report the median and the IQR."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def stats(self) -> dict[str, Any]:
        """A speed entry's ``stats``: pytest-benchmark's own summary of the rounds (its quartiles,
        so IQRs compare with its runs), one iteration per round, and the rounds themselves."""
        summary = Stats()
        for seconds in self.seconds:
            summary.update(seconds)
        return {**summary.as_dict(), "iterations": 1, "data": list(self.seconds)}


def time_call(fn: Callable[[], object], device: str | torch.device, rounds: int = ROUNDS, warmup: int = WARMUP) -> Timing:
    """Wall-clock seconds (:func:`photonas.device.wall_time`) of ``rounds`` calls of ``fn``, each alone,
    after ``warmup`` untimed calls."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    return Timing(tuple(wall_time(fn, device)[1] for _ in range(rounds)))


def speed_entry(method: str, stage: str, size: str, device: str, precision: str, timing: Timing, peak_mb: float) -> dict[str, Any]:
    """One entry of ``speed.json``: what was timed (``extra_info``) and its ``stats``."""
    return {
        "group": f"{size} {device}",
        "name": f"{method} {stage} {size} {device}",
        "extra_info": {
            "method": method,
            "stage": stage,
            "size": size,
            "device": device,
            "precision": precision,
            "torch": torch.__version__,
            "peak_mb": peak_mb,
        },
        "stats": timing.stats(),
    }


def measure_speed(
    methods: Sequence[Method],
    sizes: Sequence[str],
    device: str | torch.device,
    precision: str = "auto",
    rounds: int = ROUNDS,
    warmup: int = WARMUP,
    log: Callable[[str], object] = print,
) -> list[dict[str, Any]]:
    """Time every timed method at every size on ``device``: one :func:`speed_entry` per stage.

    ``methods`` come from :func:`bench.methods.build_methods` on ``device``; ``precision`` is
    the one they were built with (recorded, not applied). Rows that read published outputs
    are not timed. When a call does not fit in the device's memory, that method's remaining
    calls at that size are logged and left out.
    """
    device = torch.device(device)
    entries = []
    for method in methods:
        if not method.timed:
            continue
        for size in sizes:
            try:
                calls = method_calls(method, size, device)
                for stage, fn in calls.items():
                    timing = time_call(fn, device, rounds, warmup)
                    peak = peak_memory_mb(fn, device)
                    entries.append(speed_entry(method.name, stage, size, device.type, precision, timing, peak))
                    log(f"  speed {method.name} {stage} {size} {device.type}: {timing.median:.4g} s")
            except torch.OutOfMemoryError:
                log(f"  speed {method.name} {size}: does not fit on {device.type}, left out")
            finally:
                calls = fn = None  # the inputs and recorded features (in each stage's closure) go before the next size
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return entries

