"""The teacher–student objective: distance to PhotoNet's stylisations plus a bits or latency cost."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from photonas.arch import PHOTONAS, PHOTONET
from photonas.decoder import Decoder
from photonas.model import StyleTransferModel
from photonas.search.objective import ObjectiveWeights, TeacherObjective, fixed_pairs, measure_latency_ms

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pairs(search_photos: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return fixed_pairs(search_photos, count=2, size=32, seed=0)


@pytest.fixture(scope="module")
def objective(teacher, pairs) -> TeacherObjective:
    return TeacherObjective(
        teacher, pairs[0][:1], pairs[1][:1], latency_size=0
    )  # one pair: PhotoNet's 10 WCTs are slow


def test_fixed_pairs_are_seeded_training_crops(search_photos: Path, pairs) -> None:
    contents, styles = pairs
    assert contents.shape == styles.shape == (2, 3, 32, 32)
    assert 0 <= float(contents.min()) and float(contents.max()) <= 1
    again = fixed_pairs(search_photos, count=2, size=32, seed=0)
    assert torch.equal(again[0], contents) and torch.equal(again[1], styles)
    assert not torch.equal(fixed_pairs(search_photos, count=2, size=32, seed=1)[0], contents)
    with pytest.raises(ValueError, match="training photos"):  # 8 training photos (val_* held out) make 4 pairs at most
        fixed_pairs(search_photos, count=5, size=32)


def test_teacher_scores_lower_than_a_random_decoder(objective: TeacherObjective, teacher) -> None:
    pixel, feature, own = objective.distance(teacher.decoder)
    assert pixel < 1e-10 and feature < 1e-6 and own < 1e-6
    torch.manual_seed(0)
    random_distance = objective.distance(Decoder(PHOTONET))[2]
    assert math.isfinite(random_distance) and random_distance > 100 * max(own, 1e-6)


def test_score_adds_the_paper_bits_cost(objective: TeacherObjective, teacher) -> None:
    score = objective.score(teacher.decoder)
    assert score.bits == 1.0 and score.params == sum(p.numel() for p in teacher.decoder.parameters())
    assert score.total == pytest.approx(score.distance + 0.1 * 1.0)
    assert math.isnan(score.latency_ms) and math.isnan(score.relative_latency)


def test_latency_cost_is_relative_to_the_teacher(teacher, pairs) -> None:
    weights = ObjectiveWeights(cost_kind="latency")
    objective = TeacherObjective(teacher, pairs[0][:1], pairs[1][:1], weights, latency_size=32, latency_repeats=1)
    assert objective.reference_latency_ms > 0
    score = objective.score(Decoder(PHOTONAS), latency_ms=objective.reference_latency_ms / 4)
    assert score.relative_latency == pytest.approx(0.25)
    assert score.total == pytest.approx(score.distance + 0.1 * 0.25)


def test_latency_is_a_positive_median() -> None:
    model = StyleTransferModel(PHOTONAS).eval()  # transfers at 64 channels only: quick
    x = torch.rand(1, 3, 32, 32)
    assert measure_latency_ms(model, x, x, repeats=2) > 0


def test_bad_settings_raise(teacher, pairs) -> None:
    with pytest.raises(ValueError, match="cost_kind"):
        ObjectiveWeights(cost_kind="flops")
    with pytest.raises(ValueError, match="latency_size"):
        TeacherObjective(teacher, *pairs, ObjectiveWeights(cost_kind="latency"), latency_size=0)
    with pytest.raises(ValueError, match="equal"):
        TeacherObjective(teacher, pairs[0], pairs[1][:1], latency_size=0)


def test_a_decoder_that_cannot_stylise_scores_infinity(objective: TeacherObjective, monkeypatch) -> None:
    def fail(decoder):
        raise torch.linalg.LinAlgError("linalg.eigh: the algorithm failed to converge")

    monkeypatch.setattr(objective, "_stylize", fail)
    score = objective.score(Decoder(PHOTONAS))
    assert math.isnan(score.pixel) and score.distance == math.inf and score.total == math.inf
