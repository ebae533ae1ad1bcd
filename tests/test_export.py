"""train/export_weights.py: shipped-weight export with a measured model card."""

from pathlib import Path

import pytest
import torch
from helpers import gradient_photo

from photonas.arch import PHOTONAS
from photonas.hub import WEIGHTS_NAME
from photonas.model import StyleTransferModel
from train import export_weights


@pytest.fixture(scope="module")
def val_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(2):
        gradient_photo((64, 48), i).save(folder / f"val_{i}.jpg")
    return folder


@pytest.mark.parametrize("dtype, max_mb", [("fp16", 12.5), ("int8", 6.5)])
def test_export_writes_loadable_weights_and_a_card(model_dir, val_photos, tmp_path, dtype, max_mb):
    dest = tmp_path / "weights"
    assert export_weights.main([str(model_dir), "--preset", "photonas", "--dtype", dtype, "--dest", str(dest), "--data", str(val_photos)]) == 0
    folder = dest / "photonas"
    assert (folder / WEIGHTS_NAME).stat().st_size < max_mb * 1e6
    card = (folder / "README.md").read_text()
    assert str(PHOTONAS) in card and f"{dtype} against the run's fp32 weights" in card
    exported = StyleTransferModel.from_pretrained(folder)
    original = StyleTransferModel.from_pretrained(model_dir)
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        err = (exported.reconstruct(x) - original.reconstruct(x)).abs().max()
    assert err < 0.05 * original.reconstruct(x).abs().max()


def test_export_refuses_a_model_of_another_code(model_dir, val_photos, tmp_path):
    assert export_weights.main([str(model_dir), "--preset", "photonet", "--dest", str(tmp_path), "--data", str(val_photos)]) == 2
