"""Re-implemented baselines for the benchmark: PhotoWCT-style and WCT2-style models on our
frozen VGG19 encoder, with decoders trained by ``train/train_baseline.py``.

Examples:
    >>> model = load_baseline("runs/baselines/wct2")  # doctest: +SKIP
    >>> out = model.stylize(content, style)  # (B, 3, H, W) tensors in [0, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from photonas.baselines.photowct import PhotoWCT
from photonas.baselines.vgg import CONFIG_NAME, WEIGHTS_NAME, BaselineModel, BaselineWeightsNotFoundError
from photonas.baselines.wct2 import WCT2

#: Baseline name → model class.
BASELINES: dict[str, type[BaselineModel]] = {"photowct": PhotoWCT, "wct2": WCT2}
#: Where training writes a baseline, and where the benchmark looks for it by default.
RUNS_DIR = Path(__file__).resolve().parents[2] / "runs" / "baselines"


def default_path(name: str) -> Path:
    """``runs/baselines/<name>`` in the repository."""
    return RUNS_DIR / name


def train_command(name: str) -> str:
    """The command that trains ``name`` into its default folder."""
    return f"python -m train.train_baseline --model {name} --out runs/baselines/{name}"


def load_baseline(folder: str | os.PathLike, name: str | None = None, device: str | torch.device = "cpu") -> BaselineModel:
    """Load a trained baseline folder (``config.json`` + ``model.safetensors``), strictly.

    Args:
        folder: the model folder.
        name: the expected baseline (``photowct`` or ``wct2``); default: whatever config.json names.
        device: where the model goes.

    Raises:
        BaselineWeightsNotFoundError: no weights there (the message says how to train them).
        ValueError: the folder holds another baseline, or weights that do not fit.
    """
    folder = Path(folder)
    config_path, weights = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not (config_path.is_file() and weights.is_file()):
        what = name or "photowct|wct2"
        raise BaselineWeightsNotFoundError(
            f"no trained {what} baseline at {folder} (need {CONFIG_NAME} and {WEIGHTS_NAME}): "
            f"train it with `{train_command(what)}`"
        )
    found = json.loads(config_path.read_text()).get("baseline")
    if found not in BASELINES or (name is not None and found != name):
        raise ValueError(f"{config_path} names baseline {found!r}, expected {name or ' or '.join(BASELINES)}")
    model = BASELINES[found]()
    model.load_decoders(weights)
    return model.to(device).eval()


__all__ = [
    "BASELINES",
    "RUNS_DIR",
    "WCT2",
    "BaselineModel",
    "BaselineWeightsNotFoundError",
    "PhotoWCT",
    "default_path",
    "load_baseline",
    "train_command",
]
