"""The video tab's request (demo/video.py) on a tiny generated clip.

Named test_demo_video.py because tests/test_video.py exists and tests/ has no __init__.py.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from helpers import gradient_photo

from demo import video

av = pytest.importorskip("av", reason="PyAV not installed (pip install 'photonas[video]')")
pytestmark = pytest.mark.usefixtures("one_thread")


def _clip(path, frames: int = 4, size: tuple[int, int] = (48, 32), fps: int = 10, fmt: str | None = None) -> str:
    """A tiny H.264 clip; ``fmt="h264"`` writes a raw stream, which records no duration."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            rgb = np.asarray(gradient_photo(size, seed=i))
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return str(path)


def test_clip_is_stylised_frame_by_frame(tmp_path, write_image):
    clip = _clip(tmp_path / "clip.mp4")
    style = str(write_image(gradient_photo((40, 40), seed=9), "style.png"))
    output, info = video.stylize_video_request(clip, style, model="PhotoNAS", alpha=0.7)
    with av.open(output) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (48, 32)
    assert frames == 4 and "4 frames" in info and "48×32 px" in info


def test_long_clips_and_non_videos_are_visitor_errors(tmp_path, write_image, monkeypatch):
    style = str(write_image(gradient_photo((40, 40), seed=9), "style.png"))
    monkeypatch.setattr(video, "MAX_FRAMES", 3)
    with pytest.raises(gr.Error, match=r"too long: this demo stylises clips of up to 3 frames \(about 0.1 s"):
        video.stylize_video_request(_clip(tmp_path / "long.mp4", frames=5), style)
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"plain text, not a video")
    with pytest.raises(gr.Error, match="cannot be read"):
        video.stylize_video_request(str(not_video), style)


def test_raw_stream_without_duration_is_capped_like_an_mp4(tmp_path, write_image, monkeypatch):
    """A raw .h264 stream records no duration; the same bytes renamed .mp4 neither: frames are counted."""
    style = str(write_image(gradient_photo((40, 40), seed=9), "style.png"))
    raw = _clip(tmp_path / "long.h264", frames=12, fmt="h264")
    with av.open(raw) as container:  # what the old check trusted: no duration anywhere
        assert container.streams.video[0].duration is None and not container.duration
    renamed = tmp_path / "renamed.mp4"
    renamed.write_bytes(Path(raw).read_bytes())

    def never(*args, **kwargs):
        raise AssertionError("a clip over the cap reached stylize_video")

    monkeypatch.setattr(video, "MAX_FRAMES", 8)
    monkeypatch.setattr(video, "_stylize_video", never)
    for clip in (raw, str(renamed), _clip(tmp_path / "long.mp4", frames=12)):
        with pytest.raises(gr.Error, match="too long"):
            video.stylize_video_request(clip, style)


def test_counting_stops_at_the_cap(tmp_path):
    raw = _clip(tmp_path / "clip.h264", frames=12, fmt="h264")
    assert video.count_frames(raw, limit=100) == 12
    assert video.count_frames(raw, limit=5) == 6  # one past the cap is enough to refuse
