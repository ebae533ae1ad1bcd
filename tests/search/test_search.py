"""The whole search on a miniature: end to end, resumed, and spread over two gloo processes.

Every run here scores 1 pair of 32-px crops of generated photos against the shipped
PhotoNet, on CPU with one thread, so runs are deterministic and take seconds.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_csv as read_history

from photonas.arch import ArchCode
from photonas.search.pareto import dominated_by
from photonas.search.run import SearchConfig, search
from photonas.training.decoder import TrainConfig
from train import search as search_script
from train import train_decoder

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "train" / "search.py"
#: What must come out the same however the search was run (latency and timing are measured).
SAME = ("index", "code", "phase", "cached", "pixel", "feature", "distance", "bits", "params", "total")


def _config(photos: Path, out: Path, **changes) -> SearchConfig:
    mini = SearchConfig(
        data=str(photos), out=str(out), population=4, sample=2, cycles=4, batch=2, pairs=1, pair_size=32,
        latency_size=32, latency_repeats=1, supernet_steps=2, supernet_batch=1, supernet_crop=32,
        finetune_top=1, finetune_steps=1, rank_check=3, rank_steps=1, device="cpu", threads=1,
    )  # fmt: skip
    return dataclasses.replace(mini, **changes)


def _same(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [tuple(r[k] for k in SAME) for r in rows]


@pytest.fixture(scope="module")
def finished(search_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SearchConfig, dict, float]:
    config = _config(search_photos, tmp_path_factory.mktemp("search") / "out")
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    summary = search(config)
    return config, summary, time.process_time() - started


def test_miniature_search_end_to_end(finished) -> None:
    config, summary, seconds = finished
    out = Path(config.out)
    assert seconds < 60
    for name in (
        "history.csv",
        "state.json",
        "supernet.safetensors",
        "pareto.csv",
        "pareto.png",
        "best_codes.csv",
        "finetuned.csv",
        "rank_check.csv",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    rows = read_history(out / "history.csv")
    assert [r["phase"] for r in rows] == ["reference"] * 2 + ["init"] * 4 + ["child"] * 4
    assert all(ArchCode.parse(r["code"]).is_canonical and float(r["latency_ms"]) > 0 for r in rows)
    assert summary["evaluated"] == 8 and summary["rank_check"]["candidates"] == 3
    assert -1 <= summary["rank_check"]["spearman"] <= 1
    assert set(summary["references"]) == {"PhotoNet", "PhotoNAS (published)"}
    with open(out / "pareto.csv", newline="") as f:
        front = [(float(r["distance"]), float(r["latency_ms"])) for r in csv.DictReader(f)]
    searched = {r["code"]: (float(r["distance"]), float(r["latency_ms"])) for r in rows if r["phase"] != "reference"}
    assert front and all(not dominated_by(p, list(searched.values())) for p in front)
    assert json.loads((out / "summary.json").read_text())["front"] == summary["front"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stopped_search_resumes_over_two_gloo_processes_to_the_same_history(
    finished, search_photos: Path, tmp_path: Path
) -> None:
    """Stop after the first batch, then resume under ``torchrun`` with 2 CPU processes: the
    history must be the one an uninterrupted single-process run wrote (resume + distribution)."""
    config, _, _ = finished
    stopped = _config(search_photos, tmp_path / "out", max_minutes=0.0, rank_check=0, finetune_top=0)
    summary = search(stopped)
    assert summary["stopped_early"] and summary["evaluated"] == 2
    with pytest.raises(FileExistsError, match="--resume"):
        search(stopped)
    with pytest.raises(ValueError, match="population"):
        search(dataclasses.replace(stopped, population=5), resume=True)

    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", str(SCRIPT), f"--out={stopped.out}", "--device=cpu", "--threads=1",
               "--resume"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if sys.platform == "linux":  # gloo otherwise binds to whatever the hostname resolves to
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)  # a hang, not load
    assert done.returncode == 0, done.stderr[-4000:]
    rows = read_history(tmp_path / "out" / "history.csv")
    resumed = [r for r in rows[4:] if r["cached"] == "0"]  # after the 2 references and the first batch
    assert {r["rank"] for r in resumed} == {"0", "1"}  # both processes evaluated candidates
    assert _same(rows) == _same(read_history(Path(config.out) / "history.csv"))
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["evaluated"] == 8


def test_script_resume_needs_a_state(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert search_script.main(["--out", str(tmp_path), "--resume"]) == 2
    assert "no search state" in capsys.readouterr().err


def test_found_codes_train_with_the_training_script() -> None:
    code = "01100000000100100000000000101001"
    args = train_decoder.build_parser().parse_args(["--code", code])
    assert TrainConfig(code=args.code).arch == ArchCode.parse(code)
