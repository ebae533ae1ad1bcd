"""The benchmark's inputs: DPST pairs, the bundled example pairs, and the resizing they share.

Images are float ``(H, W, 3)`` sRGB arrays in [0, 1], resized on float data (Lanczos) so
every method sees exactly the same pixels; label maps are integer ``(H, W)`` arrays.

Examples:
    >>> pairs = load_example_pairs(64)  # two bundled photo pairs, long side 64 px
    >>> pairs[0].name, pairs[0].content.shape[2]
    ('chelsea-coffee', 3)
    >>> parse_pairs("1-3,9")
    [1, 2, 3, 9]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photonas.io import fit_long_side, load_image
from photonas.masks import load_label_map
from photonas.presets import EXAMPLES_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Quick runs: these bundled photos as (content, style), at this long side.
QUICK_PAIRS: tuple[tuple[str, str], ...] = (("chelsea", "coffee"), ("rocket", "chelsea"))
QUICK_LONG_SIDE = 128


@dataclass(frozen=True)
class Pair:
    """One content/style pair, loaded and resized; label maps when the data has them."""

    name: str
    content: np.ndarray
    style: np.ndarray
    content_labels: np.ndarray | None = None
    style_labels: np.ndarray | None = None
    bundled: bool = False


def parse_pairs(spec: str) -> list[int]:
    """``"1-60"``, ``"1,5,9"`` or a mix (``"1-3,9"``) → sorted pair numbers."""
    numbers: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"bad --pairs part {part!r}: use 1-60, 1,5,9 or a mix")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise ValueError(f"bad --pairs range {part!r}")
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def load_dpst_pairs(data: Path, numbers: Sequence[int], long_side: int, with_labels: bool) -> list[Pair]:
    """DPST pairs ``NN`` from ``content/``, ``style/`` (and ``*_seg/`` label maps)."""
    pairs = []
    for n in numbers:
        nn = f"{n:02d}"
        content = fit_long_side(load_image(data / "content" / f"{nn}.jpg", name=f"content {nn}").rgb, long_side)
        style = fit_long_side(load_image(data / "style" / f"{nn}.jpg", name=f"style {nn}").rgb, long_side)
        c_lab = s_lab = None
        if with_labels:
            c_lab = load_label_map(data / "content_seg" / f"{nn}.png", (content.shape[1], content.shape[0]), name=f"content label map {nn}")
            s_lab = load_label_map(data / "style_seg" / f"{nn}.png", (style.shape[1], style.shape[0]), name=f"style label map {nn}")
        pairs.append(Pair(nn, content, style, c_lab, s_lab))
    return pairs


def load_example_pairs(long_side: int = QUICK_LONG_SIDE) -> list[Pair]:
    """The bundled example photos as pairs (no label maps): the only inputs whose grids are committed."""

    def photo(name: str) -> np.ndarray:
        return fit_long_side(load_image(EXAMPLES_DIR / f"{name}.jpg", name=name).rgb, long_side)

    return [Pair(f"{c}-{s}", photo(c), photo(s), bundled=True) for c, s in QUICK_PAIRS]
