"""The public one-call API: ``stylize(content, style) -> PIL.Image``.

Everything user-facing (paths, PIL images, numpy arrays, label maps, presets) is turned into
tensors here; the model only ever sees ``(B, 3, H, W)`` floats.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from photonas.device import autocast, choose_device, resolve_precision
from photonas.highres import (
    DEFAULT_MAX_SIDE,
    check_mode,
    default_mode,
    resize_labels,
    resize_long_side,
    stylize_highres,
    stylize_photo,
)
from photonas.io import ImageSource, image_to_tensor, load_image, tensor_to_image
from photonas.masks import load_label_map
from photonas.model import WEIGHTS_NAME, StyleTransferModel, model_class
from photonas.presets import PRESETS, get_preset
from photonas.refine import PIXELS, Refinement, colour_stats, flat_style_stand_in
from photonas.regions import auto_label_maps
from photonas.style import StyleStats
from photonas.transforms import TRANSFORMS

ModelSource = str | os.PathLike | StyleTransferModel
#: A style: an image, or a style preset (:class:`StyleStats` or a ``.safetensors`` file of one).
StyleSource = ImageSource | StyleStats


@functools.lru_cache(maxsize=4)
def _load_cached(source: str, device: str, stamp: int | None, precision: str) -> StyleTransferModel:
    """``stamp`` (the weights file's mtime for a folder) makes a rewritten checkpoint reload."""
    if source.lower() in PRESETS:
        model = model_class(source).from_pretrained()
    else:
        model = StyleTransferModel.from_pretrained(source)
    return model.for_inference(device, precision)


def load_model(
    model: ModelSource = "photonas", device: str | torch.device | None = None, precision: str = "auto"
) -> StyleTransferModel:
    """A ready model: a preset name (shipped weights), a folder, a Hub repo id, or a model.

    Named models are loaded once per process, device and precision and then reused, so calling
    :func:`stylize` in a loop does not reload weights (a folder whose weights file changes is
    reloaded). They come converted for inference (see
    :meth:`~photonas.model.StyleTransferModel.for_inference`): bf16 and channels-last on CUDA
    and on CPUs with native bf16 unless ``precision`` says otherwise. A model passed in is
    returned as it is (moved to ``device`` if one is given).
    """
    if isinstance(model, StyleTransferModel):
        return model.to(choose_device(device)) if device is not None else model
    name = str(model)
    if name.lower() not in PRESETS and "/" not in name and not os.path.isdir(name):
        get_preset(name)  # raises: not a preset, not a folder, and a Hub repo id is owner/name
    weights = Path(name) / WEIGHTS_NAME
    stamp = weights.stat().st_mtime_ns if weights.is_file() else None
    chosen = choose_device(device)
    return _load_cached(name, str(chosen), stamp, resolve_precision(chosen, precision))


def _precision_context(net: StyleTransferModel, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for a float32 model explicitly asked for bf16/fp16; a converted model, or
    ``"auto"`` with a model passed in, runs as it is."""
    if precision == "auto" or net.dtype != torch.float32:
        return contextlib.nullcontext()
    return autocast(net.device, precision)


def _labels(
    source: ImageSource, size: tuple[int, int], name: str, device: torch.device, max_pixels: int | None
) -> torch.Tensor:
    labels = load_label_map(source, size, name=name, max_pixels=max_pixels)
    return torch.from_numpy(np.ascontiguousarray(labels))[None].to(device)


def _check_alpha(alpha: float) -> float:
    """Style strength as a float in [0, 1], checked before any work (a bool is refused, not read as 0 or 1)."""
    if isinstance(alpha, bool):
        raise ValueError(f"alpha (style strength) must be a number in [0, 1], got {alpha!r}")
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha (style strength) must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"alpha (style strength) must be in [0, 1], got {alpha}")
    return value


def _check_method(method: str) -> str:
    if method not in TRANSFORMS:
        raise ValueError(f"unknown transfer method {method!r}; choose one of {sorted(TRANSFORMS)}")
    return method


def _is_preset_file(style: StyleSource) -> bool:
    return isinstance(style, (str, Path)) and str(style).endswith(".safetensors")


def _style_stats(
    net: StyleTransferModel,
    style: StyleSource,
    style_mask: ImageSource | None,
    max_pixels: int | None,
    precision: str = "auto",
    max_side: int = DEFAULT_MAX_SIDE,
) -> StyleStats:
    """A style given as statistics, a preset file or an image, as statistics for ``net``.

    A style photo larger than ``max_side`` on its long side is summarised from a copy scaled
    to it: its colour statistics barely change, while a 12 MP style encoded whole would need
    several GB. The statistics include the photo's own colours (:data:`photonas.refine.PIXELS`)
    for the photo-faithful output's calibration. A flat single-colour style is read as a colour
    cast (:func:`photonas.refine.flat_style_stand_in`), so the content keeps its structure.
    """
    if _is_preset_file(style):
        style = StyleStats.load(style)
    if isinstance(style, StyleStats):
        if style_mask is not None:
            raise ValueError("a style preset already holds its regions: pass no style label map with it")
        return style
    dev = net.device
    image = load_image(style, max_pixels=max_pixels, name="style image")
    labels = _labels(style_mask, image.size, "style label map", dev, max_pixels) if style_mask is not None else None
    pixels = flat_style_stand_in(resize_long_side(image_to_tensor(image.flattened()).to(dev), max_side))
    if labels is not None:
        labels = resize_labels(labels, pixels.shape[-2:])
    with torch.inference_mode(), _precision_context(net, precision):
        stats = net.style_stats(pixels, labels)
        return replace(stats, points={**stats.points, PIXELS: colour_stats(pixels, labels)})


#: ``masks=AUTO`` finds matching regions itself (:mod:`photonas.regions`).
AUTO = "auto"


def _auto_masks(
    net: StyleTransferModel, content: Tensor, style: StyleSource, max_pixels: int | None, side: int, precision: str
) -> tuple[np.ndarray, np.ndarray]:
    """Automatic label maps for ``content`` (``(1, 3, H, W)``) and the style photo, found on copies at ``side``.

    The maps come back at those copies' sizes (same aspect as the photos), and are resized to
    the photos like any label map.
    """
    if isinstance(style, StyleStats) or _is_preset_file(style):
        raise ValueError("automatic regions need the style photo, not a style preset: pass the image")
    style_image = load_image(style, max_pixels=max_pixels, name="style image")
    dev = net.device
    small_style = resize_long_side(image_to_tensor(style_image.flattened()).to(dev), side)
    with torch.inference_mode(), _precision_context(net, precision):
        content_labels, style_labels = auto_label_maps(net.encode, resize_long_side(content, side), small_style)
    return content_labels[0].cpu().numpy(), style_labels[0].cpu().numpy()


def style_preset(
    style: ImageSource,
    model: ModelSource = "photonas",
    *,
    style_mask: ImageSource | None = None,
    device: str | torch.device | None = None,
    max_pixels: int | None = None,
    max_side: int | None = None,
) -> StyleStats:
    """Summarise a style photo once for ``model``; save it with ``.save(path)`` and reuse it.

    ``style_mask`` (a label map) adds per-region statistics for masked stylisation. A photo
    longer than ``max_side`` (default 1024) is summarised at that size.
    """
    side = check_mode("exact", max_side)
    return _style_stats(load_model(model, device), style, style_mask, max_pixels, max_side=side)


def stylize(
    content: ImageSource,
    style: StyleSource,
    model: ModelSource = "photonas",
    alpha: float = 1.0,
    masks: tuple[ImageSource, ImageSource | None] | str | None = None,
    device: str | torch.device | None = None,
    *,
    method: str = "wct",
    max_pixels: int | None = None,
    precision: str = "auto",
    mode: str | None = None,
    max_side: int | None = None,
    raw: bool = False,
    refinement: Refinement = Refinement(),
) -> Image.Image:
    """Give ``content`` the colours, tones and light of ``style``; returns a PIL image.

    Args:
        content: the photo to restyle (path, bytes, PIL image or numpy array), any size.
            Its EXIF orientation is applied and embedded ICC profiles are converted to sRGB.
            A transparent content keeps its alpha channel in the result (RGBA out).
        style: the style photo (same kinds; a transparent one is flattened over white), or a
            style preset from :func:`style_preset` or its ``.safetensors`` file.
        model: ``"photonas"`` (default), ``"photonet"``, a folder, a Hub repo id, or a model.
        alpha: style strength in [0, 1]: 0 returns the content photo (to 8-bit rounding), 1 the
            full transfer. With ``raw=True`` it blends features at every transfer position
            instead (the paper's alpha), and 0 reproduces the content through the auto-encoder.
        masks: ``(content_label_map, style_label_map)`` to transfer region by region (sky to
            sky); colour-coded maps in the DPST palette or 2-D integer arrays. With a preset
            made from a style mask, the second entry is None. ``"auto"`` finds matching
            regions from the encoder's deep features (:mod:`photonas.regions`; needs the style
            photo, not a preset).
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default CUDA, then MPS, then CPU.
        method: ``"wct"`` (default) or ``"adain"``.
        max_pixels: refuse images larger than this many pixels (decompression-bomb guard).
        precision: convolution precision: "auto" (bf16 on CUDA and on CPUs with native bf16,
            fp32 elsewhere), "fp32", "bf16" or "fp16"; transfers always compute in float32 with
            float64 eigen-solves.

        mode: where the network runs. ``"fast"`` (the default output's default): on a copy
            scaled to ``max_side`` on its long side; ``"exact"`` (the raw output's default): at
            full resolution, in tiles with whole-image statistics when the image has more than
            ``max_side²`` pixels (same result as one piece, memory bounded). The default output
            is photo-faithful in both; the raw output in fast mode is carried to full size by a
            fine grid of local colour maps.
        max_side: the network's size at once: fast mode's working size (default 512 for the
            default output, 1024 raw), exact mode's tile side (default 1024). A style photo
            longer than this is summarised from a copy scaled to it.
        raw: return the network's own decoded output (the paper's PhotoNAS/PhotoNet result)
            instead of the photo-faithful default, whose pixels come from the content photo
            through smooth local colour maps that the network's output decides
            (:mod:`photonas.refine`).
        refinement: settings of the photo-faithful stage (ignored with ``raw=True``).

    Raises:
        photonas.io.ImageError: an input is not a usable image or label map.
        photonas.model.WeightsNotFoundError: no trained weights for ``model``.
    """
    alpha = _check_alpha(alpha)
    method = _check_method(method)
    mode = default_mode(raw) if mode is None else mode
    max_side = check_mode(mode, max_side, raw=raw)
    auto = isinstance(masks, str) and masks == AUTO
    if masks is not None and not auto and not (isinstance(masks, (tuple, list)) and len(masks) == 2):
        raise ValueError('masks must be a pair: (content_label_map, style_label_map or None), or "auto"')
    net = load_model(model, device, precision)
    dev = net.device
    image = load_image(content, max_pixels=max_pixels, name="content image")
    if auto:
        masks = _auto_masks(net, image_to_tensor(image.rgb).to(dev), style, max_pixels, max_side, precision)
    content_mask, style_mask = masks if masks is not None else (None, None)
    content_labels = (
        _labels(content_mask, image.size, "content label map", dev, max_pixels) if content_mask is not None else None
    )
    if (
        content_mask is not None
        and style_mask is None
        and not (isinstance(style, StyleStats) or _is_preset_file(style))
    ):
        raise ValueError("masks need the style's regions too: masks=(content_label_map, style_label_map)")
    stats = _style_stats(net, style, style_mask, max_pixels, precision, max_side)
    if (
        not auto
        and content_labels is not None
        and stats.points
        and all(len(regions) == 1 for regions in stats.points.values())
    ):
        raise ValueError(
            "the style statistics hold no regions (a preset made without a style label map, or regions "
            "too small to summarise), so masks would have no effect"
        )
    if auto:  # automatic regions have stray patches: one grid over the region-calibrated colours hides them
        refinement = replace(refinement, separate_regions=False)
    run = stylize_highres if raw else functools.partial(stylize_photo, refinement=refinement)
    with torch.inference_mode(), _precision_context(net, precision):
        out = run(
            net,
            image_to_tensor(image.rgb).to(dev),
            stats,
            mode=mode,
            max_side=max_side,
            alpha=alpha,
            method=method,
            content_labels=content_labels,
        )
    return tensor_to_image(out.float(), alpha=image.alpha)
