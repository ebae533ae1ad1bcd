"""Decoder training on generated photos: data, schedule, losses, the loop, resuming and DDP.

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
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open
from safetensors.torch import load_file

import photonas.checkpoint
import photonas.training.loop as loop
from photonas import StyleTransferModel
from photonas.checkpoint import atomic_path, save_safetensors_atomic
from photonas.training.data import EpochSampler, RandomCrops, list_photos
from photonas.training.losses import ReconstructionLoss, normalised_feature_mse
from photonas.training.loop import (
    CHECKPOINT_NAME,
    LOG_NAME,
    RUN_CONFIG_NAME,
    TrainConfig,
    checkpoint_config,
    learning_rate,
    train,
)
from train import train_decoder

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "train" / "train_decoder.py"
SMALLEST = "0" * 32
N_VAL = 3  # val_* photos in the generated folder
N_PHOTOS = 12


pytestmark = pytest.mark.usefixtures("one_thread")


def _photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth gradient, an ellipse and a rectangle, plus noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    rgb = np.stack([x, y, 1 - x * y], axis=-1) * rng.uniform(0.4, 1.0, 3)
    image = Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255))
    draw = ImageDraw.Draw(image)
    x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    draw.ellipse((x0, y0, x0 + width // 3, y0 + height // 3), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw.rectangle((width - x0 - 10, height - y0 - 8, width - x0, height - y0), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.uint8(np.clip(noisy, 0, 255)))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 photos, 64x48 and 40x56, JPEG and PNG; the first 3 are held-out ``val_*.jpg``."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()  # list_photos searches recursively
    for i in range(N_PHOTOS):
        size = (64, 48) if i % 2 else (40, 56)
        if i < N_VAL:
            name = f"val_{i}.jpg"
        else:
            name = f"sub/img_{i}.png" if i % 3 == 0 else f"img_{i}.jpg"
        _photo(size, i).save(folder / name, quality=95)
    (folder / "notes.txt").write_text("not a photo")
    return folder


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


# ---- data ----------------------------------------------------------------------------------


def test_list_photos_holds_out_val(photos, tmp_path):
    train_set, val_set, every = (list_photos(photos, s) for s in ("train", "val", "all"))
    assert [p.name for p in val_set] == [f"val_{i}.jpg" for i in range(N_VAL)]
    assert len(train_set) == N_PHOTOS - N_VAL and not any(p.name.startswith("val_") for p in train_set)
    assert any(p.parent.name == "sub" for p in train_set)
    assert sorted(every) == sorted(train_set + val_set) and every == sorted(every)
    with pytest.raises(FileNotFoundError, match="not found"):
        list_photos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no photos here")
    with pytest.raises(FileNotFoundError, match="no train photos"):
        list_photos(tmp_path / "empty")
    with pytest.raises(ValueError, match="split"):
        list_photos(photos, "test")


def test_random_crops_are_reproducible_per_epoch(photos, tmp_path):
    files = list_photos(photos, "all")
    crops = RandomCrops(files, 32, seed=3)
    first = [crops[i] for i in range(len(crops))]
    for item in first:
        assert item.shape == (3, 32, 32) and item.dtype == torch.float32
        assert 0 <= item.min() and item.max() <= 1
    again = RandomCrops(files, 32, seed=3)
    assert all(torch.equal(again[i], first[i]) for i in range(len(files)))
    crops.set_epoch(1)
    assert all(not torch.equal(crops[i], first[i]) for i in range(len(files)))
    crops.set_epoch(0)
    assert torch.equal(crops[5], first[5])
    # Smaller than the crop on both sides: upscaled, not an error.
    _photo((20, 12), 0).save(tmp_path / "tiny.png")
    tiny = RandomCrops([tmp_path / "tiny.png"], 32, seed=0)
    assert tiny[0].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="scale"):
        RandomCrops(files, 32, scale=(0.5, 1.5))


def test_epoch_sampler_shards_and_resumes():
    length, seed = 9, 4
    ranks = [EpochSampler(length, seed, rank, world_size=2) for rank in (0, 1)]
    assert ranks[0].per_rank == 4
    orders = []
    for epoch in (0, 1):
        shards = []
        for sampler in ranks:
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1]) == 4
        assert not set(shards[0]) & set(shards[1])
        assert len(set(shards[0] + shards[1])) == 8 and set(shards[0] + shards[1]) <= set(range(length))
        orders.append(shards)
    assert orders[0] != orders[1]
    for start in range(5):
        ranks[1].set_epoch(1, start)
        assert list(ranks[1]) == orders[1][1][start:] and len(ranks[1]) == 4 - start
    alone = EpochSampler(length, seed)
    alone.set_epoch(2)
    assert sorted(alone) == list(range(length))


# ---- schedule and losses -------------------------------------------------------------------


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


class _CountingEncoder(torch.nn.Module):
    """Features that scale with the input; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, image: torch.Tensor, last: str = "relu5_1") -> dict[str, torch.Tensor]:
        self.calls += 1
        return {"relu1_1": image * 3, "relu2_1": image[:, :, ::2, ::2] * 100}


def test_reconstruction_loss():
    levels = ("relu1_1", "relu2_1")
    target = torch.rand(2, 3, 16, 16)
    encoder = _CountingEncoder()
    loss = ReconstructionLoss(encoder, pixel_weight=1.0, feature_weight=0.5, levels=levels)
    same = loss(target.clone(), target)
    assert same.total.item() == 0 and same.pixel.item() == 0 and same.feature.item() == 0

    output = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    parts = loss(output, target)
    assert parts.total.item() == pytest.approx(parts.pixel.item() + 0.5 * parts.feature.item(), rel=1e-6)
    assert parts.feature > 0 and not parts.pixel.requires_grad
    parts.total.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0

    # Scale-free: the level whose activations are 33x larger counts as much as the other.
    out_feats, target_feats = encoder(output.detach()), encoder(target)
    plain = normalised_feature_mse(out_feats, target_feats, levels)
    scaled = normalised_feature_mse({k: 10 * v for k, v in out_feats.items()}, {k: 10 * v for k, v in target_feats.items()}, levels)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)
    one = normalised_feature_mse(out_feats, target_feats, levels[:1])
    assert normalised_feature_mse(out_feats, target_feats, levels[1:]).item() == pytest.approx(one.item(), rel=0.5)

    encoder.calls = 0
    pixel_only = ReconstructionLoss(encoder, feature_weight=0.0, levels=levels)(output, target)
    assert encoder.calls == 0 and pixel_only.feature.item() == 0
    assert pixel_only.total.item() == pytest.approx(parts.pixel.item())


# ---- the loop ------------------------------------------------------------------------------


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
    assert loop.load_checkpoint(out / CHECKPOINT_NAME, fresh.decoder, optimizer) == 12
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
    real = loop.learning_rate

    def crash_at_step_4(cfg: TrainConfig, step: int) -> float:
        if step == 4:  # the 5th step: steps 1-4 are logged, the checkpoint holds step 3
            raise RuntimeError("simulated crash")
        return real(cfg, step)

    monkeypatch.setattr(loop, "learning_rate", crash_at_step_4)
    with pytest.raises(RuntimeError, match="simulated"):
        train(config)
    monkeypatch.setattr(loop, "learning_rate", real)
    assert _checkpoint_step(Path(config.out) / CHECKPOINT_NAME) == 3
    train(config, resume=True)
    assert [int(r["step"]) for r in _log(Path(config.out))] == list(range(1, 7))


# ---- atomic writes -------------------------------------------------------------------------


def test_interrupted_safetensors_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt" / "weights.safetensors"
    save_safetensors_atomic({"w": torch.ones(3)}, path, {"step": "1"})
    before = path.read_bytes()
    if os.name == "posix":  # umask permissions, not the owner-only ones of the temporary file
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask

    def crash(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str] | None = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(photonas.checkpoint, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_safetensors_atomic({"w": torch.zeros(3)}, path, {"step": "2"})
    assert path.read_bytes() == before and torch.equal(load_file(str(path))["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    with pytest.raises(OSError):
        save_safetensors_atomic({"w": torch.zeros(3)}, tmp_path / "never.safetensors")
    assert not (tmp_path / "never.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_atomic_path_replaces_only_on_success(tmp_path):
    path = tmp_path / "deep" / "file.txt"
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_text("first")
    assert path.read_text() == "first"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert path.read_text() == "first"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]


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
