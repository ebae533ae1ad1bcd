"""Stylise a video frame by frame without flicker: PyAV in and out, audio passed through.

Per-frame stylisation flickers for two reasons. The network is not shift-equivariant (its
pooling grid and decoder leave fine, frame-specific detail), so a camera move changes the
texture of every pixel; and every WCT whitens with the statistics of the frame at hand. The
stable path (:class:`StableStylizer`, the default) is the photo-faithful output of
:mod:`photonas.refine` carried over time: the network decides *what colours go where*, each
frame's result is fitted as calibrated local colour maps, the maps are averaged with the
previous frame's (reset at a cut), and applied to the frame itself. The output is then a
smooth function of the input, and inherits its temporal coherence.

Measured on synthetic camera moves (``bench/video.py``, ``bench/results/``): the projection
alone cuts the flow-warping error several times, and carrying the maps over cuts it further;
smoothing the content statistics of the transfers (``stats_smoothing``) did not help on pans
and zooms, so it is off by default. Frames are decoded, stylised and encoded one at a time:
memory does not grow with length.

Example:
    >>> from photonas import stylize_video
    >>> stylize_video("in.mp4", "style.jpg", "out.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from photonas.api import ModelSource, StyleSource, load_model, style_preset
from photonas.colour_grid import apply_colour_grid, fit_colour_grid, resize_long_side
from photonas.highres import check_mode, default_mode, stylize_highres
from photonas.highres.stats import Moments, NormTable, transfer_map
from photonas.io import image_to_tensor, load_image
from photonas.model import StyleTransferModel
from photonas.padding import crop, pad_to_grid
from photonas.refine import PIXELS, ColourMapping, Refinement, fit_mapping
from photonas.regions import RegionMatcher, fit_regions
from photonas.style import StyleStats
from photonas.transforms import WCTConfig

#: Share of the previous frame's colour maps kept in each frame's (0: each frame its own maps).
DEFAULT_SMOOTHING = 0.5
#: Mean absolute difference of 32×32 thumbnails above which a frame starts a new shot: the
#: carried maps are dropped rather than blended across the cut.
CUT_THRESHOLD = 0.12
_THUMB = 32


def require_av():
    """The ``av`` module (PyAV), or a ModuleNotFoundError saying how to install it."""
    try:
        import av
    except ModuleNotFoundError:
        raise ModuleNotFoundError("video needs PyAV: pip install 'photonas[video]' (or pip install av)") from None
    return av


def check_smoothing(smoothing: float, name: str = "smoothing") -> float:
    """Smoothing as a float in [0, 1)."""
    try:
        value = float(smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {smoothing!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {smoothing}")
    return value


class SmoothedStatistics:
    """Stylise frames with the content statistics of every transfer and instance norm averaged over frames.

    Per transfer position and encoder level, the running moments of the content features are
    blended with each frame's own (weight ``1 - smoothing``) before use. ``smoothing=0`` is
    plain per-frame stylisation. Whole frames only (no tiling).
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

    def reset(self) -> None:
        """Forget the history (a new shot)."""
        self._running.clear()

    def _smoothed(self, key: str, feat: Tensor) -> Moments:
        current = Moments.of(feat)
        previous = self._running.get(key)
        smoothed = current if previous is None or self.smoothing == 0 else previous.blend(current, self.smoothing)
        self._running[key] = smoothed
        return smoothed

    def __call__(self, frame: Tensor) -> Tensor:
        """One ``(1, 3, H, W)`` frame in [0, 1] → its stylisation, ``(1, 3, H, W)`` float32."""
        padded, box = pad_to_grid(frame)
        feats = self.model.encode(padded)
        norms = NormTable()
        for level, feat in feats.items():
            norms.add(feat, self._smoothed(level, feat))

        def transfer(point: str, x: Tensor) -> Tensor:
            stats = self._smoothed(point, x)
            mapping = transfer_map(stats, self.style, point, self.method, self.alpha, self.config)
            y = mapping(x)
            norms.add(y, mapping.moments_of_output(stats))
            return y

        return crop(self.model.decode(feats, transfer, norm_stats=norms), box).float()


def _thumbnail(frame: Tensor) -> Tensor:
    return F.adaptive_avg_pool2d(frame.float(), _THUMB)


class StableStylizer:
    """Stylise consecutive frames of one video so that they do not flicker (see the module docstring).

    Args:
        model: the network.
        style: the style, summarised once for ``model``.
        alpha: style strength in [0, 1] (stable: a blend with the frame; per frame: the
            transfers' feature blend).
        method: ``"wct"`` or ``"adain"``.
        mode: ``"exact"``: the network sees the whole frame (in tiles above ``max_side²``
            pixels); ``"fast"``: the frame scaled to ``max_side`` on its long side. Default:
            fast for the stable path, exact per frame.
        max_side: tile size (exact) or working resolution (fast, default 512 stable, 1024 per frame).
        stable: False stylises every frame on its own with the raw network output, as
            ``photonas.stylize(raw=True)`` would (the paper's output; it flickers).
        smoothing: share of the previous frame's colour maps kept, in [0, 1).
        stats_smoothing: share of the content statistics carried over, in [0, 1) (0: off).
        refinement: settings of the photo-faithful colour maps (stable path).
        regions: automatic regions fitted on the style (:func:`photonas.regions.fit_regions`,
            with ``style`` made from its labels): every frame is labelled against the same
            style clusters, so regions do not flicker. Not with ``stats_smoothing``.
        config: regularisation of the whitening.
    """

    def __init__(
        self,
        model: StyleTransferModel,
        style: StyleStats,
        *,
        alpha: float = 1.0,
        method: str = "wct",
        mode: str | None = None,
        max_side: int | None = None,
        stable: bool = True,
        smoothing: float = DEFAULT_SMOOTHING,
        stats_smoothing: float = 0.0,
        refinement: Refinement = Refinement(),
        regions: RegionMatcher | None = None,
        config: WCTConfig = WCTConfig(),
    ) -> None:
        model.check_style_stats(style)
        if regions is not None and stats_smoothing:
            raise ValueError("automatic regions and stats_smoothing do not combine: choose one")
        if regions is not None:  # stray patches of automatic labels: one grid hides them (photonas.refine)
            refinement = replace(refinement, separate_regions=False)
        self.regions = regions
        self.mode = default_mode(raw=not stable) if mode is None else mode
        self.max_side = check_mode(self.mode, max_side, raw=not stable)
        self.model, self.style, self.stable, self.alpha, self.refinement = model, style, stable, alpha, refinement
        self.smoothing = check_smoothing(smoothing)
        # the stable path blends with the frame in pixels; the per-frame path blends features
        self._kwargs = {"alpha": 1.0 if stable else alpha, "method": method, "config": config}
        self._statistics = (
            SmoothedStatistics(model, style, smoothing=stats_smoothing, **self._kwargs) if stats_smoothing else None
        )
        self._mapping: ColourMapping | None = None
        self._thumb: Tensor | None = None

    def reset(self) -> None:
        """Forget the previous frames (start of a new shot or a new video)."""
        self._mapping = self._thumb = None
        if self._statistics is not None:
            self._statistics.reset()

    def _labels(self, work: Tensor) -> Tensor | None:
        """The frame's automatic region labels ``(1, h, w)``, or None without regions."""
        if self.regions is None:
            return None
        padded, box = pad_to_grid(work)
        return self.regions.label(self.model.encode(padded), box, padded)

    def _network(self, work: Tensor, labels: Tensor | None = None) -> Tensor:
        if self._statistics is not None:
            return self._statistics(work)
        return stylize_highres(
            self.model, work, self.style, mode="exact", max_side=self.max_side, content_labels=labels, **self._kwargs
        )

    def __call__(self, frame: Tensor) -> Tensor:
        """One ``(1, 3, H, W)`` frame in [0, 1] → its stylisation, ``(1, 3, H, W)`` float32."""
        thumb = _thumbnail(frame)
        if self._thumb is not None and (thumb - self._thumb).abs().mean() > CUT_THRESHOLD:
            self.reset()
        self._thumb = thumb
        work = frame if self.mode == "exact" else resize_long_side(frame, self.max_side)
        labels = self._labels(work)
        styled = self._network(work, labels).float()
        if not self.stable:  # the raw output; fast mode carries it to full size on a fine grid
            return styled if work is frame else apply_colour_grid(fit_colour_grid(work.float(), styled), frame)
        mapping = fit_mapping(
            frame, styled, style_pixels=self.style.points.get(PIXELS), content_labels=labels, settings=self.refinement
        )
        self._mapping = mapping.blend(self._mapping, self.smoothing)
        return self._mapping.apply(frame, alpha=self.alpha)


def _style_regions(net: StyleTransferModel, style: StyleSource, max_side: int) -> tuple[RegionMatcher, np.ndarray]:
    """Automatic regions of the style photo at ``max_side``: the matcher frames are labelled with, and its labels."""
    if isinstance(style, StyleStats) or str(style).endswith(".safetensors"):
        raise ValueError("automatic regions need the style photo, not a style preset: pass the image")
    dev = net.device
    small = resize_long_side(image_to_tensor(load_image(style, name="style image").flattened()).to(dev), max_side)
    padded, box = pad_to_grid(small)
    with torch.inference_mode():
        matcher, labels = fit_regions(net.encode(padded), box, style_image=padded)
    return matcher, labels[0].cpu().numpy()


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`stylize_video` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    fps: Fraction
    audio: bool


def _open_input(av, source: str | os.PathLike):
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"video '{path}' not found")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise ValueError(f"'{path}' is not a readable video ({err.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"'{path}' has no video stream")
    return container


def _frame_rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise ValueError("the video does not say its frame rate")
    return Fraction(rate)


def _frame_count(stream) -> int | None:
    return stream.frames or None


def _decoded(container, video, audio) -> Iterator[tuple[str, object]]:
    """("video", frame) and ("audio", packet) in file order, one at a time."""
    streams = [video] + ([audio] if audio is not None else [])
    for packet in container.demux(*streams):
        if packet.stream.type == "audio":
            if packet.dts is not None:
                yield "audio", packet
            continue
        for frame in packet.decode():  # demux ends with an empty packet, whose decode flushes
            yield "video", frame


def stylize_video(
    source: str | os.PathLike,
    style: StyleSource,
    output: str | os.PathLike,
    model: ModelSource = "photonas",
    *,
    alpha: float = 1.0,
    mode: str | None = None,
    max_side: int | None = None,
    stable: bool = True,
    smoothing: float = DEFAULT_SMOOTHING,
    stats_smoothing: float = 0.0,
    method: str = "wct",
    device: str | torch.device | None = None,
    crf: int = 18,
    progress: bool = True,
    auto_regions: bool = False,
) -> VideoInfo:
    """Stylise every frame of ``source`` and write ``output`` with the same size, rate and audio.

    Args:
        source: the input video (any container and codec FFmpeg reads).
        style: a style photo, or a style preset (statistics or its ``.safetensors`` file).
        output: the video to write (``.mp4``, ``.mkv``, ``.mov``: H.264; audio copied as is).
        model: ``"photonas"`` (default), ``"photonet"``, a folder, a Hub repo id, or a model.
        alpha: style strength in [0, 1].
        mode: ``"exact"``: the network sees each whole frame (in tiles above ``max_side²``
            pixels); ``"fast"``: it sees the frame scaled to ``max_side``. Default: fast for
            the stable path, exact per frame.
        max_side: tile size (exact) or working resolution (fast), see :func:`photonas.stylize`.
        stable: True (default): the photo-faithful output (:mod:`photonas.refine`), every
            frame the input frame under calibrated local colour maps fitted to the network's
            result and carried across frames (no flicker); False: each frame's raw network
            output, as ``photonas.stylize(raw=True)`` gives it (the paper's; flickers).
        smoothing: share of the previous frame's colour maps kept, in [0, 1) (stable only).
        stats_smoothing: share of the transfers' content statistics carried from frame to
            frame, in [0, 1); 0 (default) is off: it did not reduce flicker in our measurements.
        method: ``"wct"`` or ``"adain"``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default CUDA, then MPS, then CPU.
        crf: H.264 quality (0 lossless … 51 worst; 18 looks lossless).
        progress: show a progress bar on stderr.
        auto_regions: pair regions of the frames and the style automatically
            (:mod:`photonas.regions`): the style is clustered once and every frame labelled
            against the same clusters. Needs the style photo, not a preset.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is not a video, or an argument is out of range.
        ModuleNotFoundError: PyAV is not installed.
    """
    av = require_av()
    mode = default_mode(raw=not stable) if mode is None else mode
    max_side = check_mode(mode, max_side, raw=not stable)
    check_smoothing(smoothing)
    check_smoothing(stats_smoothing, "stats_smoothing")
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    output = Path(output)
    if output.resolve() == Path(source).resolve():
        raise ValueError(f"'{output}' would overwrite its input")
    net = load_model(model, device)
    dev = net.device
    regions = None
    if auto_regions:
        regions, style_labels = _style_regions(net, style, max_side)
        stats = style_preset(style, net, style_mask=style_labels, max_side=max_side)
    else:
        stats = style if isinstance(style, StyleStats) else style_preset(style, net, max_side=max_side)
    stylizer = StableStylizer(
        net,
        stats,
        alpha=alpha,
        method=method,
        mode=mode,
        max_side=max_side,
        stable=stable,
        smoothing=smoothing,
        stats_smoothing=stats_smoothing,
        regions=regions,
    )
    container = _open_input(av, source)
    try:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = _frame_rate(video)
        width, height = video.codec_context.width, video.codec_context.height
        count = 0
        with av.open(str(output), "w") as out:
            encoder = out.add_stream("libx264", rate=fps)
            encoder.width, encoder.height = width, height
            encoder.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            encoder.options = {"crf": str(int(crf))}
            copied = out.add_stream_from_template(audio) if audio is not None else None
            bar = tqdm(total=_frame_count(video), desc="stylising", unit="frame", disable=not progress, file=sys.stderr)
            with bar, torch.inference_mode():
                for kind, item in _decoded(container, video, audio):
                    if kind == "audio":
                        item.stream = copied
                        out.mux(item)
                        continue
                    rgb = torch.from_numpy(item.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].to(dev)
                    frame = rgb.float().div_(255)
                    result = stylizer(frame)
                    array = result[0].mul(255).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy()
                    styled = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
                    styled.pts = count
                    styled.time_base = Fraction(1) / fps
                    out.mux(encoder.encode(styled))
                    count += 1
                    bar.update()
            out.mux(encoder.encode(None))
    finally:
        container.close()
    if count == 0:
        raise ValueError(f"'{source}' holds no video frames")
    return VideoInfo(output, count, width, height, fps, audio is not None)
