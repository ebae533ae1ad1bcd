"""The Pareto front of teacher distance against latency, as rows and as a plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (both coordinates minimised), by the first.

    A point is dominated when another is no worse in both coordinates and better in one;
    of exact duplicates the first is kept. Points with a NaN or infinite coordinate (not
    measured, or a candidate that failed) are never on the front.
    """
    order = sorted((i for i, p in enumerate(points) if all(math.isfinite(v) for v in p)), key=lambda i: (points[i], i))
    front, best_y = [], math.inf
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def dominated_by(point: tuple[float, float], points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points that dominate ``point``."""
    return [
        i
        for i, p in enumerate(points)
        if p[0] <= point[0] and p[1] <= point[1] and (p[0] < point[0] or p[1] < point[1])
    ]


def plot_front(
    path: Path,
    points: Sequence[tuple[float, float]],
    front: Sequence[int],
    marks: dict[str, tuple[float, float]],
    title: str,
    xlabel: str = "teacher distance (0.8·pixel + 0.1·feature MSE)",
    ylabel: str = "latency (ms)",
) -> Path | None:
    """Scatter of every candidate, the front as a line, and named reference points; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=10, c="0.6", label="candidates")
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "o-", c="tab:red", ms=4, label="Pareto front")
    for (name, (x, y)), marker in zip(marks.items(), ("*", "D", "s", "^")):
        ax.scatter([x], [y], marker=marker, s=120, edgecolors="k", zorder=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
