"""Painted editor layers -> integer label maps that agree between content and style."""

from __future__ import annotations

import numpy as np
import pytest

from demo.regions import BRUSH_COLOURS, colour_names, editor_labels, painted_labels


def _layer(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 4), np.uint8)


def _paint(layer: np.ndarray, rows: slice, colour: str, alpha: int = 255) -> None:
    hex_colour = dict(BRUSH_COLOURS)[colour].lstrip("#")
    layer[rows, :, :3] = [int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)]
    layer[rows, :, 3] = alpha


def test_each_brush_colour_is_one_label_and_unpainted_is_zero():
    layer = _layer(6, 4)
    _paint(layer, slice(0, 2), "blue")
    _paint(layer, slice(4, 6), "green")
    labels = painted_labels([layer])
    assert labels.dtype == np.int64 and labels.shape == (6, 4)
    blue, green = (1 + [name for name, _ in BRUSH_COLOURS].index(c) for c in ("blue", "green"))
    assert (labels[0:2] == blue).all() and (labels[2:4] == 0).all() and (labels[4:6] == green).all()
    assert colour_names(labels) == sorted(["blue", "green"], key=[n for n, _ in BRUSH_COLOURS].index)


def test_same_colour_gives_same_label_on_content_and_style():
    content, style = _layer(8, 8), _layer(5, 9)
    _paint(content, slice(0, 3), "yellow")
    _paint(style, slice(2, 5), "yellow")
    assert np.unique(painted_labels([content])[0:3]) == np.unique(painted_labels([style])[2:5])


def test_blended_stroke_edges_snap_to_the_nearest_brush_colour_and_faint_ones_are_ignored():
    layer = _layer(3, 3)
    _paint(layer, slice(0, 1), "red")
    layer[0, :, :3] = (layer[0, :, :3] * 0.9).astype(np.uint8)  # darkened by anti-aliasing
    _paint(layer, slice(1, 2), "blue", alpha=40)  # a faint edge: not painted
    labels = painted_labels([layer])
    assert colour_names(labels) == ["red"]
    assert (labels[1:] == 0).all()


def test_later_layers_paint_over_earlier_ones():
    below, above = _layer(2, 2), _layer(2, 2)
    _paint(below, slice(0, 2), "red")
    _paint(above, slice(0, 1), "purple")
    labels = painted_labels([below, above])
    assert colour_names(labels[0:1]) == ["purple"] and colour_names(labels[1:2]) == ["red"]


def test_nothing_painted_is_none():
    assert painted_labels([_layer(4, 4)]) is None
    assert painted_labels([]) is None
    assert editor_labels(None) is None
    assert editor_labels({"background": None, "layers": [], "composite": None}) is None


def test_bad_layers_raise():
    with pytest.raises(ValueError, match="RGBA"):
        painted_labels([np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="differ in size"):
        painted_labels([_layer(4, 4), _layer(4, 5)])
