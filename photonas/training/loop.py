"""Training a decoder as a reconstruction auto-encoder (the encoder stays frozen).

One function, :func:`train`, driven by a :class:`TrainConfig`; the same code runs on a
laptop CPU, one GPU, or several under ``torchrun`` (DDP, one process per GPU).

Resuming is exact: a checkpoint holds the decoder, Adam's state and the step; the learning
rate is a pure function of the step, and every crop is a pure function of (seed, epoch,
index), so a resumed run continues the same trajectory. Checkpoints are written atomically,
so a run killed at any moment (even SIGKILL) loses at most one checkpoint interval.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import safe_open
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from photonas.arch import ArchCode
from photonas.checkpoint import save_safetensors_atomic
from photonas.device import autocast, choose_device
from photonas.encoder import LEVELS
from photonas.model import StyleTransferModel
from photonas.presets import PRESETS
from photonas.training.data import EpochSampler, RandomCrops, list_photos
from photonas.training.losses import ReconstructionLoss

CHECKPOINT_NAME = "checkpoint.safetensors"
LOG_NAME = "log.csv"
#: The run's TrainConfig (the model's own config.json sits in OUT/final).
RUN_CONFIG_NAME = "train_config.json"
_LOG_FIELDS = ("step", "epoch", "lr", "loss", "pixel", "feature", "images_per_s", "val_psnr", "elapsed_s")


@dataclass
class TrainConfig:
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

    def to_json(self) -> str:
        """JSON of every field (saved in checkpoints and the run folder)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Inverse of :meth:`to_json` (tuples restored)."""
        raw = json.loads(text)
        for key in ("scale", "betas", "feature_levels"):
            raw[key] = tuple(raw[key])
        return cls(**raw)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr · min_lr_ratio``: a pure function of the step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(path: Path, decoder: nn.Module, optimizer: torch.optim.Optimizer, step: int, config: TrainConfig) -> None:
    """Decoder, Adam state and step in one safetensors file, written atomically."""
    state = optimizer.state_dict()
    tensors = {f"decoder.{k}": v for k, v in decoder.state_dict().items()}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    metadata = {"step": str(step), "config": config.to_json(), "param_groups": json.dumps(state["param_groups"])}
    save_safetensors_atomic(tensors, path, metadata)


def load_checkpoint(path: Path, decoder: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore what :func:`save_checkpoint` wrote; returns the step to continue from."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    decoder.load_state_dict({k.removeprefix("decoder."): v for k, v in tensors.items() if k.startswith("decoder.")})
    slots: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": json.loads(metadata["param_groups"])})
    return int(metadata["step"])


def checkpoint_config(path: Path) -> TrainConfig:
    """The config a checkpoint was written with."""
    with safe_open(str(path), framework="pt") as f:
        return TrainConfig.from_json(f.metadata()["config"])


def checkpoint_model(path: Path) -> StyleTransferModel:
    """The model of a training checkpoint (e.g. to evaluate or export a run stopped early)."""
    model = StyleTransferModel(str(checkpoint_config(path).arch))
    with safe_open(str(path), framework="pt") as f:
        state = {k.removeprefix("decoder."): f.get_tensor(k) for k in f.keys() if k.startswith("decoder.")}
    model.decoder.load_state_dict(state)
    return model.eval()


# ---- distributed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes logs and checkpoints."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` set), else run alone."""
    if "WORLD_SIZE" not in os.environ:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


# ---- the loop ------------------------------------------------------------------------------


@torch.no_grad()
def validation_psnr(model: StyleTransferModel, images: Tensor, batch_size: int, precision: str) -> float:
    """Mean reconstruction PSNR (dB) over ``(N, 3, H, W)`` images in [0, 1]."""
    device = model.device
    scores = []
    for chunk in images.split(batch_size):
        x = chunk.to(device)
        with autocast(device, precision):
            y = model.reconstruct(x).float().clamp(0, 1)
        mse = (y - x).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        scores.append(-10 * torch.log10(mse))
    return float(torch.cat(scores).mean())


def setup_run(device_name: str | None, threads: int | None) -> tuple[torch.device, Dist]:
    """Thread count, device and (under torchrun) the process group; each rank on its own GPU."""
    if threads:
        torch.set_num_threads(threads)
    device = choose_device(device_name)
    run = init_distributed(device)
    if device.type == "cuda" and run.world_size > 1:
        device = torch.device("cuda", run.local_rank)
        torch.cuda.set_device(device)
    return device, run


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
    step = 0
    checkpoint = out / CHECKPOINT_NAME
    if resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
        step = load_checkpoint(checkpoint, model.decoder, optimizer)
    elif checkpoint.exists():
        raise FileExistsError(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
    if run.main:
        (out / RUN_CONFIG_NAME).write_text(config.to_json() + "\n")

    decoder: nn.Module = model.decoder
    if run.world_size > 1:
        decoder = nn.parallel.DistributedDataParallel(decoder, device_ids=[device.index] if device.type == "cuda" else None)
    forward = torch.compile(decoder) if config.compile else decoder
    loss_fn = ReconstructionLoss(model.encoder, config.pixel_weight, config.feature_weight, config.feature_levels)

    photos = list_photos(config.data, "train")
    dataset = RandomCrops(photos, config.crop, config.scale, config.seed)
    sampler = EpochSampler(len(dataset), config.seed, run.rank, run.world_size)
    steps_per_epoch = sampler.per_rank // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(photos)} photos make no full batch of {config.batch_size} per process")
    loader = DataLoader(
        dataset, config.batch_size, sampler=sampler, num_workers=config.workers, drop_last=True,
        pin_memory=device.type == "cuda", persistent_workers=False,
    )
    val_images = _validation_images(config) if config.val_every and run.main else None
    if val_images is not None and not len(val_images):
        warnings.warn(f"no held-out val_* photos in {config.data}: training without validation", stacklevel=2)
        val_images = None

    log = _CsvLog(out / LOG_NAME, step if resume else None) if run.main else None
    started = tick = time.perf_counter()
    bar = tqdm(total=config.steps, initial=step, desc=f"train {config.arch}", unit="step", disable=not run.main)
    done = step >= config.steps
    while not done:
        epoch, offset = divmod(step, steps_per_epoch)
        dataset.set_epoch(epoch)
        sampler.set_epoch(epoch, offset * config.batch_size)
        for batch in loader:
            lr = learning_rate(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = batch.to(device, non_blocking=True)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, config.precision):
                with torch.no_grad():
                    feats = model.encode(x)
                parts = loss_fn(forward(feats), x, feats)
            optimizer.zero_grad(set_to_none=True)
            parts.total.backward()
            optimizer.step()
            step += 1

            now = time.perf_counter()
            rate, tick = x.shape[0] * run.world_size / (now - tick), now  # data loading included
            out_of_time = config.max_minutes is not None and now - started > 60 * config.max_minutes
            done = step >= config.steps or out_of_time
            if run.world_size > 1:  # every rank must stop at the same step
                flag = torch.tensor(float(done), device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                done = bool(flag)
            if run.main:
                val = None
                if val_images is not None and (step % config.val_every == 0 or done):
                    val = validation_psnr(model, val_images, config.batch_size, config.precision)
                    model.decoder.train()
                bar.update(1)
                loss = float(parts.total.detach())
                bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{rate:.1f}", val_psnr="" if val is None else f"{val:.2f}")
                log.write(step=step, epoch=epoch, lr=lr, loss=loss, pixel=float(parts.pixel),
                          feature=float(parts.feature), images_per_s=rate, val_psnr=val, elapsed_s=now - started)
                if step % config.checkpoint_every == 0 or done:
                    save_checkpoint(checkpoint, model.decoder, optimizer, step, config)
                tick = time.perf_counter()  # validation and checkpoints are not training throughput
            if done:
                break
    bar.close()
    if log is not None:
        log.close()
    final = out / "final"
    if run.main:
        model.decoder.eval()
        model.save_pretrained(final)
        plot_losses(out / LOG_NAME, out / "loss.png")
    if run.world_size > 1:
        dist.barrier()
    return final


def _validation_images(config: TrainConfig) -> Tensor:
    """A fixed set of crops of the held-out photos (same for every run with this crop size)."""
    try:
        photos = list_photos(config.data, "val")[: config.val_images]
    except FileNotFoundError:
        return torch.empty(0)
    crops = RandomCrops(photos, config.crop, config.scale, seed=12345, flips=False)
    return torch.stack([crops[i] for i in range(len(crops))])


class _CsvLog:
    """CSV of training progress. A resumed run first drops the rows logged after its
    checkpoint (the killed run's lost interval, which it is about to redo), then appends."""

    def __init__(self, path: Path, resume_step: int | None) -> None:
        kept: list[dict[str, str]] = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= resume_step]
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, _LOG_FIELDS)
        self.writer.writeheader()
        self.writer.writerows(kept)

    def write(self, **row: float | int | None) -> None:
        self.writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def plot_losses(log_path: Path, png_path: Path) -> Path | None:
    """Loss curves (total, pixel, feature) and validation PSNR from the CSV log, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    steps = [int(r["step"]) for r in rows]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss", "pixel", "feature"):
        ax_loss.plot(steps, [float(r[key]) for r in rows], label=key, linewidth=0.8)
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="training loss")
    ax_loss.legend()
    val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r["val_psnr"]]
    if val:
        ax_val.plot(*zip(*val), marker="o")
    ax_val.set(xlabel="step", ylabel="PSNR (dB)", title="held-out reconstruction PSNR")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
