"""Run the benchmark: every method on every pair, timed and scored, into one results folder.

Examples:
    python -m bench --quick                                  # bundled photos at 128 px, seconds
    python -m bench --pairs 1-60 --long-side 512             # the DPST leaderboard on this machine
    python -m bench --pairs 1,5,9 --methods photonas=runs/train/photonas reinhard mk
    python -m bench --device cuda --long-side 1024 --masks off

Writes ``--out`` (default ``bench/results/<machine>``, e.g. ``cpu-2cores``):

    results.json     machine facts, settings, one record per (pair, masks, method), skipped rows
    results.csv      the same records as a table (pandas)
    speed.json       the machine and one entry per timed call of the speed run (``--speed-sizes``)
    speed.csv        one row per method, stage, size and device: medians, peak memory, ratios
    leaderboard.md   method × metric means, quality rank, median seconds and the ratio over
                     PhotoNAS's median; then the speed tables (see :mod:`bench.speed_board`)
    scatter.png      speed against quality, one point per method
    samples.png      the outputs side by side: in ``--out`` for the bundled example photos only;
                     for DPST pairs under ``runs/bench/<machine>/`` (git-ignored, DPST images
                     never go into git)

Timing: the speed tables come first, at fixed resolutions (``--speed-sizes``, default 512 and
1024): :func:`bench.speed.measure_speed` times each method's tensor-in → tensor-out call, one
warm-up call then the median of five. In the quality run (:func:`bench.scoring.run_benchmark`)
each timed method also runs once untimed on the first pair (warm-up), then every call is timed
alone, style statistics included, at the pairs' own sizes. The ``dpst`` row reads published
outputs and is never timed.

This module is the entry point only: inputs are :mod:`bench.pairs`, the machine
:mod:`bench.machine`, the scoring loop :mod:`bench.scoring`, the reports
:mod:`bench.leaderboard`, the speed tables :mod:`bench.speed` and :mod:`bench.speed_board`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.leaderboard import leaderboard_markdown, sample_grid, write_results
from bench.machine import machine_facts, machine_slug
from bench.methods import DEFAULT_METHODS, build_methods
from bench.pairs import (
    QUICK_LONG_SIDE,
    REPO_ROOT,
    Pair,
    load_dpst_pairs,
    load_example_pairs,
    parse_pairs,
)
from bench.scoring import reconstruction_psnr, run_benchmark
from bench.speed import measure_speed, parse_sizes
from bench.speed_board import write_speed
from photonas.device import choose_device
from photonas.encoder import VGGEncoder
from photonas.training.data import default_dpst_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="DPST folder (default ../shared/data/dpst or $PHOTONAS_DATA/dpst)")
    parser.add_argument("--pairs", default="1-60", help="pair numbers: 1-60, 1,5,9 or a mix")
    parser.add_argument("--long-side", type=int, default=512, help="long side of every image, pixels")
    parser.add_argument("--masks", choices=("both", "on", "off"), default="both")
    parser.add_argument("--methods", nargs="+", default=None, help="names or name=model_folder (default: all, dpst with data)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results/<machine>)")
    parser.add_argument("--samples-dir", type=Path, default=None, help="where DPST sample grids go (default runs/bench/<machine>)")
    parser.add_argument("--quick", action="store_true", help="the two bundled example pairs at 128 px, masks off: seconds")
    parser.add_argument(
        "--speed-sizes", default=None, help="speed-table resolutions: 512,1024,2048,4k, all or none (default 512,1024; --quick: 64)"
    )
    return parser


def _inputs(args: argparse.Namespace, data: Path) -> tuple[list[Pair], list[bool], dict[str, Any]]:
    """The pairs, the mask modes and the settings to record; ValueError says what is wrong with the arguments."""
    if args.quick:
        settings = {"pairs": "bundled examples", "long_side": QUICK_LONG_SIDE, "masks": "off", "quick": True}
        return load_example_pairs(QUICK_LONG_SIDE), [False], settings
    numbers = parse_pairs(args.pairs)
    if not (data / "content").is_dir():
        raise ValueError(f"no DPST data at {data} (pass --data)")
    mask_modes = {"both": [False, True], "on": [True], "off": [False]}[args.masks]
    pairs = load_dpst_pairs(data, numbers, args.long_side, with_labels=True)  # scored in both modes
    settings = {"pairs": args.pairs, "long_side": args.long_side, "masks": args.masks, "quick": False}
    return pairs, mask_modes, settings


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data = args.data or default_dpst_dir(REPO_ROOT)
    specs = list(args.methods) if args.methods else [*DEFAULT_METHODS, *([] if args.quick else ["dpst"])]
    speed_sizes = args.speed_sizes or ("64" if args.quick else "512,1024")
    try:
        device = choose_device(args.device)
        sizes = [] if speed_sizes == "none" else parse_sizes(speed_sizes)
        pairs, mask_modes, settings = _inputs(args, data)
        methods, skipped = build_methods(specs, device=device, dpst_results=data / "dpst_result", precision=args.precision)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings.update(methods=specs, precision=args.precision, data=str(data))
    for skip in skipped:
        print(f"skipped {skip.name}: {skip.reason}")
    facts, slug = machine_facts(device), machine_slug(device)
    out = args.out or REPO_ROOT / "bench" / "results" / slug
    speed_table = None
    if sizes:  # before the quality run, so its memory does not sit under the memory figures
        speed_table = write_speed(out, measure_speed([m for m in methods if m.timed], sizes, device, args.precision), facts)
    encoder = VGGEncoder().to(device).eval()  # float32 for every metric, whatever precision the methods run in
    start = time.perf_counter()
    records, outputs = run_benchmark(pairs, methods, mask_modes, encoder)
    recon = reconstruction_psnr(pairs, methods)
    settings["wall_seconds"] = round(time.perf_counter() - start, 3)
    order = [m.name for m in methods]
    table = write_results(out, records, skipped, facts, settings, order, speed_table, recon)
    bundled = all(p.bundled for p in pairs)
    grid_path = out / "samples.png" if bundled else (args.samples_dir or REPO_ROOT / "runs" / "bench" / slug) / "samples.png"
    sample_grid(pairs[:6], outputs, order, grid_path)
    print(leaderboard_markdown(table, facts, settings))
    print(f"wrote {out} (samples: {grid_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
