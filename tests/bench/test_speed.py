"""Speed of every method end to end and of PhotoNAS per stage (pytest-benchmark), by resolution and device.

CI times 64² on the CPU once each (``--benchmark-disable``). Real runs pick resolutions,
devices and methods from the environment (see :mod:`bench.speed`), e.g.
``PHOTONAS_BENCH_SIZES=512,1024 python -m pytest tests/bench/test_speed.py --benchmark-only``;
``python -m bench`` runs exactly that and turns the JSON into the speed leaderboard. One
warm-up round is excluded from every timing; each test also records the call's peak memory.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("pytest_benchmark")

from bench.methods import Skipped, build_methods, parse_method_spec
from bench.speed import (
    RESOLUTIONS,
    STAGES,
    method_calls,
    peak_memory_mb,
    selected_devices,
    selected_methods,
    selected_precision,
    selected_sizes,
)

SIZES = selected_sizes()
DEVICES = selected_devices()
METHODS = selected_methods()
PRECISION = selected_precision()
ROUNDS = 5


@pytest.fixture(scope="module")
def calls():
    """``get(method, size, device)`` → that method's timed calls, built once."""
    cache: dict = {}

    def get(name: str, size: str, device: str):
        if device == "cuda" and not torch.cuda.is_available():
            pytest.skip("CUDA not available")
        if (name, device) not in cache:
            methods, skipped = build_methods([name], device=device, precision=PRECISION)
            cache[(name, device)] = methods[0] if methods else skipped[0]
        method = cache[(name, device)]
        if isinstance(method, Skipped):
            pytest.skip(f"{name}: {method.reason}")
        if not method.timed:
            pytest.skip(f"{name} is not timed (published outputs)")
        if (name, size, device) not in cache:
            cache[(name, size, device)] = method_calls(method, size, device)
        return cache[(name, size, device)]

    return get


#: (method, stage): PhotoNAS-family models per stage, every other method end to end only.
CASES = [(m, stage) for m in METHODS for stage in (STAGES if parse_method_spec(m)[0] in ("photonas-raw", "photonet-raw") else ("end_to_end",))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("method, stage", CASES)
def test_speed(benchmark, calls, stage: str, method: str, size: str, device: str) -> None:
    try:
        fns = calls(method, size, device)
    except torch.OutOfMemoryError:
        pytest.skip(f"{method} {size} does not fit on {device}")
    benchmark.group = f"{size} {device}"
    benchmark.extra_info.update(
        method=parse_method_spec(method)[0], stage=stage, size=size, device=device, precision=PRECISION, torch=torch.__version__
    )
    try:
        out = benchmark.pedantic(fns[stage], rounds=ROUNDS, iterations=1, warmup_rounds=1)
        benchmark.extra_info["peak_mb"] = peak_memory_mb(fns[stage], device)
    except torch.OutOfMemoryError:
        pytest.skip(f"{method} {size} {stage} does not fit on {device}")
    assert torch.isfinite(out.float()).all()


def test_stages_cover_the_pipeline(calls) -> None:
    """PhotoNAS's network (the raw row) has every stage; both end-to-end calls keep the content's shape."""
    fns = calls("photonas-raw", SIZES[0], "cpu")
    assert set(fns) == set(STAGES)
    for stage in ("end_to_end", "preset"):
        assert fns[stage]().shape[-2:] == torch.Size(RESOLUTIONS[SIZES[0]])
    reinhard = calls("reinhard", SIZES[0], "cpu")
    assert set(reinhard) == {"end_to_end"} and reinhard["end_to_end"]().shape[-2:] == torch.Size(RESOLUTIONS[SIZES[0]])


def test_peak_memory_sees_an_allocation() -> None:
    """A call holding a 256 MiB tensor adds at least most of that to the resident set."""

    def allocate() -> torch.Tensor:
        x = torch.ones(64, 2**20)  # 256 MiB, written so the pages are resident
        return x.sum()

    assert peak_memory_mb(allocate, "cpu") > 128
