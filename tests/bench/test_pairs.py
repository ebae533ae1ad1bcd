"""The benchmark's inputs: pair numbers, the bundled and the DPST pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import gradient_photo, label_halves

from bench.pairs import QUICK_PAIRS, load_dpst_pairs, load_example_pairs, parse_pairs


def test_parse_pairs_reads_ranges_lists_and_mixes() -> None:
    assert parse_pairs("1-3,9") == [1, 2, 3, 9]
    assert parse_pairs("5, 2,2") == [2, 5]
    for bad in ("3-x", "4-2", ""):
        with pytest.raises(ValueError, match="--pairs"):
            parse_pairs(bad)


def test_example_pairs_are_the_bundled_photos_at_the_long_side() -> None:
    pairs = load_example_pairs(48)
    assert [p.name for p in pairs] == [f"{c}-{s}" for c, s in QUICK_PAIRS]
    for pair in pairs:
        assert pair.bundled and pair.content_labels is None
        assert max(pair.content.shape[:2]) == 48 and max(pair.style.shape[:2]) == 48


def test_dpst_pairs_load_photos_and_label_maps(tmp_path: Path) -> None:
    for folder in ("content", "style", "content_seg", "style_seg"):
        (tmp_path / folder).mkdir()
    gradient_photo((60, 40), 0).save(tmp_path / "content" / "03.jpg")
    gradient_photo((40, 60), 1).save(tmp_path / "style" / "03.jpg")
    label_halves((60, 40)).save(tmp_path / "content_seg" / "03.png")
    label_halves((40, 60), vertical_split=False).save(tmp_path / "style_seg" / "03.png")
    (pair,) = load_dpst_pairs(tmp_path, [3], 30, with_labels=True)
    assert pair.name == "03" and not pair.bundled
    assert pair.content.shape == (20, 30, 3) and pair.style.shape == (30, 20, 3)
    assert pair.content_labels.shape == (20, 30) and pair.style_labels.shape == (30, 20)
    assert set(np.unique(pair.content_labels)) == set(np.unique(pair.style_labels)) and len(np.unique(pair.content_labels)) == 2
    (bare,) = load_dpst_pairs(tmp_path, [3], 30, with_labels=False)
    assert bare.content_labels is None and bare.style_labels is None
