"""Video: flicker (warping error) of per-frame vs smoothed stylisation, and throughput.

    python -m bench.video --out bench/results/cpu-2cores/video.json

Synthetic clips over a bundled example photo (known motion): a pan, a pan with a light that
flashes every other frame (the content statistics jump), and a zoom with a brightness ramp.
Each is stylised per frame (``smoothing=0``) and with smoothed statistics, and scored by
:func:`bench.temporal.warping_error` (lower is steadier; the inputs' own score is the floor).
Throughput: seconds per frame at 720p and 1080p in exact and fast mode (a few frames each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.temporal import camera_clip, input_flows, warping_error
from photonas import PhotoNAS
from photonas.video import StableStylizer, stylize_frame

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "photonas" / "examples"


def clips(size: tuple[int, int], frames: int) -> dict[str, list[np.ndarray]]:
    photo = np.asarray(Image.open(EXAMPLES / "rocket.jpg").convert("RGB"), np.float32) / 255
    pan = camera_clip(photo, size, frames, pan=4.0)
    flash = []
    for i, frame in enumerate(pan):
        frame = frame.copy()
        if i % 2:
            frame[size[0] // 8 : size[0] // 3, size[1] // 12 : size[1] // 4] = (1.0, 0.1, 0.1)
        flash.append(frame)
    zoom = camera_clip(photo, size, frames, zoom=0.02, brightness=0.01)
    return {"pan": pan, "pan_flashing_light": flash, "zoom_brightening": zoom}


def flicker(model: PhotoNAS, style, size: tuple[int, int], frames: int, smoothings: list[float]) -> list[dict]:
    rows = []
    for name, clip in clips(size, frames).items():
        flows = input_flows(clip)
        row = {
            "clip": name,
            "frames": frames,
            "size": f"{size[1]}x{size[0]}",
            "input": warping_error(clip, clip, flows),
        }
        for smoothing in smoothings:
            stylizer = StableStylizer(model, style, smoothing=smoothing)
            with torch.inference_mode():
                out = [stylizer(torch.from_numpy(f).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy() for f in clip]
            row[f"smoothing_{smoothing}"] = warping_error(clip, out, flows)
        rows.append({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def throughput(model: PhotoNAS, style, frames: int) -> list[dict]:
    rows = []
    for label, (h, w) in {"720p": (720, 1280), "1080p": (1080, 1920)}.items():
        for mode, side in (("fast", 640), ("exact", None)):
            stylizer = StableStylizer(model, style)
            frame = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
            with torch.inference_mode():
                stylize_frame(stylizer, frame, mode, side or 0)  # warm-up
                start = time.perf_counter()
                for _ in range(frames):
                    stylize_frame(stylizer, frame, mode, side or 0)
            seconds = (time.perf_counter() - start) / frames
            rows.append(
                {
                    "resolution": label,
                    "mode": mode,
                    "max_side": side,
                    "seconds_per_frame": round(seconds, 2),
                    "frames_per_second": round(1 / seconds, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the results")
    parser.add_argument("--frames", type=int, default=8, help="frames per synthetic clip")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--smoothing", type=float, nargs="+", default=[0.0, 0.3, 0.5, 0.8])
    parser.add_argument("--speed-frames", type=int, default=2, help="timed frames per resolution and mode (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = PhotoNAS.from_pretrained().eval()
    style_image = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("RGB"), np.float32) / 255
    with torch.inference_mode():
        style = model.style_stats(torch.from_numpy(style_image).permute(2, 0, 1)[None])
    result = {"settings": {k: str(v) for k, v in vars(args).items()}, "torch_threads": torch.get_num_threads()}
    result["flicker"] = flicker(model, style, (args.height, args.width), args.frames, args.smoothing)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.speed_frames:
        result["throughput"] = throughput(model, style, args.speed_frames)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
