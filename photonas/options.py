"""How to stylise, checked once: the settings every layer passes down unchanged.

:class:`Options` is made where a request enters (``stylize``, ``stylize_video``, the CLI, the
demo) and checks itself when it is made; the high-resolution and video layers below take it
as it is and check nothing again. It also resolves the two defaults that depend on the output:
the network runs in fast mode at :data:`WORK_SIDE` for the photo-faithful default, and in
exact mode with :data:`DEFAULT_MAX_SIDE` tiles for the raw output.

Example:
    >>> Options().mode, Options().max_side, Options(raw=True).mode, Options(raw=True).max_side
    ('fast', 512, 'exact', 1024)
    >>> Options(alpha=2.0)
    Traceback (most recent call last):
    ...
    ValueError: alpha (style strength) must be in [0, 1], got 2.0
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from photonas.device import check_precision
from photonas.padding import MIN_SIDE
from photonas.refine import Refinement
from photonas.transforms import WCTConfig, check_method

MODES = ("exact", "fast")
#: Longest side the network runs on at once by default, in either mode: about 3 GB peak on a CPU.
DEFAULT_MAX_SIDE = 1024
#: The network's working size on the photo-faithful path (fast mode): when the pixels come from
#: the photo, the network only decides the colours, and 512 px did that as well as 1024 px on
#: held-out pairs at a fifth of the time (README, "At what size must the network run?").
WORK_SIDE = 512


@dataclass(frozen=True)
class Options:
    """The settings of one stylisation; invalid values raise ValueError when it is made.

    Attributes:
        alpha: style strength in [0, 1] (see :func:`photonas.stylize`).
        method: ``"wct"`` or ``"adain"``.
        raw: the network's own decoded output instead of the photo-faithful default.
        mode: ``"fast"`` (the network on a copy at ``max_side``) or ``"exact"`` (full
            resolution, tiled above ``max_side²`` pixels). None: fast for the default
            output, exact for the raw one.
        max_side: the network's size at once. None: :data:`WORK_SIDE` in fast mode on the
            default output, else :data:`DEFAULT_MAX_SIDE`.
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        refinement: settings of the photo-faithful stage (unused with ``raw``).
        config: regularisation of the whitening.
    """

    alpha: float = 1.0
    method: str = "wct"
    raw: bool = False
    mode: str | None = None
    max_side: int | None = None
    precision: str = "auto"
    refinement: Refinement = Refinement()
    config: WCTConfig = WCTConfig()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: the resolved defaults are written once, here
        set_(self, "alpha", _check_alpha(self.alpha))
        check_method(self.method)
        set_(self, "raw", bool(self.raw))
        mode = ("exact" if self.raw else "fast") if self.mode is None else self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
        set_(self, "mode", mode)
        set_(self, "max_side", _check_side(self.max_side, WORK_SIDE if (mode == "fast" and not self.raw) else DEFAULT_MAX_SIDE))
        check_precision(self.precision)
        if not isinstance(self.refinement, Refinement):
            raise ValueError(f"refinement must be a photonas.refine.Refinement, got {type(self.refinement).__name__}")
        if not isinstance(self.config, WCTConfig):
            raise ValueError(f"config must be a photonas.transforms.WCTConfig, got {type(self.config).__name__}")

    @classmethod
    def given(cls, options: Options | None, **settings: Any) -> Options:
        """``options`` when given, else options made from ``settings`` (field names); not both.

        The public functions take either the separate settings or one options object: a setting
        changed from its default next to an options object would be silently ignored, so it is
        refused.
        """
        if options is None:
            return cls(**settings)
        defaults = {f.name: f.default for f in fields(cls)}
        changed = [name for name, value in settings.items() if value != defaults[name]]
        if changed:
            raise ValueError(f"pass options or {', '.join(changed)}, not both")
        return options


def _check_alpha(alpha: object) -> float:
    """Style strength as a float in [0, 1] (a bool is refused, not read as 0 or 1)."""
    if isinstance(alpha, bool):
        raise ValueError(f"alpha (style strength) must be a number in [0, 1], got {alpha!r}")
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha (style strength) must be a number in [0, 1], got {alpha!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"alpha (style strength) must be in [0, 1], got {alpha}")
    return value


def _check_side(max_side: object, default: int) -> int:
    if max_side is None:
        return default
    if isinstance(max_side, bool) or not isinstance(max_side, int):
        raise ValueError(f"max_side must be a whole number of pixels, got {max_side!r}")
    if max_side < MIN_SIDE:
        raise ValueError(f"max_side must be at least {MIN_SIDE} px, got {max_side}")
    return max_side


__all__ = ["DEFAULT_MAX_SIDE", "MODES", "WORK_SIDE", "Options"]
