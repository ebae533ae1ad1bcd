"""The speed tables from a pytest-benchmark JSON with known numbers."""

from __future__ import annotations

import math

import pytest

from bench.speed_board import speed_markdown, speed_table


def _bench(method: str, stage: str, size: str, median: float, peak: float = 10.0) -> dict:
    return {
        "extra_info": {"method": method, "stage": stage, "size": size, "device": "cpu", "peak_mb": peak},
        "stats": {"median": median, "iqr": 0.0, "rounds": 5},
    }


RAW = {
    "benchmarks": [
        _bench("photonas", "end_to_end", "512", 2.0),
        _bench("photonas", "encoder", "512", 1.0),
        _bench("photonas", "preset", "512", 1.5),
        _bench("reinhard", "end_to_end", "512", 0.5),
        _bench("photonet", "end_to_end", "512", 6.0),
        _bench("reinhard", "end_to_end", "1024", 2.0),  # no PhotoNAS at 1024: no ratio
    ]
}


def test_ratios_divide_by_photonas_at_the_same_size_and_by_the_own_encoder() -> None:
    table = speed_table(RAW).set_index(["method", "stage", "size"])
    assert table.loc[("reinhard", "end_to_end", "512"), "ratio_vs_photonas"] == pytest.approx(0.25)
    assert table.loc[("photonet", "end_to_end", "512"), "ratio_vs_photonas"] == pytest.approx(3.0)
    assert table.loc[("photonas", "preset", "512"), "ratio_vs_own_encoder"] == pytest.approx(1.5)
    assert math.isnan(table.loc[("reinhard", "end_to_end", "1024"), "ratio_vs_photonas"])


def test_markdown_lists_every_method_and_stage() -> None:
    text = speed_markdown(speed_table(RAW))
    for needle in ("| photonas | 2 | 1 |", "| reinhard | 0.5 | 0.25 |", "| photonas | 512 | preset | 1.5 | 1.5 |"):
        assert needle in text, needle
    assert speed_markdown(speed_table({"benchmarks": []})).startswith("## Speed")
