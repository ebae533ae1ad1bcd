"""The Pareto front of teacher distance against latency."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from photonas.search.pareto import dominated_by, pareto_front, plot_front

POINTS = [(0.5, 10.0), (0.2, 30.0), (0.3, 20.0), (0.4, 25.0), (0.1, 50.0), (0.2, 30.0), (math.nan, 1.0), (0.6, 10.0)]


def test_front_keeps_exactly_the_undominated_points() -> None:
    front = pareto_front(POINTS)
    assert front == [4, 1, 2, 0]  # by distance; the duplicate (5), NaN (6) and dominated (3, 7) are out
    for i, p in enumerate(POINTS):
        if i in front:
            assert not dominated_by(p, POINTS)
    assert dominated_by(POINTS[3], POINTS) == [2] and dominated_by(POINTS[7], POINTS) == [0]


def test_empty_and_single() -> None:
    assert pareto_front([]) == [] and pareto_front([(1.0, 1.0)]) == [0]


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_front(tmp_path / "front.png", POINTS, pareto_front(POINTS), {"PhotoNet": (0.0, 60.0)}, "test")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
