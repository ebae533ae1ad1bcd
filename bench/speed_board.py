"""The speed leaderboard: run the pytest-benchmark speed tests, turn their JSON into tables.

The timing itself is pytest-benchmark's (``tests/bench/test_speed.py``, one warm-up round
excluded, medians of five rounds), run in a fresh process so the quality run's memory does
not sit under the memory figures. Ratios are the headline: every method's median over
PhotoNAS's ``end_to_end`` median at the same resolution and device, from the same run; and
for PhotoNAS's own stages, each over its encoder alone (the floor it cannot go under).

Examples:
    python -m bench.speed_board --sizes 512,1024 --out bench/results/cpu-2cores
    python -m bench.speed_board --sizes 1024,4k --device cuda --methods photonas,photonet
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.markdown import markdown_table
from bench.speed import DEVICES_ENV, METHODS_ENV, PRECISION_ENV, SIZES_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEED_TESTS = REPO_ROOT / "tests" / "bench" / "test_speed.py"
REFERENCE = ("photonas", "end_to_end")


def run_speed_tests(
    out_json: Path,
    sizes: Sequence[str],
    devices: Sequence[str],
    methods: Sequence[str] | None = None,
    precision: str = "auto",
) -> int:
    """Run the speed tests with benchmarks on, writing pytest-benchmark's JSON; pytest's exit code."""
    env = dict(os.environ)
    env.update({SIZES_ENV: ",".join(sizes), DEVICES_ENV: ",".join(devices), PRECISION_ENV: precision})
    if methods:
        env[METHODS_ENV] = ",".join(methods)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pytest", str(SPEED_TESTS), "-q", "-p", "no:cacheprovider",
        "--benchmark-only", "--benchmark-enable", f"--benchmark-json={out_json}", "-k", "test_speed",
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO_ROOT, env=env).returncode


def speed_table(raw: dict[str, Any]) -> pd.DataFrame:
    """One row per (method, stage, size, device): median and IQR seconds, peak MiB, ratios."""
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
        "Median of 5 timed rounds after one warm-up (pytest-benchmark), tensor in → tensor out, "
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


def write_speed(out: Path, raw: dict[str, Any], facts: dict[str, Any] | None = None) -> pd.DataFrame:
    """speed.json (pytest-benchmark's raw JSON), speed.csv and speed.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(raw, indent=1) + "\n")
    table = speed_table(raw)
    table.to_csv(out / "speed.csv", index=False)
    (out / "speed.md").write_text(speed_markdown(table, facts))
    return table


def measure(out: Path, sizes: Sequence[str], devices: Sequence[str], methods: Sequence[str] | None, precision: str, facts=None) -> pd.DataFrame:
    """Run the speed tests into ``out`` and write the tables; raises if pytest failed."""
    raw_path = out / "speed.raw.json"
    code = run_speed_tests(raw_path, sizes, devices, methods, precision)
    if code != 0 or not raw_path.is_file():
        raise RuntimeError(f"speed tests failed (pytest exit code {code})")
    raw = json.loads(raw_path.read_text())
    raw_path.unlink()
    return write_speed(out, raw, facts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed_board", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="512,1024", help="resolutions: 512,1024,2048,4k (or all)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when present)")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: every timed method)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    args = parser.parse_args(argv)
    from bench.speed import FULL_SIZES, selected_devices

    sizes = list(FULL_SIZES) if args.sizes == "all" else args.sizes.split(",")
    devices = [args.device] if args.device else selected_devices()
    methods = args.methods.split(",") if args.methods else None
    try:
        table = measure(args.out, sizes, devices, methods, args.precision)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(speed_markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
