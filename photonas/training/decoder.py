"""Training a decoder as a reconstruction auto-encoder (the encoder stays frozen).

One function, :func:`train`, driven by a :class:`TrainConfig`: the decoder, its loss and its
data handed to the generic loop (:func:`photonas.training.loop.fit`). The same code runs on a
laptop CPU, one GPU, or several under ``torchrun`` (DDP, one process per GPU). Resuming is
exact: the learning rate is a pure function of the step, and every crop a pure function of
(seed, epoch, index).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from photonas.arch import ArchCode
from photonas.device import autocast
from photonas.encoder import LEVELS
from photonas.model import StyleTransferModel
from photonas.presets import PRESETS
from photonas.training.config import JsonConfig
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
    setup_run,
    warmup_cosine,
)
from photonas.training.losses import LossParts, ReconstructionLoss
from photonas.training.metrics import mean_psnr

LOG_FIELDS = ("step", "epoch", "lr", "loss", "pixel", "feature", "images_per_s", "val_psnr", "elapsed_s")


@dataclass
class TrainConfig(JsonConfig):
    """Everything a training run depends on; saved in every checkpoint.

    Attributes:
        code: architecture code, or a preset name ("photonas", "photonet").
        data: folder of training photos (BSDS500 ``val_*`` photos are held out).
        out: run folder: checkpoint, CSV log, loss curve, final model.
        steps: optimiser steps in all.
        batch_size: crops per step (per process under DDP).
        crop: crop side in pixels.
        scale: range of the random resize before cropping.
        lr: peak learning rate (reference: Adam 1e-4).
        betas: Adam betas (reference: 0.5, 0.9).
        warmup: steps of linear warm-up.
        min_lr_ratio: cosine decay ends at lr · min_lr_ratio (1.0: constant after warm-up).
        pixel_weight: weight of the pixel MSE.
        feature_weight: weight of the layer-normalised feature MSE.
        feature_levels: encoder levels in the feature loss.
        checkpoint_every: steps between checkpoints.
        val_every: steps between validation PSNR measurements (0: never).
        val_images: validation crops (fixed, from the held-out photos).
        seed: seeds initialisation, data order and crops.
        device: "cpu", "cuda", … (default: the best available).
        precision: "auto" (bf16 autocast on CUDA), "fp32", "bf16", "fp16".
        compile: ``torch.compile`` the decoder.
        workers: DataLoader worker processes.
        threads: CPU intra-op threads (default: PyTorch's choice).
        max_minutes: stop (with a checkpoint and the final export) after this wall time.
    """

    code: str = "photonas"
    data: str = "../shared/data/train"
    out: str = "runs/train/photonas"
    steps: int = 2000
    batch_size: int = 8
    crop: int = 256
    scale: tuple[float, float] = (0.25, 1.0)
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    warmup: int = 100
    min_lr_ratio: float = 0.05
    pixel_weight: float = 1.0
    feature_weight: float = 0.1
    feature_levels: tuple[str, ...] = LEVELS
    checkpoint_every: int = 200
    val_every: int = 200
    val_images: int = 16
    seed: int = 0
    device: str | None = None
    precision: str = "auto"
    compile: bool = False
    workers: int = 2
    threads: int | None = None
    max_minutes: float | None = None

    @property
    def arch(self) -> ArchCode:
        """The architecture code, presets resolved."""
        return PRESETS[self.code].code if self.code in PRESETS else ArchCode.parse(self.code)


def learning_rate(config: TrainConfig, step: int) -> float:
    """The run's :func:`~photonas.training.loop.warmup_cosine` learning rate at ``step``."""
    return warmup_cosine(step, config.lr, config.steps, config.warmup, config.min_lr_ratio)


def checkpoint_config(path: Path) -> TrainConfig:
    """The config a checkpoint was written with."""
    return TrainConfig.from_json(checkpoint_metadata(path)["config"])


def checkpoint_model(path: Path) -> StyleTransferModel:
    """The model of a training checkpoint (e.g. to evaluate or export a run stopped early)."""
    model = StyleTransferModel(str(checkpoint_config(path).arch))
    load_checkpoint(path, model.decoder)
    return model.eval()


@torch.no_grad()
def validation_psnr(model: StyleTransferModel, images: Tensor, batch_size: int, precision: str) -> float:
    """Mean reconstruction PSNR (dB) over ``(N, 3, H, W)`` images in [0, 1]."""
    outputs = []
    for chunk in images.split(batch_size):
        with autocast(model.device, precision):
            outputs.append(model.reconstruct(chunk.to(model.device)).float().clamp(0, 1).cpu())
    return mean_psnr(images, torch.cat(outputs))


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train the decoder of ``config.code``; returns the folder of the exported final model.

    With ``resume``, continues from ``config.out``'s checkpoint (same step, optimiser state,
    learning rate and data order).
    """
    device, run = setup_run(config.device, config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    model = StyleTransferModel(str(config.arch)).to(device)
    model.decoder.train()
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=config.lr, betas=config.betas)
    checkpoint = out / CHECKPOINT_NAME
    check_resume(checkpoint, resume)
    step = load_checkpoint(checkpoint, model.decoder, optimizer) if resume else 0
    if run.main:
        (out / RUN_CONFIG_NAME).write_text(config.to_json() + "\n")

    decoder: nn.Module = model.decoder
    if run.world_size > 1:
        decoder = nn.parallel.DistributedDataParallel(decoder, device_ids=[device.index] if device.type == "cuda" else None)
    forward = torch.compile(decoder) if config.compile else decoder
    loss_fn = ReconstructionLoss(model.encoder, config.pixel_weight, config.feature_weight, config.feature_levels)

    def loss(batch: Tensor) -> LossParts:
        x = batch.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, config.precision):
            with torch.no_grad():
                feats = model.encode(x)
            return loss_fn(forward(feats), x, feats)

    dataset = RandomCrops(list_photos(config.data, "train"), config.crop, config.scale, config.seed)
    sampler = EpochSampler(len(dataset), config.seed, run.rank, run.world_size)
    batches = epoch_batches(dataset, sampler, config.batch_size, step, config.workers, pin_memory=device.type == "cuda")
    steps_per_epoch = sampler.steps(config.batch_size)
    val_images = None
    if config.val_every and run.main:
        val_images = held_out_crops(config.data, config.val_images, config.crop, config.scale)
    if val_images is not None and not len(val_images):
        warnings.warn(f"no held-out val_* photos in {config.data}: training without validation", stacklevel=2)
        val_images = None

    def validate() -> float:
        psnr = validation_psnr(model, val_images, config.batch_size, config.precision)
        model.decoder.train()
        return psnr

    log = CsvLog(out / LOG_NAME, LOG_FIELDS, step if resume else None) if run.main else None

    def write_row(r: StepRecord) -> None:  # rank 0 only
        log.write(
            step=r.step, epoch=(r.step - 1) // steps_per_epoch, lr=r.lr, loss=r.loss, pixel=float(r.parts.pixel),
            feature=float(r.parts.feature), images_per_s=config.batch_size * run.world_size / r.step_s,  # data loading included
            val_psnr=r.val_psnr, elapsed_s=r.elapsed_s,
        )  # fmt: skip

    plan = Plan(
        end=config.steps,
        lr=lambda s: learning_rate(config, s),
        validate=validate if val_images is not None else None,
        val_every=config.val_every,
        checkpoint=lambda s: save_checkpoint(checkpoint, model.decoder, optimizer, s, config.to_json()),
        checkpoint_every=config.checkpoint_every,
        max_seconds=None if config.max_minutes is None else 60 * config.max_minutes,
        world=run,
        progress=f"train {config.arch}",
    )
    try:
        fit(loss, optimizer, batches, step, plan, write_row)
    finally:
        batches.close()  # stops the loader's workers before the model is saved
        if log is not None:
            log.close()
    final = out / "final"
    if run.main:
        model.decoder.eval()
        model.save_pretrained(final)
        plot_losses(out / LOG_NAME, out / "loss.png")
    run.barrier()
    return final
