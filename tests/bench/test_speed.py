"""Speed measurement (:mod:`bench.speed`): the timing itself, every method's timed calls, the entries.

``test_speed`` is pytest-benchmark driving the same timed calls ``python -m bench`` times with
:func:`bench.speed.time_call` (same warm-up and rounds), at 64² on the CPU (and CUDA when
present): ``python -m pytest tests/bench/test_speed.py --benchmark-only``. The tests run once
each with ``--benchmark-disable``. The baselines run with untrained decoders (trained ones live
in the git-ignored ``runs/baselines``): weights change what they output, not how long it takes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pytest_benchmark")

from bench.methods import DEFAULT_METHODS, REFINED, ClassicalMethod, Skipped, build_methods
from bench.speed import (
    RESOLUTIONS,
    ROUNDS,
    STAGES,
    WARMUP,
    Timing,
    default_devices,
    measure_speed,
    method_calls,
    parse_sizes,
    peak_memory_mb,
    stages_of,
    time_call,
)
from photonas.baselines import BASELINES

SIZE = "64"
DEVICES = default_devices()


@pytest.fixture(scope="module")
def untrained_baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Baseline name → a folder with that baseline's seeded, untrained decoders."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("baselines")
    return {name: model().save(folder / name) for name, model in BASELINES.items()}


@pytest.fixture(scope="module")
def calls(untrained_baselines: dict[str, Path]):
    """``get(method, size, device)`` → that method's timed calls, built once."""
    cache: dict = {}

    def get(name: str, size: str, device: str):
        if (name, device) not in cache:
            baseline = untrained_baselines.get(name.removesuffix(REFINED))
            methods, skipped = build_methods([name if baseline is None else f"{name}={baseline}"], device=device)
            cache[(name, device)] = methods[0] if methods else skipped[0]
        method = cache[(name, device)]
        assert not isinstance(method, Skipped), f"{name}: {method.reason}"
        if (name, size, device) not in cache:
            cache[(name, size, device)] = method_calls(method, size, device)
        return cache[(name, size, device)]

    return get


#: (method, stage): PhotoNAS-family networks per stage, every other method end to end only.
CASES = [(m, stage) for m in DEFAULT_METHODS for stage in stages_of(m)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method, stage", CASES)
def test_speed(benchmark, calls, stage: str, method: str, device: str) -> None:
    fns = calls(method, SIZE, device)
    benchmark.group = f"{SIZE} {device}"
    out = benchmark.pedantic(fns[stage], rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)
    # memory after the timed rounds, as bench.speed.measure_speed measures it
    benchmark.extra_info.update(method=method, stage=stage, size=SIZE, device=device, peak_mb=peak_memory_mb(fns[stage], device))
    assert torch.isfinite(out.float()).all()


def test_stages_cover_the_pipeline(calls) -> None:
    """PhotoNAS's network (the raw row) has every stage; both end-to-end calls keep the content's shape."""
    fns = calls("photonas-raw", SIZE, "cpu")
    assert set(fns) == set(STAGES) == set(stages_of("photonas-raw"))
    for stage in ("end_to_end", "preset"):
        assert fns[stage]().shape[-2:] == torch.Size(RESOLUTIONS[SIZE])
    reinhard = calls("reinhard", SIZE, "cpu")
    assert set(reinhard) == {"end_to_end"} == set(stages_of("reinhard"))
    assert reinhard["end_to_end"]().shape[-2:] == torch.Size(RESOLUTIONS[SIZE])


def test_time_call_warms_up_then_times_each_round() -> None:
    seen: list[int] = []
    timing = time_call(lambda: seen.append(len(seen)), "cpu", rounds=4, warmup=2)
    assert len(seen) == 6 and len(timing.seconds) == 4 and all(s >= 0 for s in timing.seconds)
    with pytest.raises(ValueError, match="rounds"):
        time_call(lambda: None, "cpu", rounds=0)


def test_timing_stats_are_the_median_and_quartiles() -> None:
    stats = Timing((0.5, 0.1, 0.3, 0.2, 0.4)).stats()
    assert stats["median"] == pytest.approx(0.3) and stats["rounds"] == 5 and stats["iterations"] == 1
    # pytest-benchmark's quartiles (for an odd count, between the order statistics around n/4)
    assert stats["q1"] == pytest.approx(0.175) and stats["q3"] == pytest.approx(0.425) and stats["iqr"] == pytest.approx(0.25)
    assert stats["min"] == 0.1 and stats["max"] == 0.5 and stats["data"] == [0.5, 0.1, 0.3, 0.2, 0.4]
    single = Timing((0.25,)).stats()
    assert single["median"] == single["q1"] == single["q3"] == 0.25 and single["iqr"] == 0.0 and single["stddev"] == 0.0


def test_measure_speed_gives_one_entry_per_stage_and_leaves_out_what_does_not_fit() -> None:
    methods, _ = build_methods(["reinhard", "mk"], device="cpu")

    def too_big(*_args, **_kwargs) -> np.ndarray:
        raise torch.OutOfMemoryError("test")

    methods.insert(1, ClassicalMethod("huge", too_big))
    logged: list[str] = []
    entries = measure_speed(methods, ["64"], "cpu", precision="fp32", rounds=2, warmup=0, log=logged.append)
    assert [(e["extra_info"]["method"], e["extra_info"]["stage"]) for e in entries] == [("reinhard", "end_to_end"), ("mk", "end_to_end")]
    assert any("huge 64: does not fit" in line for line in logged)
    (entry, _) = entries
    assert entry["group"] == "64 cpu" and entry["stats"]["rounds"] == 2 and entry["stats"]["median"] > 0
    assert entry["extra_info"]["precision"] == "fp32" and entry["extra_info"]["device"] == "cpu"
    assert math.isfinite(entry["extra_info"]["peak_mb"])


def test_sizes_parse_names_and_all() -> None:
    assert parse_sizes("512, 4K") == ["512", "4k"]
    assert parse_sizes("all") == ["512", "1024", "2048", "4k"]
    with pytest.raises(ValueError, match="unknown sizes"):
        parse_sizes("512,999")


def test_peak_memory_sees_an_allocation() -> None:
    """A call holding a 256 MiB tensor adds at least most of that to the resident set."""

    def allocate() -> torch.Tensor:
        x = torch.ones(64, 2**20)  # 256 MiB, written so the pages are resident
        return x.sum()

    assert peak_memory_mb(allocate, "cpu") > 128
