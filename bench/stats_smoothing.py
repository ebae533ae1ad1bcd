"""Experiment, not in the library: video with the transfers' content statistics averaged over frames.

Every WCT whitens with the statistics of the frame at hand, so one idea against flicker is to
carry those statistics (and the decoder's instance-norm statistics) over frames.
``bench/video.py`` measured it on synthetic pans and zooms, alone and under the stable path's
colour maps: it did not reduce flicker, so :mod:`photonas.video` does not offer it. It lives
here so that the measurement can be repeated.
"""

from __future__ import annotations

from torch import Tensor

from photonas.highres.stats import NormTable, output_moments
from photonas.model import StyleTransferModel
from photonas.padding import crop, pad_to_grid
from photonas.refine import PIXELS, ColourMapping, Refinement, fit_mapping
from photonas.style import StyleStats
from photonas.transforms import GLOBAL, Moments, WCTConfig
from photonas.video import DEFAULT_SMOOTHING, check_smoothing


class SmoothedStatistics:
    """Stylise whole frames with the content statistics of every transfer and instance norm averaged over frames.

    Per transfer position and encoder level, the running moments of the content features are
    blended with each frame's own (weight ``1 - smoothing``) before use. ``smoothing=0`` is
    plain per-frame stylisation.
    """

    def __init__(
        self,
        model: StyleTransferModel,
        style: StyleStats,
        *,
        alpha: float = 1.0,
        method: str = "wct",
        smoothing: float = 0.5,
        config: WCTConfig = WCTConfig(),
    ) -> None:
        model.check_style_stats(style)
        self.model, self.style, self.alpha, self.method, self.config = model, style.to("cpu"), alpha, method, config
        self.smoothing = check_smoothing(smoothing, "stats_smoothing")
        self._running: dict[str, Moments] = {}

    def _smoothed(self, key: str, feat: Tensor) -> Moments:
        current = Moments.of(feat)
        previous = self._running.get(key)
        smoothed = current if previous is None or self.smoothing == 0 else previous.blend(current, self.smoothing)
        self._running[key] = smoothed
        return smoothed

    def __call__(self, frame: Tensor) -> Tensor:
        """One ``(1, 3, H, W)`` frame in [0, 1] → its raw stylisation, ``(1, 3, H, W)`` float32."""
        padded, box = pad_to_grid(frame)
        feats = self.model.encode(padded)
        norms = NormTable()
        for level, feat in feats.items():
            norms.add(feat, self._smoothed(level, feat))

        def transfer(point: str, x: Tensor) -> Tensor:
            stats = self._smoothed(point, x)
            mapping = stats.transfer_map(self.style.points[point][GLOBAL], self.method, self.alpha, self.config)
            y = mapping(x)
            norms.add(y, output_moments(mapping, stats))
            return y

        return crop(self.model.decode(feats, transfer, norm_stats=norms), box).float()


class SmoothedStylizer:
    """Frames through :class:`SmoothedStatistics`; with ``maps`` set, also through the stable path's
    colour maps carried over frames (``maps`` of the previous frame's kept), like
    :class:`photonas.video.StableStylizer` with the network's statistics smoothed as well."""

    def __init__(
        self, model: StyleTransferModel, style: StyleStats, *, stats: float = 0.5, maps: float | None = DEFAULT_SMOOTHING
    ) -> None:
        self.network = SmoothedStatistics(model, style, smoothing=stats)
        self.style, self.maps = style, maps
        self._mapping: ColourMapping | None = None

    def __call__(self, frame: Tensor) -> Tensor:
        styled = self.network(frame)
        if self.maps is None:
            return styled
        mapping = fit_mapping(frame, styled, style_pixels=self.style.points.get(PIXELS), settings=Refinement())
        self._mapping = mapping.blend(self._mapping, self.maps)
        return self._mapping.apply(frame)
