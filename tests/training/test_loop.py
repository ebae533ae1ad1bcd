"""The generic training loop on a toy model: schedule, cadence of validation and checkpoints,
stops, what it reports, its checkpoints and its log. No photos, no VGG: milliseconds."""

from __future__ import annotations

import copy
import csv
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from photonas.training.loop import (
    CsvLog,
    Plan,
    StepRecord,
    check_resume,
    checkpoint_metadata,
    fit,
    load_checkpoint,
    save_checkpoint,
    warmup_cosine,
)
from photonas.training.losses import LossParts

pytestmark = pytest.mark.usefixtures("one_thread")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def _batches(seed: int = 0) -> Iterator[Tensor]:
    g = torch.Generator().manual_seed(seed)
    while True:
        yield torch.randn(3, 4, generator=g)


def _loss(model: nn.Module):
    """A regression of ``x`` onto a fixed map: the pixel part is the MSE, the feature part 0."""
    target = torch.tensor([[1.0, -1.0, 0.5, 0.0], [0.0, 2.0, 0.0, -0.5]])

    def loss(x: Tensor) -> LossParts:
        mse = (model(x) - x @ target.T).pow(2).mean()
        return LossParts(mse, mse.detach(), torch.zeros(()))

    return loss


class _Counted:
    """An iterable that counts the items drawn from it."""

    def __init__(self, items: Iterator[Tensor]) -> None:
        self.items, self.drawn = items, 0

    def __iter__(self) -> Iterator[Tensor]:
        for item in self.items:
            self.drawn += 1
            yield item


def test_fit_is_the_hand_written_loop() -> None:
    model, twin = _model(), _model()
    schedule = lambda s: 0.05 * (s + 1)  # noqa: E731
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    records: list[StepRecord] = []
    assert fit(_loss(model), optimizer, _batches(), 2, Plan(end=7, lr=schedule), records.append) == 7

    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=1.0)
    twin_loss, losses = _loss(twin), []
    for step, x in zip(range(2, 7), _batches()):
        for group in twin_optimizer.param_groups:
            group["lr"] = schedule(step)
        parts = twin_loss(x)
        twin_optimizer.zero_grad()
        parts.total.backward()
        twin_optimizer.step()
        losses.append(parts.total.item())
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)
    assert [r.step for r in records] == [3, 4, 5, 6, 7]
    assert [r.lr for r in records] == [schedule(s) for s in range(2, 7)]
    assert [r.loss for r in records] == losses and losses[-1] < losses[0]
    assert all(r.val_psnr is None and r.step_s > 0 for r in records)
    assert [r.train_s for r in records] == sorted(r.train_s for r in records)


def test_fit_validates_reports_and_checkpoints_when_due() -> None:
    model = _model()
    events: list[tuple[str, int]] = []
    validated = itertools.count(30.0)

    def validate() -> float:
        events.append(("validate", -1))
        return next(validated)

    plan = Plan(end=7, validate=validate, val_every=2, checkpoint=lambda s: events.append(("checkpoint", s)), checkpoint_every=3)
    records: list[StepRecord] = []
    fit(_loss(model), torch.optim.SGD(model.parameters(), lr=0.01), _batches(), 0, plan,
        lambda r: (records.append(r), events.append(("report", r.step))))  # fmt: skip
    assert [(r.step, r.val_psnr) for r in records if r.val_psnr is not None] == [(2, 30.0), (4, 31.0), (6, 32.0), (7, 33.0)]
    assert [s for kind, s in events if kind == "checkpoint"] == [3, 6, 7]  # every 3 steps and the last
    # At a step with everything due: validate, then report, then checkpoint.
    at_six = events.index(("report", 6))
    assert events[at_six - 1] == ("validate", -1) and events[at_six + 1] == ("checkpoint", 6)


def test_fit_draws_no_batch_beyond_the_last_step() -> None:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    batches = _Counted(_batches())
    assert fit(_loss(model), optimizer, batches, 2, Plan(end=5)) == 5 and batches.drawn == 3
    done = _Counted(_batches())
    assert fit(_loss(model), optimizer, done, 5, Plan(end=5)) == 5 and done.drawn == 0  # a finished run: nothing to do
    short = _Counted(itertools.islice(_batches(), 2))
    assert fit(_loss(model), optimizer, short, 0, Plan(end=5)) == 2  # the batches ran out


def test_fit_stops_after_max_seconds_validated_and_checkpointed() -> None:
    model = _model()
    saved: list[int] = []
    plan = Plan(end=100, validate=lambda: 25.0, val_every=50, checkpoint=saved.append, checkpoint_every=50, max_seconds=0.0)
    records: list[StepRecord] = []
    assert fit(_loss(model), torch.optim.SGD(model.parameters(), lr=0.01), _batches(), 10, plan, records.append) == 11
    assert saved == [11] and [r.val_psnr for r in records] == [25.0]


def test_fit_without_a_schedule_keeps_the_optimisers_rate() -> None:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    records: list[StepRecord] = []
    fit(_loss(model), optimizer, _batches(), 0, Plan(end=2), records.append)
    assert [r.lr for r in records] == [0.02, 0.02] and optimizer.param_groups[0]["lr"] == 0.02


def test_warmup_cosine_without_warmup_starts_at_the_peak() -> None:
    rates = [warmup_cosine(s, 1e-3, 4, 0, 0.1) for s in range(5)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates == sorted(rates, reverse=True)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.5, 0.9))
    fit(_loss(model), optimizer, _batches(), 0, Plan(end=3))
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, model, optimizer, 3, '{"what": "toy"}')
    assert checkpoint_metadata(path)["step"] == "3" and checkpoint_metadata(path)["config"] == '{"what": "toy"}'

    fresh = nn.Linear(4, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=1.0)
    assert load_checkpoint(path, fresh, fresh_optimizer) == 3
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    assert tuple(fresh_optimizer.param_groups[0]["betas"]) == (0.5, 0.9)
    # The restored run continues exactly as the uninterrupted one.
    twin = copy.deepcopy(model)
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=0.01, betas=(0.5, 0.9))
    twin_optimizer.load_state_dict(optimizer.state_dict())
    fit(_loss(twin), twin_optimizer, _batches(1), 3, Plan(end=5))
    fit(_loss(fresh), fresh_optimizer, _batches(1), 3, Plan(end=5))
    for a, b in zip(twin.parameters(), fresh.parameters()):
        assert torch.equal(a, b)

    weights_only = nn.Linear(4, 2)
    assert load_checkpoint(path, weights_only) == 3
    assert torch.equal(weights_only.weight, model.weight)
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_checkpoint(path, nn.Linear(4, 3))


def test_check_resume(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.safetensors"
    check_resume(checkpoint, resume=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        check_resume(checkpoint, resume=True)
    checkpoint.write_bytes(b"")
    check_resume(checkpoint, resume=True)
    with pytest.raises(FileExistsError, match="--resume"):
        check_resume(checkpoint, resume=False)


def test_csv_log_resume_drops_the_rows_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    log = CsvLog(path, ("step", "loss", "val_psnr"))
    for step in range(1, 6):
        log.write(step=step, loss=1 / step, val_psnr=None)
    log.close()
    resumed = CsvLog(path, ("step", "loss", "val_psnr"), resume_step=3)
    resumed.write(step=4, loss=0.5)
    resumed.close()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert rows[0]["val_psnr"] == "" and rows[-1]["loss"] == "0.5"
