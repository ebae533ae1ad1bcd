"""High-resolution modes on real photos: fast-mode time, peak memory of both modes, fast vs exact.

Each measurement runs in its own process, so its peak resident memory (``ru_maxrss``) is its
own. Photos come from a Debian wallpaper package unpacked under ``runs/`` (never committed)::

    cd runs/wallpapers && apt-get download lomiri-wallpapers-20.04 && dpkg -x lomiri-wallpapers-20.04_*.deb y
    python -m bench.highres run --photos DIR --names a.jpg b.jpg ... --style STYLE.jpg --out bench/results/cpu-2cores/highres.json
    python -m bench.highres one --content A.jpg --style S.jpg --mode fast     # one measurement, JSON

``run`` times fast mode at each photo's native size (and its peak memory), runs exact mode at
native size on the photos given by ``--exact-native`` (slow on a CPU: three encoder passes over
every tile), and compares fast with exact on every photo scaled to ``--compare-side`` with
fast mode's working resolution scaled in proportion (``--compare-work``), so the upsampling
ratio matches native-size use.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bench.markdown import markdown_table
from photonas.training.metrics import psnr, ssim

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(
    content: Path, style: Path, mode: str, max_side: int | None, resize: int | None, save: Path | None, threads: int
) -> dict:
    """Stylise once in this process; time, peak memory and size."""
    import torch

    import photonas

    torch.set_num_threads(threads)
    image = ImageOps.exif_transpose(Image.open(content)).convert("RGB")
    if resize is not None and max(image.size) > resize:
        scale = resize / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    model = photonas.load_model("photonas", "cpu")
    stats = photonas.style_preset(style, model, max_pixels=10**9)  # summarised at 1024 px on its long side
    start = time.perf_counter()
    out = photonas.stylize(image, stats, model, mode=mode, max_side=max_side, max_pixels=10**9)
    seconds = time.perf_counter() - start
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        out.save(save)
    return {
        "content": content.name,
        "mode": mode,
        "max_side": max_side,
        "width": out.width,
        "height": out.height,
        "megapixels": round(out.width * out.height / 1e6, 2),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _spawn(args: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.highres", "one", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"measurement {args} failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def similarity(a: Path, b: Path) -> dict:
    """SSIM and PSNR of two saved results (8-bit RGB)."""
    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.float64) / 255
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.float64) / 255
    return {
        "ssim": round(ssim(x, y), 4),
        "psnr_db": round(psnr(x, y), 2),
    }


def _measure(args: argparse.Namespace, photo: Path, tag: str, mode: str, *extra: str) -> tuple[dict, Path]:
    """One stylisation of ``photo`` in its own process, saved as ``runs/highres/<stem>_<tag>.png``."""
    saved = ROOT / "runs" / "highres" / f"{photo.stem}_{tag}.png"
    options = ["--content", str(photo), "--mode", mode, "--save", str(saved), *extra]
    return _spawn([*options, "--style", str(args.style), "--threads", str(args.threads)]), saved


def run(args: argparse.Namespace) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in args.names:
        measure = partial(_measure, args, Path(args.photos) / name)
        fast, fast_png = measure("fast", "fast", "--max-side", str(args.work))
        row = {"photo": name, "size": f"{fast['width']}x{fast['height']}", "megapixels": fast["megapixels"],
               "fast_seconds": fast["seconds"], "fast_peak_rss_mb": fast["peak_rss_mb"]}  # fmt: skip
        if name in args.exact_native:
            exact, exact_png = measure("exact", "exact")
            native = {f"native_{k}": v for k, v in similarity(fast_png, exact_png).items()}
            row.update(exact_seconds=exact["seconds"], exact_peak_rss_mb=exact["peak_rss_mb"], **native)
        small = ("--resize", str(args.compare_side))
        _, small_exact = measure(f"{args.compare_side}_exact", "exact", *small)
        _, small_fast = measure(f"{args.compare_side}_fast", "fast", *small, "--max-side", str(args.compare_work))
        row.update(similarity(small_fast, small_exact))
        rows.append(row)
        print(json.dumps(row), flush=True)
        result = {"machine": args.machine, "settings": vars(args) | {"photos": str(args.photos)}, "rows": rows}
        args.out.write_text(json.dumps(result, indent=2, default=str))
        args.out.with_suffix(".md").write_text(highres_markdown(result))
    return 0


def _table(rows: list[dict], columns: dict[str, str]) -> list[str]:
    return markdown_table(list(columns.values()), [[row.get(key, "–") for key in columns] for row in rows])


def highres_markdown(result: dict) -> str:
    """The fast-mode table for every photo and the exact-mode table for those run at native size."""
    settings, rows = result["settings"], result["rows"]
    lines = [
        "# High-resolution modes on real photographs",
        "",
        f"{result['machine']}. Photos from `{settings['photos']}` (not in git); style "
        f"`{Path(settings['style']).name}`, summarised at 1024 px. `python -m bench.highres run` (see its docstring); "
        "each measurement in its own process, peak memory is that process's peak resident set.",
        "",
        f"Fast mode at native size (working resolution {settings['work']} px), whole `stylize()` call; fast vs exact "
        f"compared with each photo scaled to {settings['compare_side']} px and fast mode at {settings['compare_work']} "
        "px (the same upsampling ratio as at native size):",
        "",
        *_table(rows, {"photo": "photo", "size": "size", "megapixels": "MP", "fast_seconds": "fast s",
                       "fast_peak_rss_mb": "fast peak RSS MB",
                       "ssim": f"SSIM fast vs exact ({settings['compare_side']} px)", "psnr_db": "PSNR dB"}),
        "",
    ]
    native = [row for row in rows if "exact_seconds" in row]
    if native:
        lines += [
            "Exact mode at native size (tiles of 1024 px with halos, whole-image statistics in passes):",
            "",
            *_table(native, {"photo": "photo", "megapixels": "MP", "exact_seconds": "exact s",
                             "exact_peak_rss_mb": "exact peak RSS MB", "native_ssim": "SSIM fast vs exact (native)",
                             "native_psnr_db": "PSNR dB"}),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.highres", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("one", help="one stylisation in this process; prints JSON")
    one.add_argument("--content", type=Path, required=True)
    one.add_argument("--style", type=Path, required=True)
    one.add_argument("--mode", choices=("exact", "fast"), required=True)
    one.add_argument("--max-side", type=int)
    one.add_argument("--resize", type=int, help="scale the photo to this long side first")
    one.add_argument("--save", type=Path)
    one.add_argument("--threads", type=int, default=2)
    many = commands.add_parser("run", help="the whole measurement over several photos")
    many.add_argument("--photos", type=Path, required=True)
    many.add_argument("--names", nargs="+", required=True)
    many.add_argument("--style", type=Path, required=True)
    many.add_argument("--exact-native", nargs="*", default=[], help="photos to also run in exact mode at native size")
    many.add_argument("--work", type=int, default=1024, help="fast mode's working resolution at native size")
    many.add_argument("--compare-side", type=int, default=1280)
    many.add_argument("--compare-work", type=int, default=320)
    many.add_argument("--threads", type=int, default=2)
    many.add_argument("--out", type=Path, required=True, help="JSON file of the results (and a .md beside it)")
    many.add_argument("--machine", default="this machine", help="what ran it, for the report")
    args = parser.parse_args(argv)
    if args.command == "one":
        print(json.dumps(measure_one(args.content, args.style, args.mode, args.max_side, args.resize, args.save, args.threads)))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
