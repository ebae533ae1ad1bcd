"""High-resolution stylisation: exact (tiled, equal to one-piece) and fast (guided colour mapping).

- ``"exact"``: the network runs at full resolution; images of more than ``max_side²`` pixels
  (memory grows with pixels, not with the long side) are cut into tiles with halos, and
  whole-image statistics are gathered in passes (:mod:`photonas.highres.tiled`), so the
  result equals the one-piece result.
- ``"fast"``: the network runs on a copy scaled to ``max_side`` on its long side; the colour
  change is carried to full resolution by a bilateral grid of affine colour maps sliced by
  the full-resolution photo (:mod:`photonas.colour_grid`).
"""

from __future__ import annotations

from torch import Tensor

from photonas.colour_grid import apply_colour_grid, fit_colour_grid, resize_labels, resize_long_side
from photonas.highres.tiled import plan_tiles, stylize_tiled
from photonas.model import StyleTransferModel
from photonas.padding import MIN_SIDE
from photonas.style import StyleStats
from photonas.transforms import WCTConfig

MODES = ("exact", "fast")
#: Longest side the network runs on at once by default, in either mode: about 3 GB peak on a CPU.
DEFAULT_MAX_SIDE = 1024


def check_mode(mode: str, max_side: int | None) -> int:
    """Validate ``mode`` and ``max_side`` up front; returns the max_side to use.

    Raises:
        ValueError: an unknown mode, or a max_side that is not a usable integer.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    if max_side is None:
        return DEFAULT_MAX_SIDE
    if isinstance(max_side, bool) or not isinstance(max_side, int):
        raise ValueError(f"max_side must be a whole number of pixels, got {max_side!r}")
    if max_side < MIN_SIDE:
        raise ValueError(f"max_side must be at least {MIN_SIDE} px, got {max_side}")
    return max_side


def stylize_highres(
    model: StyleTransferModel,
    content: Tensor,
    style: StyleStats,
    *,
    mode: str = "exact",
    max_side: int | None = None,
    alpha: float = 1.0,
    method: str = "wct",
    content_labels: Tensor | None = None,
    config: WCTConfig = WCTConfig(),
) -> Tensor:
    """Stylise one ``(1, 3, H, W)`` image of any size; returns ``(1, 3, H, W)`` float32.

    Args:
        model: the network.
        content: the image in [0, 1].
        style: statistics from :meth:`StyleTransferModel.style_stats`.
        mode: ``"exact"`` or ``"fast"`` (see the module docstring).
        max_side: the network's size at once (default 1024): exact mode runs images of up
            to ``max_side²`` pixels in one piece and larger ones in tiles of this side; fast
            mode runs the image scaled to this long side.
        alpha: style strength in [0, 1].
        method: ``"wct"`` or ``"adain"``.
        content_labels: ``(1, H, W)`` region labels (the style statistics must hold regions).
        config: regularisation of the whitening.
    """
    max_side = check_mode(mode, max_side)
    kwargs = {"alpha": alpha, "method": method, "config": config}
    h, w = content.shape[-2:]
    if mode == "fast":
        small = resize_long_side(content, max_side)
        labels = None if content_labels is None else resize_labels(content_labels, small.shape[-2:])
        styled = model.stylize(small, style, content_labels=labels, **kwargs).float()
        if small.shape[-2:] == content.shape[-2:]:
            return styled
        return apply_colour_grid(fit_colour_grid(small.float(), styled), content)
    if max(-(-h // 16) * 16, MIN_SIDE) * max(-(-w // 16) * 16, MIN_SIDE) <= max_side**2:  # one piece fits
        return model.stylize(content, style, content_labels=content_labels, **kwargs).float()
    return stylize_tiled(model, content, style, content_labels=content_labels, tile=max_side, **kwargs)


__all__ = [
    "DEFAULT_MAX_SIDE",
    "MODES",
    "apply_colour_grid",
    "check_mode",
    "fit_colour_grid",
    "plan_tiles",
    "resize_labels",
    "resize_long_side",
    "stylize_highres",
    "stylize_tiled",
]
