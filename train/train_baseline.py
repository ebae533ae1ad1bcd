"""Train the decoders of a re-implemented baseline (PhotoWCT-style or WCT2-style) for the benchmark.

    # PhotoWCT: four decoders, trained one after another (relu1_1 first), steps per decoder
    python -m train.train_baseline --model photowct --steps 150,60,60,80 --out runs/baselines/photowct

    # WCT2: one Haar-unpooling decoder
    python -m train.train_baseline --model wct2 --steps 150 --out runs/baselines/wct2

    # continue a stopped run exactly where its last checkpoint left it
    python -m train.train_baseline --out runs/baselines/wct2 --resume

    # reconstruction PSNR/SSIM on the first 5 DPST contents at 512 px (added to config.json)
    python -m train.train_baseline --evaluate runs/baselines/photowct --dpst ../shared/data/dpst --limit 5

The same training loop as train/train_decoder.py (photonas.training.loop.fit), one call per
part: random multi-scale crops, pixel + layer-normalised VGG feature loss, Adam with warm-up
and cosine decay, atomic checkpoints, exact resume. The model (config.json +
model.safetensors, with the training facts in config.json) lands in OUT itself, where the
benchmark looks for it; OUT/log.csv and OUT/loss.png record the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

from photonas.baselines import BASELINES, BaselineModel, load_baseline
from photonas.baselines.vgg import CONFIG_NAME
from photonas.checkpoint import write_json_atomic
from photonas.device import describe_device
from photonas.training.config import JsonConfig, add_options, from_args
from photonas.training.data import EpochSampler, RandomCrops, epoch_batches, held_out_crops, list_photos
from photonas.training.loop import (
    CHECKPOINT_NAME,
    LOG_NAME,
    RUN_CONFIG_NAME,
    CsvLog,
    Plan,
    StepRecord,
    check_resume,
    checkpoint_metadata,
    fit,
    load_checkpoint,
    plot_losses,
    save_checkpoint,
    warmup_cosine,
)
from photonas.training.losses import LossParts, ReconstructionLoss
from photonas.training.metrics import mean_psnr

PROGRESS_NAME = "progress.json"
LOG_FIELDS = ("step", "part", "lr", "loss", "pixel", "feature", "val_psnr", "elapsed_s")


@dataclass
class BaselineTrainConfig(JsonConfig):
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


def part_bounds(config: BaselineTrainConfig, parts: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(part, first global step, end step) of each part."""
    if len(config.steps) != len(parts):
        raise ValueError(f"{config.model} trains {len(parts)} parts {parts}: give that many --steps, got {config.steps}")
    bounds, start = [], 0
    for part, steps in zip(parts, config.steps):
        bounds.append((part, start, start + steps))
        start += steps
    return bounds


@dataclass
class PartProgress:
    """What training one part has done so far (kept over resumes, and written to the model card).

    Attributes:
        steps: steps of the part done.
        seconds: training seconds spent on it (validation and checkpoints not counted).
        val_psnr: the last held-out reconstruction PSNR (dB) of the part.
    """

    steps: int = 0
    seconds: float = 0.0
    val_psnr: float | None = None


@torch.no_grad()
def validation_psnr(model: BaselineModel, images: torch.Tensor, part: str) -> float:
    """Mean reconstruction PSNR (dB) of ``part`` over held-out crops."""
    return mean_psnr(images, model.reconstruct(images, part).clamp(0, 1))


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
    check_resume(checkpoint, resume)
    step = load_checkpoint(checkpoint, model.decoders) if resume else 0
    saved = json.loads(progress_path.read_text()) if resume and progress_path.is_file() else {}
    progress = {part: PartProgress(**record) for part, record in saved.items()}
    (out / RUN_CONFIG_NAME).write_text(config.to_json() + "\n")

    dataset = RandomCrops(list_photos(config.data, "train"), config.crop, config.scale, config.seed)
    val_images = held_out_crops(config.data, config.val_images, config.crop, config.scale)
    run = _Run(config, model, dataset, EpochSampler(len(dataset), config.seed), val_images, progress,
               CsvLog(out / LOG_NAME, LOG_FIELDS, step if resume else None))  # fmt: skip
    try:
        for part, first, end in bounds:
            if step >= end:
                continue  # trained before the resume
            stop = until if until is not None and step <= until < end else end
            step = _train_part(run, part, first, end, step, stop)
            if step == until:
                return None
    finally:
        run.log.close()
    plot_losses(out / LOG_NAME, out / "loss.png")
    card = {
        "training": {
            "parts": {part: dataclasses.asdict(progress[part]) if part in progress else None for part, _, _ in bounds},
            "total_steps": step,
            "total_minutes": round(sum(p.seconds for p in progress.values()) / 60, 1),
            "config": json.loads(config.to_json()),
            "machine": describe_device(torch.device("cpu")),
        }
    }
    model.eval()
    return model.save(out, card)


@dataclass
class _Run:
    """What the parts of one baseline run share."""

    config: BaselineTrainConfig
    model: BaselineModel
    dataset: RandomCrops
    sampler: EpochSampler
    val_images: torch.Tensor
    progress: dict[str, PartProgress]
    log: CsvLog


def _train_part(run: _Run, part: str, first: int, end: int, step: int, stop: int) -> int:
    """Train ``part`` (global steps ``first`` to ``end``) from ``step`` to ``stop``; returns the step reached."""
    config, model = run.config, run.model
    checkpoint = Path(config.out) / CHECKPOINT_NAME
    decoder = model.decoders[part].train()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    if step > first:  # resumed inside this part: its optimiser state is in the checkpoint
        load_checkpoint(checkpoint, model.decoders, optimizer)
    batches = epoch_batches(run.dataset, run.sampler, config.batch_size, step)
    if step == first:
        steps_per_epoch = run.sampler.steps(config.batch_size)
        run.dataset.set_epoch(max(first - 1, 0) // steps_per_epoch)  # the crops a run without a resume would draw
        scale_convs(model, part, torch.stack([run.dataset[i] for i in range(config.batch_size)]))
    loss_fn = ReconstructionLoss(model.encoder, config.pixel_weight, config.feature_weight, model.loss_levels(part))
    record = run.progress.setdefault(part, PartProgress())
    seconds_before = record.seconds

    def loss(batch: torch.Tensor) -> LossParts:
        return loss_fn(model.reconstruct_part(batch, part), batch)

    def validate() -> float:
        decoder.eval()
        psnr = validation_psnr(model, run.val_images, part)
        decoder.train()
        return psnr

    def after_step(r: StepRecord) -> None:
        record.steps, record.seconds = r.step - first, seconds_before + r.train_s
        if r.val_psnr is not None:
            record.val_psnr = r.val_psnr
        run.log.write(step=r.step, part=part, lr=r.lr, loss=r.loss, pixel=float(r.parts.pixel),
                      feature=float(r.parts.feature), val_psnr=r.val_psnr, elapsed_s=record.seconds)  # fmt: skip

    def save(at: int) -> None:
        save_checkpoint(checkpoint, model.decoders, optimizer, at, config.to_json())
        progress = {name: dataclasses.asdict(done) for name, done in run.progress.items()}
        write_json_atomic(checkpoint.with_name(PROGRESS_NAME), progress)

    warmup = min(config.warmup, (end - first) // 4)
    plan = Plan(
        end=stop,
        lr=lambda s: warmup_cosine(s - first, config.lr, end - first, warmup, config.min_lr_ratio),
        validate=validate if len(run.val_images) else None,
        val_every=config.checkpoint_every,
        checkpoint=save,
        checkpoint_every=config.checkpoint_every,
        progress=f"{config.model} {part}",
    )
    step = fit(loss, optimizer, batches, step, plan, after_step)
    decoder.eval()
    return step


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
        table = evaluate_reconstruction(SimpleNamespace(reconstruct=reconstruct), photos, long_side, "cpu", progress=False)
        summary = summarize(table)
        results[way] = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
        print(f"{model.name} {way}: PSNR {summary['psnr_mean']:.2f} dB, SSIM {summary['ssim_mean']:.3f}")
    config_path = Path(folder) / CONFIG_NAME
    card = json.loads(config_path.read_text())
    card["evaluation"] = {
        "data": f"first {len(photos)} DPST contents, long side {long_side} px",
        "machine": describe_device(torch.device("cpu")),
        **results,
    }
    write_json_atomic(config_path, card)
    return results


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
    """One option per :class:`BaselineTrainConfig` field, explained by its docstring, and --evaluate's."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(BASELINES), help="the baseline to train (required unless --resume)")
    p.add_argument("--out", help="run folder (default: runs/baselines/<model>)")
    p.add_argument("--resume", action="store_true", help="continue OUT's checkpoint with its saved settings")
    p.add_argument(
        "--steps", type=_steps,
        help=f"steps per part, comma-separated (default: {DEFAULT_STEPS}); with --resume, parts not started yet may change",
    )  # fmt: skip
    add_options(p, BaselineTrainConfig, skip=("model", "out", "steps"))
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
        metadata = checkpoint_metadata(checkpoint)
        saved = BaselineTrainConfig.from_json(metadata["config"])
        config = dataclasses.replace(saved, out=str(out), threads=args.threads)  # the run's own settings win
        if args.steps:  # a budget may still change for parts that have not started
            config = _resume_steps(config, args.steps, int(metadata["step"]), parser)
    else:
        if not args.model:
            parser.error("--model is required (photowct or wct2)")
        config = from_args(BaselineTrainConfig, args, out=args.out or f"runs/baselines/{args.model}",
                           steps=args.steps or DEFAULT_STEPS[args.model])  # fmt: skip
    try:
        folder = train(config, resume=args.resume)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"train_baseline: error: {err}", file=sys.stderr)
        return 2
    print(f"model written to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
