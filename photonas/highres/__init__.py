"""Stylisation at any size: the photo-faithful default, and the raw network output in exact or fast mode.

- :func:`stylize_photo` (the default output): the network runs at a working size (fast mode,
  ``max_side`` default :data:`WORK_SIDE`) or at full resolution (exact mode, tiled as below),
  and :func:`photonas.refine.refine` carries its colour change onto the photo's own pixels.
  Either way every output pixel comes from the photo, so both modes are photo-faithful.

:func:`stylize_highres` is the raw network output (the paper's):

- ``"exact"``: the network runs at full resolution; images of more than ``max_side²`` pixels
  (memory grows with pixels, not with the long side) are cut into tiles with halos, and
  whole-image statistics are gathered in passes (:mod:`photonas.highres.tiled`), so the
  result equals the one-piece result.
- ``"fast"``: the network runs on a copy scaled to ``max_side`` on its long side; the colour
  change is carried to full resolution by a bilateral grid of affine colour maps sliced by
  the full-resolution photo (:mod:`photonas.colour_grid`).
"""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor

from photonas.colour_grid import apply_colour_grid, fit_colour_grid, resize_long_side
from photonas.highres.tiled import stylize_tiled
from photonas.model import StyleTransferModel
from photonas.options import WORK_SIDE, Options
from photonas.padding import MIN_SIDE, pad_to_grid
from photonas.refine import PIXELS, ColourMapping, fit_mapping
from photonas.regions import RegionMatcher
from photonas.style import StyleStats
from photonas.transforms import resize_labels


def stylize_highres(
    model: StyleTransferModel,
    content: Tensor,
    style: StyleStats,
    options: Options = Options(raw=True),
    *,
    content_labels: Tensor | None = None,
) -> Tensor:
    """Stylise one ``(1, 3, H, W)`` image of any size; returns ``(1, 3, H, W)`` float32.

    Args:
        model: the network.
        content: the image in [0, 1].
        style: statistics from :meth:`StyleTransferModel.style_stats`.
        options: ``mode`` (see the module docstring), ``max_side`` (exact mode runs images of
            up to ``max_side²`` pixels in one piece and larger ones in tiles of this side; fast
            mode runs the image scaled to this long side), ``alpha``, ``method``, ``config``.
        content_labels: ``(1, H, W)`` region labels (the style statistics must hold regions).
    """
    max_side = options.max_side
    kwargs = {"alpha": options.alpha, "method": options.method, "config": options.config}
    h, w = content.shape[-2:]
    if options.mode == "fast":
        small = resize_long_side(content, max_side)
        labels = None if content_labels is None else resize_labels(content_labels, small.shape[-2:])
        styled = model.stylize(small, style, content_labels=labels, **kwargs).float()
        if small.shape[-2:] == content.shape[-2:]:
            return styled
        return apply_colour_grid(fit_colour_grid(small.float(), styled), content)
    if max(-(-h // 16) * 16, MIN_SIDE) * max(-(-w // 16) * 16, MIN_SIDE) <= max_side**2:  # one piece fits
        return model.stylize(content, style, content_labels=content_labels, **kwargs).float()
    return stylize_tiled(model, content, style, content_labels=content_labels, tile=max_side, **kwargs)


def find_regions(model: StyleTransferModel, content: Tensor, regions: RegionMatcher, side: int = WORK_SIDE) -> Tensor:
    """Automatic region labels of a ``(1, 3, H, W)`` photo, found on a copy at ``side``.

    Returns ``(1, h, w)`` int64 labels at the copy's size (the photo's aspect); resize them
    with :func:`~photonas.transforms.resize_labels` where full size is needed.
    """
    padded, box = pad_to_grid(resize_long_side(content, side))
    return regions.label(model.encode(padded), box, padded)


def fit_photo_mapping(
    model: StyleTransferModel,
    content: Tensor,
    style: StyleStats,
    options: Options = Options(),
    *,
    content_labels: Tensor | None = None,
    regions: RegionMatcher | None = None,
) -> tuple[ColourMapping, Tensor | None]:
    """The photo-faithful colour change of one ``(1, 3, H, W)`` image, and the labels it applies with.

    The network runs at full strength (``options.alpha`` is applied later) on a copy at
    ``options.max_side`` (fast, default :data:`~photonas.options.WORK_SIDE`) or on the whole
    image (exact, tiled above ``max_side²`` pixels); its
    colour change is fitted as smooth local maps (:func:`photonas.refine.fit_mapping`),
    calibrated to the style photo's colours when ``style`` holds them
    (:data:`photonas.refine.PIXELS`).

    ``regions`` (automatic regions, usually ``style.regions``) labels the photo from the
    network's own encoder pass in fast mode (one more encode at :data:`WORK_SIDE` in exact
    mode). The network then transfers globally and the regions act in the colour calibration,
    feathered (:meth:`Refinement.for_automatic_regions`): on held-out BSDS pairs that matched
    region colours as closely as region-wise transfer inside the network, which costs an
    eigen-solve per region and position (README, "Automatic regions"). ``content_labels`` are
    drawn maps instead, used in both places; not both.
    """
    if regions is not None and content_labels is not None:
        raise ValueError("give label maps or automatic regions, not both")
    kwargs = {"method": options.method, "config": options.config}
    labels = content_labels
    if options.mode == "fast":  # the copy is small: one piece, whatever its padding
        work = resize_long_side(content, options.max_side)
        feats = None
        if regions is not None:
            padded, box = pad_to_grid(work)
            feats = model.encode(padded)
            labels = regions.label(feats, box, padded)
        work_labels = None if content_labels is None else resize_labels(content_labels, work.shape[-2:])
        styled = model.stylize(work, style, content_labels=work_labels, features=feats, **kwargs)
    else:
        if regions is not None:
            labels = find_regions(model, content, regions)
        styled = stylize_highres(model, content, style, replace(options, alpha=1.0), content_labels=content_labels)
    settings = options.refinement if regions is None else options.refinement.for_automatic_regions()
    mapping = fit_mapping(content, styled, style_pixels=style.points.get(PIXELS), content_labels=labels, settings=settings)
    return mapping, labels


def stylize_photo(
    model: StyleTransferModel,
    content: Tensor,
    style: StyleStats,
    options: Options = Options(),
    *,
    content_labels: Tensor | None = None,
    regions: RegionMatcher | None = None,
) -> Tensor:
    """The photo-faithful stylisation of one ``(1, 3, H, W)`` image; returns ``(1, 3, H, W)`` float32.

    :func:`fit_photo_mapping` (same arguments) applied to the photo's own pixels, blended with
    it by ``options.alpha`` (0 returns the photo).
    """
    if options.alpha == 0.0:
        return content.float().clamp(0, 1)
    mapping, labels = fit_photo_mapping(model, content, style, options, content_labels=content_labels, regions=regions)
    return mapping.apply(content, labels, options.alpha)

