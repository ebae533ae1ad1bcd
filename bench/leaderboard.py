"""The quality run's reports: the leaderboard table and its Markdown, the scatter plot, sample grids.

:func:`write_results` writes a results folder from the records of
:func:`bench.scoring.run_benchmark`: ``results.json``, ``results.csv``, ``leaderboard.md``
(with the speed tables of :mod:`bench.speed_board` when given) and ``scatter.png``.

Examples:
    >>> table = summarise(records, skipped, order=["photonas", "mk"])  # doctest: +SKIP
    >>> print(leaderboard_markdown(table, machine_facts(device), settings))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from bench.markdown import markdown_table
from bench.methods import REFERENCE_METHOD, Skipped
from bench.pairs import Pair
from bench.scoring import METRICS
from bench.speed_board import speed_markdown
from photonas.baselines import BASELINES, train_command

GRID_CELL = 128
#: A neural row whose mean reconstruction PSNR over the pairs' contents is below this is
#: shown as untrained and left out of the quality rank: a rank must not rest on a broken rival.
UNTRAINED_PSNR = 15.0
#: The rows the pair-by-pair comparison puts side by side: (ours, rival).
HEAD_TO_HEAD = ("photonas", "mk")


def summarise(
    records: list[dict[str, Any]], skipped: Sequence[Skipped], order: Sequence[str], recon: dict[str, float] | None = None
) -> pd.DataFrame:
    """Leaderboard table (pandas): metric means, median seconds and ratio over PhotoNAS, one row per method.

    ``recon`` (row → reconstruction PSNR) adds a ``recon_psnr`` column; rows under
    :data:`UNTRAINED_PSNR` get the status "untrained" with the command that trains them and
    are left out of the quality rank.
    """
    recon = recon or {}
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


def quality_rank(table: pd.DataFrame) -> Any:
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
    return pd.concat(ranks, axis=1).mean(axis=1).rank(method="min")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def leaderboard_markdown(table: pd.DataFrame, facts: dict[str, Any], settings: dict[str, Any]) -> str:
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


def scatter_plot(table: pd.DataFrame, path: Path) -> None:
    """Speed against quality: median seconds (log) against edge-SSIM and Gram loss."""
    ok = table[(table["status"] == "ok") & table["median_s"].notna()] if "median_s" in table else table.iloc[0:0]
    fig = Figure(figsize=(10, 4))  # no pyplot: no global figure state, no GUI backend
    axes = fig.subplots(1, 2)
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
    speed: pd.DataFrame | None = None,
    recon: dict[str, float] | None = None,
) -> pd.DataFrame:
    """results.json, results.csv, leaderboard.md (with the speed tables) and scatter.png; returns the leaderboard."""
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
