"""train/train_baseline.py: trains every part, saves a loadable model with its training
facts, and resumes exactly. Tiny crops, CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import gradient_photo

from photonas.baselines import load_baseline
from train.train_baseline import BaselineTrainConfig, main, part_bounds, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(4):
        gradient_photo((48, 40), seed=i).save(folder / f"train_{i}.jpg")
    gradient_photo((48, 40), seed=9).save(folder / "val_0.jpg")
    return folder


def _config(photos: Path, out: Path, model: str = "photowct", steps: tuple[int, ...] = (1, 2, 1, 1)) -> BaselineTrainConfig:
    return BaselineTrainConfig(model=model, data=str(photos), out=str(out), steps=steps, batch_size=2, crop=32,
                               warmup=1, checkpoint_every=2, val_images=1)  # fmt: skip


@pytest.fixture(scope="module")
def whole(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run of every part."""
    return train(_config(photos, tmp_path_factory.mktemp("whole")))


def test_trains_every_part_and_saves_a_loadable_model(whole: Path) -> None:
    model = load_baseline(whole, "photowct")
    card = json.loads((whole / "config.json").read_text())["training"]
    assert list(card["parts"]) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    assert [p["steps"] for p in card["parts"].values()] == [1, 2, 1, 1] and card["total_steps"] == 5
    assert all(p["val_psnr"] is not None for p in card["parts"].values())
    with torch.no_grad():
        assert torch.isfinite(model.reconstruct(torch.rand(1, 3, 20, 20))).all()


def test_resume_is_exact(photos: Path, whole: Path, tmp_path: Path) -> None:
    # stopped inside relu2_1 (its optimiser state restored); relu3_1 and relu4_1 start after the resume
    config = _config(photos, tmp_path / "split")
    assert train(config, until=2) is None
    assert not (tmp_path / "split" / "model.safetensors").exists()
    resumed = load_baseline(train(config, resume=True))
    expected = load_baseline(whole).decoders.state_dict()
    for key, value in resumed.decoders.state_dict().items():
        assert torch.equal(expected[key], value), key


def test_refuses_to_overwrite_and_bad_steps(photos: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.safetensors").write_bytes(b"")
    with pytest.raises(FileExistsError, match="--resume"):
        train(_config(photos, tmp_path / "run"))
    with pytest.raises(ValueError, match="give that many --steps"):
        part_bounds(_config(photos, tmp_path / "x", steps=(1, 1)), ("relu1_1", "relu2_1", "relu3_1"))


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--resume", "--out", str(tmp_path / "none")])
    assert stop.value.code == 2 and "no" in capsys.readouterr().err
    assert main(["--model", "wct2", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
