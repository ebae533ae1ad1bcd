"""Decoder training on generated photos: the schedule, the run, its exports, resuming and DDP.

Every run here is a handful of steps of the smallest decoder (code ``"0" * 32``) on 32-px
crops, on CPU with one thread and no DataLoader workers, so runs are deterministic.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import photonas.training.decoder as decoder_training
from photonas import StyleTransferModel
from photonas.training.decoder import TrainConfig, checkpoint_config, learning_rate, train
from photonas.training.loop import CHECKPOINT_NAME, LOG_NAME, RUN_CONFIG_NAME, load_checkpoint
from train import train_decoder

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "train" / "train_decoder.py"
SMALLEST = "0" * 32


pytestmark = pytest.mark.usefixtures("one_thread")


def _config(data: Path, out: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(
        code=SMALLEST, data=str(data), out=str(out), steps=6, batch_size=2, crop=32, lr=1e-3, warmup=2,
        checkpoint_every=3, val_every=0, val_images=2, device="cpu", workers=0, threads=1,
    )
    return dataclasses.replace(base, **changes)


def _args(config: TrainConfig) -> list[str]:
    """train_decoder.py options for ``config``."""
    return [
        "--code", config.code, "--data", config.data, "--out", config.out, "--steps", str(config.steps),
        "--batch-size", str(config.batch_size), "--crop", str(config.crop), "--lr", str(config.lr),
        "--warmup", str(config.warmup), "--checkpoint-every", str(config.checkpoint_every),
        "--val-every", str(config.val_every), "--val-images", str(config.val_images), "--device", "cpu",
        "--workers", "0", "--threads", "1",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _log(out: Path) -> list[dict[str, str]]:
    with open(out / LOG_NAME, newline="") as f:
        return list(csv.DictReader(f))


def _last_step(out: Path) -> int:
    """The last step in the log (0 before any); tolerates a row being written."""
    steps = [int(r["step"]) for r in _log(out) if r["step"]] if (out / LOG_NAME).exists() else []
    return max(steps, default=0)


def _checkpoint_step(path: Path) -> int:
    with safe_open(str(path), framework="pt") as f:
        return int(f.metadata()["step"])


def _stray_temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix == ".tmp"]


def _assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key



# ---- schedule ----------------------------------------------------------------------------


def test_learning_rate_warms_up_then_decays_to_floor():
    config = TrainConfig(steps=20, warmup=5, lr=1e-3, min_lr_ratio=0.1)
    rates = [learning_rate(config, s) for s in range(config.steps + 1)]
    assert rates[:5] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert max(rates) == pytest.approx(1e-3) and rates[5] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[5:], rates[6:]))
    assert rates[-1] == pytest.approx(1e-4) and learning_rate(config, 50) == pytest.approx(1e-4)
    middle = 5 + (config.steps - 5) / 2  # half-way through the cosine: half-way between peak and floor
    assert learning_rate(config, middle) == pytest.approx((1e-3 + 1e-4) / 2)
    assert learning_rate(dataclasses.replace(config, min_lr_ratio=1.0), 17) == pytest.approx(1e-3)



# ---- a run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory) -> tuple[TrainConfig, Path]:
    """A 12-step run with validation every 6 steps."""
    config = _config(photos, tmp_path_factory.mktemp("run") / "out", steps=12, checkpoint_every=5, val_every=6)
    return config, train(config)


def test_training_lowers_loss_and_exports(trained):
    config, final = trained
    out = Path(config.out)
    assert final == out / "final"
    rows = _log(out)
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    losses = [float(r["loss"]) for r in rows]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2])
    assert [int(r["step"]) for r in rows if r["val_psnr"]] == [6, 12]
    assert float(rows[0]["lr"]) == pytest.approx(learning_rate(config, 0))
    assert {p.name for p in out.iterdir()} >= {CHECKPOINT_NAME, LOG_NAME, RUN_CONFIG_NAME, "final"}
    assert _checkpoint_step(out / CHECKPOINT_NAME) == 12  # the final step is checkpointed too
    assert checkpoint_config(out / CHECKPOINT_NAME) == config
    assert TrainConfig.from_json((out / RUN_CONFIG_NAME).read_text()) == config
    assert not _stray_temps(out)

    model = StyleTransferModel.from_pretrained(final)
    assert str(model.code) == SMALLEST
    weights = load_file(str(final / "model.safetensors"))
    with safe_open(str(out / CHECKPOINT_NAME), framework="pt") as f:
        saved = {k.removeprefix("decoder."): f.get_tensor(k) for k in f.keys() if k.startswith("decoder.")}
    _assert_same_tensors(weights, saved)
    _assert_same_tensors(weights, model.decoder.state_dict())

    # load_checkpoint restores decoder, Adam state and the step.
    fresh = StyleTransferModel(SMALLEST)
    optimizer = torch.optim.Adam(fresh.decoder.parameters(), lr=1.0)
    assert load_checkpoint(out / CHECKPOINT_NAME, fresh.decoder, optimizer) == 12
    _assert_same_tensors(fresh.decoder.state_dict(), weights)
    state = optimizer.state_dict()
    assert len(state["state"]) == len(list(fresh.decoder.parameters()))
    assert all(float(s["step"]) == 12 for s in state["state"].values())
    assert tuple(state["param_groups"][0]["betas"]) == config.betas

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (out / "loss.png").exists()  # plot_losses skips without matplotlib
    else:
        assert (out / "loss.png").stat().st_size > 0


def test_new_run_refuses_existing_checkpoint(trained):
    config, _ = trained
    before = (Path(config.out) / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(FileExistsError, match="--resume"):
        train(config)
    assert (Path(config.out) / CHECKPOINT_NAME).read_bytes() == before


def test_resume_without_checkpoint_exits_2(tmp_path, capsys):
    assert train_decoder.main(["--out", str(tmp_path / "nothing"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_config(tmp_path, tmp_path / "nothing"), resume=True)


def test_sigkilled_run_resumes_to_the_uninterrupted_result(photos, tmp_path):
    steps, every = 9, 3
    straight = _config(photos, tmp_path / "a", steps=steps, checkpoint_every=every)
    train(straight)

    killed = dataclasses.replace(straight, out=str(tmp_path / "b"))
    out = Path(killed.out)
    checkpoint = out / CHECKPOINT_NAME
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), *_args(killed)], cwd=REPO, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        # Kill mid-interval: after the first checkpoint and one more logged step.
        while not (checkpoint.exists() and _checkpoint_step(checkpoint) >= every and _last_step(out) > every):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    reached = _last_step(out)
    saved = _checkpoint_step(checkpoint)
    assert saved < steps, "the run finished before it was killed: nothing was resumed"
    assert saved % every == 0 and 0 <= reached - saved <= every  # at most one interval lost

    resumed = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", killed.out, "--resume", "--device", "cpu", "--workers", "0", "--threads", "1"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert _checkpoint_step(checkpoint) == steps
    assert not _stray_temps(out) and not _stray_temps(Path(straight.out))

    # Bit-exact: CPU, one thread, no workers, and every crop and learning rate a function of the step.
    _assert_same_tensors(
        load_file(str(out / "final" / "model.safetensors")), load_file(str(Path(straight.out) / "final" / "model.safetensors"))
    )
    expected = {int(r["step"]): r["loss"] for r in _log(Path(straight.out))}
    got = {int(r["step"]): r["loss"] for r in _log(out)}
    assert got == expected


def test_resumed_log_has_each_step_once(photos, tmp_path, monkeypatch):
    config = _config(photos, tmp_path / "out", steps=6, checkpoint_every=3)
    real = decoder_training.learning_rate

    def crash_at_step_4(cfg: TrainConfig, step: int) -> float:
        if step == 4:  # the 5th step: steps 1-4 are logged, the checkpoint holds step 3
            raise RuntimeError("simulated crash")
        return real(cfg, step)

    monkeypatch.setattr(decoder_training, "learning_rate", crash_at_step_4)
    with pytest.raises(RuntimeError, match="simulated"):
        train(config)
    monkeypatch.setattr(decoder_training, "learning_rate", real)
    assert _checkpoint_step(Path(config.out) / CHECKPOINT_NAME) == 3
    train(config, resume=True)
    assert [int(r["step"]) for r in _log(Path(config.out))] == list(range(1, 7))


# ---- DDP -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_cpu_processes(photos, tmp_path):
    config = _config(photos, tmp_path / "ddp", steps=4, checkpoint_every=2, val_every=4)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}", str(SCRIPT), *_args(config),
    ]  # fmt: skip
    env = _env()
    if sys.platform == "linux":  # gloo otherwise binds to whatever the hostname resolves to
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("final model:") == 2  # both ranks finished
    out = Path(config.out)
    rows = _log(out)  # one writer: each step once, rank 0's throughput counts both ranks
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [int(r["epoch"]) for r in rows] == [0, 0, 1, 1]  # 9 photos: 4 per rank, 2 batches of 2
    assert rows[-1]["val_psnr"] and all(math.isfinite(float(r["loss"])) for r in rows)
    assert _checkpoint_step(out / CHECKPOINT_NAME) == 4 and not _stray_temps(out)
    model = StyleTransferModel.from_pretrained(out / "final")
    with torch.no_grad():
        assert torch.isfinite(model.reconstruct(torch.rand(1, 3, 32, 32))).all()


def test_data_without_held_out_photos_trains_without_validation(photos: Path, tmp_path: Path) -> None:
    train_only = tmp_path / "train_only"
    train_only.mkdir()
    for path in sorted(photos.glob("img_*.jpg"))[:4]:
        (train_only / path.name).write_bytes(path.read_bytes())
    config = _config(train_only, tmp_path / "out", steps=2, val_every=1)
    with pytest.warns(UserWarning, match="without validation"):
        train(config)
    assert all(row["val_psnr"] == "" for row in _log(tmp_path / "out"))
