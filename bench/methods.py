"""The benchmark's methods: one table, one call, ``method.run(pair) -> rgb``.

Every method takes a :class:`~bench.pairs.Pair` (float ``(H, W, 3)`` sRGB arrays in [0, 1], and
optional integer ``(H, W)`` label maps) and returns the stylised content, same size, in [0, 1].
A method whose weights are missing is not an error: :func:`build_methods` returns it as a
:class:`Skipped` row with the reason, so one absent checkpoint never stops a benchmark run.

Examples:
    >>> methods, skipped = build_methods(["photonas", "reinhard"], device="cpu")  # doctest: +SKIP
    >>> out = methods[0].run(Pair("01", content, style))  # doctest: +SKIP
    >>> methods, _ = build_methods(["photonas=runs/train/photonas", "adain"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.classical import CLASSICAL
from bench.pairs import Pair
from photonas.api import AUTO as AUTO_MASKS
from photonas.api import load_model, summarise_style
from photonas.baselines import BASELINES, BaselineModel, default_path, load_baseline
from photonas.device import autocast, choose_device, convert_for_inference, synchronize
from photonas.highres import stylize_photo
from photonas.io import image_to_tensor, load_image, resize_rgb
from photonas.model import StyleTransferModel
from photonas.options import Options
from photonas.refine import colour_stats, flat_style_stand_in, refine
from photonas.transforms import EXACT_WCT, WCTConfig

#: Suffix of a row that runs another row's method, then the photo-faithful stage (:mod:`photonas.refine`).
REFINED = "+refine"
#: Suffix of a preset's raw network output (the paper's); the plain preset name is the default output.
RAW = "-raw"
#: The default output with automatic regions (:mod:`photonas.regions`) when no label maps are given.
AUTO = "photonas+auto"
#: Every method the benchmark knows, in leaderboard order.
METHOD_NAMES: tuple[str, ...] = (
    "photonas",
    "photonas-raw",
    AUTO,
    "photonet",
    "photonet-raw",
    "adain",
    "adain+refine",
    "wct",
    "wct+refine",
    *(name + suffix for name in BASELINES for suffix in ("", REFINED)),
    *CLASSICAL,
    "mk+refine",
    "dpst",
)
#: The methods run when none are named (``dpst`` needs the DPST data and is added by the runner).
DEFAULT_METHODS: tuple[str, ...] = tuple(m for m in METHOD_NAMES if m != "dpst")
#: The method whose median time every ratio divides by.
REFERENCE_METHOD = "photonas"


@dataclass(frozen=True)
class Skipped:
    """A method that could not run here, and why (shown in the leaderboard)."""

    name: str
    reason: str


@dataclass(frozen=True)
class NeuralMethod:
    """An encoder–decoder model with one transfer: the presets, AdaIN and plain WCT rows.

    Attributes:
        name: leaderboard name.
        model: the loaded model, on its device.
        transfer: ``"wct"`` or ``"adain"``.
        config: whitening regularisation (:data:`~photonas.transforms.EXACT_WCT` for plain WCT).
        precision: convolution precision (see :func:`photonas.device.autocast`).
    """

    name: str
    model: StyleTransferModel | BaselineModel
    transfer: str = "wct"
    config: WCTConfig = field(default_factory=WCTConfig)
    precision: str = "auto"
    kind: str = "neural"
    timed: bool = True

    def run(self, pair: Pair) -> np.ndarray:
        """Stylise one pair; style statistics are computed inside (part of the timed work)."""
        device = self.model.device
        c, s, c_lab, s_lab = _tensors(pair, device)
        with torch.inference_mode(), autocast(device, self.precision):
            out = self.model.stylize(c, s, content_labels=c_lab, style_labels=s_lab, method=self.transfer, config=self.config)
        return _array(out)


@dataclass(frozen=True)
class BaselineMethod(NeuralMethod):
    """A re-implemented baseline from :mod:`photonas.baselines` (PhotoWCT-style, WCT2-style).

    Run like a :class:`NeuralMethod` (their models share ``stylize``'s signature), with exact
    WCT by default, as the original PhotoWCT and WCT2 used.
    """

    model: BaselineModel
    config: WCTConfig = EXACT_WCT
    kind: str = "baseline"


def _tensors(pair: Pair, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The pair's images and label maps as batched tensors on ``device``."""

    def labels(array: np.ndarray | None) -> torch.Tensor | None:
        return None if array is None else torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))[None].to(device)

    images = (image_to_tensor(x.astype(np.float32)).to(device) for x in (pair.content, pair.style))
    return *images, labels(pair.content_labels), labels(pair.style_labels)


def _array(out: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` output as a clamped float ``(H, W, 3)`` array; synchronises CUDA first, so the
    runner's wall-clock timing is honest."""
    synchronize(out.device)
    return out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


@dataclass(frozen=True)
class ClassicalMethod:
    """A training-free colour transfer from :mod:`bench.classical`, on the CPU in numpy."""

    name: str
    fn: Callable[..., np.ndarray]
    kind: str = "classical"
    timed: bool = True

    def run(self, pair: Pair) -> np.ndarray:
        content, style = pair.content.astype(np.float64), pair.style.astype(np.float64)
        return self.fn(content, style, pair.content_labels, pair.style_labels).astype(np.float32)


@dataclass(frozen=True)
class ReferenceMethod:
    """Published outputs read from disk (Deep Photo Style Transfer): quality only, never timed.

    The pair's name names the file (``NN`` → ``<folder>/NN.jpg``); the output is resized to the content.
    """

    name: str
    folder: Path
    kind: str = "reference"
    timed: bool = False

    def run(self, pair: Pair) -> np.ndarray:
        path = self.folder / f"{pair.name}.jpg"
        if not path.is_file():
            raise FileNotFoundError(f"no published {self.name} output {path}")
        size = (pair.content.shape[1], pair.content.shape[0])
        return resize_rgb(load_image(path, name=f"{self.name} output").rgb, size)


@dataclass(frozen=True)
class RefinedMethod:
    """Another method's output carried onto the photo by the photo-faithful stage.

    The inner method decides the colours; :func:`photonas.refine.refine` fits them as smooth
    local colour maps, calibrates them to the style photo's colours (per region with label
    maps) and applies them to the content's own pixels.
    """

    name: str
    inner: NeuralMethod | BaselineMethod | ClassicalMethod
    kind: str = "refined"
    timed: bool = True

    def run(self, pair: Pair) -> np.ndarray:
        c, s, c_lab, s_lab = _tensors(pair, torch.device("cpu"))
        styled = image_to_tensor(self.inner.run(pair))
        return _array(refine(c, styled, style_pixels=colour_stats(flat_style_stand_in(s), s_lab), content_labels=c_lab))


@dataclass(frozen=True)
class AutoRegionsMethod:
    """The library's default output with automatic regions (``stylize(masks="auto")``) when no
    label maps are given; with label maps, the default output with them.

    Runs the library's own path (:func:`photonas.api.summarise_style`, then
    :func:`photonas.highres.stylize_photo` with the style's regions) in one piece at the
    pair's size, so its time is the library's.
    """

    name: str
    model: StyleTransferModel
    precision: str = "auto"
    kind: str = "refined"
    timed: bool = True

    def run(self, pair: Pair) -> np.ndarray:
        device = self.model.device
        c, s, c_lab, s_lab = _tensors(pair, device)
        auto = c_lab is None
        with torch.inference_mode(), autocast(device, self.precision):
            stats = summarise_style(self.model, s, AUTO_MASKS if auto else s_lab, network_regions=False)
            out = stylize_photo(
                self.model, c, stats, Options(max_side=max(c.shape[-2:])), content_labels=c_lab,
                regions=stats.regions if auto else None,
            )  # fmt: skip
        return _array(out)


Method = NeuralMethod | BaselineMethod | ClassicalMethod | ReferenceMethod | RefinedMethod | AutoRegionsMethod


def parse_method_spec(spec: str) -> tuple[str, str | None]:
    """``"name"`` → (name, None); ``"name=path"`` → (name, path), a model folder for that row."""
    name, sep, path = spec.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"bad method {spec!r}: use a name ({', '.join(METHOD_NAMES)}) or name=path")
    if sep and not path.strip():
        raise ValueError(f"bad method {spec!r}: name=path needs a path")
    if not sep and name not in METHOD_NAMES and not (name.endswith(REFINED) and name[: -len(REFINED)] in METHOD_NAMES):
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHOD_NAMES)} or give name=path")
    return name, (path.strip() if sep else None)


def _loaded(load: Callable[[], Any]) -> Any:
    """``load()``, or a :class:`Skipped` saying why not (missing weights, unreadable folder).

    The weights-not-found errors are FileNotFoundErrors that say how to train or fetch them.
    """
    try:
        return load()
    except (FileNotFoundError, ValueError, OSError) as err:
        return Skipped("", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")


def _then(name: str, built: Any, make: Callable[[Any], Method]) -> Method | Skipped:
    """``make(built)``, or, when ``built`` was skipped, the row ``name`` skipped for the same reason."""
    return Skipped(name, built.reason) if isinstance(built, Skipped) else make(built)


def build_methods(
    specs: Sequence[str] = DEFAULT_METHODS,
    *,
    device: str | torch.device | None = "cpu",
    dpst_results: str | os.PathLike | None = None,
    precision: str = "auto",
) -> tuple[list[Method], list[Skipped]]:
    """The methods to run and the ones skipped, in the order given.

    Args:
        specs: method names or ``name=path`` (a model folder, Hub id or preset for that row).
            ``photonas=path`` also changes the model under the ``adain`` and ``wct`` rows.
        device: where neural methods run.
        dpst_results: folder of published DPST outputs for the ``dpst`` row.
        precision: convolution precision of neural methods.
    """
    device = choose_device(device)
    parsed = [parse_method_spec(s) for s in specs]
    sources = {name: path for name, path in parsed if path is not None}
    models: dict[str, StyleTransferModel | Skipped] = {}

    def model(source: str) -> StyleTransferModel | Skipped:
        if source not in models:
            models[source] = _loaded(partial(load_model, source, device, precision))
        return models[source]

    def one(name: str, path: str | None) -> Method | Skipped:
        """One unrefined row: a classical method, the published DPST outputs, a baseline or a neural model."""
        if name in CLASSICAL and path is None:
            return ClassicalMethod(name, CLASSICAL[name])
        if name == "dpst" and path is None:
            folder = Path(dpst_results) if dpst_results is not None else None
            if folder is None or not folder.is_dir():
                return Skipped(name, f"no published DPST outputs at {folder} (pass --data)")
            return ReferenceMethod(name, folder)
        if name in BASELINES:  # converted for inference like photonas models: the speed rows compare methods
            load = partial(load_baseline, path or default_path(name), name, device)
            baseline = _loaded(lambda: convert_for_inference(load(), device, precision))
            return _then(name, baseline, partial(BaselineMethod, name, precision=precision))
        base = name if name in ("adain", "wct") else None
        source = path or (sources.get("photonas", "photonas") if base else name.removesuffix(RAW))
        config = EXACT_WCT if base == "wct" else WCTConfig()
        return _then(name, model(source), lambda net: NeuralMethod(name, net, base or "wct", config, precision=precision))

    methods: list[Method] = []
    skipped: list[Skipped] = []
    for name, path in parsed:
        if name == AUTO:
            net = model(path or sources.get("photonas", "photonas"))
            built = _then(name, net, partial(AutoRegionsMethod, name, precision=precision))
        elif name.endswith(REFINED) or name in ("photonas", "photonet"):
            base = name.removesuffix(REFINED)
            inner = one(base + RAW if base in ("photonas", "photonet") else base, path)
            built = _then(name, inner, partial(RefinedMethod, name))
        else:
            built = one(name, path)
        (skipped if isinstance(built, Skipped) else methods).append(built)
    return methods, skipped
