"""Regularised (aging) evolution over architecture codes (Real et al., AAAI 2019).

A population of ``population`` codes, oldest first. Each cycle draws ``sample`` members
without replacement, mutates the fittest of them (one bit flipped) and adds the child as
the youngest member; the oldest member dies, whatever its fitness. The paper's setting:
50 / 10 / 200 cycles, after a random initial population.

The search is stepped from outside (``ask`` codes, evaluate them anywhere, ``tell`` the
results), so evaluation can be spread over processes and the whole state (random generator
included) fits in a JSON file: a resumed search draws exactly what it would have.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from photonas.arch import CODE_LENGTH, ArchCode


@dataclass(frozen=True)
class EvolutionConfig:
    """Search sizes (paper: 50 / 10 / 200).

    Attributes:
        population: members alive at once; also the size of the random initial population.
        sample: members drawn (without replacement) per tournament.
        cycles: children evaluated after the initial population.
        seed: seeds every random choice of the search.
    """

    population: int = 50
    sample: int = 10
    cycles: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.population < 1 or not 1 <= self.sample <= self.population or self.cycles < 0:
            raise ValueError(f"need population >= 1, 1 <= sample <= population and cycles >= 0, got {self}")

    @property
    def evaluations(self) -> int:
        """Codes evaluated in all: the initial population plus one per cycle."""
        return self.population + self.cycles


@dataclass(frozen=True)
class Member:
    """A code in the population and its fitness (lower is better)."""

    code: ArchCode
    fitness: float


def live_bits(code: ArchCode) -> list[int]:
    """Bits whose flip changes the network (not the unused bit, not a dead skip's switches)."""
    canonical = code.canonical()
    return [i for i in range(CODE_LENGTH) if code.flip(i).canonical() != canonical]


def mutate(code: ArchCode, rng: random.Random) -> ArchCode:
    """One random live bit flipped: the child always builds a different network (canonical form)."""
    return code.flip(rng.choice(live_bits(code))).canonical()


class AgingEvolution:
    """Regularised evolution, stepped by :meth:`ask` / :meth:`tell`.

    Example:
        >>> search = AgingEvolution(EvolutionConfig(population=4, sample=2, cycles=3))
        >>> while not search.done:
        ...     codes = search.ask(1)
        ...     search.tell(codes, [c.fraction_enabled for c in codes])
        >>> len(search.population), search.evaluated
        (4, 7)
    """

    def __init__(self, config: EvolutionConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.population: deque[Member] = deque()
        self.evaluated = 0

    @property
    def done(self) -> bool:
        """Whether every evaluation of the configured search has been told."""
        return self.evaluated >= self.config.evaluations

    @property
    def initialising(self) -> bool:
        """Whether the random initial population is still being filled."""
        return self.evaluated < self.config.population

    def ask(self, n: int = 1) -> list[ArchCode]:
        """Up to ``n`` codes to evaluate next, canonical; fewer at the end of a phase.

        While the initial population fills they are random; afterwards each is a mutated
        tournament winner drawn from the population as it stands (batches of ``n`` children
        share one population state, which is what lets them be evaluated in parallel).
        """
        left = (self.config.population if self.initialising else self.config.evaluations) - self.evaluated
        n = max(0, min(n, left))
        if self.initialising:
            return [ArchCode.random(self.rng).canonical() for _ in range(n)]
        return [mutate(self.tournament().code, self.rng) for _ in range(n)]

    def tournament(self) -> Member:
        """The fittest of ``sample`` members drawn without replacement (ties: the younger wins)."""
        drawn = self.rng.sample(range(len(self.population)), self.config.sample)
        return self.population[min(drawn, key=lambda i: (self.population[i].fitness, -i))]

    def tell(self, codes: list[ArchCode], fitnesses: list[float]) -> None:
        """Add evaluated codes as the youngest members; the oldest die beyond the population size."""
        if len(codes) != len(fitnesses):
            raise ValueError(f"{len(codes)} codes but {len(fitnesses)} fitnesses")
        for code, fitness in zip(codes, fitnesses):
            self.population.append(Member(code, float(fitness)))
            if len(self.population) > self.config.population:
                self.population.popleft()
            self.evaluated += 1

    def state_dict(self) -> dict:
        """Everything needed to continue exactly (JSON-serialisable)."""
        version, internal, gauss = self.rng.getstate()
        return {
            "evaluated": self.evaluated,
            "population": [[str(m.code), m.fitness] for m in self.population],
            "rng": [version, list(internal), gauss],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.population = deque(Member(ArchCode.parse(code), float(f)) for code, f in state["population"])
        self.evaluated = int(state["evaluated"])
