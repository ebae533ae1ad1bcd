"""The one training loop, generic over the model and its loss, with its checkpoints and logs.

:func:`fit` takes optimiser steps on a loss function of a batch (whatever the model), and a
:class:`Plan` says when to set the learning rate, validate, checkpoint and stop. The decoder
trainer (:mod:`photonas.training.decoder`), the baseline trainer (``train/train_baseline.py``)
and the supernet (:mod:`photonas.search.supernet`) all run it.

Resuming is exact when the caller makes the learning rate and every batch pure functions of
the step (:func:`warmup_cosine`, :func:`~photonas.training.data.epoch_batches`): a checkpoint
holds the weights, the optimiser's state and the step. Checkpoints are written atomically, so
a run killed at any moment (even SIGKILL) loses at most one checkpoint interval.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from safetensors import safe_open
from torch import Tensor, nn
from tqdm import tqdm

from photonas.checkpoint import save_safetensors_atomic
from photonas.device import choose_device
from photonas.training.losses import LossParts

CHECKPOINT_NAME = "checkpoint.safetensors"
LOG_NAME = "log.csv"
#: The run's settings as JSON (a trained model's own config.json sits elsewhere).
RUN_CONFIG_NAME = "train_config.json"
#: Prefix of the weights' keys in a checkpoint (the optimiser's are ``optim.<index>.<slot>``);
#: every run so far trains decoders, and the name stays so that older checkpoints load.
_WEIGHTS = "decoder."

Batch = TypeVar("Batch")


def warmup_cosine(step: int, lr: float, steps: int, warmup: int, min_lr_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``lr · min_lr_ratio`` at ``steps``.

    A pure function of the step, so a resumed run continues the same schedule.

    Example:
        >>> [round(warmup_cosine(s, 1.0, 10, 2, 0.0), 3) for s in (0, 1, 6, 10)]
        [0.5, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    floor = lr * min_lr_ratio
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---- distributed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process validates, writes logs and checkpoints."""
        return self.rank == 0

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when true on any (so all ranks stop at the same step)."""
        if self.world_size == 1:
            return flag
        shared = torch.tensor(float(flag), device=device)
        dist.all_reduce(shared, op=dist.ReduceOp.MAX)
        return bool(shared)

    def gather(self, items: list) -> list[list]:
        """Every process's ``items`` (rank order) on every process."""
        if self.world_size == 1:
            return [items]
        gathered: list = [None] * self.world_size
        dist.all_gather_object(gathered, items)
        return gathered

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.world_size > 1:
            dist.barrier()


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` set), else run alone."""
    if "WORLD_SIZE" not in os.environ:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


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


# ---- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, step: int, config: str) -> None:
    """Weights, optimiser state, step and the run's settings (JSON) in one safetensors file, written atomically."""
    state = optimizer.state_dict()
    tensors = {f"{_WEIGHTS}{k}": v for k, v in module.state_dict().items()}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    metadata = {"step": str(step), "config": config, "param_groups": json.dumps(state["param_groups"])}
    save_safetensors_atomic(tensors, path, metadata)


def load_checkpoint(path: Path, module: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Restore what :func:`save_checkpoint` wrote (weights strictly); returns the step to continue from.

    Without ``optimizer`` only the weights are loaded.
    """
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    module.load_state_dict({k.removeprefix(_WEIGHTS): v for k, v in tensors.items() if k.startswith(_WEIGHTS)})
    if optimizer is not None:
        slots: dict[int, dict[str, Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                slots.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": slots, "param_groups": json.loads(metadata["param_groups"])})
    return int(metadata["step"])


def checkpoint_metadata(path: Path) -> dict[str, str]:
    """A checkpoint's ``step``, ``config`` (the run's settings as JSON) and ``param_groups``."""
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def check_resume(checkpoint: Path, resume: bool) -> None:
    """A resumed run needs its checkpoint; a new one must not overwrite one."""
    if resume and not checkpoint.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
    if not resume and checkpoint.exists():
        raise FileExistsError(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")


# ---- the loop ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """One finished optimiser step, as :func:`fit` reports it.

    Attributes:
        step: global steps done, this one included.
        lr: the learning rate it took.
        parts: its loss (the total and the parts to log).
        step_s: its seconds, data loading included (validation, logs and checkpoints not).
        train_s: seconds of training in this call of :func:`fit` so far, counted the same way.
        elapsed_s: wall seconds since this call of :func:`fit` began.
        val_psnr: held-out PSNR (dB) after it, when it was validated.
    """

    step: int
    lr: float
    parts: LossParts
    step_s: float
    train_s: float
    elapsed_s: float
    val_psnr: float | None

    @property
    def loss(self) -> float:
        """The total loss as a number."""
        return float(self.parts.total.detach())


@dataclass(frozen=True)
class Plan:
    """When :func:`fit` sets the learning rate, validates, checkpoints and stops.

    Attributes:
        end: the global step to stop at.
        lr: learning rate of each global step (None: the optimiser's own, unchanged).
        validate: held-out PSNR (dB) of the model as it is now (None: never validate).
        val_every: validate every this many steps and at the last (0: at the last only).
        checkpoint: writes a checkpoint of the given step (None: none).
        checkpoint_every: checkpoint every this many steps and at the last (0: at the last only).
        max_seconds: stop early, validated and checkpointed, after this wall time.
        world: this process's place in a DDP run: every rank stops at the same step, and only
            rank 0 validates, reports and checkpoints.
        progress: label of a progress bar (None: no bar).
        progress_interval_s: least seconds between two refreshes of the bar.
    """

    end: int
    lr: Callable[[int], float] | None = None
    validate: Callable[[], float] | None = None
    val_every: int = 0
    checkpoint: Callable[[int], None] | None = None
    checkpoint_every: int = 0
    max_seconds: float | None = None
    world: Dist = Dist()
    progress: str | None = None
    progress_interval_s: float = 0.1


def fit(
    loss: Callable[[Batch], LossParts],
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Batch],
    start: int,
    plan: Plan,
    after_step: Callable[[StepRecord], None] | None = None,
) -> int:
    """Optimiser steps from global step ``start`` to ``plan.end`` (or an earlier stop); returns the step reached.

    Each step sets the learning rate, computes ``loss(batch)`` on the next item of ``batches``
    (a tensor, or whatever the loss takes) and steps the optimiser. Then rank 0 validates when
    due, reports the step to ``after_step`` (logs) and checkpoints when due. No item is drawn
    beyond the last step. ``batches`` should last to ``plan.end`` (the trainers' are endless): if it
    runs out first, the loop ends there without the last validation and checkpoint.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(()))
        >>> square = lambda x: LossParts((w - x) ** 2, torch.zeros(()), torch.zeros(()))
        >>> fit(square, torch.optim.SGD([w], lr=0.25), iter([1.0] * 9), 0, Plan(end=3)), round(w.item(), 3)
        (3, 0.875)
    """
    step = start
    if step >= plan.end:
        return step
    started = tick = time.perf_counter()
    train_s = 0.0
    bar = tqdm(
        total=plan.end, initial=start, desc=plan.progress, unit="step", mininterval=plan.progress_interval_s,
        disable=plan.progress is None or not plan.world.main,
    )  # fmt: skip
    for batch in batches:
        lr = plan.lr(step) if plan.lr is not None else optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group["lr"] = lr
        parts = loss(batch)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        step += 1

        now = time.perf_counter()
        step_s, tick = now - tick, now
        train_s += step_s
        out_of_time = plan.max_seconds is not None and now - started > plan.max_seconds
        done = plan.world.any(step >= plan.end or out_of_time, parts.total.device)
        if plan.world.main:
            val = plan.validate() if plan.validate is not None and _due(step, plan.val_every, done) else None
            record = StepRecord(step, lr, parts, step_s, train_s, now - started, val)
            if after_step is not None:
                after_step(record)
            if plan.checkpoint is not None and _due(step, plan.checkpoint_every, done):
                plan.checkpoint(step)
            bar.update(1)
            shown = {"val_psnr": "" if val is None else f"{val:.2f}"} if plan.validate is not None else {}
            bar.set_postfix(loss=f"{record.loss:.4f}", **shown)
            tick = time.perf_counter()  # validation, logs and checkpoints are not training time
        if done:
            break
    bar.close()
    return step


def _due(step: int, every: int, last: bool) -> bool:
    return last or (every > 0 and step % every == 0)


# ---- logs ----------------------------------------------------------------------------------


class CsvLog:
    """CSV of training progress, one row per step. A resumed run first drops the rows logged
    after its checkpoint (the killed run's lost interval, which it is about to redo), then appends.

    Args:
        path: the CSV file.
        fields: its columns (a row may leave some out: they stay empty).
        resume_step: the step of the checkpoint a resumed run continues (None: a new log).
    """

    def __init__(self, path: Path, fields: tuple[str, ...], resume_step: int | None = None) -> None:
        kept: list[dict[str, str]] = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                kept = self.kept(path, list(csv.DictReader(f)), resume_step)
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, fields)
        self.writer.writeheader()
        self.writer.writerows(kept)
        self.file.flush()

    def kept(self, path: Path, rows: list[dict[str, str]], resume_step: int) -> list[dict[str, str]]:
        """The rows of an existing log a resumed run keeps: those up to its checkpoint's step."""
        return [row for row in rows if int(row["step"]) <= resume_step]

    def write(self, **row: Any) -> None:
        """Append one row (None: an empty cell) and flush it to disk."""
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
