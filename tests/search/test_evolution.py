"""Aging evolution: population kept, oldest removed, tournaments without replacement, one-bit mutation."""

from __future__ import annotations

import json
import random

import pytest

from photonas.arch import CODE_LENGTH, PART_NAMES, PHOTONAS, PHOTONET, ArchCode
from photonas.search.evolution import AgingEvolution, EvolutionConfig, Member, live_bits, mutate


def _fitness(code: ArchCode) -> float:
    """A deterministic stand-in objective: fewer parts is better, ties broken by the bit pattern."""
    return code.fraction_enabled + int(str(code), 2) * 1e-12


def _run(search: AgingEvolution, batch: int = 1) -> list[str]:
    told = []
    while not search.done:
        codes = search.ask(batch)
        search.tell(codes, [_fitness(c) for c in codes])
        told += [str(c) for c in codes]
    return told


def test_population_size_kept_and_oldest_removed() -> None:
    search = AgingEvolution(EvolutionConfig(population=5, sample=2, cycles=9, seed=1))
    told: list[str] = []
    while not search.done:
        codes = search.ask(1)
        search.tell(codes, [_fitness(c) for c in codes])
        told += [str(c) for c in codes]
        assert len(search.population) == min(len(told), 5)
        # the population is always the five youngest, oldest first, whatever their fitness
        assert [str(m.code) for m in search.population] == told[-5:]
    assert search.evaluated == len(told) == 14


def test_tournament_samples_without_replacement() -> None:
    config = EvolutionConfig(population=6, sample=6, cycles=1)
    search = AgingEvolution(config)
    search.tell([ArchCode.random(random.Random(i)) for i in range(6)], [3.0, 1.0, 4.0, 1.5, 9.0, 2.0])
    calls = []
    sample = search.rng.sample

    def spy(population, k):
        drawn = sample(population, k)
        calls.append((list(population), drawn))
        return drawn

    search.rng.sample = spy
    for _ in range(20):  # sample == population: without replacement the fittest is always drawn
        assert search.tournament().fitness == 1.0
    for population, drawn in calls:
        assert len(drawn) == 6 and len(set(drawn)) == 6 and set(drawn) <= set(population)


def test_tournament_ties_go_to_the_younger() -> None:
    search = AgingEvolution(EvolutionConfig(population=2, sample=2, cycles=1))
    search.population.extend(Member(ArchCode.parse(c * 32), 1.0) for c in "01")
    assert str(search.tournament().code) == "1" * 32


@pytest.mark.parametrize("seed", range(5))
def test_mutation_flips_one_live_bit(seed: int) -> None:
    rng = random.Random(seed)
    parent = ArchCode.random(rng).canonical()
    for _ in range(20):
        child = mutate(parent, rng)
        assert child.is_canonical and child != parent
        assert any(child == parent.flip(i).canonical() for i in live_bits(parent))
        assert not child.bits[8]


def test_live_bits_skip_the_unused_and_dead_bits() -> None:
    assert 8 not in live_bits(PHOTONET) and len(live_bits(PHOTONET)) == CODE_LENGTH - 1
    code = ArchCode.parse("0" * 32)  # no skip concatenated anywhere: its norm and transfer bits are dead
    dead = {PART_NAMES.index(f"d{s}.{p}") for s in range(2, 6) for p in ("skip_norm", "skip_transfer")} | {8}
    assert set(live_bits(code)) == set(range(CODE_LENGTH)) - dead


def test_canonical_dedupes_codes_that_build_the_same_network() -> None:
    with_dead_bits = ArchCode.parse("01010000" + "1" + "0100000" + "0100001" + "00001" + "1111")
    assert with_dead_bits != with_dead_bits.canonical() and not with_dead_bits.is_canonical
    assert str(with_dead_bits.canonical()) == "01010000" + "0" + "0000000" + "0000000" + "00000" + "1111"
    assert PHOTONAS.is_canonical and PHOTONET.canonical() == PHOTONET.flip(8)
    assert (
        len({ArchCode.random(random.Random(i)).canonical() for i in range(3)} | {PHOTONAS, PHOTONAS.canonical()}) == 4
    )


def test_initial_population_then_children() -> None:
    search = AgingEvolution(EvolutionConfig(population=4, sample=2, cycles=3))
    first = search.ask(10)  # never runs past the random initial population
    assert len(first) == 4 and search.initialising
    search.tell(first, [_fitness(c) for c in first])
    assert not search.initialising and len(search.ask(10)) == 3


def test_same_seed_same_search_and_batches_share_one_state() -> None:
    config = EvolutionConfig(population=6, sample=3, cycles=10, seed=3)
    assert _run(AgingEvolution(config)) == _run(AgingEvolution(config))
    assert _run(AgingEvolution(config)) != _run(AgingEvolution(EvolutionConfig(6, 3, 10, seed=4)))
    assert len(_run(AgingEvolution(config), batch=4)) == 16


def test_state_round_trip_continues_identically() -> None:
    config = EvolutionConfig(population=5, sample=2, cycles=8, seed=2)
    whole = _run(AgingEvolution(config))
    first = AgingEvolution(config)
    for _ in range(7):
        codes = first.ask(1)
        first.tell(codes, [_fitness(c) for c in codes])
    second = AgingEvolution(config)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert [str(m.code) for m in second.population] == [str(m.code) for m in first.population]
    assert whole[7:] == _run(second)


@pytest.mark.parametrize("sizes", [(0, 1, 1), (3, 4, 1), (3, 0, 1), (3, 2, -1)])
def test_bad_sizes_raise(sizes: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="population"):
        EvolutionConfig(*sizes)


def test_tell_needs_one_fitness_per_code() -> None:
    with pytest.raises(ValueError, match="fitnesses"):
        AgingEvolution(EvolutionConfig(2, 1, 1)).tell([PHOTONAS], [])
