"""Stylise a video frame by frame without flicker: PyAV in and out, audio passed through.

Per-frame stylisation flickers because every WCT whitens with the covariance of the frame at
hand and every instance norm uses that frame's statistics: a camera move or a passing object
shifts them a little, and every pixel's colour with them. Here the style is summarised once,
and the content statistics at every transfer position and instance norm are an exponential
moving average over frames (:class:`StableStylizer`), so the colour mapping drifts smoothly.
Frames are decoded, stylised and encoded one at a time: memory does not grow with length.

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
from torch import Tensor
from tqdm import tqdm

from photonas.api import ModelSource, StyleSource, load_model, style_preset
from photonas.highres import check_mode
from photonas.highres.guided import apply_colour_grid, fit_colour_grid, resize_long_side
from photonas.highres.stats import Moments, NormTable, given_norms, transfer_map
from photonas.model import StyleTransferModel
from photonas.padding import crop, pad_to_grid
from photonas.style import StyleStats
from photonas.transforms import WCTConfig

#: Share of the running statistics kept at each frame: 0 is per-frame, 1 never updates. On our
#: synthetic clips (bench/video.py: a pan, a pan past a flashing light, a zoom with a brightness
#: ramp) every smoothing tried (0.3, 0.5, 0.8) *raised* the warping error with the interim
#: weights, so the default stays per-frame; the option is kept for measuring on real footage.
DEFAULT_SMOOTHING = 0.0


def _require_av():
    try:
        import av
    except ModuleNotFoundError:
        raise ModuleNotFoundError("video needs PyAV: pip install 'photonas[video]' (or pip install av)") from None
    return av


def check_smoothing(smoothing: float) -> float:
    """Smoothing as a float in [0, 1)."""
    try:
        value = float(smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    return value


class StableStylizer:
    """Stylise consecutive frames with content statistics smoothed across them.

    Keeps, per transfer position and per encoder level, the running moments of the content
    features; each frame's own moments are blended in with weight ``1 - smoothing`` before
    its transfers and instance norms use them. ``smoothing=0`` is plain per-frame
    stylisation (the same result as :meth:`StyleTransferModel.stylize`).

    Args:
        model: the network.
        style: the style, summarised once for ``model``.
        alpha: style strength in [0, 1].
        method: ``"wct"`` or ``"adain"``.
        smoothing: share of the running statistics kept at each frame, in [0, 1).
        config: regularisation of the whitening.
    """

    def __init__(
        self,
        model: StyleTransferModel,
        style: StyleStats,
        *,
        alpha: float = 1.0,
        method: str = "wct",
        smoothing: float = DEFAULT_SMOOTHING,
        config: WCTConfig = WCTConfig(),
    ) -> None:
        model.check_style_stats(style)
        self.model, self.style, self.alpha, self.method, self.config = model, style, alpha, method, config
        self.smoothing = check_smoothing(smoothing)
        self._running: dict[str, Moments] = {}

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
            mapping = transfer_map(stats, self.style.to("cpu"), point, self.method, self.alpha, self.config)
            y = mapping(x)
            norms.add(y, mapping.moments_of_output(stats))
            return y

        with given_norms(norms):
            return crop(self.model.decode(feats, transfer), box).float()


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
    mode: str = "exact",
    max_side: int | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    method: str = "wct",
    device: str | torch.device | None = None,
    crf: int = 18,
    progress: bool = True,
) -> VideoInfo:
    """Stylise every frame of ``source`` and write ``output`` with the same size, rate and audio.

    Args:
        source: the input video (any container and codec FFmpeg reads).
        style: a style photo, or a style preset (statistics or its ``.safetensors`` file).
        output: the video to write (``.mp4``, ``.mkv``, ``.mov``: H.264; audio copied as is).
        model: ``"photonas"`` (default), ``"photonet"``, a folder, a Hub repo id, or a model.
        alpha: style strength in [0, 1].
        mode: ``"exact"``: the network sees each whole frame; ``"fast"``: it sees the frame
            scaled to ``max_side`` (default 1024) and a guided colour map restores full
            resolution (see :func:`photonas.stylize`).
        max_side: working resolution of fast mode (exact mode runs whole frames).
        smoothing: share of the content statistics carried from frame to frame, in [0, 1);
            0 stylises every frame on its own (flickers).
        method: ``"wct"`` or ``"adain"``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default CUDA, then MPS, then CPU.
        crf: H.264 quality (0 lossless … 51 worst; 18 looks lossless).
        progress: show a progress bar on stderr.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is not a video, or an argument is out of range.
        ModuleNotFoundError: PyAV is not installed.
    """
    av = _require_av()
    max_side = check_mode(mode, max_side)
    smoothing = check_smoothing(smoothing)
    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    output = Path(output)
    if output.resolve() == Path(source).resolve():
        raise ValueError(f"'{output}' would overwrite its input")
    net = load_model(model, device)
    stats = style_preset(style, net) if not isinstance(style, StyleStats) else style
    dev = next(net.decoder.parameters()).device
    stylizer = StableStylizer(net, stats, alpha=alpha, method=method, smoothing=smoothing)
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
                    result = stylize_frame(stylizer, frame, mode, max_side)
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


def stylize_frame(stylizer: StableStylizer, frame: Tensor, mode: str, max_side: int) -> Tensor:
    """One frame: the whole frame (exact), or at ``max_side`` with a guided colour map (fast)."""
    if mode == "exact":
        return stylizer(frame)
    small = resize_long_side(frame, max_side)
    styled = stylizer(small)
    if small.shape[-2:] == frame.shape[-2:]:
        return styled
    return apply_colour_grid(fit_colour_grid(small, styled), frame)
