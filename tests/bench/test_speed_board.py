"""The speed tables from speed entries with known numbers; the files and the entry point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bench.speed_board import main, speed_markdown, speed_table, write_speed


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


def test_write_speed_writes_the_entries_and_their_tables(tmp_path: Path) -> None:
    table = write_speed(tmp_path, RAW["benchmarks"], {"device": "cpu", "cpu_count": 2, "torch": "t", "processor": "x"})
    raw = json.loads((tmp_path / "speed.json").read_text())
    assert raw["benchmarks"] == RAW["benchmarks"] and raw["machine_info"]["cpu_count"] == 2 and raw["datetime"]
    columns = ["method", "stage", "size", "device", "precision", "median_s", "iqr_s", "rounds", "peak_mb"]
    columns += ["ratio_vs_photonas", "ratio_vs_own_encoder"]
    assert list(pd.read_csv(tmp_path / "speed.csv").columns) == list(table.columns) == columns
    assert "Machine: x, 2 CPUs, torch t." in (tmp_path / "speed.md").read_text()


def test_entry_point_times_the_named_methods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sizes", "64", "--device", "cpu", "--methods", "reinhard,mk", "--out", str(tmp_path)]) == 0
    speed = pd.read_csv(tmp_path / "speed.csv")
    assert list(speed["method"]) == ["reinhard", "mk"] and (speed["rounds"] == 5).all() and (speed["median_s"] > 0).all()
    assert "| reinhard |" in capsys.readouterr().out
    assert main(["--sizes", "64,huge", "--device", "cpu", "--out", str(tmp_path)]) == 2
