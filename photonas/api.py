"""The public one-call API: ``stylize(content, style) -> PIL.Image``.

Everything user-facing (paths, PIL images, numpy arrays, label maps, presets) is turned into
tensors here; the model only ever sees ``(B, 3, H, W)`` floats.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from photonas.device import autocast
from photonas.highres import find_regions, resize_long_side, stylize_highres, stylize_photo
from photonas.hub import load_model
from photonas.io import ImageSource, image_to_tensor, load_image, tensor_to_image
from photonas.masks import AUTO, check_pairing, check_style_regions, load_label_map
from photonas.model import StyleTransferModel
from photonas.options import DEFAULT_MAX_SIDE, Options
from photonas.padding import pad_to_grid
from photonas.refine import PIXELS, Refinement, colour_stats, flat_style_stand_in
from photonas.regions import fit_regions
from photonas.style import StyleStats
from photonas.transforms import resize_labels

ModelSource = str | os.PathLike | StyleTransferModel
#: A style: an image, or a style preset (:class:`StyleStats` or a ``.safetensors`` file of one).
StyleSource = ImageSource | StyleStats


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


def _is_preset_file(style: StyleSource) -> bool:
    return isinstance(style, (str, Path)) and str(style).endswith(".safetensors")


def is_preset(style: StyleSource) -> bool:
    """Whether ``style`` is a style preset (statistics or their ``.safetensors`` file), not a photo."""
    return isinstance(style, StyleStats) or _is_preset_file(style)


def _is_auto(mask: object) -> bool:
    return isinstance(mask, str) and mask == AUTO


def _split_masks(masks: object) -> tuple[ImageSource | None, ImageSource | None, bool]:
    """``stylize``'s ``masks`` as (content map, style map, automatic)."""
    if masks is None:
        return None, None, False
    if _is_auto(masks):
        return None, None, True
    if not (isinstance(masks, (tuple, list)) and len(masks) == 2):
        raise ValueError('masks must be a pair: (content_label_map, style_label_map or None), or "auto"')
    return masks[0], masks[1], False


def _style_stats(
    net: StyleTransferModel,
    style: StyleSource,
    style_mask: ImageSource | None,
    max_pixels: int | None,
    precision: str = "auto",
    max_side: int = DEFAULT_MAX_SIDE,
    *,
    network_regions: bool = True,
) -> StyleStats:
    """A style given as statistics, a preset file or an image, as statistics for ``net``.

    A style photo larger than ``max_side`` on its long side is summarised from a copy scaled
    to it: its colour statistics barely change, while a 12 MP style encoded whole would need
    several GB. The statistics include the photo's own colours (:data:`photonas.refine.PIXELS`)
    for the photo-faithful output's calibration. A flat single-colour style is read as a colour
    cast (:func:`photonas.refine.flat_style_stand_in`), so the content keeps its structure.

    ``style_mask`` :data:`AUTO` finds the style's regions (see :func:`summarise_style`).
    """
    if _is_preset_file(style):
        style = StyleStats.load(style)
    if isinstance(style, StyleStats):
        if style_mask is not None:
            raise ValueError("a style preset already holds its regions: pass no style label map with it")
        return style
    dev = net.device
    image = load_image(style, max_pixels=max_pixels, name="style image")
    pixels = resize_long_side(image_to_tensor(image.flattened()).to(dev), max_side)
    labels = style_mask
    if style_mask is not None and not _is_auto(style_mask):
        labels = resize_labels(_labels(style_mask, image.size, "style label map", dev, max_pixels), pixels.shape[-2:])
    with torch.inference_mode(), _precision_context(net, precision):
        return summarise_style(net, pixels, labels, network_regions=network_regions)


def summarise_style(
    net: StyleTransferModel, style: Tensor, labels: Tensor | str | None = None, *, network_regions: bool = True
) -> StyleStats:
    """A ``(1, 3, H, W)`` style photo in [0, 1] as statistics for ``net``, with its own colours.

    The network's statistics at every transfer position plus the photo's RGB statistics
    (:data:`photonas.refine.PIXELS`), whole and per region of ``(1, H, W)`` ``labels``. A flat
    single-colour style is read as a colour cast (:func:`photonas.refine.flat_style_stand_in`).
    ``labels`` :data:`AUTO` finds the style's regions (:func:`photonas.regions.fit_regions`) from
    the same encoder pass and keeps their matcher in the result; ``network_regions=False`` then
    leaves the network's statistics global (the photo-faithful output uses automatic regions in
    its colour calibration alone), which saves an eigen-solve per region and transfer position.
    """
    pixels = flat_style_stand_in(style)
    padded, box = pad_to_grid(pixels)
    feats = net.encode(padded)
    matcher = None
    if _is_auto(labels):
        matcher, labels = fit_regions(feats, box, style_image=padded)
    stats = net.style_stats(pixels, labels if matcher is None or network_regions else None, features=feats)
    return replace(stats, points={**stats.points, PIXELS: colour_stats(pixels, labels)}, regions=matcher)


def style_preset(
    style: ImageSource,
    model: ModelSource = "photonas",
    *,
    style_mask: ImageSource | str | None = None,
    device: str | torch.device | None = None,
    max_pixels: int | None = None,
    max_side: int | None = None,
) -> StyleStats:
    """Summarise a style photo once for ``model``; save it with ``.save(path)`` and reuse it.

    ``style_mask`` (a label map) adds per-region statistics for masked stylisation;
    ``style_mask="auto"`` finds the style's regions itself and keeps what is needed to pair a
    content's regions with them later (``stylize(content, preset, masks="auto")``). A photo
    longer than ``max_side`` (default 1024) is summarised at that size.
    """
    side = Options(mode="exact", max_side=max_side).max_side
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
    options: Options | None = None,
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
        options: all of alpha, method, precision, mode, max_side, raw and refinement at once,
            as one :class:`~photonas.options.Options` (then leave those at their defaults).

    Raises:
        photonas.io.ImageError: an input is not a usable image or label map.
        photonas.hub.WeightsNotFoundError: no trained weights for ``model``.
    """
    options = Options.given(
        options, alpha=alpha, method=method, raw=raw, mode=mode, max_side=max_side, precision=precision,
        refinement=refinement,
    )  # fmt: skip
    content_mask, style_mask, auto = _split_masks(masks)
    preset = is_preset(style)
    check_pairing(content_mask, style_mask, auto=auto, preset=preset)
    net = load_model(model, device, options.precision)
    dev = net.device
    image = load_image(content, max_pixels=max_pixels, name="content image")
    content_labels = (
        _labels(content_mask, image.size, "content label map", dev, max_pixels) if content_mask is not None else None
    )
    stats = _style_stats(
        net, style, AUTO if auto and not preset else style_mask, max_pixels, options.precision, options.max_side,
        network_regions=options.raw,
    )  # fmt: skip
    check_style_regions(stats, labels=content_labels is not None, auto=auto)
    pixels = image_to_tensor(image.rgb).to(dev)
    with torch.inference_mode(), _precision_context(net, options.precision):
        if not options.raw:
            regions = stats.regions if auto else None
            out = stylize_photo(net, pixels, stats, options, content_labels=content_labels, regions=regions)
        else:
            if auto:  # the raw output has no calibration: the network transfers region by region
                content_labels = resize_labels(find_regions(net, pixels, stats.regions), pixels.shape[-2:])
            out = stylize_highres(net, pixels, stats, options, content_labels=content_labels)
    return tensor_to_image(out.float(), alpha=image.alpha)
