"""Markdown tables for the benchmark reports (leaderboard, speed, levers, high-res, video)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a Markdown table: the header, its rule, then one line per row (cells as ``str``).

    Example:
        >>> markdown_table(["a", "b"], [[1, 2.5]])
        ['| a | b |', '|---|---|', '| 1 | 2.5 |']
    """
    return [_line(header), "|" + "---|" * len(header), *(_line(row) for row in rows)]


def _line(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
