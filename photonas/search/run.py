"""The whole P-step: train the supernet once, evolve codes, then report (``train/search.py`` calls this).

1. **Supernet**: PhotoNet's decoder (the teacher's weights) trained once more with one random
   sub-network per step, so every code has usable shared weights (saved, reused on resume).
2. **Search**: aging evolution; each candidate is scored with its shared weights against the
   teacher's stylisations of fixed training-photo pairs, plus a cost (seconds per candidate).
   Batches of candidates are spread over the processes of a ``torchrun`` launch; every
   process keeps the same evolution state, rank 0 writes the files.
3. **Report**: history CSV, Pareto front (teacher distance vs latency) CSV and PNG with
   PhotoNet and the published PhotoNAS code marked, the best codes; optionally the top
   codes fine-tuned briefly and rescored, and a rank-correlation check of shared-weight
   scores against standalone training.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import safetensors.torch
import torch
from tqdm import tqdm

from photonas.arch import PHOTONAS, PHOTONET, ArchCode
from photonas.checkpoint import save_safetensors_atomic
from photonas.device import describe_device, wall_time
from photonas.model import PhotoNet, StyleTransferModel
from photonas.search.evolution import AgingEvolution, EvolutionConfig
from photonas.search.objective import ObjectiveWeights, Score, TeacherObjective, fixed_pairs
from photonas.search.pareto import dominated_by, pareto_front, plot_front
from photonas.search.ranking import rank_check, spread_codes, train_standalone
from photonas.search.state import (
    HISTORY_NAME,
    STATE_NAME,
    HistoryLog,
    SearchState,
    load_state,
    save_state,
    score_to_json,
)
from photonas.search.supernet import SuperNet, SupernetTraining, train_supernet
from photonas.training.data import EpochSampler, RandomCrops, epoch_batches, list_photos
from photonas.training.loop import Dist, setup_run

SUPERNET_NAME = "supernet.safetensors"
REFERENCES = {"PhotoNet": PHOTONET, "PhotoNAS (published)": PHOTONAS}


@dataclass
class SearchConfig:
    """Everything a search depends on (saved in its state; a resume must match it).

    Attributes:
        data: training photos (pairs and supernet crops; BSDS500 ``val_*`` held out).
        out: search folder.
        teacher: folder of the teacher model (None: the shipped PhotoNet weights).
        population, sample, cycles: aging evolution sizes (paper: 50 / 10 / 200).
        batch: candidates evaluated per round, split over processes; a fixed batch gives the
            same history on any number of processes (0: one per process).
        pairs: fixed content/style pairs scored per candidate.
        pair_size: side (px) of those crops.
        cost: "bits" (paper: fraction of enabled parts) or "latency" (measured, relative to PhotoNet).
        cost_weight: weight of the cost term (paper: 0.1).
        latency_size: side (px) latency is measured at (0: do not measure; needs cost "bits").
        latency_repeats: timed runs per candidate (median).
        supernet_steps: supernet training steps (one random code each).
        supernet_batch: crops per supernet step.
        supernet_crop: crop side (px) for supernet training.
        supernet_target: "input" (reconstruction) or "teacher" (the teacher's reconstruction).
        supernet_lr: Adam learning rate of supernet and standalone training.
        finetune_top: fine-tune this many best codes from their shared weights and rescore (0: none).
        finetune_steps: steps of that fine-tune.
        rank_check: candidates trained from scratch to check the shared-weight ranking (0: none).
        rank_steps: steps each of them is trained (the same for all: an equal budget).
        rank_lr: Adam learning rate of that from-scratch training (a short budget wants more than 1e-4).
        seed: seeds pairs, crops, supernet sampling and the search.
        device: "cpu", "cuda", … (default: the best available).
        threads: CPU intra-op threads (default: PyTorch's choice).
        max_minutes: stop the evolution (resumably) after this wall time.
    """

    data: str = "../shared/data/train"
    out: str = "runs/search"
    teacher: str | None = None
    population: int = 50
    sample: int = 10
    cycles: int = 200
    batch: int = 0
    pairs: int = 8
    pair_size: int = 256
    cost: str = "bits"
    cost_weight: float = 0.1
    latency_size: int = 512
    latency_repeats: int = 5
    supernet_steps: int = 2000
    supernet_batch: int = 8
    supernet_crop: int = 256
    supernet_target: str = "input"
    supernet_lr: float = 1e-4
    finetune_top: int = 0
    finetune_steps: int = 100
    rank_check: int = 0
    rank_steps: int = 100
    rank_lr: float = 1e-3
    seed: int = 0
    device: str | None = None
    threads: int | None = None
    max_minutes: float | None = None

    #: Fields that may change between a run and its resume (where and how long it runs).
    RUNTIME = ("out", "device", "threads", "max_minutes", "batch")

    def search_fields(self) -> dict:
        """The fields that define the search (compared on resume)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUNTIME}

    @property
    def evolution(self) -> EvolutionConfig:
        return EvolutionConfig(self.population, self.sample, self.cycles, self.seed)

    def training(self, steps: int, seed_offset: int = 0, lr: float | None = None) -> SupernetTraining:
        """Supernet-style training settings with ``steps`` steps (at ``lr``, default the supernet's)."""
        return SupernetTraining(
            steps=steps, lr=lr or self.supernet_lr, target=self.supernet_target, seed=self.seed + seed_offset
        )


def crop_batches(data: str, crop: int, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless ``(batch, 3, crop, crop)`` training crops, the same sequence for the same seed."""
    dataset = RandomCrops(list_photos(data, "train"), crop, seed=seed)
    return epoch_batches(dataset, EpochSampler(len(dataset), seed), batch)


def _supernet(
    config: SearchConfig, teacher: StyleTransferModel, run: Dist, device: torch.device
) -> tuple[SuperNet, dict]:
    """Train the supernet once on rank 0 (or load it when a previous run saved it); every rank loads it."""
    path = Path(config.out) / SUPERNET_NAME
    info: dict = {}
    if run.main and not path.is_file():
        torch.manual_seed(config.seed)
        net = SuperNet(teacher.decoder).to(device)
        started = time.perf_counter()
        settings = config.training(config.supernet_steps)
        batches = crop_batches(config.data, config.supernet_crop, config.supernet_batch, config.seed)
        losses = train_supernet(net, batches, teacher.encoder, settings, teacher.decoder, progress="supernet")
        tail = losses[-max(1, len(losses) // 10) :]
        info = {
            "steps": len(losses),
            "seconds": time.perf_counter() - started,
            "loss_first": losses[0] if losses else None,
            "loss_last_tenth": sum(tail) / len(tail) if losses else None,
        }
        save_safetensors_atomic(net.full.state_dict(), path, {"info": json.dumps(info)})
    run.barrier()
    net = SuperNet().to(device)
    net.full.load_state_dict(safetensors.torch.load_file(str(path), device=str(device)))
    return net.eval(), info


def search(config: SearchConfig, resume: bool = False) -> dict:
    """Run (or continue) a search; returns the summary written to ``OUT/summary.json``."""
    device, run = setup_run(config.device, config.threads)
    out = Path(config.out)
    state_path = out / STATE_NAME
    saved = load_state(state_path) if resume else None
    if saved is not None and saved.config != config.search_fields():
        changed = sorted(k for k, v in config.search_fields().items() if saved.config.get(k) != v)
        raise ValueError(f"cannot resume {out}: settings differ from the saved search ({', '.join(changed)})")
    if saved is None and state_path.exists():
        raise FileExistsError(f"{state_path} exists: pass --resume to continue it, or choose another --out")
    if run.main:
        out.mkdir(parents=True, exist_ok=True)
    run.barrier()
    started = time.perf_counter()

    teacher = PhotoNet.from_pretrained(config.teacher).to(device).eval()
    supernet, supernet_info = _supernet(config, teacher, run, device)
    contents, styles = fixed_pairs(config.data, config.pairs, config.pair_size, config.seed)
    weights = ObjectiveWeights(cost=config.cost_weight, cost_kind=config.cost)
    objective = TeacherObjective(teacher, contents, styles, weights, config.latency_size, config.latency_repeats)
    state = saved or SearchState(
        config.search_fields(), supernet=supernet_info, reference_latency_ms=objective.reference_latency_ms
    )

    def evaluate(code: ArchCode) -> tuple[Score, bool, float]:
        """``(score, came from the cache, seconds)`` of ``code`` with its shared weights, once per canonical code."""
        key = str(code.canonical())
        if key in state.scores:
            return state.scores[key], True, 0.0
        score, seconds = wall_time(partial(objective.score, supernet.extract(key)), device)
        return score, False, seconds

    evolution = AgingEvolution(config.evolution)
    if saved is not None:
        evolution.load_state_dict(saved.evolution)
    log = HistoryLog(out / HISTORY_NAME, keep=state.logged if saved is not None else None) if run.main else None

    if not state.references:  # PhotoNet and PhotoNAS inside the supernet, for the plot and front
        for index, (name, code) in enumerate(REFERENCES.items()):
            canonical = code.canonical()
            state.record(log, -1 - index, str(canonical), "reference", evaluate(canonical), 0)
            state.references[name] = str(canonical)
        _save(state_path, state, evolution, run)

    batch = config.batch or run.world_size
    stopped_early = False
    total, done = config.evolution.evaluations, evolution.evaluated
    bar = tqdm(total=total, initial=done, desc="search", disable=not run.main, mininterval=10)
    while not evolution.done:
        codes = evolution.ask(batch)
        mine = [(i, evaluate(c)) for i, c in enumerate(codes) if i % run.world_size == run.rank]
        results = dict(item for part in run.gather(mine) for item in part)
        phase = "init" if evolution.initialising else "child"
        for i, code in enumerate(codes):
            state.record(log, evolution.evaluated + i, str(code), phase, results[i], i % run.world_size)
        evolution.tell(codes, [results[i][0].total for i in range(len(codes))])
        _save(state_path, state, evolution, run)
        bar.update(len(codes))
        if config.max_minutes is not None and time.perf_counter() - started > 60 * config.max_minutes:
            stopped_early = not evolution.done
            break
    bar.close()
    if log is not None:
        log.close()
    state.search_s += time.perf_counter() - started

    summary: dict = {}
    if run.main:
        summary = report(config, state, objective, supernet, teacher, device, stopped_early)
        _save(state_path, state, evolution, run)
    run.barrier()
    return summary


def _save(path: Path, state: SearchState, evolution: AgingEvolution, run: Dist) -> None:
    """Rank 0 writes the state, with the evolution's as it is now."""
    if run.main:
        state.evolution = evolution.state_dict()
        save_state(path, state)


def _standalone_distance(
    config: SearchConfig,
    objective: TeacherObjective,
    teacher: StyleTransferModel,
    supernet: SuperNet | None,
    steps: int,
    code: str,
) -> float:
    """Teacher distance of ``code`` after ``steps`` of training alone (from the supernet's weights if given)."""
    batches = crop_batches(config.data, config.supernet_crop, config.supernet_batch, config.seed + 1)
    init = supernet.extract(code) if supernet is not None else None
    settings = config.training(steps, 1, lr=None if supernet is not None else config.rank_lr)
    decoder = train_standalone(code, batches, teacher.encoder, settings, init, teacher.decoder, config.seed)
    return objective.distance(decoder)[2]


def report(
    config: SearchConfig,
    state: SearchState,
    objective: TeacherObjective,
    supernet: SuperNet,
    teacher: StyleTransferModel,
    device: torch.device,
    stopped_early: bool,
) -> dict:
    """Write the front (CSV, PNG), best codes, optional fine-tune and rank check; return the summary."""
    out = Path(config.out)
    cache = state.scores
    searched = {c: cache[c] for c in _history_codes(out)}  # the references count only if the search met them
    codes = sorted(searched)
    points = [(searched[c].distance, searched[c].latency_ms) for c in codes]
    front = [codes[i] for i in pareto_front(points)]
    _write_scores(out / "pareto.csv", front, cache)
    best = sorted(searched, key=lambda c: (searched[c].total, c))[:10]
    _write_scores(out / "best_codes.csv", best, cache)
    marks = {name: (cache[c].distance, cache[c].latency_ms) for name, c in state.references.items()}
    title = f"{len(codes)} codes, latency at {config.latency_size}px on {describe_device(device)}"
    plot_front(out / "pareto.png", points, pareto_front(points), marks, title)

    summary: dict = {
        "device": describe_device(device),
        "evaluated": state.evaluated,
        "distinct_codes": len(codes),
        "stopped_early": stopped_early,
        "search_s": state.search_s,
        "supernet": state.supernet,
        "reference_latency_ms": state.reference_latency_ms,
        "best": {"code": best[0], **score_to_json(cache[best[0]])} if best else None,
        "front": front,
        "references": {},
    }
    front_points = [(cache[c].distance, cache[c].latency_ms) for c in front]
    for name, code in state.references.items():
        point = (cache[code].distance, cache[code].latency_ms)
        summary["references"][name] = {
            "code": code,
            **score_to_json(cache[code]),
            "front_codes_dominating": len(dominated_by(point, front_points)),
        }

    if config.finetune_top:
        rows = []
        for code in best[: config.finetune_top]:
            tuned = _standalone_distance(config, objective, teacher, supernet, config.finetune_steps, code)
            rows.append({"code": code, "shared_distance": cache[code].distance, "finetuned_distance": tuned})
        _write_rows(out / "finetuned.csv", rows)
        summary["finetuned"] = rows
    if config.rank_check:
        chosen = spread_codes([(c, searched[c].distance) for c in codes], config.rank_check)
        started = time.perf_counter()
        check = rank_check(
            chosen,
            lambda c: cache[c].distance,
            lambda c: _standalone_distance(config, objective, teacher, None, config.rank_steps, c),
        )
        _write_rows(
            out / "rank_check.csv",
            [
                {"code": c, "shared_distance": a, "scratch_distance": b}
                for c, a, b in zip(check.codes, check.shared, check.standalone)
            ],
        )
        summary["rank_check"] = {
            "candidates": len(chosen),
            "scratch_steps": config.rank_steps,
            "spearman": check.spearman,
            "p_value": check.p_value,
            "seconds": time.perf_counter() - started,
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _history_codes(out: Path) -> set[str]:
    with open(out / HISTORY_NAME, newline="") as f:
        return {row["code"] for row in csv.DictReader(f) if row["phase"] != "reference"}


def _write_scores(path: Path, codes: list[str], cache: dict[str, Score]) -> None:
    _write_rows(path, [{"code": c, **dataclasses.asdict(cache[c])} for c in codes])


def _write_rows(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.write_text("")
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
