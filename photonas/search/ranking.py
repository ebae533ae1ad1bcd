"""Do shared-weight scores rank candidates as training them separately would?

Weight sharing is what makes the search fit one GPU, and it is only useful if a candidate's
score with the supernet's weights orders candidates the way their own training would. This
module trains candidates on their own (from scratch, or fine-tuned from the supernet) for an
equal short budget and compares the two orders by Spearman's rank correlation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from scipy.stats import spearmanr

from photonas.arch import ArchCode
from photonas.decoder import Decoder
from photonas.encoder import VGGEncoder
from photonas.search.supernet import SupernetTraining, train_decoder_steps


def spread_codes(codes_by_score: Sequence[tuple[str, float]], count: int) -> list[str]:
    """``count`` distinct codes evenly spaced along the score order (best, …, worst)."""
    unique = sorted(dict(codes_by_score).items(), key=lambda item: (item[1], item[0]))
    if len(unique) < count:
        raise ValueError(f"need {count} distinct candidates, the search has {len(unique)}")
    if count == 1:
        return [unique[0][0]]
    return [unique[round(i * (len(unique) - 1) / (count - 1))][0] for i in range(count)]


def train_standalone(
    code: ArchCode | str,
    batches: Iterator[torch.Tensor],
    encoder: VGGEncoder,
    settings: SupernetTraining,
    init: Decoder | None = None,
    teacher: Decoder | None = None,
    seed: int = 0,
) -> Decoder:
    """A decoder of ``code`` trained alone for ``settings.steps`` (from ``init``'s weights, else from scratch)."""
    torch.manual_seed(seed)
    device = encoder.device
    decoder = (init if init is not None else Decoder(code)).to(device).train()
    train_decoder_steps(
        decoder, list(decoder.parameters()), batches, encoder, settings, itertools.repeat(None), teacher
    )
    return decoder.eval()


@dataclass(frozen=True)
class RankCheck:
    """The two scores of each checked candidate and their rank correlation.

    Attributes:
        codes: the candidates.
        shared: teacher distance with the supernet's weights.
        standalone: teacher distance after each was trained alone.
        spearman: Spearman's rho between the two (1: same order).
        p_value: the test's two-sided p-value (few candidates: read it with care).
    """

    codes: list[str]
    shared: list[float]
    standalone: list[float]
    spearman: float
    p_value: float


def rank_check(
    codes: Sequence[str],
    shared_distance: Callable[[str], float],
    standalone_distance: Callable[[str], float],
) -> RankCheck:
    """Score every code both ways and correlate the orders."""
    if len(codes) < 3:
        raise ValueError(f"a rank correlation needs at least 3 candidates, got {len(codes)}")
    shared = [shared_distance(c) for c in codes]
    standalone = [standalone_distance(c) for c in codes]
    rho, p = spearmanr(shared, standalone)
    return RankCheck(list(codes), shared, standalone, float(rho), float(p))
