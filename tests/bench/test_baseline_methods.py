"""The re-implemented baselines as benchmark rows: skipped with the training command when
untrained, run with and without masks when trained. Untrained decoders, tiny images, CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.methods import BaselineMethod, Skipped, build_methods
from bench.pairs import Pair
from photonas.baselines import PhotoWCT, train_command

pytestmark = pytest.mark.usefixtures("one_thread")


def test_untrained_baselines_are_skipped_with_the_command_that_trains_them(tmp_path: Path) -> None:
    methods, skipped = build_methods([f"photowct={tmp_path / 'nothing'}", f"wct2={tmp_path / 'nothing'}"], device="cpu")
    assert methods == []
    assert [s.name for s in skipped] == ["photowct", "wct2"]
    assert all(isinstance(s, Skipped) and "train.train_baseline" in s.reason for s in skipped)
    assert train_command("wct2") in skipped[1].reason


def test_benchmark_row_runs_with_and_without_masks(tmp_path: Path) -> None:
    torch.manual_seed(2)
    PhotoWCT().save(tmp_path / "photowct")
    methods, skipped = build_methods([f"photowct={tmp_path / 'photowct'}"], device="cpu")
    assert not skipped and isinstance(methods[0], BaselineMethod) and methods[0].timed
    rng = np.random.default_rng(0)
    content, style = rng.random((20, 28, 3), np.float32), rng.random((24, 24, 3), np.float32)
    labels_c, labels_s = np.zeros((20, 28), np.int64), np.zeros((24, 24), np.int64)
    labels_c[:, 14:], labels_s[12:] = 1, 1
    for out in (methods[0].run(Pair("x", content, style)), methods[0].run(Pair("x", content, style, labels_c, labels_s))):
        assert out.shape == content.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
