"""Evaluate a trained decoder on the DPST benchmark: reconstruction quality and a sample grid.

Examples:
    python train/evaluate.py --model runs/train/photonas
    python train/evaluate.py --model photonet --device cuda --long-side 1024
    python train/evaluate.py --model runs/train/photonas --data ../shared/data/dpst --out runs/eval/try1
    python train/evaluate.py --model runs/train/photonas --limit 4 --pairs 1,23 --device cpu

Writes, under ``--out`` (default ``runs/eval/<model name>``, git-ignored: the images come
from DPST and never go into git):

    reconstruction.csv  one row per content photo: image, width, height, psnr, ssim, seconds
    summary.json        mean / median / worst PSNR and SSIM, total seconds, device
    samples.png         rows: pairs; columns: content, style, output, output with masks
    samples/NN_*.png    each stylised output at full size

Reconstruction: each ``content/NN.jpg`` is resized (Lanczos) so its long side is
``--long-side``, passed through ``model.reconstruct`` and compared with the resized photo
(PSNR and SSIM from scikit-image on float images in [0, 1]). Seconds are model time alone,
after one untimed warm-up pass. ``--limit N`` keeps the first N photos and the first N pairs.

Exit status: 0 done, 1 the model or an image could not be used, 2 bad arguments or no data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageOps
from tqdm import tqdm

from photonas.api import load_model, stylize
from photonas.device import autocast, choose_device, wall_time
from photonas.io import fit_long_side, image_to_tensor, load_image, save_image
from photonas.model import StyleTransferModel
from photonas.presets import PRESETS
from photonas.training.data import DATA_ENV, default_dpst_dir
from photonas.training.metrics import psnr, ssim

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Pairs shown by default: varied scenes; pair 23 is content == style (a self-transfer check).
DEFAULT_PAIRS: tuple[int, ...] = (1, 5, 9, 14, 23, 38)
GRID_COLUMNS: tuple[str, ...] = ("content", "style", "output", "output with masks")
#: Height of the text band above each grid cell, in pixels.
LABEL_HEIGHT = 14
#: Largest grid cell side; full-size outputs are saved separately.
MAX_CELL = 256
# SSIM's default 7x7 window needs both sides at least 7 pixels.
MIN_LONG_SIDE = 16


def _reconstruct(model: StyleTransferModel, rgb: np.ndarray, device: torch.device, precision: str) -> np.ndarray:
    """``model.reconstruct`` of one float ``(H, W, 3)`` image, clamped to [0, 1], back on the CPU."""
    with torch.inference_mode(), autocast(device, precision):
        out = model.reconstruct(image_to_tensor(rgb).to(device))
    return out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


# ---- reconstruction ----------------------------------------------------------------------


def content_photos(dpst_dir: str | os.PathLike) -> list[Path]:
    """``content/NN.jpg`` of a DPST folder, sorted."""
    return sorted((Path(dpst_dir) / "content").glob("*.jpg"))


def evaluate_reconstruction(
    model: StyleTransferModel,
    content_dir: str | os.PathLike | Sequence[Path],
    long_side: int,
    device: str | torch.device,
    *,
    precision: str = "fp32",
    progress: bool = True,
) -> pd.DataFrame:
    """PSNR and SSIM of ``model.reconstruct`` on every photo, resized to ``long_side``.

    Args:
        model: the model, already on ``device``.
        content_dir: a folder of ``.jpg`` photos, or the photos themselves.
        long_side: the longer side of each photo as evaluated, in pixels.
        device: where the photos go; the model must be there already.
        precision: ``fp32`` (default), ``auto``, ``bf16`` or ``fp16`` for the convolutions.
        progress: show a tqdm bar.

    Returns:
        One row per photo: image, width, height, psnr, ssim, seconds.
    """
    photos = sorted(Path(content_dir).glob("*.jpg")) if isinstance(content_dir, (str, os.PathLike)) else list(content_dir)
    if not photos:
        raise FileNotFoundError(f"no .jpg photos in {content_dir}")
    device = torch.device(device)
    rows: list[dict[str, Any]] = []
    for index, path in enumerate(tqdm(photos, desc="reconstruct", unit="img", disable=not progress)):
        reference = fit_long_side(load_image(path, name="content image").rgb, long_side)
        if index == 0:
            _reconstruct(model, reference, device, precision)  # warm-up: kernel selection, allocator
        output, seconds = wall_time(partial(_reconstruct, model, reference, device, precision), device)
        rows.append(
            {
                "image": path.name,
                "width": reference.shape[1],
                "height": reference.shape[0],
                "psnr": psnr(reference, output),
                "ssim": ssim(reference, output),
                "seconds": seconds,
            }
        )
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the rows as CSV."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)


def summarize(table: pd.DataFrame | Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean, median and worst PSNR and SSIM (with the worst image) and total model seconds."""
    rows = pd.DataFrame(table).to_dict("records")
    summary: dict[str, Any] = {"images": len(rows)}
    for metric in ("psnr", "ssim"):
        values = [float(r[metric]) for r in rows]
        worst = min(rows, key=lambda r: float(r[metric]))
        summary[f"{metric}_mean"] = statistics.fmean(values)
        summary[f"{metric}_median"] = statistics.median(values)
        summary[f"{metric}_worst"] = float(worst[metric])
        summary[f"{metric}_worst_image"] = worst["image"]
    summary["total_seconds"] = sum(float(r["seconds"]) for r in rows)
    return summary


def _json_safe(value: Any) -> Any:
    """Infinite PSNR (a perfect reconstruction) as null: JSON has no infinity."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ---- sample grid -------------------------------------------------------------------------


def _cell(image: Image.Image | None, label: str, cell: int) -> Image.Image:
    """``image`` fitted into a ``cell`` square under a ``LABEL_HEIGHT`` text band."""
    tile = Image.new("RGB", (cell, cell + LABEL_HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, LABEL_HEIGHT, cell - 1, cell + LABEL_HEIGHT - 1), fill=(200, 200, 200))
    if image is not None:
        fitted = ImageOps.contain(image.convert("RGB"), (cell, cell), Image.Resampling.LANCZOS)
        tile.paste(fitted, ((cell - fitted.width) // 2, LABEL_HEIGHT + (cell - fitted.height) // 2))
    draw.text((2, 1), label, fill=(0, 0, 0))
    return tile


def _as_pil(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))


def sample_grid(
    model: StyleTransferModel,
    dpst_dir: str | os.PathLike,
    pairs: Sequence[int],
    long_side: int,
    out_path: str | os.PathLike,
    *,
    samples_dir: str | os.PathLike | None = None,
    cell: int | None = None,
    progress: bool = True,
) -> Image.Image:
    """Stylise DPST pairs without and with their label maps and save a grid PNG to ``out_path``.

    Rows are pairs; columns are content, style, output, output with masks. Content and style
    are resized to ``long_side`` first. A pair whose masks cannot be used (e.g. regions too
    small at this size) gets an empty masked cell and a warning rather than stopping the grid.

    Args:
        model: the model, on the device to run on.
        dpst_dir: folder with content/, style/, content_seg/, style_seg/.
        pairs: pair numbers (1 … 60).
        long_side: longer side of the stylised images.
        out_path: the grid PNG.
        samples_dir: where to also save each output at full size (``NN_output.png``,
            ``NN_masked.png``); None saves none.
        cell: grid cell side; default ``min(long_side, MAX_CELL)``.
        progress: show a tqdm bar.
    """
    if not pairs:
        raise ValueError("sample_grid needs at least one pair")
    dpst = Path(dpst_dir)
    cell = cell or min(long_side, MAX_CELL)
    rows: list[list[Image.Image]] = []
    for pair in tqdm(pairs, desc="samples", unit="pair", disable=not progress):
        nn = f"{pair:02d}"
        content, style = (
            fit_long_side(load_image(dpst / part / f"{nn}.jpg", name=f"{part} image").rgb, long_side) for part in ("content", "style")
        )
        output = stylize(content, style, model=model)
        try:
            masked: Image.Image | None = stylize(
                content, style, model=model, masks=(dpst / "content_seg" / f"{nn}.png", dpst / "style_seg" / f"{nn}.png")
            )
        except ValueError as err:
            tqdm.write(f"warning: pair {nn}: masked stylisation skipped: {err}", file=sys.stderr)
            masked = None
        if samples_dir is not None:
            save_image(output, Path(samples_dir) / f"{nn}_output.png")
            if masked is not None:
                save_image(masked, Path(samples_dir) / f"{nn}_masked.png")
        images = (_as_pil(content), _as_pil(style), output, masked)
        labels = [f"{nn} {column}" for column in GRID_COLUMNS]
        if masked is None:
            labels[3] = f"{nn} masks: n/a"
        rows.append([_cell(image, label, cell) for image, label in zip(images, labels)])
    grid = Image.new("RGB", (len(GRID_COLUMNS) * cell, len(rows) * (cell + LABEL_HEIGHT)), (255, 255, 255))
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            grid.paste(tile, (c * cell, r * (cell + LABEL_HEIGHT)))
    save_image(grid, out_path)
    return grid


# ---- command line ------------------------------------------------------------------------


def _long_side(text: str) -> int:
    value = int(text)
    if value < MIN_LONG_SIDE:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_LONG_SIDE}, got {value}")
    return value


def _pairs(text: str) -> list[int]:
    try:
        pairs = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated pair numbers, got {text!r}") from None
    if any(p < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"pair numbers start at 1, got {text!r}")
    return pairs


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``evaluate.py`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Reconstruction PSNR/SSIM and a stylisation sample grid on the DPST benchmark.",
    )
    parser.add_argument("--model", required=True, help=f"a preset ({', '.join(PRESETS)}) or a folder with config.json + model.safetensors")
    parser.add_argument("--data", type=Path, default=None, help=f"DPST folder (default: ${DATA_ENV}/dpst, else {default_dpst_dir(REPO_ROOT)})")
    parser.add_argument("--long-side", type=_long_side, default=512, help="longer side of every evaluated image (default: 512)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: CUDA, then MPS, then CPU)")
    parser.add_argument(
        "--precision", choices=("fp32", "auto", "bf16", "fp16"), default="fp32",
        help="convolution precision for reconstruction (default: fp32; stylize uses the library's auto)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="output folder (default: runs/eval/<model name> in the repo)")
    parser.add_argument(
        "--pairs", type=_pairs, default=list(DEFAULT_PAIRS),
        help=f"DPST pairs in the sample grid, e.g. 1,5,9; empty for none (default: {','.join(map(str, DEFAULT_PAIRS))})",
    )  # fmt: skip
    parser.add_argument("--limit", type=_positive, help="evaluate only the first N photos and the first N pairs")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def _model_name(model: str) -> str:
    return model.lower() if model.lower() in PRESETS else Path(model).resolve().name


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _fail(message: str, status: int) -> int:
    print(f"evaluate.py: error: {message}", file=sys.stderr)
    return status


def _print_summary(summary: dict[str, Any]) -> None:
    print(
        f"{summary['images']} images at long side {summary['long_side']} on {summary['device']} ({summary['precision']})\n"
        f"PSNR  mean {summary['psnr_mean']:.2f}  median {summary['psnr_median']:.2f}  "
        f"worst {summary['psnr_worst']:.2f} ({summary['psnr_worst_image']})\n"
        f"SSIM  mean {summary['ssim_mean']:.4f}  median {summary['ssim_median']:.4f}  "
        f"worst {summary['ssim_worst']:.4f} ({summary['ssim_worst_image']})\n"
        f"model time {summary['total_seconds']:.2f} s in all"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help and argparse's own usage errors
        return int(stop.code or 0)
    data = args.data or default_dpst_dir(REPO_ROOT)
    if not data.is_dir():
        return _fail(f"DPST folder {data} not found: pass --data or set ${DATA_ENV}", 2)
    photos = content_photos(data)
    if not photos:
        return _fail(f"no DPST photos at {data}/content/*.jpg: pass --data or set ${DATA_ENV}", 2)
    pairs = args.pairs[: args.limit] if args.limit else args.pairs
    missing = [p for p in pairs if not (data / "style" / f"{p:02d}.jpg").is_file()]
    if missing:
        return _fail(f"pairs {missing} are not in {data} (no style/NN.jpg)", 2)
    try:
        device = choose_device(args.device)
    except ValueError as err:
        return _fail(_one_line(err), 2)
    out = args.out or REPO_ROOT / "runs" / "eval" / _model_name(args.model)
    try:
        model = load_model(args.model, device, args.precision)
        table = evaluate_reconstruction(
            model, photos[: args.limit], args.long_side, device, precision=args.precision, progress=not args.no_progress
        )
        write_table(table, out / "reconstruction.csv")
        summary = {
            "model": args.model, "code": str(model.code), "device": str(device), "precision": args.precision,
            "long_side": args.long_side, **summarize(table),
        }  # fmt: skip
        (out / "summary.json").write_text(json.dumps({k: _json_safe(v) for k, v in summary.items()}, indent=2) + "\n")
        _print_summary(summary)
        if pairs:
            sample_grid(model, data, pairs, args.long_side, out / "samples.png", samples_dir=out / "samples", progress=not args.no_progress)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as err:  # WeightsNotFoundError, ImageError, unknown preset, failed write
        return _fail(_one_line(err), 1)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
