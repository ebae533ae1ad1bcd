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
smoothing the content statistics of the transfers did not help on pans and zooms, so it
lives in the benchmark as an experiment (``bench/stats_smoothing.py``), not here. Frames are
decoded, stylised and encoded one at a time: memory does not grow with length.

Example:
    >>> from photonas import stylize_video
    >>> stylize_video("in.mp4", "style.jpg", "out.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from photonas.api import ModelSource, StyleSource, is_preset, load_model, style_preset
from photonas.highres import find_regions, fit_photo_mapping, stylize_highres
from photonas.masks import AUTO, check_style_regions
from photonas.model import StyleTransferModel
from photonas.options import WORK_SIDE, Options
from photonas.refine import ColourMapping
from photonas.style import StyleStats
from photonas.transforms import resize_labels

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


class StableStylizer:
    """Stylise consecutive frames of one video so that they do not flicker (see the module docstring).

    Args:
        model: the network.
        style: the style, summarised once for ``model``.
        options: the stylisation's settings, as for a photo. ``options.raw`` stylises every
            frame on its own with the raw network output, as ``photonas.stylize(raw=True)``
            would (the paper's output; it flickers); ``alpha`` is then the transfers' feature
            blend, else a blend with the frame.
        smoothing: share of the previous frame's colour maps kept, in [0, 1).
        auto_regions: label every frame with the automatic regions ``style`` holds (made with
            ``style_preset(style_mask="auto")``): every frame is compared with the same style
            clusters, so regions do not flicker.
    """

    def __init__(
        self,
        model: StyleTransferModel,
        style: StyleStats,
        options: Options = Options(),
        *,
        smoothing: float = DEFAULT_SMOOTHING,
        auto_regions: bool = False,
    ) -> None:
        model.check_style_stats(style)
        check_style_regions(style, auto=auto_regions)
        self.regions = style.regions if auto_regions else None
        self.model, self.style, self.options = model, style, options
        self.smoothing = check_smoothing(smoothing)
        self._mapping: ColourMapping | None = None
        self._thumb: Tensor | None = None

    def reset(self) -> None:
        """Forget the previous frames (start of a new shot or a new video)."""
        self._mapping = self._thumb = None

    def _raw(self, frame: Tensor) -> Tensor:
        """The frame's raw network output, as ``stylize(raw=True)`` gives it."""
        labels, options = None, self.options
        if self.regions is not None:
            side = min(options.max_side, WORK_SIDE) if options.mode == "exact" else options.max_side
            labels = resize_labels(find_regions(self.model, frame, self.regions, side), frame.shape[-2:])
        return stylize_highres(self.model, frame, self.style, options, content_labels=labels)

    def __call__(self, frame: Tensor) -> Tensor:
        """One ``(1, 3, H, W)`` frame in [0, 1] → its stylisation, ``(1, 3, H, W)`` float32."""
        thumb = F.adaptive_avg_pool2d(frame.float(), _THUMB)
        if self._thumb is not None and (thumb - self._thumb).abs().mean() > CUT_THRESHOLD:
            self.reset()
        self._thumb = thumb
        if self.options.raw:
            return self._raw(frame)
        mapping, labels = fit_photo_mapping(self.model, frame, self.style, self.options, regions=self.regions)
        self._mapping = mapping.blend(self._mapping, self.smoothing)
        return self._mapping.apply(frame, labels, alpha=self.options.alpha)


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
    method: str = "wct",
    device: str | torch.device | None = None,
    crf: int = 18,
    progress: bool = True,
    auto_regions: bool = False,
    options: Options | None = None,
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
        method: ``"wct"`` or ``"adain"``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default CUDA, then MPS, then CPU.
        crf: H.264 quality (0 lossless … 51 worst; 18 looks lossless).
        progress: show a progress bar on stderr.
        auto_regions: pair regions of the frames and the style automatically
            (:mod:`photonas.regions`): the style is clustered once and every frame labelled
            against the same clusters. A preset must have been made with ``style_mask="auto"``.
        options: alpha, method, mode, max_side and the output (``raw=not stable``) at once, as
            one :class:`~photonas.options.Options` (then leave those at their defaults).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is not a video, or an argument is out of range.
        ModuleNotFoundError: PyAV is not installed.
    """
    av = require_av()
    options = Options.given(options, alpha=alpha, method=method, raw=not stable, mode=mode, max_side=max_side)
    check_smoothing(smoothing)
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    output = Path(output)
    if output.resolve() == Path(source).resolve():
        raise ValueError(f"'{output}' would overwrite its input")
    net = load_model(model, device, options.precision)
    dev = net.device
    auto = AUTO if auto_regions and not is_preset(style) else None
    stats = style_preset(style, net, style_mask=auto, max_side=options.max_side)
    stylizer = StableStylizer(net, stats, options, smoothing=smoothing, auto_regions=auto_regions)
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
            bar = tqdm(total=video.frames or None, desc="stylising", unit="frame", disable=not progress, file=sys.stderr)
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
