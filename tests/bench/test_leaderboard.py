"""The leaderboard from known records: means, ratios, ranks, statuses, the Markdown and the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.leaderboard import (
    GRID_CELL,
    UNTRAINED_PSNR,
    by_mask_mode_markdown,
    head_to_head_markdown,
    leaderboard_markdown,
    quality_rank,
    sample_grid,
    summarise,
    write_results,
)
from bench.methods import Skipped
from bench.pairs import Pair

FACTS = {"device": "cpu", "cpu_count": 2, "torch": "t", "processor": "x"}
SETTINGS = {"pairs": "1-2", "long_side": 64, "masks": "both"}


def _record(pair: str, masked: bool, method: str, seconds: float, quality: float) -> dict:
    """A record whose every metric is better the larger ``quality`` is."""
    return {
        "pair": pair, "masks": masked, "method": method, "kind": "x", "seconds": seconds,
        "edge_ssim": quality, "ssim": quality, "gram_loss": 1 - quality, "swd_lab": 10 * (1 - quality),
        "artifact_energy": (1 - quality) / 10,
    }  # fmt: skip


RECORDS = [
    _record("01", False, "photonas", 2.0, 0.9),
    _record("02", False, "photonas", 4.0, 0.5),  # photonas beats mk on 01 and loses on 02
    _record("01", False, "mk", 1.0, 0.6),
    _record("02", False, "mk", 1.0, 0.6),
    _record("01", False, "reinhard", 0.5, 0.1),
]


def test_quality_rank_orders_by_mean_metric_rank() -> None:
    table = pd.DataFrame(
        {
            "edge_ssim": [0.9, 0.5, 0.7],  # ↑
            "ssim": [0.9, 0.5, 0.7],
            "gram_loss": [0.1, 0.9, 0.5],  # ↓
            "swd_lab": [1.0, 9.0, 5.0],
            "artifact_energy": [0.0, 0.5, 0.2],
        }
    )
    assert list(quality_rank(table)) == [1.0, 3.0, 2.0]


def test_summarise_means_medians_and_ratios_over_photonas() -> None:
    table = summarise(RECORDS, [], ["photonas", "mk", "reinhard", "absent"]).set_index("method")
    assert list(table.index) == ["photonas", "mk", "reinhard"]  # a method with no records has no row
    assert table.loc["photonas", "median_s"] == pytest.approx(3.0) and table.loc["photonas", "n"] == 2
    assert table.loc["mk", "ratio_vs_photonas"] == pytest.approx(1 / 3)
    assert table.loc["photonas", "edge_ssim"] == pytest.approx(0.7)
    assert list(table["quality_rank"]) == [1.0, 2.0, 3.0]
    assert math.isnan(table.loc["mk", "region_swd_lab"])  # no record has the region distance


def test_untrained_and_skipped_rows_are_shown_but_not_ranked() -> None:
    recon = {"photonas": 30.0, "mk": UNTRAINED_PSNR - 1}
    table = summarise(RECORDS, [Skipped("photowct", "no weights")], ["photonas", "mk", "reinhard"], recon).set_index("method")
    assert table.loc["mk", "status"].startswith("untrained") and "train/train_decoder.py" in table.loc["mk", "status"]
    assert math.isnan(table.loc["mk", "quality_rank"]) and table.loc["reinhard", "quality_rank"] == 2.0
    assert table.loc["photowct", "status"] == "skipped: no weights" and table.loc["photowct", "n"] == 0


def test_markdown_has_every_row_and_escapes_pipes() -> None:
    table = summarise(RECORDS, [Skipped("photowct", "a | b")], ["photonas", "mk", "reinhard"])
    text = leaderboard_markdown(table, FACTS, SETTINGS)
    assert text.startswith("# Benchmark on cpu (2 CPUs, torch t)")
    assert "| edge_ssim ↑ |" in text and "| gram_loss ↓ |" in text
    assert "| photonas | 0.7 | 0.7 |" in text and "skipped: a \\| b" in text
    assert "| mk | off | 0.6 |" in by_mask_mode_markdown(RECORDS)


def test_head_to_head_counts_pairs_won() -> None:
    tie = [_record("03", False, "photonas", 1.0, 0.6), _record("03", False, "mk", 1.0, 0.6)]  # a tie is not a win
    text = head_to_head_markdown(RECORDS + tie)
    assert "on 1 of 3 pair and mask-mode cases (33%)" in text and "edge_ssim for photonas: 0.500" in text
    assert head_to_head_markdown(RECORDS, rival="wct") == ""  # no such rival in the records


def test_sample_grid_has_a_cell_per_pair_and_column(tmp_path: Path) -> None:
    pairs = [Pair(n, np.zeros((20, 30, 3), np.float32), np.ones((30, 20, 3), np.float32)) for n in ("01", "02")]
    outputs = {"01": {"mk": np.full((20, 30, 3), 0.5, np.float32)}}
    sample_grid(pairs, outputs, ["mk", "reinhard"], tmp_path / "grid" / "samples.png")
    grid = Image.open(tmp_path / "grid" / "samples.png")
    assert grid.width == 4 * GRID_CELL and grid.height == 2 * (GRID_CELL + 14)


def test_write_results_writes_every_file(tmp_path: Path) -> None:
    speed = pd.DataFrame(
        [{"method": "photonas", "stage": "end_to_end", "size": "64", "device": "cpu", "median_s": 0.1,
          "ratio_vs_photonas": 1.0, "ratio_vs_own_encoder": math.nan, "peak_mb": 1.0}]
    )  # fmt: skip
    write_results(tmp_path, RECORDS, [Skipped("photowct", "no weights")], FACTS, SETTINGS, ["photonas", "mk", "reinhard"], speed)
    payload = json.loads((tmp_path / "results.json").read_text())
    assert set(payload) == {"machine", "settings", "records", "skipped", "leaderboard"}
    assert len(payload["records"]) == len(RECORDS) and payload["skipped"] == [{"method": "photowct", "reason": "no weights"}]
    assert payload["leaderboard"][1]["region_swd_lab"] is None  # NaN is written as null
    assert len(pd.read_csv(tmp_path / "results.csv")) == len(RECORDS)
    board = (tmp_path / "leaderboard.md").read_text()
    assert "## By mask mode" in board and "## photonas against mk" in board and "## Speed" in board
    assert (tmp_path / "scatter.png").stat().st_size > 0
