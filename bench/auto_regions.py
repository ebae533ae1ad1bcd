"""Tuning study for automatic regions (:mod:`photonas.regions`) on held-out BSDS photos.

Run (2-core CPU, one thread, about 6 minutes; ``--only NAME`` runs one candidate)::

    python -m bench.auto_regions --data ../shared/data/train/bsds500 --out runs/auto_regions
    python -m bench.auto_regions --pairs 24 --natural 12 --pipelines    # about 3 minutes
    python -m bench.auto_regions --time

Only the held-out ``val_*`` photos are used (DPST is for reporting, never for choosing).
Outputs, all under ``--out`` (git-ignored; images made from BSDS photos never go in git):
``table.md`` / ``table.csv`` (one row per candidate), ``grid.png`` (natural pairs: content,
style, global transfer, content and style regions, region-wise transfer) and
``mosaic_grid.png`` (the scored pairs).

How candidates are judged. A region method is only as good as the pairing it finds, and the
labels it finds cannot judge themselves (a region-wise transfer matches *any* partition's
colours region by region). So the scored pairs have known pairings: the content is two BSDS
photos side by side (A | B); the style is *other* crops of the same two photos, mirrored, in a
random order, each recoloured towards the palette of a different third photo (Monge–Kantorovich
transfer), so A's style half and B's style half have distinct palettes. The truth: A's pixels
should take A's style half's colours, B's B's.

- ``rcd``: :func:`bench.metrics.region_color_distance` under the *true* tile labels of a
  region-wise Monge–Kantorovich transfer (:func:`bench.classical.monge_kantorovich`) made with
  the candidate's labels (Lab units, lower is better).
- ``gap``: share of the gap between the global transfer (0) and the transfer with the true
  labels (1) that the candidate closes, over all pairs (ratio of the summed differences).
- ``match``: chance that a content pixel's style region lies in its own photo's tile (0.5 is
  guessing; a content label the style lacks counts 0.5).
- ``edge_ssim`` (mosaic and natural pairs), relative to the global transfer: region borders
  cutting through smooth areas show up as new edges (seams).
- ``regions``: mean number of content regions; ``ms``: labelling time per pair given features.

Two other measurements share the pairs and the command (each instead of the study):

- ``--pipelines``: where automatic regions act in the default output, with the shipped
  PhotoNAS: in the network's transfers and the colour calibration, or in the calibration
  alone, with hard or feathered borders (``pipelines.md``: rcd, gap, edge_ssim).
- ``--time``: ``photonas.stylize`` end to end at 1024² on two bundled photos without and with
  ``masks="auto"``, in one run (``timing.md``).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.classical import monge_kantorovich
from bench.markdown import markdown_table
from bench.metrics import edge_ssim, region_color_distance
from photonas import PhotoNAS
from photonas.api import AUTO, summarise_style
from photonas.encoder import VGGEncoder
from photonas.highres import find_regions, stylize_photo
from photonas.io import image_to_tensor
from photonas.options import Options
from photonas.padding import pad_to_grid
from photonas.presets import EXAMPLES_DIR
from photonas.refine import Refinement
from photonas.regions import RegionConfig, fit_regions
from photonas.transforms import resize_labels

#: Pixels per region the colour distance samples (the metric's default, 65,536, is 4x slower here).
SAMPLES = 1 << 14
#: Side of a mosaic tile (height × width) and the long side natural pairs are scaled to.
TILE = (224, 224)
NATURAL_SIDE = 400
#: Colours for drawing regions in the grids.
OVERLAY = np.array(
    [[0.9, 0.1, 0.1], [0.1, 0.4, 0.95], [0.1, 0.8, 0.2], [0.95, 0.85, 0.1], [0.7, 0.2, 0.8], [0.1, 0.85, 0.85],
     [1.0, 0.5, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]
)


def candidates() -> dict[str, RegionConfig]:
    """The settings measured: k for each method, then one change at a time around ``style k=4``.

    The first round starts from 64-channel projections and no position term (spelled out, so
    the rows keep their meaning whatever the library's defaults are).
    """
    first = RegionConfig(projection=64, position_weight=0.0, color_weight=0.0)
    out = {f"style k={k}": replace(first, method="style", regions=k) for k in (2, 3, 4, 5)}
    for method in ("joint", "separate"):
        out |= {f"{method} k={k}": replace(first, method=method, regions=k) for k in (3, 5)}
    base = replace(first, method="style", regions=4)
    out |= {
        "style k=4 relu5_1 only": replace(base, levels=("relu5_1",)),
        "style k=4 full 512-d levels": replace(base, projection=0),
        "style k=4 no smoothing": replace(base, smoothing=1),
        "style k=4 min 10%": replace(base, min_fraction=0.10),
        "style k=4 colour 0.5": replace(base, color_weight=0.5),
        "style k=4 position 0.25": replace(base, position_weight=0.25),
    }
    for k in (3, 4, 5):
        out[f"style k={k} colour 0.5 position 0.25"] = replace(base, regions=k, color_weight=0.5, position_weight=0.25)
    out["joint k=4 colour 0.5 position 0.25"] = replace(base, method="joint", color_weight=0.5, position_weight=0.25)
    # Second round: the two changes that helped (all 512 channels, position), together.
    full = replace(base, projection=0, position_weight=0.25)
    for method, k in (("style", 3), ("style", 4), ("style", 5), ("joint", 4), ("joint", 5)):
        out[f"{method} k={k} full position 0.25"] = replace(full, method=method, regions=k)
    out["style k=4 full position 0.5"] = replace(full, position_weight=0.5)
    out["style k=4 projection 256 position 0.25"] = replace(full, projection=256)
    return out


def load(path: Path, height: int | None = None, long_side: int | None = None) -> np.ndarray:
    """A photo as float (H, W, 3), scaled to ``height`` or to ``long_side``."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    scale = height / h if height else long_side / max(w, h)
    image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255


@dataclass
class Pair:
    content: np.ndarray
    style: np.ndarray
    content_truth: np.ndarray | None  # tile labels of the scored pairs, None for natural pairs
    style_truth: np.ndarray | None


def mosaic_pairs(photos: list[Path], count: int, rng: np.random.Generator) -> list[Pair]:
    """Content A|B; style = other mirrored crops of A and B, shuffled, recoloured apart."""
    pairs = []
    for _ in range(count):
        a, b, c, d = rng.choice(len(photos), size=4, replace=False)
        tiles, style_tiles = [], []
        for index, grade in ((a, c), (b, d)):
            photo = load(photos[index], height=TILE[0])
            if photo.shape[1] < 1.25 * TILE[1]:  # portrait: widen, keep the middle rows
                photo = load(photos[index], height=round(TILE[0] * 1.25 * TILE[1] / photo.shape[1]) + 1)
                top = (photo.shape[0] - TILE[0]) // 2
                photo = photo[top : top + TILE[0]]
            width = photo.shape[1]
            x_content = int(rng.integers(0, max(1, width - TILE[1]) // 3 + 1))
            x_style = width - TILE[1] - int(rng.integers(0, max(1, width - TILE[1]) // 3 + 1))
            tiles.append(photo[:, x_content : x_content + TILE[1]])
            other = photo[:, x_style : x_style + TILE[1]][:, ::-1]
            palette = load(photos[grade], height=TILE[0])
            style_tiles.append(monge_kantorovich(np.ascontiguousarray(other), palette))
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        content_truth = np.repeat(np.repeat(np.array([[0, 1]]), TILE[0], 0), TILE[1], 1)
        style_truth = np.repeat(np.repeat(np.array([order]), TILE[0], 0), TILE[1], 1)
        pairs.append(
            Pair(np.concatenate(tiles, 1), np.concatenate([style_tiles[i] for i in order], 1), content_truth, style_truth)
        )
    return pairs


def natural_pairs(photos: list[Path], count: int, rng: np.random.Generator) -> list[Pair]:
    """Two different BSDS photos: no truth, for edge_ssim and for looking at."""
    picks = rng.choice(len(photos), size=(count, 2), replace=False)
    return [Pair(load(photos[i], long_side=NATURAL_SIDE), load(photos[j], long_side=NATURAL_SIDE), None, None) for i, j in picks]


def encode(encoder: VGGEncoder, image: np.ndarray):
    padded, box = pad_to_grid(image_to_tensor(image))
    with torch.inference_mode():
        return encoder(padded), box, padded


def find_labels(config: RegionConfig, content, style) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels from precomputed ``(feats, box, padded, shape)`` of both photos, and the time taken."""
    start = time.perf_counter()
    matcher, style_labels = fit_regions(
        style[0], style[1], config, style_image=style[2],
        content_feats=content[0], content_box=content[1], content_image=content[2],
    )
    content_labels = matcher.label(content[0], content[1], content[2])
    return content_labels[0].numpy(), style_labels[0].numpy(), time.perf_counter() - start


def match_rate(labels_c, labels_s, truth_c, truth_s) -> float:
    """Chance that a content pixel's style region lies in its own tile (0.5 if the style lacks its label)."""
    total = 0.0
    for label in np.unique(labels_c):
        region = labels_c == label
        source = labels_s == label
        if not source.any():
            total += 0.5 * region.sum()
            continue
        for tile in (0, 1):
            total += (region & (truth_c == tile)).sum() * (truth_s[source] == tile).mean()
    return float(total / labels_c.size)


def overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return 0.5 * image + 0.5 * OVERLAY[labels % len(OVERLAY)]


def save_grid(rows: list[list[np.ndarray]], path: Path, height: int = 160) -> None:
    """Images scaled to one ``height``, laid out row by row on white."""
    scaled = [[Image.fromarray((np.clip(im, 0, 1) * 255).astype(np.uint8)) for im in row] for row in rows]
    scaled = [[im.resize((round(im.width * height / im.height), height)) for im in row] for row in scaled]
    width = max(sum(im.width + 4 for im in row) for row in scaled)
    grid = Image.new("RGB", (width, len(rows) * (height + 4)), "white")
    for r, row in enumerate(scaled):
        x = 0
        for im in row:
            grid.paste(im, (x, r * (height + 4)))
            x += im.width + 4
    grid.save(path)


def study(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    photos = sorted(Path(args.data).glob("val_*.jpg"))
    if len(photos) < 8:
        raise SystemExit(f"need the held-out BSDS val_*.jpg photos in {args.data}")
    rng = np.random.default_rng(args.seed)
    mosaics = mosaic_pairs(photos, args.pairs, rng)
    naturals = natural_pairs(photos, args.natural, rng)
    encoder = VGGEncoder()
    encoded = [
        tuple((*encode(encoder, image), image.shape[:2]) for image in (pair.content, pair.style))
        for pair in mosaics + naturals
    ]
    globals_ = [monge_kantorovich(p.content, p.style) for p in mosaics + naturals]
    oracle_rcd = [
        region_color_distance(monge_kantorovich(p.content, p.style, p.content_truth, p.style_truth), p.style,
                              p.content_truth, p.style_truth, max_pixels=SAMPLES)
        for p in mosaics
    ]
    global_rcd = [region_color_distance(g, p.style, p.content_truth, p.style_truth, max_pixels=SAMPLES) for g, p in zip(globals_, mosaics)]
    global_edge = [edge_ssim(p.content, g) for g, p in zip(globals_, mosaics + naturals)]
    n = len(mosaics)
    header = ["candidate", "rcd", "gap", "match", "edge_ssim mosaic", "edge_ssim natural", "regions", "ms"]
    rows = [
        ["global (no labels)", f"{np.mean(global_rcd):.2f}", "0.00", "0.50", f"{np.mean(global_edge[:n]):.4f}",
         f"{np.mean(global_edge[n:]):.4f}", "1.0", "0"],
        ["true tile labels", f"{np.mean(oracle_rcd):.2f}", "1.00", "1.00", "", "", "2.0", ""],
    ]
    outputs: dict[str, list] = {}
    chosen = {name: config for name, config in candidates().items() if not args.only or name in args.only}
    for name, config in chosen.items():
        rcd, match, edges, regions, seconds, results = [], [], [], [], [], []
        for pair, (content, style) in zip(mosaics + naturals, encoded):
            labels_c, labels_s, took = find_labels(config, content, style)
            out = monge_kantorovich(pair.content, pair.style, labels_c, labels_s)
            edges.append(edge_ssim(pair.content, out))
            regions.append(len(np.unique(labels_c)))
            seconds.append(took)
            results.append((labels_c, labels_s, out))
            if pair.content_truth is not None:
                rcd.append(region_color_distance(out, pair.style, pair.content_truth, pair.style_truth, max_pixels=SAMPLES))
                match.append(match_rate(labels_c, labels_s, pair.content_truth, pair.style_truth))
        gap = (np.sum(global_rcd) - np.sum(rcd)) / (np.sum(global_rcd) - np.sum(oracle_rcd))
        rows.append([
            name, f"{np.mean(rcd):.2f}", f"{gap:.2f}", f"{np.mean(match):.2f}",
            f"{np.mean(np.array(edges[:n]) - global_edge[:n]):+.4f}", f"{np.mean(np.array(edges[n:]) - global_edge[n:]):+.4f}",
            f"{np.mean(regions):.1f}", f"{1000 * np.mean(seconds):.0f}",
        ])
        outputs[name] = results
        print(" | ".join(rows[-1]), flush=True)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    note = ("edge_ssim columns of candidates are differences from the global transfer's "
            f"({np.mean(global_edge[:n]):.4f} mosaic, {np.mean(global_edge[n:]):.4f} natural). "
            f"{n} mosaic pairs, {len(naturals)} natural pairs, seed {args.seed}; 1 thread.")
    (out_dir / "table.md").write_text("\n".join(markdown_table(header, rows) + ["", note]) + "\n")
    with open(out_dir / "table.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    shown = args.show if args.show in outputs else next(iter(outputs))
    for pairs, offset, name in ((naturals, n, "grid.png"), (mosaics[:6], 0, "mosaic_grid.png")):
        grid = []
        for i, pair in enumerate(pairs):
            labels_c, labels_s, out = outputs[shown][offset + i]
            grid.append([pair.content, pair.style, globals_[offset + i], overlay(pair.content, labels_c),
                         overlay(pair.style, labels_s), out])
        save_grid(grid, out_dir / name)
    print(f"wrote {out_dir}/table.md, table.csv, grid.png, mosaic_grid.png (regions shown: {shown})")


#: Where the regions act in the photo-faithful output, measured by ``--pipelines``: name →
#: (regions in the network's transfers too, the calibration's feathering).
PIPELINES: dict[str, tuple[bool, float]] = {
    "network and calibration, hard": (True, 0.0),
    "calibration only, hard": (False, 0.0),
    "calibration only, feather 0.02": (False, 0.02),
    "calibration only, feather 0.05": (False, 0.05),
    "calibration only, feather 0.1": (False, 0.1),
}


def _library_output(model, content: np.ndarray, style: np.ndarray, labels, network: bool, feather: float) -> np.ndarray:
    """The default output of the shipped model with the library's automatic regions (``labels`` None),
    given labels ``(content, style)``, or no regions (``labels`` False), regions acting as ``network``/``feather`` say."""
    c, s = image_to_tensor(content), image_to_tensor(style)
    refinement = Refinement(separate_regions=False, feather=feather)
    with torch.inference_mode():
        if labels is False:
            out = stylize_photo(model, c, summarise_style(model, s), Options(max_side=max(c.shape[-2:])))
        elif labels is None:
            stats = summarise_style(model, s, AUTO, network_regions=network)
            found = resize_labels(find_regions(model, c, stats.regions, max(c.shape[-2:])), c.shape[-2:])
            options = Options(max_side=max(c.shape[-2:]), refinement=refinement)
            out = stylize_photo(model, c, stats, options, content_labels=found if network else None,
                                regions=None if network else stats.regions)
        else:
            c_lab, s_lab = (torch.from_numpy(np.ascontiguousarray(x)).long()[None] for x in labels)
            stats = summarise_style(model, s, s_lab, network_regions=network)
            out = stylize_photo(model, c, stats, Options(max_side=max(c.shape[-2:])), content_labels=c_lab)
    return out[0].permute(1, 2, 0).numpy()


def pipelines(args: argparse.Namespace) -> None:
    """Where automatic regions act in the default output (network and calibration, or the calibration
    alone, with feathered borders), scored like the candidates with the shipped PhotoNAS."""
    torch.set_num_threads(2)
    photos = sorted(Path(args.data).glob("val_*.jpg"))
    rng = np.random.default_rng(args.seed)
    mosaics, naturals = mosaic_pairs(photos, args.pairs, rng), natural_pairs(photos, args.natural, rng)
    model = PhotoNAS.from_pretrained().for_inference("cpu")

    def scores(outputs: list[np.ndarray]) -> tuple[float, float, float]:
        rcd = [region_color_distance(o, p.style, p.content_truth, p.style_truth, max_pixels=SAMPLES)
               for o, p in zip(outputs, mosaics)]
        edges = [edge_ssim(p.content, o) for o, p in zip(outputs, mosaics + naturals)]
        return float(np.mean(rcd)), float(np.mean(edges[: len(mosaics)])), float(np.mean(edges[len(mosaics):]))

    none = scores([_library_output(model, p.content, p.style, False, False, 0.0) for p in mosaics + naturals])
    truth = scores([_library_output(model, p.content, p.style, (p.content_truth, p.style_truth), True, 0.0)
                    for p in mosaics] + [np.zeros_like(p.content) for p in naturals])
    header = ["where the regions act", "rcd", "gap", "edge_ssim mosaic", "edge_ssim natural"]
    rows = [["no regions", f"{none[0]:.2f}", "0.00", f"{none[1]:.4f}", f"{none[2]:.4f}"],
            ["true tile labels, network and calibration", f"{truth[0]:.2f}", "1.00", f"{truth[1]:.4f}", ""]]
    for name, (network, feather) in PIPELINES.items():
        rcd, mosaic, natural = scores([_library_output(model, p.content, p.style, None, network, feather)
                                       for p in mosaics + naturals])
        gap = (none[0] - rcd) / (none[0] - truth[0])
        rows.append([name, f"{rcd:.2f}", f"{gap:.2f}", f"{mosaic:.4f}", f"{natural:.4f}"])
        print(" | ".join(rows[-1]), flush=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    note = (f"Shipped PhotoNAS, default output at the pairs' size; automatic regions with the library's settings. "
            f"{len(mosaics)} mosaic pairs, {len(naturals)} natural pairs, seed {args.seed}; 2 threads.")
    (out_dir / "pipelines.md").write_text("\n".join(markdown_table(header, rows) + ["", note]) + "\n")
    print(f"wrote {out_dir}/pipelines.md")


def timing(side: int = 1024, repeats: int = 3) -> str:
    """``stylize`` end to end at ``side``² on two bundled photos, without and with ``masks="auto"``, in one run."""
    import photonas

    model = photonas.api.load_model("photonas", "cpu")
    content = Image.open(EXAMPLES_DIR / "bridge_day.jpg").convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    style = Image.open(EXAMPLES_DIR / "golden_hour.jpg").convert("RGB")

    def best(masks) -> float:
        photonas.stylize(content, style, model, masks=masks)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            photonas.stylize(content, style, model, masks=masks)
            times.append(time.perf_counter() - start)
        return min(times)

    plain, auto = best(None), best("auto")
    line = (f"`stylize` at {side}x{side} (bridge_day.jpg onto golden_hour.jpg, default output, {torch.get_num_threads()} "
            f"threads, best of {repeats}): without regions {plain:.3f} s, with masks=\"auto\" {auto:.3f} s; "
            f"added cost {100 * (auto - plain) / plain:.1f} %.\n")
    print(line)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/train/bsds500", help="folder with the BSDS val_*.jpg photos")
    parser.add_argument("--out", default="runs/auto_regions")
    parser.add_argument("--pairs", type=int, default=12, help="scored mosaic pairs")
    parser.add_argument("--natural", type=int, default=4, help="natural pairs (edge_ssim and the grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", default="style k=5 full position 0.25", help="candidate drawn in the grids and timed")
    parser.add_argument("--only", action="append", help="run just this candidate (repeatable)")
    parser.add_argument("--time", action="store_true", help="instead: time stylize at 1024² without and with regions")
    parser.add_argument("--pipelines", action="store_true", help="instead: compare where the regions act")
    args = parser.parse_args()
    if args.pipelines:
        pipelines(args)
    elif args.time:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "timing.md").write_text(timing())
    else:
        study(args)


if __name__ == "__main__":
    main()
