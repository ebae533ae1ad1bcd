"""Choose the photo-faithful stage's settings on held-out BSDS pairs (never on DPST, the report set).

    python -m bench.refine_tuning                         # 24 pairs at 512 px, every setting
    python -m bench.refine_tuning --pairs 8 --out runs/refine_tuning/quick

Pairs: content ``val_i`` with style ``val_j`` of the 100 held-out BSDS ``val_*`` photos
(``../shared/data/train/bsds500``), drawn by a seeded generator. Every setting is scored with
the leaderboard's own metrics (:func:`bench.scoring.score`) against the same pairs' raw network
output, Monge–Kantorovich and Reinhard, then the working-size study: the refined output at
1024 px with the network at 256, 512 and 1024 px, quality and seconds, on the 24 larger
training photos (``photos/``, up to 1280 px: BSDS's 481 px would have to be upscaled). Writes ``tuning.md``,
``tuning.csv`` and ``working_size.md`` to ``--out`` (default ``runs/refine_tuning``, git-ignored:
its sample grid is made from BSDS photos).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import metrics
from bench.classical import monge_kantorovich, reinhard
from bench.markdown import markdown_table
from bench.pairs import REPO_ROOT, Pair
from bench.scoring import METRICS, score
from photonas.api import load_model
from photonas.colour_grid import resize_long_side
from photonas.encoder import VGGEncoder
from photonas.io import fit_long_side, image_to_tensor, load_image
from photonas.refine import Refinement, colour_stats, flat_style_stand_in, refine

#: The settings tried, as changes to the defaults; the first row is the default itself.
CANDIDATES: tuple[dict, ...] = (
    {},
    {"cells": 4},
    {"cells": 16},
    {"cells": 32, "fit_side": 512},
    {"bins": 4},
    {"bins": 16},
    {"reg": 0.01},
    {"reg": 1.0},
    {"fit_side": 128},
    {"fit_side": 512},
    {"calibrate": 0.0},
    {"calibrate": 0.5},
)


def bsds_pairs(folder: Path, count: int, long_side: int, seed: int = 0, pattern: str = "val_*.jpg") -> list[Pair]:
    """``count`` content/style pairs of distinct photos (``pattern`` in ``folder``), resized to ``long_side``."""
    photos = sorted(folder.glob(pattern))
    if len(photos) < 2:
        raise SystemExit(f"no held-out BSDS photos (val_*.jpg) in {folder}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photos))
    pairs = []
    for i in range(min(count, len(photos) // 2)):
        c, s = photos[order[2 * i]], photos[order[2 * i + 1]]
        pairs.append(
            Pair(
                f"{c.stem}+{s.stem}",
                fit_long_side(load_image(c).rgb, long_side),
                fit_long_side(load_image(s).rgb, long_side),
            )
        )
    return pairs


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return image_to_tensor(rgb)


def _array(x: torch.Tensor) -> np.ndarray:
    return x[0].float().clamp(0, 1).permute(1, 2, 0).numpy()


def _network(model, content: np.ndarray, style: np.ndarray, side: int) -> torch.Tensor:
    c = resize_long_side(_tensor(content), side)
    s = flat_style_stand_in(resize_long_side(_tensor(style), side))
    with torch.inference_mode():
        return model.stylize(c, s).float()


def tune(pairs: Sequence[Pair], encoder: VGGEncoder, log=print) -> pd.DataFrame:
    """One row per (pair, setting) and per reference method, scored with the board's metrics."""
    model = load_model("photonas", "cpu")
    rows = []
    for pair in pairs:
        grams = metrics.gram_matrices(pair.style, encoder)
        side = max(pair.content.shape[:2])
        styled = _network(model, pair.content, pair.style, side)
        pixels = colour_stats(flat_style_stand_in(_tensor(pair.style)))
        outputs = {
            "raw": _array(styled),
            "mk": monge_kantorovich(pair.content.astype(np.float64), pair.style.astype(np.float64)).astype(np.float32),
            "reinhard": reinhard(pair.content.astype(np.float64), pair.style.astype(np.float64)).astype(np.float32),
        }
        for change in CANDIDATES:
            settings = dataclasses.replace(Refinement(), **change)
            name = ", ".join(f"{k}={v}" for k, v in change.items()) or "default"
            outputs[name] = _array(refine(_tensor(pair.content), styled, style_pixels=pixels, settings=settings))
        for name, out in outputs.items():
            rows.append({"pair": pair.name, "setting": name, **score(pair, out, grams, encoder)})
        log(f"  {pair.name}: {len(outputs)} outputs scored")
    return pd.DataFrame(rows)


def working_size(pairs: Sequence[Pair], encoder: VGGEncoder, sides: Sequence[int] = (256, 512, 1024)) -> pd.DataFrame:
    """The refined output at the pairs' size with the network at each of ``sides``: quality and seconds."""
    model = load_model("photonas", "cpu")
    rows = []
    for pair in pairs:
        grams = metrics.gram_matrices(pair.style, encoder)
        content = _tensor(pair.content)
        for side in sides:
            start = time.perf_counter()
            styled = _network(model, pair.content, pair.style, side)
            pixels = colour_stats(flat_style_stand_in(_tensor(pair.style)))
            out = refine(content, styled, style_pixels=pixels)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "pair": pair.name,
                    "network_side": side,
                    "seconds": seconds,
                    **score(pair, _array(out), grams, encoder),
                }
            )
    return pd.DataFrame(rows)


def _means(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    columns = [m for m in METRICS if m in frame] + (["seconds"] if "seconds" in frame else [])
    return frame.groupby(by, sort=False)[columns].mean().reset_index()


def _markdown(table: pd.DataFrame, title: str) -> str:
    header = list(table.columns)
    body = ([f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in table.itertuples(index=False))
    return "\n".join([f"# {title}", "", *markdown_table(header, body)]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refine_tuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "train" / "bsds500")
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--long-side", type=int, default=512)
    parser.add_argument("--size-pairs", type=int, default=8, help="pairs for the working-size study at 1024 px")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "refine_tuning")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    encoder = VGGEncoder().eval()
    pairs = bsds_pairs(args.data, args.pairs, args.long_side)
    frame = tune(pairs, encoder)
    frame.to_csv(args.out / "tuning.csv", index=False)
    (args.out / "tuning.md").write_text(
        _markdown(_means(frame, "setting"), f"Refinement settings, {len(pairs)} BSDS val pairs")
    )
    print((args.out / "tuning.md").read_text())
    if args.size_pairs:
        big = bsds_pairs(args.data.parent / "photos", args.size_pairs, 1024, seed=1, pattern="*.jpg")
        sizes = working_size(big, encoder)
        sizes.to_csv(args.out / "working_size.csv", index=False)
        (args.out / "working_size.md").write_text(
            _markdown(_means(sizes, "network_side"), "Network working size, output at 1024 px")
        )
        print((args.out / "working_size.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
