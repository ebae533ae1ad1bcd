"""What the photo-faithful output costs: time at 1024² against the raw network, and memory on a 12 MP photo.

    python -m bench.refine_cost                               # writes bench/results/cpu-2cores/refine_cost.md
    python -m bench.refine_cost --big photo_12mp.jpg          # also the 12 MP peak memory (fast mode)

All rows in one run, one process, with a style preset (statistics computed once, as a user
with a saved preset or a video has them), shipped PhotoNAS as ``load_model`` gives it, median
of ``--rounds`` after a warm-up:

- ``raw, one piece``: the network's own output at 1024² (the paper's, ``raw=True``);
- ``default``: the photo-faithful output at 1024², the network at its 512 px working size;
- ``exact + refinement``: the network at 1024² and the refinement on top (``mode="exact"``);
- ``refinement alone``: fit and apply from a given stylised image, the stage's own cost;
- end to end through ``photonas.stylize`` from arrays (style summarised inside the call):
  the default output without and with automatic regions (``masks="auto"``), and raw.

The 12 MP row runs ``photonas.stylize`` on the photo in a fresh process and reads its peak
resident memory (``ru_maxrss``), model loading included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

import photonas
from bench.machine import machine_facts
from bench.markdown import markdown_table
from bench.pairs import REPO_ROOT
from bench.speed import time_call
from photonas.api import load_model
from photonas.highres import stylize_highres, stylize_photo
from photonas.options import Options
from photonas.presets import EXAMPLES_DIR
from photonas.refine import PIXELS, colour_stats, refine


def timings(size: int = 1024, rounds: int = 5, seed: int = 0) -> list[tuple[str, float]]:
    """(row, median seconds) for the four rows of the module docstring."""
    model = load_model("photonas")
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, size, size, generator=g)
    style_image = torch.rand(1, 3, 512, 512, generator=g)
    with torch.inference_mode():
        stats = model.style_stats(style_image)
        stats = type(stats)({**stats.points, PIXELS: colour_stats(style_image)}, stats.code, stats.decoder_id)
        styled = stylize_highres(model, content, stats, Options(raw=True, max_side=size))
        rows = {
            "raw, one piece (network at 1024)": lambda: stylize_highres(model, content, stats, Options(raw=True, max_side=size)),
            "default (network at 512, refined to 1024)": lambda: stylize_photo(model, content, stats),
            "exact + refinement (network at 1024)": lambda: stylize_photo(
                model, content, stats, Options(mode="exact", max_side=size)
            ),
            "refinement alone (fit + apply)": lambda: refine(content, styled, style_pixels=stats.points[PIXELS]),
        }
        c_np, s_np = content[0].permute(1, 2, 0).numpy(), style_image[0].permute(1, 2, 0).numpy()
        rows.update(
            {
                "stylize() end to end, raw": lambda: photonas.stylize(c_np, s_np, model, raw=True),
                "stylize() end to end, default": lambda: photonas.stylize(c_np, s_np, model),
                "stylize() end to end, default + automatic regions": lambda: photonas.stylize(
                    c_np, s_np, model, masks="auto"
                ),
            }
        )
        return [(name, time_call(fn, "cpu", rounds).median) for name, fn in rows.items()]


def peak_memory_mb(photo: Path) -> float:
    """Peak resident memory (MiB) of a fresh process running the default ``stylize`` on ``photo``."""
    style = EXAMPLES_DIR / "sunset.jpg"
    code = (
        "import resource, photonas; "
        f"photonas.stylize({str(photo)!r}, {str(style)!r}, max_pixels=None); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def cpu_description() -> str:
    """The CPU's model name and whether it has AMX (bf16 matrix units), from /proc/cpuinfo."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU"
    )
    return f"{name}, {'with' if ' amx_tile' in info else 'without'} AMX"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refine_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=Path, default=None, help="a ~12 MP photo for the memory row (not committed)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "cpu-2cores" / "refine_cost.md")
    args = parser.parse_args(argv)
    rows = timings(rounds=args.rounds)
    raw = rows[0][1]
    facts = machine_facts(torch.device("cpu"))
    lines = [
        "# Cost of the photo-faithful output",
        "",
        f"Machine: {cpu_description()}, {facts['cpu_count']} CPUs, torch {facts['torch']}; PhotoNAS with a style "
        f"preset, 1024×1024, median of {args.rounds} after a warm-up, one run (`python -m bench.refine_cost`).",
        "",
        *markdown_table(
            ["configuration", "seconds", "× raw"], ([name, f"{s:.3f}", f"{s / raw:.2f}"] for name, s in rows)
        ),
    ]
    if args.big is not None:
        from PIL import Image

        with Image.open(args.big) as image:
            size = image.size
        peak = peak_memory_mb(args.big)
        lines += [
            "",
            f"Default output (fast mode) on a {size[0]}×{size[1]} photo ({size[0] * size[1] / 1e6:.1f} MP): "
            f"peak resident memory {peak:.0f} MiB (fresh process, model loading included).",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
