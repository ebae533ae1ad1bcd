"""Video: flicker (warping error) of per-frame vs stable stylisation, and throughput.

    python -m bench.video --out bench/results/cpu-2cores/video.json

Synthetic clips over a bundled example photo (known motion): a pan, a pan with a light that
flashes every other frame (the content statistics jump), and a zoom with a brightness ramp.
Each is stylised by every variant in :data:`VARIANTS` (per frame, smoothed content
statistics, the stable path with several amounts of map smoothing) with the shipped PhotoNAS,
and scored by :func:`bench.temporal.warping_error` (lower is steadier; the inputs' own score
is the floor). Throughput: seconds per frame of the default (stable) path at 720p and 1080p
in exact and fast mode, with the model as ``stylize_video`` loads it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.markdown import markdown_table
from bench.metrics import edge_ssim, sliced_wasserstein_lab
from bench.stats_smoothing import SmoothedStylizer
from bench.temporal import camera_clip, input_flows, warping_error
from photonas.api import load_model
from photonas.model import StyleTransferModel
from photonas.options import Options
from photonas.presets import EXAMPLES_DIR
from photonas.style import StyleStats
from photonas.video import StableStylizer


def clips(size: tuple[int, int], frames: int) -> dict[str, list[np.ndarray]]:
    photo = np.asarray(Image.open(EXAMPLES_DIR / "rocket.jpg").convert("RGB"), np.float32) / 255
    pan = camera_clip(photo, size, frames, pan=4.0)
    flash = []
    for i, frame in enumerate(pan):
        frame = frame.copy()
        if i % 2:
            frame[size[0] // 8 : size[0] // 3, size[1] // 12 : size[1] // 4] = (1.0, 0.1, 0.1)
        flash.append(frame)
    zoom = camera_clip(photo, size, frames, zoom=0.02, brightness=0.01)
    return {"pan": pan, "pan_flashing_light": flash, "zoom_brightening": zoom}


#: Column name → how a stylizer for it is made. "per_frame" is what stylize() gives frame by frame;
#: ``stats_*`` smooth the transfers' content statistics (:mod:`bench.stats_smoothing`).
VARIANTS: dict[str, Callable[[StyleTransferModel, StyleStats], Callable[[torch.Tensor], torch.Tensor]]] = {
    "per_frame": lambda model, style: StableStylizer(model, style, Options(raw=True)),
    "stats_0.5": lambda model, style: SmoothedStylizer(model, style, stats=0.5, maps=None),
    "stable_maps_0": lambda model, style: StableStylizer(model, style, smoothing=0.0),
    "stable_maps_0.5": lambda model, style: StableStylizer(model, style, smoothing=0.5),
    "stable_maps_0.8": lambda model, style: StableStylizer(model, style, smoothing=0.8),
    "stable_maps_0.5_stats_0.5": lambda model, style: SmoothedStylizer(model, style, stats=0.5, maps=0.5),
}


def flicker(
    model: StyleTransferModel, style, style_image: np.ndarray, size: tuple[int, int], frames: int
) -> tuple[list[dict], list[dict]]:
    """Warping error per clip and variant; and per variant, over every frame of every clip, the
    colour distance to the style and the edge SSIM to the input (steadiness must not come from
    dropping the style or the detail)."""
    rows = []
    scores: dict[str, list[tuple[float, float]]] = {variant: [] for variant in VARIANTS}
    for name, clip in clips(size, frames).items():
        flows = input_flows(clip)
        row = {
            "clip": name,
            "frames": frames,
            "size": f"{size[1]}x{size[0]}",
            "input": warping_error(clip, clip, flows),
        }
        for variant, make in VARIANTS.items():
            stylizer = make(model, style)
            with torch.inference_mode():
                out = [stylizer(torch.from_numpy(f).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy() for f in clip]
            row[variant] = warping_error(clip, out, flows)
            scores[variant] += [(sliced_wasserstein_lab(o, style_image), edge_ssim(f, o)) for f, o in zip(clip, out)]
        rows.append({k: round(v, 7) if isinstance(v, float) else v for k, v in row.items()})
        print(json.dumps(rows[-1]), flush=True)
    quality = [
        {
            "variant": variant,
            "colour_to_style_lab": float(np.mean([c for c, _ in pairs])),
            "edge_ssim": float(np.mean([e for _, e in pairs])),
        }
        for variant, pairs in scores.items()
    ]
    return rows, quality


def throughput(model: StyleTransferModel, style, frames: int) -> list[dict]:
    rows = []
    for label, (h, w) in {"720p": (720, 1280), "1080p": (1080, 1920)}.items():
        for mode, side in (("fast", 640), ("exact", None)):
            stylizer = StableStylizer(model, style, Options(mode=mode, max_side=side))
            clip = [torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(i)) for i in range(frames + 1)]
            with torch.inference_mode():
                stylizer(clip[0])  # warm-up
                start = time.perf_counter()
                for frame in clip[1:]:
                    stylizer(frame)
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


def _table(rows: list[dict], columns: list[str]) -> list[str]:
    return markdown_table(
        columns, [[f"{row[c]:.3g}" if isinstance(row[c], float) else row[c] for c in columns] for row in rows]
    )


def video_markdown(result: dict, machine: str) -> str:
    """The flicker table (warping error per clip and variant) and the throughput table, as Markdown."""
    lines = ["# Video: flicker and throughput", "", f"{machine}. `python -m bench.video` (see its docstring).", ""]
    flicker_rows = result.get("flicker", [])
    if flicker_rows:
        first = flicker_rows[0]
        lines += [
            f"Warping error (mean squared colour difference after warping frame t onto t+1 with TV-L1 flow of "
            f"the inputs, occlusion-masked; lower is steadier), {first['frames']} frames of {first['size']} px; "
            "`per_frame` is stylize() frame by frame, `stable_*` the default path with that share of the "
            "previous colour maps kept, `stats_*` with smoothed content statistics:",
            "",
            *_table(flicker_rows, ["clip", "input", *VARIANTS]),
            "",
        ]
    if result.get("quality"):
        lines += [
            "Over every frame of the three clips: colour distance to the style photo (Lab sliced Wasserstein, "
            "lower is more of the style) and edge SSIM against the input frame (higher keeps more structure):",
            "",
            *_table(result["quality"], ["variant", "colour_to_style_lab", "edge_ssim"]),
            "",
        ]
    speed_rows = result.get("throughput", [])
    if speed_rows:
        lines += [
            "Throughput of the default stable path (one warm-up frame, then the mean over the timed frames; "
            "fast mode at 640 px):",
            "",
            *_table(speed_rows, ["resolution", "mode", "seconds_per_frame", "frames_per_second"]),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the results")
    parser.add_argument("--frames", type=int, default=8, help="frames per synthetic clip")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--speed-frames", type=int, default=2, help="timed frames per resolution and mode (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--machine", default="this machine", help="what ran it, for the Markdown report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model("photonas", "cpu")
    style_image = np.asarray(Image.open(EXAMPLES_DIR / "coffee.jpg").convert("RGB"), np.float32) / 255
    with torch.inference_mode():
        style = model.style_stats(torch.from_numpy(style_image).permute(2, 0, 1)[None])
    result = {"settings": {k: str(v) for k, v in vars(args).items()}, "torch_threads": torch.get_num_threads()}
    result["flicker"], result["quality"] = flicker(model, style, style_image, (args.height, args.width), args.frames)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.speed_frames:
        result["throughput"] = throughput(model, style, args.speed_frames)
        args.out.write_text(json.dumps(result, indent=2))
    args.out.with_suffix(".md").write_text(video_markdown(result, args.machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
