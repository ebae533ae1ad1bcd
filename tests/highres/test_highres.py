"""photonas.highres: exact mode tiling past max_side² pixels, fast ≈ exact, the API and CLI modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import gradient_photo, photo_tensor
from PIL import Image
from skimage.metrics import structural_similarity

import photonas
from photonas import PhotoNAS, StyleTransferModel, highres
from photonas.cli import main
from photonas.colour_grid import resize_long_side
from photonas.highres import stylize_highres
from photonas.options import Options
from photonas.presets import EXAMPLES_DIR

pytestmark = pytest.mark.usefixtures("one_thread")


def test_exact_mode_tiles_by_pixel_count(untrained: StyleTransferModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long, thin image within max_side² pixels runs in one piece; one past it goes to the tiler."""
    style = untrained.style_stats(photo_tensor(gradient_photo((64, 48), seed=5)))
    tiled = []
    monkeypatch.setattr(highres, "stylize_tiled", lambda *args, **kwargs: tiled.append(args[1].shape) or args[1])
    with torch.inference_mode():
        stylize_highres(untrained, torch.rand(1, 3, 32, 112), style, Options(raw=True, max_side=64))  # 3584 ≤ 4096 pixels
        assert tiled == []
        stylize_highres(untrained, torch.rand(1, 3, 48, 112), style, Options(raw=True, max_side=64))  # 5376 > 4096
        assert tiled == [(1, 3, 48, 112)]


def test_fast_mode_close_to_exact() -> None:
    """Shipped PhotoNAS weights, a photo at 384 px and fast mode at a third of it."""
    model = PhotoNAS.from_pretrained()
    content = resize_long_side(photo_tensor(Image.open(EXAMPLES_DIR / "rocket.jpg")), 384)
    style = model.style_stats(resize_long_side(photo_tensor(Image.open(EXAMPLES_DIR / "coffee.jpg")), 256))
    with torch.inference_mode():
        exact = stylize_highres(model, content, style, Options(raw=True, mode="exact"))
        fast = stylize_highres(model, content, style, Options(raw=True, mode="fast", max_side=128))
    a, b = (x[0].permute(1, 2, 0).numpy() for x in (exact, fast))
    assert structural_similarity(a, b, channel_axis=2, data_range=1.0) > 0.75
    assert np.abs(a - b).mean() < 0.05


def test_api_modes(untrained: StyleTransferModel) -> None:
    content, style = gradient_photo((480, 320), seed=6), gradient_photo((48, 48), seed=7)
    fast = photonas.stylize(content, style, untrained, mode="fast", max_side=64)
    assert fast.size == (480, 320)
    with pytest.raises(ValueError, match="mode must be one of"):
        photonas.stylize(content, style, untrained, mode="tiled")
    labels = np.zeros((320, 480), np.int64)
    labels[:, 240:] = 1
    style_labels = np.zeros((48, 48), np.int64)
    style_labels[:, 24:] = 1
    tiled = photonas.stylize(content, style, untrained, masks=(labels, style_labels), mode="exact", max_side=384)
    assert tiled.size == (480, 320)  # 480×320 px > 384²: 12 tiles


def test_cli_mode_options(tmp_path: Path, model_dir: Path, write_image, capsys: pytest.CaptureFixture[str]) -> None:
    content = write_image(gradient_photo((160, 96), seed=8), "content.png")
    style = write_image(gradient_photo((48, 48), seed=9), "style.png")
    out = tmp_path / "out.png"
    assert (
        main(
            [
                "stylize",
                str(content),
                str(style),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--mode",
                "fast",
                "--max-side",
                "64",
            ]
        )
        == 0
    )
    assert Image.open(out).size == (160, 96)
    assert main(["stylize", str(content), str(style), "-o", str(out), "--mode", "quick"]) == 2
    assert main(["stylize", str(content), str(style), "-o", str(out), "--max-side", "8"]) == 2
    assert "max_side must be at least 32 px" in capsys.readouterr().err
