"""The shipped weights: present, small enough to travel, strict to load, and actually trained."""

import json

import pytest
import torch
from safetensors import safe_open

from photonas.hub import WEIGHTS_NAME
from photonas.io import image_to_tensor, load_image
from photonas.model import PhotoNAS, PhotoNet
from photonas.presets import EXAMPLES_DIR, PRESETS, WEIGHTS_DIR
from photonas.training.metrics import psnr

# A photo the package ships (photonas/examples/README.md), so the check runs on a fresh clone.
_PHOTO = EXAMPLES_DIR / "rocket.jpg"
# Reconstruction PSNR floors (dB) on that photo at 512 px, about 2 dB under what the shipped weights
# measure there (PhotoNAS 22.50 dB, PhotoNet 23.07 dB; an untrained decoder 5.4 dB), so a broken
# export or loader fails loudly.
_FLOORS = {"photonas": 20.5, "photonet": 21.0}
_SHIPPED = [name for name in PRESETS if (PRESETS[name].weights_dir / WEIGHTS_NAME).is_file()]


def test_shipped_weights_fit_in_the_budget():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*.safetensors"))
    assert total <= 24e6, f"shipped weights are {total / 1e6:.1f} MB, over 24 MB"


@pytest.mark.parametrize("name", _SHIPPED)
def test_shipped_folder_is_complete(name):
    folder = PRESETS[name].weights_dir
    assert json.loads((folder / "config.json").read_text())["code"] == str(PRESETS[name].code)
    assert (folder / "README.md").is_file(), "every shipped file has a model card"
    with safe_open(str(folder / WEIGHTS_NAME), "pt") as f:
        assert not any(k.startswith(("encoder", "block")) for k in f.keys()), "decoder only"


@pytest.mark.parametrize("name", _SHIPPED)
def test_shipped_weights_reconstruct_a_photo(name):
    model = {"photonas": PhotoNAS, "photonet": PhotoNet}[name].from_pretrained()
    x = image_to_tensor(load_image(_PHOTO).rgb)
    x = torch.nn.functional.interpolate(x, scale_factor=512 / max(x.shape[-2:]), mode="area")
    with torch.inference_mode():
        y = model.reconstruct(x).clamp(0, 1)
    db = psnr(x, y)
    assert db > _FLOORS[name], f"{name}: {db:.2f} dB"
