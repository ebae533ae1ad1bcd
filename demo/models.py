"""The demo's models: loaded once at start, on the GPU when there is one.

Weights come from a Hub repo named by an environment variable when it is set (e.g.
``PHOTONAS_HUB_REPO=user/photonas``; with ``HF_HUB_OFFLINE=1`` the local Hub cache is
used), else from the weights bundled with the package.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import photonas
from photonas.device import choose_device
from photonas.presets import PRESETS

#: Choice shown in the page -> preset name.
MODEL_CHOICES: dict[str, str] = {"PhotoNAS": "photonas", "PhotoNet": "photonet"}
DEFAULT_CHOICE = "PhotoNAS"

#: Preset name -> environment variable naming a Hub repo with that model's weights.
HUB_REPO_ENV: dict[str, str] = {name: f"{name.upper()}_HUB_REPO" for name in PRESETS}

# Seconds of ZeroGPU time asked for per request (one stylisation takes well under this).
GPU_DURATION = 60

F = TypeVar("F", bound=Callable)

log = logging.getLogger(__name__)


def weights_source(preset: str) -> str:
    """Where ``preset``'s weights come from: the Hub repo in its env variable, else the preset name."""
    return os.environ.get(HUB_REPO_ENV[preset], "").strip() or preset


def load_models(device: str | None = None) -> dict[str, photonas.StyleTransferModel]:
    """Every demo model, ready on one device (CUDA, then MPS, then CPU unless given)."""
    chosen = choose_device(device)
    models = {}
    for choice, name in MODEL_CHOICES.items():
        source = weights_source(name)
        models[choice] = photonas.load_model(source, chosen)
        where = "bundled weights" if source == name else f"Hub repo {source}"
        log.info("%s weights: %s, on %s", choice, where, chosen)
    return models


def on_gpu(fn: F) -> F:
    """``spaces.GPU`` when the ``spaces`` package is installed (ZeroGPU Spaces), else ``fn`` itself."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=GPU_DURATION)(fn)
