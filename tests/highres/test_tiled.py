"""photonas.highres.tiled: the tiles cover the image once, and tiled equals untiled (with and without regions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import gradient_photo, photo_tensor

from photonas import StyleTransferModel
from photonas.highres.tiled import plan_tiles, stylize_tiled

pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_tiled_equals_untiled(untrained: StyleTransferModel) -> None:
    """PhotoNAS's code: BFA and INSL instance norms, a skip and an in-decoder transfer (three passes)."""
    content = photo_tensor(gradient_photo((370, 250), seed=4))  # off the 16-px grid: padding too
    style = untrained.style_stats(photo_tensor(gradient_photo((64, 48), seed=5)))
    with torch.inference_mode():
        whole = untrained.stylize(content, style)
        tiled = stylize_tiled(untrained, content, style, tile=384, halo=128)
        assert len(plan_tiles(256, 384, 384, 128)) > 1
        torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)


def test_tiled_with_regions_equals_untiled(untrained: StyleTransferModel) -> None:
    """Region masks: each region's whole-image statistics, a label the style lacks and a region
    too small for its own statistics falling back to the global transfer, as in one piece."""
    content = photo_tensor(gradient_photo((370, 250), seed=4))
    labels = torch.zeros(1, 250, 370, dtype=torch.long)
    labels[:, :, 180:] = 1
    labels[:, 200:, :] = 2  # not in the style
    labels[:, 10:40, 10:40] = 3  # in the style, but only 30×30 px: under min_pixels at the deeper levels
    style_image = photo_tensor(gradient_photo((64, 48), seed=5))
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
