"""Speed of PhotoNAS end to end and per stage (pytest-benchmark), grouped by resolution and device.

CI times 64² on the CPU (``--benchmark-disable`` runs each once). Real runs pick resolutions
and devices from the environment, e.g.
``PHOTONAS_BENCH_SIZES=512,1024,2048,4k python -m pytest tests/bench/test_speed.py --benchmark-only``.
Style statistics are precomputed; one warm-up round is excluded from every timing.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("pytest_benchmark")

from bench.speed import (
    RESOLUTIONS,
    make_workload,
    selected_devices,
    selected_sizes,
    stages,
)
from photonas.arch import PHOTONAS
from photonas.model import StyleTransferModel

SIZES = selected_sizes()
DEVICES = selected_devices()
STAGES = ("end_to_end", "encoder", "transfers", "decoder")
ROUNDS = 5


@pytest.fixture(scope="module")
def model() -> StyleTransferModel:
    """An untrained PhotoNAS-code model: speed does not depend on the weights' values."""
    torch.manual_seed(0)
    return StyleTransferModel(str(PHOTONAS)).eval()


@pytest.fixture(scope="module")
def workloads(model):
    cache = {}

    def get(size: str, device: str):
        if device == "cuda" and not torch.cuda.is_available():
            pytest.skip("CUDA not available")
        if (size, device) not in cache:
            cache[(size, device)] = stages(make_workload(model, size, device))
        return cache[(size, device)]

    return get


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stage", STAGES)
def test_speed_photonas(benchmark, workloads, stage: str, size: str, device: str) -> None:
    try:
        fn = workloads(size, device)[stage]
    except torch.OutOfMemoryError:
        pytest.skip(f"{size} does not fit on {device}")
    benchmark.group = f"photonas {size} {device}"
    benchmark.extra_info.update(stage=stage, size=size, device=device, torch=torch.__version__)
    out = benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert torch.isfinite(out).all()


def test_stages_cover_the_pipeline(workloads) -> None:
    """The end-to-end output keeps the content's shape; every stage returns a tensor."""
    fns = workloads(SIZES[0], "cpu")
    assert set(fns) == set(STAGES)
    assert fns["end_to_end"]().shape[-2:] == torch.Size(RESOLUTIONS[SIZES[0]])
