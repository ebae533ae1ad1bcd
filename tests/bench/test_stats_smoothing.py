"""The frame-statistics smoothing experiment (moved out of the library, measured by bench/video.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.stats_smoothing import SmoothedStatistics, SmoothedStylizer
from photonas import StyleTransferModel


def _frames(n: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 40, 56, generator=gen)
    return [(base + 0.05 * i * torch.rand(base.shape, generator=gen)).clamp(0, 1) for i in range(n)]


def test_statistics_smoothing_changes_later_frames_only(model_dir: Path) -> None:
    model = StyleTransferModel.from_pretrained(model_dir)
    style = model.style_stats(torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)))
    frames = _frames(2)
    smooth, plain = SmoothedStatistics(model, style, smoothing=0.5), SmoothedStatistics(model, style, smoothing=0)
    with torch.inference_mode():
        torch.testing.assert_close(plain(frames[0]), model.stylize(frames[0], style).float(), atol=2e-4, rtol=0)
        torch.testing.assert_close(smooth(frames[0]), plain(frames[0]))
        assert (smooth(frames[1]) - plain(frames[1])).abs().max() > 1e-3
        mapped = SmoothedStylizer(model, style, stats=0.5, maps=0.5)
        for frame in frames:
            out = mapped(frame)
            assert out.shape == frame.shape and torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
