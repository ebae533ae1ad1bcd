"""The search's resumable JSON state and per-candidate CSV log."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import read_csv as read_history

from photonas.search.objective import Score
from photonas.search.state import (
    HISTORY_FIELDS,
    HistoryLog,
    SearchState,
    load_state,
    save_state,
    score_from_json,
    score_to_json,
)

SCORE = Score(
    pixel=0.1, feature=0.2, distance=0.1, bits=0.5, latency_ms=math.nan, relative_latency=math.nan, params=7, total=0.15
)


def test_score_json_round_trip_with_nan() -> None:
    raw = score_to_json(SCORE)
    assert raw["latency_ms"] is None
    back = score_from_json(raw)
    assert math.isnan(back.latency_ms) and back.params == 7 and back.total == 0.15


def test_state_round_trip_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = SearchState({"population": 4}, evolution={"evaluated": 3}, references={"PhotoNet": "1" * 32}, logged=5)
    state.scores["1" * 32] = SCORE
    save_state(path, state)
    loaded = load_state(path)
    assert loaded.evaluated == 3 and loaded.logged == 5 and loaded.references == {"PhotoNet": "1" * 32}
    assert loaded.config == {"population": 4} and math.isnan(loaded.scores["1" * 32].latency_ms)
    assert loaded.scores["1" * 32].total == SCORE.total and loaded.search_s == 0.0
    raw = json.loads(path.read_text())  # the file keeps its format: scores as JSON objects, NaN as null
    assert raw["scores"]["1" * 32]["latency_ms"] is None and raw["evolution"] == {"evaluated": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a search state"):
        load_state(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable"):
        load_state(tmp_path / "broken.json")


def test_log_writes_rows_as_they_come_and_resume_drops_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    log, state = HistoryLog(path), SearchState({})
    for i in range(3):
        state.record(log, i, f"{i:032b}", "init", (SCORE, False, 0.5), 0)
        assert len(read_history(path)) == i + 1  # flushed at once
    log.close()
    resumed = HistoryLog(path, keep=2)
    state.record(resumed, 2, "1" * 32, "child", (SCORE, True, 0.0), 1)
    resumed.close()
    rows = read_history(path)
    assert [r["code"] for r in rows] == [f"{0:032b}", f"{1:032b}", "1" * 32]
    assert list(rows[0]) == list(HISTORY_FIELDS)
    with pytest.raises(ValueError, match="expects 9"):
        HistoryLog(path, keep=9)


def test_state_records_scores_and_counts_logged_rows(tmp_path: Path) -> None:
    state = SearchState({})
    log = HistoryLog(tmp_path / "history.csv")
    state.record(log, 0, "0" * 32, "init", (SCORE, False, 0.5), 0)
    state.record(None, 1, "1" * 32, "init", (SCORE, True, 0.0), 1)  # another process: no log
    log.close()
    assert set(state.scores) == {"0" * 32, "1" * 32} and state.logged == 1
    assert [r["code"] for r in read_history(tmp_path / "history.csv")] == ["0" * 32]
