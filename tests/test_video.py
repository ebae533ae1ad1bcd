"""Video: streamed round trip with audio, the stable path and its flicker, the flicker metric, bad inputs."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from bench.temporal import camera_clip, input_flows, warping_error
from photonas import StyleTransferModel
from photonas.api import load_model
from photonas.cli import main
from photonas.highres import find_regions
from photonas.options import Options
from photonas.padding import pad_to_grid
from photonas.presets import EXAMPLES_DIR
from photonas.refine import PIXELS, refine
from photonas.regions import fit_regions
from photonas.style import StyleStats
from photonas.video import StableStylizer, stylize_video
from tests.helpers import gradient_photo

av = pytest.importorskip("av", reason="PyAV is not installed: pip install 'photonas[video]'")
pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLE = EXAMPLES_DIR / "rocket.jpg"


def make_clip(path: Path, frames: int = 4, size: tuple[int, int] = (64, 48), fps: int = 12, audio: bool = True) -> Path:
    """A short H.264 clip of a moving gradient, with a sine tone when ``audio``."""
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        base = np.asarray(gradient_photo((width + 4 * frames, height), seed=1))
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, 4 * t : 4 * t + width]), format="rgb24")
            out.mux(video.encode(frame))
        if sound is not None:
            samples = int(16000 * frames / fps)
            tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 16000, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
        out.mux(video.encode(None))
    return path


def probe(path: Path) -> tuple[int, tuple[int, int], Fraction, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            frames,
            (stream.codec_context.width, stream.codec_context.height),
            Fraction(stream.average_rate),
            bool(container.streams.audio),
        )


@pytest.fixture(scope="module")
def untrained(model_dir: Path) -> StyleTransferModel:
    return StyleTransferModel.from_pretrained(model_dir)


@pytest.mark.parametrize("audio", [True, False])
def test_round_trip_keeps_frames_size_rate_and_audio(
    tmp_path: Path, untrained: StyleTransferModel, audio: bool
) -> None:
    clip = make_clip(tmp_path / "in.mp4", audio=audio)
    info = stylize_video(clip, gradient_photo((48, 40), seed=2), tmp_path / "out.mp4", untrained, progress=False)
    assert probe(tmp_path / "out.mp4") == probe(clip) == (4, (64, 48), Fraction(12), audio)
    assert (info.frames, info.width, info.height, info.fps, info.audio) == (4, 64, 48, Fraction(12), audio)


def test_fast_mode_video_keeps_size(tmp_path: Path, untrained: StyleTransferModel) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=2, size=(96, 64), audio=False)
    stylize_video(
        clip,
        gradient_photo((48, 40), seed=2),
        tmp_path / "out.mkv",
        untrained,
        mode="fast",
        max_side=48,
        progress=False,
    )
    assert probe(tmp_path / "out.mkv")[:2] == (2, (96, 64))


def _frames(count: int, seed: int = 1) -> Tensor:
    """``count`` smooth random ``(1, 3, 40, 56)`` images: colour blobs and some grain."""
    gen = torch.Generator().manual_seed(seed)
    blobs = F.interpolate(torch.rand(count, 3, 5, 7, generator=gen), size=(40, 56), mode="bicubic")
    return (blobs + 0.05 * torch.rand(count, 3, 40, 56, generator=gen)).clamp(0, 1)[:, None]


@pytest.fixture(scope="module")
def style(untrained: StyleTransferModel) -> StyleStats:
    return untrained.style_stats(torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)))


def test_unstable_path_is_per_frame_stylisation(untrained: StyleTransferModel, style: StyleStats) -> None:
    stylizer = StableStylizer(untrained, style, Options(raw=True))
    with torch.inference_mode():
        for frame in _frames(2):
            torch.testing.assert_close(stylizer(frame), untrained.stylize(frame, style), atol=2e-4, rtol=0)


def test_stable_path_is_a_colour_map_of_each_frame(untrained: StyleTransferModel, style: StyleStats) -> None:
    """The first frame is the photo-faithful output of the frame (photonas.refine); the next blends in its maps."""
    frames = _frames(1)
    frames = torch.stack([frames[0], frames[0].roll(2, dims=-1)])  # the camera moves: same shot
    with torch.inference_mode():
        first = untrained.stylize(frames[0], style).float()
        expected = refine(frames[0], first, style_pixels=style.points.get(PIXELS))
        smooth, alone = StableStylizer(untrained, style), StableStylizer(untrained, style, smoothing=0.0)
        torch.testing.assert_close(smooth(frames[0]), expected)
        torch.testing.assert_close(alone(frames[0]), expected)
        assert (smooth(frames[1]) - alone(frames[1])).abs().max() > 1e-3


def test_a_cut_drops_the_carried_maps(untrained: StyleTransferModel, style: StyleStats) -> None:
    frames = _frames(1)
    other = 1 - frames[0]  # a different shot: every thumbnail pixel changes
    with torch.inference_mode():
        carried = StableStylizer(untrained, style)
        carried(frames[0])
        torch.testing.assert_close(carried(other), StableStylizer(untrained, style)(other))


def test_stable_path_flickers_less_than_per_frame_on_a_pan() -> None:
    """The shipped PhotoNAS on a camera pan over a bundled photo: warping error well below per-frame stylisation."""
    model = load_model("photonas", "cpu")
    photo = np.asarray(Image.open(EXAMPLE).convert("RGB"), np.float32) / 255
    clip = camera_clip(photo, (96, 144), 5, pan=3.0)
    style = model.style_stats(torch.from_numpy(photo).permute(2, 0, 1)[None].flip(1))  # channel-swapped colours
    flows = input_flows(clip)
    errors = {}
    with torch.inference_mode():
        for stable in (False, True):
            stylizer = StableStylizer(model, style, Options(raw=not stable))
            out = [stylizer(torch.from_numpy(f).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy() for f in clip]
            errors[stable] = warping_error(clip, out, flows)
    assert errors[True] < 0.5 * errors[False], errors


def test_warping_error_sees_flicker() -> None:
    photo = np.asarray(Image.open(EXAMPLE).convert("RGB"), np.float32) / 255
    clip = camera_clip(photo, (48, 64), 3, pan=2.0)
    flicker = [np.clip(f * (1 + 0.1 * (i % 2)), 0, 1) for i, f in enumerate(clip)]
    flows = input_flows(clip)
    assert warping_error(clip, flicker, flows) > 10 * warping_error(clip, clip, flows)


def test_bad_inputs_give_clear_errors(tmp_path: Path, untrained: StyleTransferModel) -> None:
    style = gradient_photo((32, 32), seed=2)
    with pytest.raises(FileNotFoundError, match="not found"):
        stylize_video(tmp_path / "missing.mp4", style, tmp_path / "out.mp4", untrained)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match="not a readable video"):
        stylize_video(text, style, tmp_path / "out.mp4", untrained)
    clip = make_clip(tmp_path / "in.mp4", frames=1, audio=False)
    with pytest.raises(ValueError, match="smoothing"):
        stylize_video(clip, style, tmp_path / "out.mp4", untrained, smoothing=1.0)
    with pytest.raises(ValueError, match="mode"):
        stylize_video(clip, style, tmp_path / "out.mp4", untrained, mode="slow")
    with pytest.raises(ValueError, match="overwrite"):
        stylize_video(clip, style, clip, untrained)


def test_cli_video(tmp_path: Path, model_dir: Path, write_image, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    style = write_image(gradient_photo((40, 40), seed=2), "style.png")
    assert main(["video", str(clip), str(style), "-o", str(tmp_path / "out.mp4"), "--model", str(model_dir)]) == 0
    assert "2 frames, 64x48 at 12 fps, audio copied" in capsys.readouterr().out
    per_frame = ["video", str(clip), str(style), "-o", str(tmp_path / "per_frame.mkv"), "--per-frame"]
    assert main([*per_frame, "--model", str(model_dir)]) == 0
    assert main(["video", str(tmp_path / "nope.mp4"), str(style), "-o", str(tmp_path / "o.mp4")]) == 1
    assert main(["video", str(clip), str(style), "-o", str(tmp_path / "out.gif")]) == 2
    assert main(["video", str(clip), str(style), "-o", str(tmp_path / "o.mp4"), "--smoothing", "1"]) == 2
    err = capsys.readouterr().err
    assert "video" in err and "not found" in err and err.count("photonas: error") == 2


def test_stable_path_with_automatic_regions(untrained: StyleTransferModel, style: StyleStats) -> None:
    """Frames are labelled against the style's clusters: near-identical frames get (nearly all) the same regions."""
    gen = torch.Generator().manual_seed(4)
    style_image = torch.rand(1, 3, 48, 64, generator=gen)
    frames = _frames(2)
    with torch.inference_mode():
        padded, box = pad_to_grid(style_image)
        feats = untrained.encode(padded)
        matcher, labels = fit_regions(feats, box, style_image=padded)
        stats = replace(untrained.style_stats(style_image, labels, features=feats), regions=matcher)
        jittered = (frames[0] + 1e-3 * torch.randn(frames[0].shape, generator=gen)).clamp(0, 1)
        same = (find_regions(untrained, frames[0], matcher) == find_regions(untrained, jittered, matcher)).float().mean()
        assert same >= 0.99
        for stable in (True, False):
            stylizer = StableStylizer(untrained, stats, Options(raw=not stable), auto_regions=True)
            for frame in frames:
                out = stylizer(frame)
                assert out.shape == frame.shape and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="style_mask"):
        StableStylizer(untrained, style, auto_regions=True)
