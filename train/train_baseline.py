"""Train the decoders of a re-implemented baseline (PhotoWCT-style or WCT2-style) for the benchmark.

    # PhotoWCT: four decoders, trained one after another (relu1_1 first), steps per decoder
    python -m train.train_baseline --model photowct --steps 150,60,60,80 --out runs/baselines/photowct

    # WCT2: one Haar-unpooling decoder
    python -m train.train_baseline --model wct2 --steps 150 --out runs/baselines/wct2

    # continue a stopped run exactly where its last checkpoint left it
    python -m train.train_baseline --out runs/baselines/wct2 --resume

    # reconstruction PSNR/SSIM on the first 5 DPST contents at 512 px (added to config.json)
    python -m train.train_baseline --evaluate runs/baselines/photowct --dpst ../shared/data/dpst --limit 5

Same recipe pieces as train/train_decoder.py (photonas.training): random multi-scale crops,
pixel + layer-normalised VGG feature loss, Adam with warm-up and cosine decay, atomic
checkpoints, exact resume. The model (config.json + model.safetensors, with the training
facts in config.json) lands in OUT itself, where the benchmark looks for it; OUT/log.csv and
OUT/loss.png record the run.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch.utils.data import DataLoader
from tqdm import tqdm

from bench.baselines import BASELINES, BaselineModel, load_baseline
from bench.baselines.vgg import CONFIG_NAME
from photonas.checkpoint import atomic_path
from photonas.training.data import EpochSampler, RandomCrops, list_photos
from photonas.training.loop import CHECKPOINT_NAME, learning_rate, load_checkpoint, plot_losses, save_checkpoint
from photonas.training.losses import ReconstructionLoss

PROGRESS_NAME = "progress.json"
LOG_FIELDS = ("step", "part", "lr", "loss", "pixel", "feature", "val_psnr", "elapsed_s")


@dataclass
class BaselineTrainConfig:
    """Everything a baseline run depends on; saved in every checkpoint.

    Attributes:
        model: "photowct" or "wct2".
        data: folder of training photos (BSDS500 ``val_*`` photos are held out).
        out: run folder; the trained model is written here too.
        steps: optimiser steps of each part (one per decoder, in the model's ``parts`` order).
        batch_size: crops per step.
        crop: crop side in pixels.
        scale: range of the random resize before cropping.
        lr: peak learning rate of each part.
        warmup: warm-up steps of each part (linear), then cosine decay.
        min_lr_ratio: the decay ends at lr · min_lr_ratio.
        pixel_weight: weight of the pixel MSE.
        feature_weight: weight of the layer-normalised feature MSE.
        checkpoint_every: steps between checkpoints.
        val_images: held-out crops whose reconstruction PSNR is logged.
        seed: seeds initialisation, data order and crops.
        threads: CPU intra-op threads (the machine is shared: 1 by default).
    """

    model: str = "wct2"
    data: str = "../shared/data/train"
    out: str = "runs/baselines/wct2"
    steps: tuple[int, ...] = (150,)
    batch_size: int = 4
    crop: int = 128
    scale: tuple[float, float] = (0.25, 1.0)
    lr: float = 1e-3
    warmup: int = 50
    min_lr_ratio: float = 0.05
    pixel_weight: float = 1.0
    feature_weight: float = 0.01
    checkpoint_every: int = 50
    val_images: int = 8
    seed: int = 0
    threads: int = 1

    def to_json(self) -> str:
        """JSON of every field."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BaselineTrainConfig:
        """Inverse of :meth:`to_json` (tuples restored)."""
        raw = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def part_bounds(config: BaselineTrainConfig, parts: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(part, first global step, end step) of each part."""
    if len(config.steps) != len(parts):
        raise ValueError(f"{config.model} trains {len(parts)} parts {parts}: give that many --steps, got {config.steps}")
    bounds, start = [], 0
    for part, steps in zip(parts, config.steps):
        bounds.append((part, start, start + steps))
        start += steps
    return bounds


@torch.no_grad()
def validation_psnr(model: BaselineModel, images: torch.Tensor, part: str) -> float | None:
    """Mean reconstruction PSNR (dB) of ``part`` over held-out crops (None without any)."""
    if not len(images):
        return None
    mse = (model.reconstruct(images, part).clamp(0, 1) - images).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return float((-10 * torch.log10(mse)).mean())


#: Output std the last decoder conv is initialised to (about that of photos in [0, 1]).
PIXEL_STD = 0.25


@torch.no_grad()
def scale_convs(model: BaselineModel, part: str, images: torch.Tensor) -> None:
    """Data-dependent initialisation (LSUV-style) of ``part``'s decoder convs, in order.

    The Caffe VGG's activations run to the hundreds and the skips (Haar bands, or the values
    max unpooling places) carry that scale into the decoder, so with the default
    initialisation a fresh decoder mixes features of very different sizes and outputs values
    tens of times too large; Adam's bounded steps then spend hundreds of steps rescaling. Here
    each conv is rescaled so its output std equals its input's (the encoder's scale carries
    through), the last one to :data:`PIXEL_STD` around the images' mean colour. Deterministic given the images, so a resumed
    run repeats it exactly.
    """
    convs = [m for m in model.decoders[part].modules() if isinstance(m, torch.nn.Conv2d)]
    for index, conv in enumerate(convs):
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []
        handle = conv.register_forward_hook(lambda _m, inputs, output, seen=seen: seen.append((inputs[0], output)))
        try:
            model.reconstruct_part(images, part)
        finally:
            handle.remove()
        given, made = seen[0]
        last = index == len(convs) - 1
        factor = (PIXEL_STD if last else float(given.std())) / max(float(made.std()), 1e-8)
        conv.weight.mul_(factor)
        conv.bias.mul_(factor)
        if last:  # start at the photos' mean colour: Adam would take hundreds of lr-sized steps to get there
            conv.bias.add_(images.mean(dim=(0, 2, 3)) - factor * made.mean(dim=(0, 2, 3)))


def _val_images(config: BaselineTrainConfig) -> torch.Tensor:
    try:
        photos = list_photos(config.data, "val")[: config.val_images]
    except FileNotFoundError:
        return torch.empty(0, 3, config.crop, config.crop)
    crops = RandomCrops(photos, config.crop, config.scale, seed=12345, flips=False)
    return torch.stack([crops[i] for i in range(len(crops))])


def _load_decoders(path: Path, model: BaselineModel) -> int:
    """Every decoder's weights from a checkpoint (strict); returns its step."""
    with safe_open(str(path), framework="pt") as f:
        state = {k.removeprefix("decoder."): f.get_tensor(k) for k in f.keys() if k.startswith("decoder.")}  # noqa: SIM118 (safe_open is no dict)
        step = int(f.metadata()["step"])
    model.decoders.load_state_dict(state, strict=True)
    return step


def _write_json(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def train(config: BaselineTrainConfig, resume: bool = False, until: int | None = None) -> Path | None:
    """Train every part of ``config.model`` in turn; returns the folder of the saved model.

    ``until`` stops early after that (global) step with a checkpoint and returns None: resume
    later with ``resume=True``.
    """
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = BASELINES[config.model]()
    bounds = part_bounds(config, model.parts)
    checkpoint, progress_path = out / CHECKPOINT_NAME, out / PROGRESS_NAME
    step = 0
    if resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
        step = _load_decoders(checkpoint, model)
    elif checkpoint.exists():
        raise FileExistsError(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
    progress = json.loads(progress_path.read_text()) if resume and progress_path.is_file() else {}
    (out / "train_config.json").write_text(config.to_json() + "\n")

    photos = list_photos(config.data, "train")
    dataset = RandomCrops(photos, config.crop, config.scale, config.seed)
    sampler = EpochSampler(len(dataset), config.seed)
    steps_per_epoch = sampler.per_rank // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(photos)} training photos make no full batch of {config.batch_size}")
    loader = DataLoader(dataset, config.batch_size, sampler=sampler, drop_last=True)
    val_images = _val_images(config)
    with open(out / "log.csv", "a" if resume else "w", newline="") as log_file:
        log = csv.DictWriter(log_file, LOG_FIELDS)
        if not resume:
            log.writeheader()

        for part, first, end in bounds:
            if step >= end:
                continue  # trained before the resume
            decoder = model.decoders[part].train()
            optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
            if resume and step > first:  # stopped inside this part: its optimiser state is in the checkpoint
                load_checkpoint(checkpoint, model.decoders, optimizer)
            if step == first:
                dataset.set_epoch(max(first - 1, 0) // steps_per_epoch)  # the crops a run without a resume would draw
                scale_convs(model, part, torch.stack([dataset[i] for i in range(config.batch_size)]))
            loss_fn = ReconstructionLoss(model.encoder, config.pixel_weight, config.feature_weight, model.loss_levels(part))
            part_config = dataclasses.replace(config, steps=end - first, warmup=min(config.warmup, (end - first) // 4))
            record = progress.setdefault(part, {"steps": 0, "seconds": 0.0, "val_psnr": None})
            bar = tqdm(total=end - first, initial=step - first, desc=f"{config.model} {part}", unit="step")
            tick = time.perf_counter()
            while step < end and step != until:
                epoch, offset = divmod(step, steps_per_epoch)
                dataset.set_epoch(epoch)
                sampler.set_epoch(epoch, offset * config.batch_size)
                for batch in loader:
                    lr = learning_rate(part_config, step - first)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    parts = loss_fn(model.reconstruct_part(batch, part), batch)
                    optimizer.zero_grad(set_to_none=True)
                    parts.total.backward()
                    optimizer.step()
                    step += 1
                    bar.update(1)
                    now = time.perf_counter()
                    record["seconds"] += now - tick
                    record["steps"] = step - first
                    tick = now
                    val = None
                    if step % config.checkpoint_every == 0 or step == end:
                        decoder.eval()
                        val = validation_psnr(model, val_images, part)
                        decoder.train()
                        record["val_psnr"] = val
                        save_checkpoint(checkpoint, model.decoders, optimizer, step, config)
                        _write_json(progress_path, progress)
                        tick = time.perf_counter()  # validation and checkpoints are not training time
                    loss = float(parts.total.detach())
                    row = {"step": step, "part": part, "lr": lr, "loss": loss, "pixel": float(parts.pixel)}
                    log.writerow(row | {"feature": float(parts.feature), "val_psnr": val, "elapsed_s": record["seconds"]})
                    log_file.flush()
                    bar.set_postfix(loss=f"{loss:.4f}", val_psnr="" if val is None else f"{val:.2f}")
                    if step == until and step % config.checkpoint_every and step != end:
                        save_checkpoint(checkpoint, model.decoders, optimizer, step, config)
                        _write_json(progress_path, progress)
                    if step >= end or step == until:
                        break
            bar.close()
            decoder.eval()
            if step == until:
                return None
    plot_losses(out / "log.csv", out / "loss.png")
    card = {
        "training": {
            "parts": {part: progress.get(part) for part, _, _ in bounds},
            "total_steps": step,
            "total_minutes": round(sum(p["seconds"] for p in progress.values()) / 60, 1),
            "config": json.loads(config.to_json()),
            "machine": _machine(),
        }
    }
    model.eval()
    return model.save(out, card)


#: Steps per part when --steps is not given: the budgets of the runs the README reports.
DEFAULT_STEPS: dict[str, tuple[int, ...]] = {"photowct": (150, 60, 60, 80), "wct2": (150,)}


def _steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts, got {text!r}") from None
    if any(s < 1 for s in steps):
        raise argparse.ArgumentTypeError(f"step counts must be positive, got {text!r}")
    return steps


class _Reconstruction:
    """What :func:`train.evaluate.evaluate_reconstruction` calls: ``.reconstruct(image)``."""

    def __init__(self, reconstruct: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.reconstruct = reconstruct


def evaluate(folder: str | Path, dpst: str | Path, limit: int = 5, long_side: int = 512) -> dict[str, dict]:
    """Reconstruction PSNR/SSIM of a trained baseline on the first ``limit`` DPST contents.

    Every part alone, and (PhotoWCT) the whole coarse-to-fine cascade with no transfer
    (``stylize(x, x, alpha=0)``), which is what bounds its stylised output. The summary is
    added to the model's ``config.json`` under "evaluation" and returned.
    """
    from train.evaluate import content_photos, evaluate_reconstruction, summarize

    model = load_baseline(folder)
    photos = content_photos(dpst)[:limit]
    if not photos:
        raise FileNotFoundError(f"no DPST contents at {dpst}/content/*.jpg")
    ways: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        part: functools.partial(model.reconstruct, part=part) for part in model.parts
    }
    if len(model.parts) > 1:
        ways["cascade"] = lambda x: model.stylize(x, x, alpha=0.0)
    results = {}
    for way, reconstruct in ways.items():
        table = evaluate_reconstruction(_Reconstruction(reconstruct), photos, long_side, "cpu", progress=False)
        summary = summarize(table)
        results[way] = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
        print(f"{model.name} {way}: PSNR {summary['psnr_mean']:.2f} dB, SSIM {summary['ssim_mean']:.3f}")
    config_path = Path(folder) / CONFIG_NAME
    card = json.loads(config_path.read_text())
    card["evaluation"] = {
        "data": f"first {len(photos)} DPST contents, long side {long_side} px",
        "machine": _machine(),
        **results,
    }
    _write_json(config_path, card)
    return results


def _machine() -> str:
    cores = f"{os.cpu_count()} cores shared with other work"
    return f"{platform.machine()} CPU ({cores}), {torch.get_num_threads()} intra-op thread(s), torch {torch.__version__}"


def _load_step(checkpoint: Path) -> int:
    with safe_open(str(checkpoint), framework="pt") as f:
        return int(f.metadata()["step"])


def _resume_steps(
    config: BaselineTrainConfig, steps: tuple[int, ...], step: int, parser: argparse.ArgumentParser
) -> BaselineTrainConfig:
    """``config`` with new ``steps``, refused where a part that already started would change."""
    bounds = part_bounds(config, BASELINES[config.model].parts)
    started = [i for i, (_, first, _) in enumerate(bounds) if first < step]
    if len(steps) != len(config.steps) or any(steps[i] != config.steps[i] for i in started):
        parser.error(f"--steps with --resume may only change parts not started yet (saved {config.steps}, at step {step})")
    return dataclasses.replace(config, steps=steps)


def build_parser() -> argparse.ArgumentParser:
    """Options mirror :class:`BaselineTrainConfig`; its docstring explains each."""
    d = BaselineTrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(BASELINES), help="the baseline to train (required unless --resume)")
    p.add_argument("--out", help="run folder (default: runs/baselines/<model>)")
    p.add_argument("--resume", action="store_true", help="continue OUT's checkpoint with its saved settings")
    p.add_argument("--data", default=d.data, help="folder of training photos (BSDS500 val_* held out)")
    p.add_argument(
        "--steps", type=_steps,
        help=f"steps per part, comma-separated (default: {DEFAULT_STEPS}); with --resume, parts not started yet may change",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--crop", type=int, default=d.crop)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument("--feature-weight", type=float, default=d.feature_weight)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--val-images", type=int, default=d.val_images)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="CPU intra-op threads")
    p.add_argument("--evaluate", metavar="FOLDER", help="only evaluate a trained baseline's reconstruction on DPST contents")
    p.add_argument("--dpst", default="../shared/data/dpst", help="DPST folder for --evaluate")
    p.add_argument("--limit", type=int, default=5, help="DPST contents --evaluate uses (the first N)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse options, then train (or resume) and print where the model went."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.evaluate:
        torch.set_num_threads(args.threads)
        try:
            evaluate(args.evaluate, args.dpst, args.limit)
        except (FileNotFoundError, ValueError) as err:
            print(f"train_baseline: error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.resume:
        out = Path(args.out or f"runs/baselines/{args.model}")
        checkpoint = out / CHECKPOINT_NAME
        if not args.out and not args.model or not checkpoint.is_file():
            parser.error(f"--resume needs --out (or --model) naming a run with a checkpoint; none at {checkpoint}")
        with safe_open(str(checkpoint), framework="pt") as f:
            saved = BaselineTrainConfig.from_json(f.metadata()["config"])
        config = dataclasses.replace(saved, out=str(out), threads=args.threads)  # the run's own settings win
        if args.steps:  # a budget may still change for parts that have not started
            config = _resume_steps(config, args.steps, _load_step(checkpoint), parser)
    else:
        if not args.model:
            parser.error("--model is required (photowct or wct2)")
        config = BaselineTrainConfig(
            model=args.model, data=args.data, out=args.out or f"runs/baselines/{args.model}",
            steps=args.steps or DEFAULT_STEPS[args.model], batch_size=args.batch_size, crop=args.crop, lr=args.lr,
            warmup=args.warmup, feature_weight=args.feature_weight, checkpoint_every=args.checkpoint_every,
            val_images=args.val_images, seed=args.seed, threads=args.threads,
        )  # fmt: skip
    try:
        folder = train(config, resume=args.resume)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"train_baseline: error: {err}", file=sys.stderr)
        return 2
    print(f"model written to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
