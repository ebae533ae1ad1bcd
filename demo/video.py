"""The video tab's request: a short clip stylised frame by frame by ``photonas.stylize_video``.

Shown only when photonas has ``stylize_video`` (``VIDEO``). Clips are capped in length: a CPU
takes seconds per frame even in fast mode.
"""

from __future__ import annotations

import time

import gradio as gr

import photonas
from demo.models import DEFAULT_CHOICE, MODEL_CHOICES, on_gpu
from demo.run import DEVICE, MODELS, download_path, fit, max_side, without_folders

VIDEO = hasattr(photonas, "stylize_video")
#: Longest clip accepted, in seconds.
MAX_SECONDS = 30.0 if DEVICE.type == "cuda" else 3.0


def clip_seconds(path: str) -> float:
    """The clip's length in seconds, read from its container (PyAV)."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError("the upload holds no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return (container.duration or 0) / av.time_base
    except av.error.FFmpegError as err:
        raise ValueError(f"the video cannot be read ({err})") from err


@on_gpu
def _stylize_video(video: str, style, choice: str, alpha: float, output: str, side: int):
    return photonas.stylize_video(
        video, style, output, model=MODELS[choice], alpha=alpha, mode="fast", max_side=side, progress=False
    )


def stylize_video_request(
    video: str | None, style: str | None, model: str = DEFAULT_CHOICE, alpha: float = 1.0
) -> tuple[str, str]:
    """Stylise ``video`` with ``style`` (fast mode at working size); returns the clip's path and a timing line."""
    if video is None or style is None:
        raise gr.Error("Upload a video and a style photo.")
    if model not in MODEL_CHOICES:
        raise gr.Error(f"Unknown model {model!r}: choose one of {', '.join(MODEL_CHOICES)}.")
    start = time.perf_counter()
    try:
        length = clip_seconds(video)
        if length > MAX_SECONDS:
            raise gr.Error(f"The clip is {length:.1f} s long; this demo stylises clips up to {MAX_SECONDS:g} s.")
        side = max_side()
        output = str(download_path(".mp4"))
        info = _stylize_video(video, fit(style, "style image", side), model, alpha, output, side)
    except gr.Error:
        raise
    except (ValueError, ModuleNotFoundError) as err:
        raise gr.Error(without_folders(str(err), video, style)) from err
    seconds = time.perf_counter() - start
    return output, (
        f"**{info.width}×{info.height} px**, {info.frames} frames in **{seconds:.1f} s** "
        f"on {DEVICE.type.upper()} ({model}, strength {alpha:.2f})"
    )
