"""The video tab's request: a short clip stylised frame by frame by ``photonas.stylize_video``.

Clips are capped in frames,
counted by decoding: a CPU takes seconds per frame even in fast mode.
"""

from __future__ import annotations

import time

import gradio as gr

import photonas
from demo.models import DEFAULT_CHOICE, MODEL_CHOICES, on_gpu
from demo.run import DEVICE, MODELS, download_path, fit, max_side, without_folders

#: Most frames stylised per clip (a CPU takes seconds per frame even in fast mode): 3 s at
#: 30 fps on a CPU, 30 s on a GPU. Frames, not seconds, are what cost time, and counting them
#: needs no trust in the file's metadata (a raw H.264 stream records no duration at all).
MAX_FRAMES = 900 if DEVICE.type == "cuda" else 90


def limit_text() -> str:
    """The clip cap as a visitor reads it, e.g. "90 frames (about 3 s at 30 frames per second)"."""
    return f"{MAX_FRAMES} frames (about {MAX_FRAMES / 30:g} s at 30 frames per second)"


def count_frames(path: str, limit: int) -> int:
    """The clip's video frames, counted by decoding them; stops at ``limit + 1`` so a long upload costs
    no more than a short one.

    Raises:
        ValueError: the upload is not a readable video, or holds no video frames.
    """
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError("the upload holds no video stream")
            frames = 0
            for _ in container.decode(container.streams.video[0]):
                frames += 1
                if frames > limit:
                    break
    except av.error.FFmpegError as err:
        raise ValueError(f"the video cannot be read ({err})") from err
    if frames == 0:
        raise ValueError("the upload holds no video frames")
    return frames


@on_gpu
def _stylize_video(video: str, style, choice: str, alpha: float, output: str):
    return photonas.stylize_video(
        video, style, output, model=MODELS[choice], alpha=alpha, mode="fast", progress=False
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
        if count_frames(video, MAX_FRAMES) > MAX_FRAMES:
            raise gr.Error(f"The clip is too long: this demo stylises clips of up to {limit_text()}.")
        side = max_side()
        output = str(download_path(".mp4"))
        info = _stylize_video(video, fit(style, "style image", side), model, alpha, output)
    except gr.Error:
        raise
    except (ValueError, ModuleNotFoundError) as err:
        raise gr.Error(without_folders(str(err), video, style)) from err
    seconds = time.perf_counter() - start
    return output, (
        f"**{info.width}×{info.height} px**, {info.frames} frames in **{seconds:.1f} s** "
        f"on {DEVICE.type.upper()} ({model}, strength {alpha:.2f})"
    )
