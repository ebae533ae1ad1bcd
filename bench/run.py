"""Run the benchmark: every method on every pair, timed and scored, into one results folder.

Examples:
    python -m bench --quick                                  # bundled photos at 128 px, seconds
    python -m bench --pairs 1-60 --long-side 512             # the DPST leaderboard on this machine
    python -m bench --pairs 1,5,9 --methods photonas=runs/train/photonas reinhard mk
    python -m bench --device cuda --long-side 1024 --masks off

Writes ``--out`` (default ``bench/results/<machine>``, e.g. ``cpu-2cores``):

    results.json     machine facts, settings, one record per (pair, masks, method), skipped rows
    results.csv      the same records as a table (pandas)
    speed.json       pytest-benchmark's raw JSON of the speed tests (``--speed-sizes``)
    speed.csv        one row per method, stage, size and device: medians, peak memory, ratios
    leaderboard.md   method × metric means, quality rank, median seconds and the ratio over
                     PhotoNAS's median; then the speed tables (see :mod:`bench.speed_board`)
    scatter.png      speed against quality, one point per method
    samples.png      the outputs side by side: in ``--out`` for the bundled example photos only;
                     for DPST pairs under ``runs/bench/<machine>/`` (git-ignored, DPST images
                     never go into git)

Timing: the speed tables come from pytest-benchmark in a separate process, before the quality
run, at fixed resolutions (``--speed-sizes``, default 512 and 1024). In the quality run each
timed method also runs once untimed on the first pair (warm-up), then every call is timed
alone, style statistics included, at the pairs' own sizes. The ``dpst`` row reads published
outputs and is never timed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench import metrics
from bench.markdown import markdown_table
from bench.methods import (
    DEFAULT_METHODS,
    REFERENCE_METHOD,
    Method,
    Skipped,
    build_methods,
    parse_method_spec,
)
from bench.speed import FULL_SIZES
from bench.speed_board import measure, speed_markdown
from photonas.device import choose_device
from photonas.encoder import VGGEncoder
from photonas.io import load_image
from photonas.masks import load_label_map

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "photonas" / "examples"
#: Quick runs: these bundled photos as (content, style), at this long side.
QUICK_PAIRS: tuple[tuple[str, str], ...] = (("chelsea", "coffee"), ("rocket", "chelsea"))
QUICK_LONG_SIDE = 128
#: Metric columns, with the direction that is better (for the leaderboard header).
METRICS: dict[str, str] = {
    "edge_ssim": "↑",
    "ssim": "↑",
    "gram_loss": "↓",
    "swd_lab": "↓",
    "artifact_energy": "↓",
    "region_swd_lab": "↓",
}
GRID_CELL = 128
#: A neural row whose mean reconstruction PSNR over the pairs' contents is below this is
#: shown as untrained and left out of the quality rank: a rank must not rest on a broken rival.
UNTRAINED_PSNR = 15.0
#: The rows the pair-by-pair comparison puts side by side: (ours, rival).
HEAD_TO_HEAD = ("photonas", "mk")


@dataclass(frozen=True)
class Pair:
    """One content/style pair, loaded and resized; label maps when the data has them."""

    name: str
    content: np.ndarray
    style: np.ndarray
    content_labels: np.ndarray | None = None
    style_labels: np.ndarray | None = None
    bundled: bool = False


# ---- inputs ------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$PHOTONAS_DATA/dpst`` if set, else ``<repo>/../shared/data/dpst``."""
    env = os.environ.get("PHOTONAS_DATA")
    return Path(env) / "dpst" if env else REPO_ROOT.parent / "shared" / "data" / "dpst"


def parse_pairs(spec: str) -> list[int]:
    """``"1-60"``, ``"1,5,9"`` or a mix (``"1-3,9"``) → sorted pair numbers."""
    numbers: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"bad --pairs part {part!r}: use 1-60, 1,5,9 or a mix")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise ValueError(f"bad --pairs range {part!r}")
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float ``(H, W, 3)`` image Lanczos-resized to ``(width, height)`` on float data."""
    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb.astype(np.float32)
    channels = [np.asarray(Image.fromarray(rgb[..., c].astype(np.float32)).resize(size, Image.Resampling.LANCZOS)) for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def _fit_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = long_side / max(width, height)
    return resize_rgb(rgb, (max(1, round(width * scale)), max(1, round(height * scale))))


def load_dpst_pairs(data: Path, numbers: Sequence[int], long_side: int, with_labels: bool) -> list[Pair]:
    """DPST pairs ``NN`` from ``content/``, ``style/`` (and ``*_seg/`` label maps)."""
    pairs = []
    for n in numbers:
        nn = f"{n:02d}"
        content = _fit_long_side(load_image(data / "content" / f"{nn}.jpg", name=f"content {nn}").rgb, long_side)
        style = _fit_long_side(load_image(data / "style" / f"{nn}.jpg", name=f"style {nn}").rgb, long_side)
        c_lab = s_lab = None
        if with_labels:
            c_lab = load_label_map(data / "content_seg" / f"{nn}.png", (content.shape[1], content.shape[0]), name=f"content label map {nn}")
            s_lab = load_label_map(data / "style_seg" / f"{nn}.png", (style.shape[1], style.shape[0]), name=f"style label map {nn}")
        pairs.append(Pair(nn, content, style, c_lab, s_lab))
    return pairs


def load_example_pairs(long_side: int = QUICK_LONG_SIDE) -> list[Pair]:
    """The bundled example photos as pairs (no label maps): the only inputs whose grids are committed."""
    def photo(name: str) -> np.ndarray:
        return _fit_long_side(load_image(EXAMPLES_DIR / f"{name}.jpg", name=name).rgb, long_side)

    return [Pair(f"{c}-{s}", photo(c), photo(s), bundled=True) for c, s in QUICK_PAIRS]


# ---- machine -----------------------------------------------------------------------------


def machine_facts(device: torch.device) -> dict[str, Any]:
    """What the timings depend on; saved in the JSON."""
    facts: dict[str, Any] = {
        "device": str(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    if device.type == "cuda":
        facts["cuda_device"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
    return facts


def machine_slug(device: torch.device) -> str:
    """``cpu-2cores``, or the CUDA device name as a slug (``nvidia-h100-80gb-hbm3``)."""
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return f"{device.type}-{os.cpu_count()}cores"


# ---- scoring -----------------------------------------------------------------------------


def score(pair: Pair, output: np.ndarray, style_grams: dict, encoder: VGGEncoder) -> dict[str, float]:
    """Every metric of one output; ``region_swd_lab`` whenever the pair has label maps.

    With masks off the method never saw the maps, and the region distance then says how well
    it matched regions on its own (automatic regions, or a content-aware network).
    """
    row = {
        "edge_ssim": metrics.edge_ssim(pair.content, output),
        "ssim": metrics.ssim(pair.content.astype(np.float64), output.astype(np.float64)),
        "gram_loss": metrics.gram_loss(output, style_grams, encoder),
        "swd_lab": metrics.sliced_wasserstein_lab(output, pair.style),
        "artifact_energy": metrics.artifact_energy(pair.content, output),
    }
    if pair.content_labels is not None and pair.style_labels is not None:
        try:
            row["region_swd_lab"] = metrics.region_color_distance(output, pair.style, pair.content_labels, pair.style_labels)
        except ValueError:  # no shared region: the measure does not apply to this pair
            row["region_swd_lab"] = math.nan
    return row


def _network(method: Method):
    """The encoder–decoder under a row (refined rows included), or None for a training-free one."""
    inner = getattr(method, "inner", method)
    return getattr(inner, "model", None)


def reconstruction_psnr(pairs: Sequence[Pair], methods: Sequence[Method]) -> dict[str, float]:
    """Mean reconstruction PSNR (dB) over the pairs' contents of every row that has a network.

    Each network is measured once (rows sharing one share the figure). A style transfer cannot
    be better than its auto-encoder, so this says whether a neural row is trained at all.
    """
    by_model: dict[int, float] = {}
    result: dict[str, float] = {}
    for method in methods:
        net = _network(method)
        if net is None or not hasattr(net, "reconstruct"):
            continue
        if id(net) not in by_model:
            device = net.device
            values = []
            for pair in pairs:
                with torch.inference_mode():
                    out = net.reconstruct(torch.from_numpy(pair.content).permute(2, 0, 1)[None].to(device))
                rebuilt = out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float64)
                values.append(metrics.psnr(pair.content.astype(np.float64), rebuilt))
            by_model[id(net)] = float(np.mean(values))
        result[method.name] = by_model[id(net)]
    return result


def _timed(method: Method, pair: Pair, masked: bool) -> tuple[np.ndarray, float]:
    labels = (pair.content_labels, pair.style_labels) if masked else (None, None)
    start = time.perf_counter()
    out = method.run(pair.content, pair.style, *labels, pair=pair.name)
    return out, time.perf_counter() - start


def run_benchmark(
    pairs: Sequence[Pair],
    methods: Sequence[Method],
    mask_modes: Sequence[bool],
    encoder: VGGEncoder,
    log=print,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """One record per (pair, masks, method), and the outputs by pair and method (masks off first)."""
    records: list[dict[str, Any]] = []
    outputs: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:  # warm-up, untimed
        if method.timed and pairs:
            method.run(pairs[0].content, pairs[0].style, pair=pairs[0].name)
    for pair in pairs:
        style_grams = metrics.gram_matrices(pair.style, encoder)  # once per pair, shared by every method
        for masked in mask_modes:
            if masked and pair.content_labels is None:
                continue
            for method in methods:
                try:
                    out, seconds = _timed(method, pair, masked)
                except (FileNotFoundError, ValueError) as err:
                    log(f"  {pair.name} {method.name}: skipped ({err})")
                    continue
                outputs.setdefault(pair.name, {}).setdefault(method.name, out)
                record = {"pair": pair.name, "masks": masked, "method": method.name, "kind": method.kind}
                record["seconds"] = seconds if method.timed else math.nan
                record.update(score(pair, out, style_grams, encoder))
                records.append(record)
                log(f"  {pair.name} masks={'on' if masked else 'off'} {method.name}: {record['seconds']:.3f} s")
    return records, outputs


# ---- reports -----------------------------------------------------------------------------


def summarise(
    records: list[dict[str, Any]], skipped: Sequence[Skipped], order: Sequence[str], recon: dict[str, float] | None = None
):
    """Leaderboard table (pandas): metric means, median seconds and ratio over PhotoNAS, one row per method.

    ``recon`` (row → reconstruction PSNR) adds a ``recon_psnr`` column; rows under
    :data:`UNTRAINED_PSNR` get the status "untrained" with the command that trains them and
    are left out of the quality rank.
    """
    from photonas.baselines import BASELINES, train_command

    recon = recon or {}
    import pandas as pd

    frame = pd.DataFrame(records)
    rows = []
    reference = math.nan
    if not frame.empty and REFERENCE_METHOD in set(frame["method"]):
        reference = float(frame.loc[frame["method"] == REFERENCE_METHOD, "seconds"].median())
    for name in order:
        part = frame[frame["method"] == name] if not frame.empty else frame
        if part.empty:
            continue
        row: dict[str, Any] = {"method": name, "status": "ok", "n": len(part)}
        for metric in METRICS:
            row[metric] = float(part[metric].mean()) if metric in part and part[metric].notna().any() else math.nan
        row["median_s"] = float(part["seconds"].median()) if part["seconds"].notna().any() else math.nan
        row["ratio_vs_photonas"] = row["median_s"] / reference if reference and not math.isnan(reference) else math.nan
        row["recon_psnr"] = recon.get(name, math.nan)
        if row["recon_psnr"] < UNTRAINED_PSNR:
            base = name.split("+")[0].removesuffix("-raw")
            how = train_command(base) if base in BASELINES else f"python train/train_decoder.py --code {base}"
            row["status"] = f"untrained ({row['recon_psnr']:.1f} dB < {UNTRAINED_PSNR:g}): train with `{how}`"
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        ranked = table["status"] == "ok"
        table["quality_rank"] = math.nan
        table.loc[ranked, "quality_rank"] = quality_rank(table[ranked])
    for skip in skipped:
        table = pd.concat([table, pd.DataFrame([{"method": skip.name, "status": f"skipped: {skip.reason}", "n": 0}])], ignore_index=True)
    return table


def quality_rank(table) -> Any:
    """1 = best: the mean over quality metrics of each method's rank on that metric (ties share).

    Every metric counts once, in its own better direction; a metric a method lacks (region
    distance with masks off) is left out of its mean. Speed is not part of it.
    """
    ranks = []
    for metric, better in METRICS.items():
        if metric in table and table[metric].notna().any():
            ranks.append(table[metric].rank(ascending=better == "↓", method="average"))
    if not ranks:
        return math.nan
    import pandas as pd

    return pd.concat(ranks, axis=1).mean(axis=1).rank(method="min")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def leaderboard_markdown(table, facts: dict[str, Any], settings: dict[str, Any]) -> str:
    """The leaderboard as Markdown: one row per method, skipped rows with their reason."""
    columns = ["method", *[m for m in METRICS if m in table], "quality_rank", "median_s", "ratio_vs_photonas", "recon_psnr", "n", "status"]
    header = [c if c not in METRICS else f"{c} {METRICS[c]}" for c in columns]
    lines = [
        f"# Benchmark on {facts.get('cuda_device', facts['device'])} ({facts['cpu_count']} CPUs, torch {facts['torch']})",
        "",
        (
            f"Pairs: {settings['pairs']} · long side {settings['long_side']} px · masks {settings['masks']}. "
            "Metric columns are means over pairs and mask modes; `median_s` is the median seconds per "
            "image (style statistics included, warm-up excluded); `ratio_vs_photonas` divides it by "
            "PhotoNAS's median from this run; `quality_rank` ranks the mean of each method's rank on "
            "every quality metric (1 = best); `recon_psnr` is the row's network's mean reconstruction "
            f"PSNR over the contents (rows under {UNTRAINED_PSNR:g} dB are untrained and unranked). "
            "`region_swd_lab` compares each content region with the same style region of the data's "
            "label maps in both mask modes (with masks off the method never saw them). "
            "`photonas` and `photonet` are the default photo-faithful output, `-raw` the paper's network "
            "output, `+refine` another row's output through the same refinement (`mk+refine`: driven by "
            "Monge–Kantorovich instead of a network), `photonas+auto` the default output with automatic "
            "regions when no label maps are given."
        ),
        "",
        *markdown_table(header, ([_fmt(row.get(c, math.nan)) for c in columns] for _, row in table.iterrows())),
    ]
    return "\n".join(lines) + "\n"


def by_mask_mode_markdown(records: list[dict[str, Any]]) -> str:
    """Metric means per method and mask mode (off: no label maps; on: the data's label maps)."""
    import pandas as pd

    frame = pd.DataFrame(records)
    if frame.empty:
        return ""
    metric_cols = [m for m in METRICS if m in frame]
    table = frame.groupby(["method", "masks"], sort=False)[metric_cols].mean().reset_index()
    header = ["method", "masks", *[f"{m} {METRICS[m]}" for m in metric_cols]]
    body = ([row["method"], "on" if row["masks"] else "off", *[_fmt(float(row[m])) for m in metric_cols]] for _, row in table.iterrows())
    return "\n".join(["## By mask mode", "", *markdown_table(header, body)]) + "\n"


def head_to_head_markdown(records: list[dict[str, Any]], ours: str = HEAD_TO_HEAD[0], rival: str = HEAD_TO_HEAD[1]) -> str:
    """Pair by pair (and mask mode): on how many of them ``ours`` beats ``rival`` on more metrics than it loses."""
    import pandas as pd

    frame = pd.DataFrame(records)
    if frame.empty or not {ours, rival} <= set(frame["method"]):
        return ""
    keyed = frame.set_index(["pair", "masks", "method"])
    wins = total = 0
    for (pair, masked), _ in frame.groupby(["pair", "masks"]):
        if (pair, masked, ours) not in keyed.index or (pair, masked, rival) not in keyed.index:
            continue
        a, b = keyed.loc[(pair, masked, ours)], keyed.loc[(pair, masked, rival)]
        score = 0
        for metric, better in METRICS.items():
            if metric in a and pd.notna(a[metric]) and pd.notna(b[metric]) and a[metric] != b[metric]:
                score += 1 if (a[metric] > b[metric]) == (better == "↑") else -1
        wins += score > 0
        total += 1
    worst = frame.loc[frame["method"] == ours, "edge_ssim"].min()
    return (
        f"## {ours} against {rival}, pair by pair\n\n{ours} beats {rival} (better on more metrics than worse) on "
        f"{wins} of {total} pair and mask-mode cases ({wins / max(total, 1):.0%}). Worst pair's edge_ssim for {ours}: "
        f"{worst:.3f}.\n"
    )


def scatter_plot(table, path: Path) -> None:
    """Speed against quality: median seconds (log) against edge-SSIM and Gram loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[(table["status"] == "ok") & table["median_s"].notna()] if "median_s" in table else table.iloc[0:0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("edge_ssim", "gram_loss")):
        for _, row in ok.iterrows():
            ax.scatter(row["median_s"], row[metric])
            ax.annotate(row["method"], (row["median_s"], row[metric]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if len(ok):
            ax.set_xscale("log")
        ax.set_xlabel("median seconds per image (log)")
        ax.set_ylabel(f"{metric} {METRICS[metric]}")
        ax.grid(True, alpha=0.3)
    fig.suptitle("speed vs quality")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sample_grid(pairs: Sequence[Pair], outputs: dict[str, dict[str, np.ndarray]], names: Sequence[str], path: Path) -> None:
    """Rows: pairs; columns: content, style, then each method's output (masks off)."""
    columns = ["content", "style", *names]
    label = 14
    grid = Image.new("RGB", (GRID_CELL * len(columns), (GRID_CELL + label) * len(pairs)), "white")
    draw = ImageDraw.Draw(grid)
    for r, pair in enumerate(pairs):
        images = {"content": pair.content, "style": pair.style, **outputs.get(pair.name, {})}
        for c, name in enumerate(columns):
            x, y = c * GRID_CELL, r * (GRID_CELL + label)
            draw.text((x + 2, y), name, fill="black")
            if name in images:
                cell = Image.fromarray(np.uint8(np.clip(images[name], 0, 1) * 255 + 0.5))
                cell.thumbnail((GRID_CELL, GRID_CELL))
                grid.paste(cell, (x, y + label))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return _json_safe(value.item())
    return value


def write_results(
    out: Path,
    records: list[dict[str, Any]],
    skipped: Sequence[Skipped],
    facts: dict[str, Any],
    settings: dict[str, Any],
    order: Sequence[str],
    speed: Any = None,
    recon: dict[str, float] | None = None,
) -> Any:
    """results.json, results.csv, leaderboard.md (with the speed tables) and scatter.png; returns the leaderboard."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    table = summarise(records, skipped, order, recon)
    payload = {
        "machine": facts,
        "settings": settings,
        "records": [{k: _json_safe(v) for k, v in r.items()} for r in records],
        "skipped": [{"method": s.name, "reason": s.reason} for s in skipped],
        "leaderboard": [{k: _json_safe(v) for k, v in row.items()} for row in table.to_dict("records")],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    pd.DataFrame(records).to_csv(out / "results.csv", index=False)
    board = leaderboard_markdown(table, facts, settings)
    for extra in (by_mask_mode_markdown(records), head_to_head_markdown(records)):
        if extra:
            board += "\n" + extra
    if speed is not None:
        board += "\n" + speed_markdown(speed, facts)
    (out / "leaderboard.md").write_text(board)
    scatter_plot(table, out / "scatter.png")
    return table


# ---- entry point -------------------------------------------------------------------------


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        device = choose_device(args.device)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    slug = machine_slug(device)
    out = args.out or REPO_ROOT / "bench" / "results" / slug
    data = args.data or default_data_dir()
    specs = list(args.methods) if args.methods else [*DEFAULT_METHODS, *([] if args.quick else ["dpst"])]
    if args.quick:
        pairs, mask_modes = load_example_pairs(QUICK_LONG_SIDE), [False]
        settings = {"pairs": "bundled examples", "long_side": QUICK_LONG_SIDE, "masks": "off", "quick": True}
    else:
        try:
            numbers = parse_pairs(args.pairs)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if not (data / "content").is_dir():
            print(f"error: no DPST data at {data} (pass --data)", file=sys.stderr)
            return 2
        mask_modes = {"both": [False, True], "on": [True], "off": [False]}[args.masks]
        pairs = load_dpst_pairs(data, numbers, args.long_side, with_labels=True)  # scored in both modes
        settings = {"pairs": args.pairs, "long_side": args.long_side, "masks": args.masks, "quick": False}
    settings.update(methods=specs, precision=args.precision, data=str(data))
    try:
        methods, skipped = build_methods(specs, device=device, dpst_results=data / "dpst_result", precision=args.precision)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for skip in skipped:
        print(f"skipped {skip.name}: {skip.reason}")
    speed_sizes = args.speed_sizes or ("64" if args.quick else "512,1024")
    speed_table = None
    if speed_sizes != "none":
        sizes = list(FULL_SIZES) if speed_sizes == "all" else [s.strip() for s in speed_sizes.split(",")]
        timed_names = {m.name for m in methods if m.timed}
        timed = [spec for spec in specs if parse_method_spec(spec)[0] in timed_names]
        try:
            speed_table = measure(out, sizes, [device.type], timed, args.precision, machine_facts(device))
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    encoder = VGGEncoder().to(device).eval()  # float32 for every metric, whatever precision the methods run in
    start = time.perf_counter()
    records, outputs = run_benchmark(pairs, methods, mask_modes, encoder)
    recon = reconstruction_psnr(pairs, methods)
    settings["wall_seconds"] = round(time.perf_counter() - start, 3)
    order = [m.name for m in methods]
    table = write_results(out, records, skipped, machine_facts(device), settings, order, speed_table, recon)
    bundled = all(p.bundled for p in pairs)
    grid_path = out / "samples.png" if bundled else (args.samples_dir or REPO_ROOT / "runs" / "bench" / slug) / "samples.png"
    sample_grid(pairs[:6], outputs, order, grid_path)
    print(leaderboard_markdown(table, machine_facts(device), settings))
    print(f"wrote {out} (samples: {grid_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
