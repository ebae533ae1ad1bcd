"""``train/evaluate.py`` run in-process on a generated DPST-like folder with a small untrained model."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import gradient_photo as _photo
from helpers import label_halves as _halves
from PIL import Image

from photonas.arch import PHOTONAS
from photonas.model import StyleTransferModel
from train import evaluate

CONTENT_SIZE = (64, 48)  # (width, height)
STYLE_SIZE = (48, 64)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def dpst(tmp_path: Path) -> Path:
    """A DPST-like folder with pairs 01 and 02."""
    root = tmp_path / "dpst"
    for folder in ("content", "style", "content_seg", "style_seg"):
        (root / folder).mkdir(parents=True)
    for pair in (1, 2):
        _photo(CONTENT_SIZE, pair).save(root / "content" / f"{pair:02d}.jpg", quality=95)
        _photo(STYLE_SIZE, 10 + pair).save(root / "style" / f"{pair:02d}.jpg", quality=95)
        _halves(CONTENT_SIZE).save(root / "content_seg" / f"{pair:02d}.png")
        _halves(STYLE_SIZE).save(root / "style_seg" / f"{pair:02d}.png")
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_psnr_matches_mse_formula() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.8, (24, 32, 3)).astype(np.float32)
    noisy = image + rng.choice([-0.01, 0.01], image.shape).astype(np.float32)
    mse = float(np.mean((noisy.astype(np.float64) - image) ** 2))
    assert evaluate.psnr(image, noisy) == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)
    assert evaluate.psnr(image, noisy) == pytest.approx(40.0, abs=1e-3)
    assert evaluate.psnr(image, image) == math.inf
    assert evaluate.ssim(image, image) == pytest.approx(1.0)


def test_summarize_names_worst_image() -> None:
    rows = [
        {"image": "01.jpg", "width": 8, "height": 8, "psnr": 30.0, "ssim": 0.9, "seconds": 0.5},
        {"image": "02.jpg", "width": 8, "height": 8, "psnr": 20.0, "ssim": 0.95, "seconds": 0.25},
        {"image": "03.jpg", "width": 8, "height": 8, "psnr": 25.0, "ssim": 0.8, "seconds": 0.25},
    ]
    summary = evaluate.summarize(rows)
    assert summary["psnr_mean"] == pytest.approx(25.0) and summary["psnr_median"] == 25.0
    assert (summary["psnr_worst"], summary["psnr_worst_image"]) == (20.0, "02.jpg")
    assert (summary["ssim_worst"], summary["ssim_worst_image"]) == (0.8, "03.jpg")
    assert summary["total_seconds"] == pytest.approx(1.0)


def test_main_writes_csv_summary_and_grid(model_dir: Path, dpst: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["--model", model_dir, "--data", dpst, "--long-side", 64, "--pairs", "1,2", "--out", out, "--device", "cpu", "--no-progress"]
    assert evaluate.main([str(a) for a in argv]) == 0

    rows = _rows(out / "reconstruction.csv")
    assert [r["image"] for r in rows] == ["01.jpg", "02.jpg"]
    assert list(rows[0]) == ["image", "width", "height", "psnr", "ssim", "seconds"]
    assert all((int(r["width"]), int(r["height"])) == (64, 48) for r in rows)
    assert all(math.isfinite(float(r["psnr"])) and -1 <= float(r["ssim"]) <= 1 for r in rows)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 2 and summary["device"] == "cpu"
    assert summary["psnr_worst_image"] in ("01.jpg", "02.jpg")

    with Image.open(out / "samples.png") as grid:
        cell = 64  # min(long side, MAX_CELL)
        assert grid.size == (4 * cell, 2 * (cell + evaluate.LABEL_HEIGHT))
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["01_masked.png", "01_output.png", "02_masked.png", "02_output.png"]


def test_evaluate_reconstruction_reuses_loaded_model(model_dir: Path, dpst: Path) -> None:
    model = StyleTransferModel.from_pretrained(model_dir)
    table = evaluate.evaluate_reconstruction(model, dpst / "content", 32, "cpu", progress=False)
    rows = table.to_dict("records")
    assert [(r["image"], r["width"], r["height"]) for r in rows] == [("01.jpg", 32, 24), ("02.jpg", 32, 24)]


def test_missing_data_is_a_usage_error(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main(["--model", str(model_dir), "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nowhere" in err


def test_model_without_weights_fails_clearly(dpst: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "untrained"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"code": str(PHOTONAS)}))
    argv = ["--model", str(folder), "--data", str(dpst), "--pairs", "1,2", "--out", str(tmp_path / "out")]
    assert evaluate.main(argv) == 1
    assert "no trained decoder found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_limit_cuts_photos_and_pairs(model_dir: Path, dpst: Path, tmp_path: Path) -> None:
    """``--limit 1`` keeps the first photo and the first pair named, here pair 02 (not the first photo's)."""
    out = tmp_path / "out"
    argv = ["--model", model_dir, "--data", dpst, "--limit", 1, "--long-side", 32, "--pairs", "2,1", "--out", out,
            "--device", "cpu", "--no-progress"]  # fmt: skip
    assert evaluate.main([str(a) for a in argv]) == 0
    rows = _rows(out / "reconstruction.csv")
    assert [(r["image"], int(r["width"]), int(r["height"])) for r in rows] == [("01.jpg", 32, 24)]
    assert math.isfinite(float(rows[0]["psnr"]))
    with Image.open(out / "samples.png") as grid:
        assert grid.size == (4 * 32, 32 + evaluate.LABEL_HEIGHT)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["02_masked.png", "02_output.png"]
