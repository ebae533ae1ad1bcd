"""High-resolution modes: tiles cover the image, tiled = untiled, the colour grid, fast ≈ exact, API errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import structural_similarity

import photonas
from photonas import PhotoNAS, StyleTransferModel, highres
from photonas.cli import main
from photonas.colour_grid import apply_colour_grid, fit_colour_grid, resize_long_side
from photonas.highres import check_mode, stylize_highres
from photonas.highres.stats import NormTable
from photonas.highres.tiled import plan_tiles, stylize_tiled
from photonas.transforms import Moments
from tests.helpers import gradient_photo

pytestmark = pytest.mark.usefixtures("one_thread")
EXAMPLES = Path(__file__).resolve().parents[1] / "photonas" / "examples"


def _tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def untrained(model_dir: Path) -> StyleTransferModel:
    return StyleTransferModel.from_pretrained(model_dir)


def test_plan_tiles_cover_the_image_once() -> None:
    tiles = plan_tiles(320, 480, tile=384, halo=128)
    covered = np.zeros((320, 480), int)
    for tile in tiles:
        top, left, h, w = tile.core
        covered[top : top + h, left : left + w] += 1
        otop, oleft, oh, ow = tile.outer
        assert otop <= top and oleft <= left and otop + oh >= top + h and oleft + ow >= left + w
        assert max(oh, ow) <= 384 and all(v % 16 == 0 for v in (*tile.core, *tile.outer))
    assert (covered == 1).all()


def test_plan_tiles_rejects_a_tile_without_core() -> None:
    with pytest.raises(ValueError, match="at least 272"):
        plan_tiles(512, 512, tile=256, halo=128)


def test_moments_merge_like_one_piece() -> None:
    feat = torch.randn(1, 8, 12, 20, generator=torch.Generator().manual_seed(0)) * 3 + 5
    merged = Moments.of(feat[..., :7, :]).merge(Moments.of(feat[..., 7:, :]))
    whole = Moments.of(feat)
    torch.testing.assert_close(merged.mean, whole.mean)
    torch.testing.assert_close(merged.cov, whole.cov, rtol=1e-5, atol=1e-5)


def test_norm_table_gives_known_features_their_statistics_and_refuses_others() -> None:
    feat, other = torch.rand(1, 4, 6, 5), torch.rand(1, 4, 6, 5)
    whole = torch.rand(1, 4, 12, 5)
    table = NormTable()
    table.add(feat, Moments.of(whole))
    mean, var = table(feat)
    torch.testing.assert_close(mean, whole.mean(dim=(2, 3)))
    torch.testing.assert_close(var, whole.var(dim=(2, 3), correction=0))
    with pytest.raises(RuntimeError, match="statistics are unknown"):
        table(other)


def test_tiled_equals_untiled(untrained: StyleTransferModel) -> None:
    """PhotoNAS's code: BFA and INSL instance norms, a skip and an in-decoder transfer (three passes)."""
    content = _tensor(gradient_photo((370, 250), seed=4))  # off the 16-px grid: padding too
    style = untrained.style_stats(_tensor(gradient_photo((64, 48), seed=5)))
    with torch.inference_mode():
        whole = untrained.stylize(content, style)
        tiled = stylize_tiled(untrained, content, style, tile=384, halo=128)
        assert len(plan_tiles(256, 384, 384, 128)) > 1
        torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)


def test_tiled_with_regions_equals_untiled(untrained: StyleTransferModel) -> None:
    """Region masks: each region's whole-image statistics, a label the style lacks and a region
    too small for its own statistics falling back to the global transfer, as in one piece."""
    content = _tensor(gradient_photo((370, 250), seed=4))
    labels = torch.zeros(1, 250, 370, dtype=torch.long)
    labels[:, :, 180:] = 1
    labels[:, 200:, :] = 2  # not in the style
    labels[:, 10:40, 10:40] = 3  # in the style, but only 30×30 px: under min_pixels at the deeper levels
    style_image = _tensor(gradient_photo((64, 48), seed=5))
    style_labels = torch.zeros(1, 48, 64, dtype=torch.long)
    style_labels[:, :, 32:] = 1
    style_labels[:, :24, :24] = 3
    style = untrained.style_stats(style_image, style_labels, min_pixels=4)
    with torch.inference_mode():
        whole = untrained.stylize(content, style, content_labels=labels)
        tiled = stylize_tiled(untrained, content, style, content_labels=labels, tile=384, halo=128)
        plain = stylize_tiled(untrained, content, style, tile=384, halo=128)
        torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)
        assert (tiled - plain).abs().max() > 1e-2  # the regions changed the result
        with pytest.raises(ValueError, match="content labels are"):
            stylize_tiled(untrained, content, style, content_labels=labels[..., :-1], tile=384, halo=128)
        with pytest.raises(ValueError, match=">= 0"):
            stylize_tiled(untrained, content, style, content_labels=labels - 2, tile=384, halo=128)


def test_exact_mode_tiles_by_pixel_count(untrained: StyleTransferModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long, thin image within max_side² pixels runs in one piece; one past it goes to the tiler."""
    style = untrained.style_stats(_tensor(gradient_photo((64, 48), seed=5)))
    tiled = []
    monkeypatch.setattr(highres, "stylize_tiled", lambda *args, **kwargs: tiled.append(args[1].shape) or args[1])
    with torch.inference_mode():
        stylize_highres(untrained, torch.rand(1, 3, 32, 112), style, max_side=64)  # 3584 ≤ 4096 pixels
        assert tiled == []
        stylize_highres(untrained, torch.rand(1, 3, 48, 112), style, max_side=64)  # 5376 > 4096
        assert tiled == [(1, 3, 48, 112)]


def test_colour_grid_reproduces_an_affine_change() -> None:
    photo = _tensor(Image.open(EXAMPLES / "chelsea.jpg"))
    matrix = torch.tensor([[0.8, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.2, 0.7]])
    target = (torch.einsum("ij,bjhw->bihw", matrix, photo) + 0.05).clamp(0, 1)
    small = resize_long_side(photo, 96)
    grid = fit_colour_grid(small, resize_long_side(target, 96))
    assert (apply_colour_grid(grid, photo) - target).abs().mean() < 2e-3


def test_fast_mode_close_to_exact() -> None:
    """Shipped PhotoNAS weights, a photo at 384 px and fast mode at a third of it."""
    model = PhotoNAS.from_pretrained()
    content = resize_long_side(_tensor(Image.open(EXAMPLES / "rocket.jpg")), 384)
    style = model.style_stats(resize_long_side(_tensor(Image.open(EXAMPLES / "coffee.jpg")), 256))
    with torch.inference_mode():
        exact = stylize_highres(model, content, style, mode="exact")
        fast = stylize_highres(model, content, style, mode="fast", max_side=128)
    a, b = (x[0].permute(1, 2, 0).numpy() for x in (exact, fast))
    assert structural_similarity(a, b, channel_axis=2, data_range=1.0) > 0.75
    assert np.abs(a - b).mean() < 0.05


@pytest.mark.parametrize(
    ("mode", "max_side", "message"),
    [
        ("slow", None, "mode"),
        ("fast", 16, "at least 32"),
        ("exact", 500.5, "whole number"),
        ("fast", True, "whole number"),
    ],
)
def test_bad_mode_or_max_side(mode: str, max_side: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_mode(mode, max_side)  # type: ignore[arg-type]


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
    assert "--max-side" in capsys.readouterr().err
