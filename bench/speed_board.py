"""The speed leaderboard: time every method (:func:`bench.speed.measure_speed`), turn the entries into tables.

Ratios are the headline: every method's median over PhotoNAS's ``end_to_end`` median at the
same resolution and device, from the same run; and for PhotoNAS's own stages, each over its
encoder alone (the floor it cannot go under). ``python -m bench`` writes these tables before
its quality run; this entry point writes them alone.

Examples:
    python -m bench.speed_board --sizes 512,1024 --out bench/results/cpu-2cores
    python -m bench.speed_board --sizes 1024,4k --device cuda --methods photonas,photonet
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.machine import machine_facts
from bench.markdown import markdown_table
from bench.methods import DEFAULT_METHODS, build_methods
from bench.speed import ROUNDS, WARMUP, default_devices, measure_speed, parse_sizes

REFERENCE = ("photonas", "end_to_end")


def speed_table(raw: dict[str, Any]) -> pd.DataFrame:
    """One row per (method, stage, size, device): median and IQR seconds, peak MiB, ratios.

    ``raw`` is the content of ``speed.json``: ``{"benchmarks": [...]}`` with one
    :func:`bench.speed.speed_entry` per timed call.
    """
    rows = []
    for bench in raw.get("benchmarks", []):
        info, stats = bench.get("extra_info", {}), bench["stats"]
        rows.append(
            {
                "method": info["method"],
                "stage": info["stage"],
                "size": info["size"],
                "device": info["device"],
                "precision": info.get("precision", "auto"),
                "median_s": stats["median"],
                "iqr_s": stats["iqr"],
                "rounds": stats["rounds"],
                "peak_mb": info.get("peak_mb", math.nan),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    key = ["size", "device"]
    reference = table[(table["method"] == REFERENCE[0]) & (table["stage"] == REFERENCE[1])].set_index(key)["median_s"]
    encoder = table[table["stage"] == "encoder"].set_index(["method", *key])["median_s"]
    table["ratio_vs_photonas"] = [
        row.median_s / reference.get((row.size, row.device), math.nan) for row in table.itertuples()
    ]
    table["ratio_vs_own_encoder"] = [
        row.median_s / encoder.get((row.method, row.size, row.device), math.nan) for row in table.itertuples()
    ]
    return table


def _size_order(size: str) -> int:
    return {"64": 0, "512": 1, "1024": 2, "2048": 3, "4k": 4}.get(size, 9)


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def speed_markdown(table: pd.DataFrame, facts: dict[str, Any] | None = None) -> str:
    """Two tables: every method end to end per resolution, and PhotoNAS-family stages against their encoder."""
    if table.empty:
        return "## Speed\n\nNo speed results.\n"
    lines = ["## Speed", ""]
    if facts:
        lines += [f"Machine: {facts.get('cuda_device', facts.get('processor', ''))}, {facts.get('cpu_count')} CPUs, torch {facts.get('torch')}.", ""]
    lines += [
        f"Median of {ROUNDS} timed rounds after {WARMUP} warm-up call, tensor in → tensor out, "
        "style work included; `×PhotoNAS` divides by PhotoNAS's median at the same size in the same run; "
        "peak is the extra memory of one call (CUDA: allocator peak; CPU: resident-set growth).",
        "",
    ]
    for device, part in table.groupby("device", sort=False):
        ends = part[part["stage"] == "end_to_end"]
        sizes = sorted(ends["size"].unique(), key=_size_order)
        header = ["method"] + [f"{s} {col}" for s in sizes for col in ("s", "×PhotoNAS", "peak MiB")]
        rows = []
        for method in dict.fromkeys(ends["method"]):
            cells = [method]
            for size in sizes:
                hit = ends[(ends["method"] == method) & (ends["size"] == size)]
                if hit.empty:
                    cells += ["–", "–", "–"]
                else:
                    row = hit.iloc[0]
                    cells += [_fmt(row.median_s), _fmt(row.ratio_vs_photonas), _fmt(row.peak_mb, 4)]
            rows.append(cells)
        lines += [f"### {device}: end to end", "", *markdown_table(header, rows), ""]
        staged = part[part["stage"] != "end_to_end"]
        if not staged.empty:
            header = ["method", "size", "stage", "s", "×own encoder", "peak MiB"]
            title = f"### {device}: stages (`preset` = style statistics precomputed)"
            staged = part[part["method"].isin(staged["method"].unique())]
            ordered = staged.sort_values(["method", "size"], key=lambda c: c.map(_size_order) if c.name == "size" else c)
            rows = [
                [row.method, row.size, row.stage, _fmt(row.median_s), _fmt(row.ratio_vs_own_encoder), _fmt(row.peak_mb, 4)]
                for row in ordered.itertuples()
            ]
            lines += [title, "", *markdown_table(header, rows), ""]
    return "\n".join(lines) + "\n"


def write_speed(out: Path, benchmarks: Sequence[dict[str, Any]], facts: dict[str, Any] | None = None) -> pd.DataFrame:
    """speed.json (the machine and every entry of :func:`bench.speed.measure_speed`), speed.csv and speed.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    raw = {
        "machine_info": facts or {},
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "benchmarks": list(benchmarks),
    }
    (out / "speed.json").write_text(json.dumps(raw, indent=1) + "\n")
    table = speed_table(raw)
    table.to_csv(out / "speed.csv", index=False)
    (out / "speed.md").write_text(speed_markdown(table, facts))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed_board", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="512,1024", help="resolutions: 512,1024,2048,4k (or all)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when present)")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: every timed method)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    args = parser.parse_args(argv)
    specs = [m.strip() for m in args.methods.split(",")] if args.methods else list(DEFAULT_METHODS)
    devices = [args.device] if args.device else default_devices()
    try:
        sizes = parse_sizes(args.sizes)
        built = [(device, *build_methods(specs, device=device, precision=args.precision)) for device in devices]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    entries = []
    for device, methods, skipped in built:
        for skip in skipped:
            print(f"skipped {skip.name} on {device}: {skip.reason}")
        entries += measure_speed(methods, sizes, device, args.precision)
    table = write_speed(args.out, entries, machine_facts(torch.device(devices[-1])))
    print(speed_markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
