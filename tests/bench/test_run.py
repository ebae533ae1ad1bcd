"""``python -m bench --quick`` end to end on CPU (the entry point, :mod:`bench.run`), and the method rows it runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import gradient_photo

import photonas
from bench.methods import build_methods, parse_method_spec
from bench.pairs import Pair
from bench.run import main


@pytest.fixture(scope="module")
def quick_run(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quick run: a saved model as photonas (default output) and photonas-raw, two classical rows, a model whose
    weights are missing."""
    out = tmp_path_factory.mktemp("bench")
    missing = out / "no-such-model"
    methods = [f"photonas={model_dir}", f"photonas-raw={model_dir}", "reinhard", "mk", f"photonet={missing}"]
    argv = ["--quick", "--device", "cpu", "--out", str(out), "--methods", *methods]
    assert main(argv) == 0
    return out


def test_quick_writes_every_output(quick_run: Path) -> None:
    for name in ("results.json", "results.csv", "leaderboard.md", "scatter.png", "samples.png", "speed.json", "speed.csv"):
        assert (quick_run / name).stat().st_size > 0, name
    payload = json.loads((quick_run / "results.json").read_text())
    assert payload["machine"]["cpu_count"] >= 1 and payload["machine"]["torch"]
    assert {r["method"] for r in payload["records"]} == {"photonas", "photonas-raw", "reinhard", "mk"}
    frame = pd.read_csv(quick_run / "results.csv")
    assert len(frame) == 2 * 4  # two pairs, four methods, masks off
    for metric in ("edge_ssim", "ssim", "gram_loss", "swd_lab", "artifact_energy", "seconds"):
        assert frame[metric].notna().all(), metric


def test_missing_weights_is_a_skipped_row(quick_run: Path) -> None:
    payload = json.loads((quick_run / "results.json").read_text())
    (skip,) = payload["skipped"]
    assert skip["method"] == "photonet" and "no-such-model" in skip["reason"]
    assert "| photonet |" in (quick_run / "leaderboard.md").read_text()


def test_photonas_ratio_is_one(quick_run: Path) -> None:
    board = {row["method"]: row for row in json.loads((quick_run / "results.json").read_text())["leaderboard"]}
    assert board["photonas"]["ratio_vs_photonas"] == pytest.approx(1.0)
    assert board["reinhard"]["ratio_vs_photonas"] > 0


def test_methods_share_one_call(model_dir: Path) -> None:
    methods, skipped = build_methods([f"photonas={model_dir}", "adain", "wct", "histogram"], device="cpu")
    assert not skipped
    content = np.asarray(gradient_photo((40, 32), 0), np.float32) / 255
    style = np.asarray(gradient_photo((36, 30), 1), np.float32) / 255
    labels_c = np.zeros((32, 40), np.int64)
    labels_s = np.zeros((30, 36), np.int64)
    for method in methods:
        out = method.run(Pair("x", content, style, labels_c, labels_s))
        assert out.shape == content.shape and np.isfinite(out).all(), method.name
        assert 0.0 <= out.min() and out.max() <= 1.0


def test_spec_parsing() -> None:
    assert parse_method_spec("photonas=runs/x") == ("photonas", "runs/x")
    assert parse_method_spec("mk") == ("mk", None)
    with pytest.raises(ValueError, match="unknown method"):
        parse_method_spec("nope")


def test_bad_arguments_exit_with_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad pairs, sizes or methods, or no data, stop before anything runs or is written."""
    out = tmp_path / "out"
    for argv in (
        ["--pairs", "3-x"],
        ["--data", str(tmp_path), "--pairs", "1"],
        ["--quick", "--speed-sizes", "999"],
        ["--quick", "--methods", "nope"],
    ):
        assert main([*argv, "--device", "cpu", "--out", str(out)]) == 2, argv
        assert capsys.readouterr().err.startswith("error:"), argv
    assert not out.exists()


def test_quick_run_measures_speed(quick_run: Path) -> None:
    """The speed tables come first, in the same run: five timed rounds per call, medians, peak memory, ratios over PhotoNAS."""
    raw = json.loads((quick_run / "speed.json").read_text())
    assert raw["benchmarks"] and all(b["stats"]["rounds"] == 5 for b in raw["benchmarks"])
    speed = pd.read_csv(quick_run / "speed.csv")
    assert set(speed["method"]) == {"photonas", "photonas-raw", "reinhard", "mk"}  # photonet's weights are missing
    ends = speed[speed["stage"] == "end_to_end"].set_index("method")
    assert ends.loc["photonas", "ratio_vs_photonas"] == pytest.approx(1.0)
    assert (ends["median_s"] > 0).all() and ends["peak_mb"].notna().all()
    stages = speed[speed["method"] == "photonas-raw"].set_index("stage")  # the network's own stages
    assert set(stages.index) == {"end_to_end", "preset", "encoder", "transfers", "decoder"}
    assert stages.loc["encoder", "ratio_vs_own_encoder"] == pytest.approx(1.0)
    board = (quick_run / "leaderboard.md").read_text()
    assert "## Speed" in board and "quality_rank" in board


def test_auto_regions_row_is_the_library_path(model_dir: Path) -> None:
    """``photonas+auto`` without label maps gives what ``stylize(masks="auto")`` gives (to 8-bit rounding)."""
    (method,), skipped = build_methods([f"photonas+auto={model_dir}"], device="cpu")
    assert not skipped
    content = np.asarray(gradient_photo((40, 32), 0), np.float32) / 255
    style = np.asarray(gradient_photo((36, 30), 1), np.float32) / 255
    out = method.run(Pair("x", content, style))
    library = np.asarray(photonas.stylize(content, style, model=method.model, masks="auto"), np.float32) / 255
    assert out.shape == content.shape and np.abs(out - library).max() <= 1 / 255 + 1e-6
    with_maps = method.run(Pair("x", content, style, np.zeros((32, 40), np.int64), np.zeros((30, 36), np.int64)))
    assert with_maps.shape == content.shape and np.isfinite(with_maps).all()
