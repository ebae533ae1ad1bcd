"""Rank correlation of shared-weight scores against standalone training."""

from __future__ import annotations

import itertools

import pytest
import torch

from photonas.arch import PHOTONAS
from photonas.search.ranking import rank_check, spread_codes, train_standalone
from photonas.search.supernet import SupernetTraining

pytestmark = pytest.mark.usefixtures("one_thread")


def test_spread_codes_span_best_to_worst() -> None:
    scored = [(f"c{i}", float(i)) for i in range(9)] + [("c3", 3.0)]
    assert spread_codes(scored, 3) == ["c0", "c4", "c8"]
    assert spread_codes(scored, 1) == ["c0"]
    with pytest.raises(ValueError, match="distinct"):
        spread_codes(scored, 10)


def test_rank_check_correlates_orders() -> None:
    codes = ["a", "b", "c", "d", "e"]
    same = rank_check(codes, codes.index, lambda c: 10.0 * codes.index(c) ** 2)
    assert same.spearman == pytest.approx(1.0) and same.shared == [0, 1, 2, 3, 4]
    reversed_ = rank_check(codes, codes.index, lambda c: -codes.index(c))
    assert reversed_.spearman == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="at least 3"):
        rank_check(codes[:2], codes.index, codes.index)


def test_train_standalone_is_seeded_and_moves_the_weights(teacher) -> None:
    batches = itertools.repeat(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    settings = SupernetTraining(steps=2)
    first = train_standalone(PHOTONAS, batches, teacher.encoder, settings, seed=3)
    second = train_standalone(PHOTONAS, batches, teacher.encoder, settings, seed=3)
    torch.manual_seed(3)
    untrained = type(first)(PHOTONAS)
    assert not first.training
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, c) for a, c in zip(first.parameters(), untrained.parameters()))
