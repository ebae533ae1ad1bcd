"""A search's files: the resumable JSON state and the per-candidate CSV log.

The state (search settings, evolution state with its random generator, every score so far)
is rewritten atomically after each batch of candidates. The log gets one row per evaluated
candidate the moment its score is known, so a long search can be watched (``tail -f``). A
resumed search first drops the log rows written after the last saved state (the batch a
killed run was evaluating, which it is about to redo), then appends: the log then continues
the same history as if the run had never stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from photonas.checkpoint import write_json_atomic
from photonas.search.objective import Score
from photonas.training.loop import CsvLog

STATE_NAME = "state.json"
HISTORY_NAME = "history.csv"
#: Columns of the history CSV: which candidate, where it came from, then its :class:`Score`.
HISTORY_FIELDS = ("index", "code", "phase", "cached", "eval_s", "rank", *(f.name for f in fields(Score)))


def score_to_json(score: Score) -> dict:
    """A score as a JSON object (NaN latencies become null)."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in asdict(score).items()}


def score_from_json(raw: dict) -> Score:
    """Inverse of :func:`score_to_json`."""
    return Score(**{k: (float("nan") if v is None else v) for k, v in raw.items()})


class HistoryLog(CsvLog):
    """The per-candidate CSV; a resume keeps the first ``keep`` rows (those its state accounts for)."""

    def __init__(self, path: Path, keep: int | None = None) -> None:
        super().__init__(path, HISTORY_FIELDS, keep)

    def kept(self, path: Path, rows: list[dict[str, str]], keep: int) -> list[dict[str, str]]:
        if len(rows) < keep:
            raise ValueError(f"cannot resume: {path} has {len(rows)} rows, the state expects {keep}")
        return rows[:keep]


@dataclass
class SearchState:
    """Everything a search carries from one batch of candidates to the next, and over a resume.

    Attributes:
        config: the settings that define the search (``SearchConfig.search_fields()``); a
            resume must match them.
        scores: every canonical code scored so far (codes are scored once).
        references: name → canonical code of PhotoNet and the published PhotoNAS, scored inside
            the supernet for the plot and the front.
        evolution: the aging evolution's ``state_dict()`` (its random generator included).
        logged: rows of the history CSV this state accounts for (a resume drops any after them).
        supernet: facts of the supernet's training (empty when a saved supernet was loaded).
        reference_latency_ms: PhotoNet's latency, the unit of the latency cost.
        search_s: seconds spent searching, over every run of the search.
    """

    config: dict[str, Any]
    scores: dict[str, Score] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    evolution: dict[str, Any] = field(default_factory=dict)
    logged: int = 0
    supernet: dict[str, Any] = field(default_factory=dict)
    reference_latency_ms: float | None = None
    search_s: float = 0.0

    @property
    def evaluated(self) -> int:
        """Candidates the evolution has evaluated (references not counted)."""
        return self.evolution.get("evaluated", 0)

    def record(
        self, log: HistoryLog | None, index: int, code: str, phase: str, result: tuple[Score, bool, float], rank: int
    ) -> None:
        """Keep the ``(score, from the cache, seconds)`` of canonical ``code``; where there is a log, add its row."""
        score, cached, seconds = result
        self.scores[code] = score
        if log is not None:
            row = {"index": index, "code": code, "phase": phase, "cached": int(cached), "eval_s": f"{seconds:.3f}", "rank": rank}
            log.write(**row, **asdict(score))
            self.logged += 1

    def to_json(self) -> dict[str, Any]:
        """A JSON object of every field (scores through :func:`score_to_json`)."""
        return asdict(self) | {"scores": {code: score_to_json(s) for code, s in self.scores.items()}}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SearchState:
        """Inverse of :meth:`to_json`."""
        return cls(**raw | {"scores": {code: score_from_json(s) for code, s in raw["scores"].items()}})


def save_state(path: Path, state: SearchState) -> None:
    """Write the JSON state atomically (a crash leaves the previous state)."""
    write_json_atomic(path, state.to_json(), indent=1)


def load_state(path: Path) -> SearchState:
    """Read a state written by :func:`save_state`, with a clear error if it is not one."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot resume: {path} is not a readable search state ({err})") from None
    if not isinstance(raw, dict) or not {"config", "evolution", "scores"} <= raw.keys():
        raise ValueError(f"cannot resume: {path} is not a search state written by train/search.py")
    return SearchState.from_json(raw)
