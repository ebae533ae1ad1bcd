"""The search objective: how close a candidate stylises to PhotoNet, and what it costs.

Teacher–student (An et al., AAAI 2020): on a fixed set of content/style pairs the teacher
(PhotoNet) stylises once; a candidate's distance is ``0.8·pixel MSE + 0.1·feature MSE`` of
its stylisations to the teacher's, and its score adds ``0.1·cost``. Two costs are offered
and both always reported:

- ``"bits"``: the paper's, the fraction of enabled parts (of the canonical code, so dead
  bits cost nothing);
- ``"latency"``: the candidate's measured median stylisation time at a chosen resolution on
  the current device, divided by PhotoNet's there (PhotoNet costs 1).

The pairs are crops of the *training* photos (never the DPST benchmark), chosen by a seed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from photonas.arch import ArchCode
from photonas.decoder import Decoder
from photonas.device import wall_time
from photonas.model import StyleTransferModel
from photonas.training.data import RandomCrops, list_photos
from photonas.training.losses import normalised_feature_mse
from photonas.transforms import WCTConfig

COSTS = ("bits", "latency")


@dataclass(frozen=True)
class ObjectiveWeights:
    """The paper's weights (lower score is better).

    Attributes:
        pixel: weight of the pixel MSE to the teacher's stylisation.
        feature: weight of the layer-normalised VGG feature MSE to it.
        cost: weight of the cost term.
        cost_kind: "bits" (paper) or "latency" (measured, relative to PhotoNet).
    """

    pixel: float = 0.8
    feature: float = 0.1
    cost: float = 0.1
    cost_kind: str = "bits"

    def __post_init__(self) -> None:
        if self.cost_kind not in COSTS:
            raise ValueError(f"cost_kind must be one of {COSTS}, got {self.cost_kind!r}")


@dataclass(frozen=True)
class Score:
    """One candidate's measurements.

    Attributes:
        pixel: pixel MSE to the teacher's stylisations.
        feature: normalised feature MSE to them.
        distance: ``w.pixel·pixel + w.feature·feature``.
        bits: fraction of enabled parts of the canonical code.
        latency_ms: median stylisation time (NaN when not measured).
        relative_latency: ``latency_ms`` over PhotoNet's (NaN when not measured).
        params: decoder parameters.
        total: ``distance + w.cost·cost`` with the configured cost (the search minimises it);
            infinite for a candidate that failed to stylise.
    """

    pixel: float
    feature: float
    distance: float
    bits: float
    latency_ms: float
    relative_latency: float
    params: int
    total: float


def fixed_pairs(data: str | Path, count: int, size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``count`` content and style crops ``(count, 3, size, size)`` from the training photos.

    Contents and styles are different photos, drawn by ``seed``; the same arguments always
    give the same pairs.
    """
    photos = list_photos(data, "train")
    if len(photos) < 2 * count:
        raise ValueError(f"{count} pairs need {2 * count} training photos, {data} has {len(photos)}")
    order = torch.randperm(len(photos), generator=torch.Generator().manual_seed(seed))[: 2 * count].tolist()
    crops = RandomCrops([photos[i] for i in order], size, scale=(0.5, 1.0), seed=seed, flips=False)
    images = torch.stack([crops[i] for i in range(2 * count)])
    return images[:count], images[count:]


def measure_latency_ms(model: StyleTransferModel, content: Tensor, style: Tensor, repeats: int = 5) -> float:
    """Median wall time (ms) of one full stylisation (style statistics included) on the model's device."""
    with torch.no_grad():
        model.stylize(content, style)  # warm-up: allocator, kernels, caches
        seconds = [wall_time(partial(model.stylize, content, style), content.device)[1] for _ in range(repeats)]
    return 1000 * statistics.median(seconds)


class TeacherObjective:
    """Scores candidate decoders against the teacher's stylisations of fixed pairs.

    Args:
        teacher: PhotoNet (or any model taken as the reference), on the device to score on.
        contents: ``(N, 3, H, W)`` content crops in [0, 1].
        styles: ``(N, 3, H, W)`` style crops, pair ``i`` = ``(contents[i], styles[i])``.
        weights: the objective's weights and cost kind.
        latency_size: side (px) of the square image latency is measured at (0: not measured,
            only possible with the "bits" cost).
        latency_repeats: timed runs per candidate (their median counts).
    """

    def __init__(
        self,
        teacher: StyleTransferModel,
        contents: Tensor,
        styles: Tensor,
        weights: ObjectiveWeights = ObjectiveWeights(),
        latency_size: int = 256,
        latency_repeats: int = 5,
    ) -> None:
        if contents.shape != styles.shape or contents.ndim != 4:
            raise ValueError(
                f"contents and styles must be equal (N, 3, H, W) batches, got {tuple(contents.shape)}, {tuple(styles.shape)}"
            )
        if weights.cost_kind == "latency" and latency_size <= 0:
            raise ValueError("a latency cost needs latency_size > 0")
        self.teacher, self.weights = teacher.eval(), weights
        self.device = teacher.device
        self.contents, self.styles = contents.to(self.device), styles.to(self.device)
        self.latency_repeats = latency_repeats
        # One host model for every candidate: the teacher's encoder, the candidate's decoder.
        self._host = StyleTransferModel("0" * 32).eval()
        self._host.encoder = teacher.encoder
        with torch.no_grad():
            self.targets = self._stylize(teacher.decoder).clamp(0, 1)
            self.target_feats = teacher.encode(self.targets)
        self._latency_inputs = None
        self.reference_latency_ms = float("nan")
        if latency_size > 0:
            g = torch.Generator().manual_seed(0)
            self._latency_inputs = tuple(
                torch.rand(1, 3, latency_size, latency_size, generator=g).to(self.device) for _ in range(2)
            )
            self.reference_latency_ms = self.latency_ms(teacher.decoder)

    def _with(self, decoder: Decoder) -> StyleTransferModel:
        self._host.decoder, self._host.code = decoder.to(self.device).eval(), decoder.code
        return self._host

    @torch.no_grad()
    def _stylize(self, decoder: Decoder) -> Tensor:
        # float64 statistics, as the paper's WCT: a barely trained candidate's features can be
        # degenerate enough (dead channels) for float32 eigendecompositions not to converge
        return self._with(decoder).stylize(self.contents, self.styles, config=WCTConfig(reference=True))

    def latency_ms(self, decoder: Decoder) -> float:
        """Median stylisation time of ``decoder`` at the configured size (NaN if not measured)."""
        if self._latency_inputs is None:
            return math.nan
        try:
            return measure_latency_ms(self._with(decoder), *self._latency_inputs, repeats=self.latency_repeats)
        except torch.linalg.LinAlgError:  # see distance(): such a decoder is out of the race anyway
            return math.nan

    @torch.no_grad()
    def distance(self, decoder: Decoder) -> tuple[float, float, float]:
        """``(pixel MSE, feature MSE, weighted distance)`` of ``decoder``'s stylisations to the teacher's.

        A decoder that cannot stylise (a whitening eigendecomposition fails to converge on its
        features) is infinitely far: ``(nan, nan, inf)``.
        """
        try:
            output = self._stylize(decoder).clamp(0, 1)
        except torch.linalg.LinAlgError:
            return math.nan, math.nan, math.inf
        pixel = float(torch.nn.functional.mse_loss(output, self.targets))
        feature = float(normalised_feature_mse(self.teacher.encode(output), self.target_feats))
        return pixel, feature, self.weights.pixel * pixel + self.weights.feature * feature

    def score(self, decoder: Decoder, latency_ms: float | None = None) -> Score:
        """Every measurement of one candidate; ``latency_ms`` reuses an earlier measurement."""
        code: ArchCode = decoder.code.canonical()
        pixel, feature, distance = self.distance(decoder)
        if latency_ms is None:
            latency_ms = self.latency_ms(decoder) if math.isfinite(distance) else math.nan
        latency = latency_ms
        relative = latency / self.reference_latency_ms
        cost = code.fraction_enabled if self.weights.cost_kind == "bits" else relative
        params = sum(p.numel() for p in decoder.parameters())
        total = distance + self.weights.cost * cost
        total = total if math.isfinite(total) else math.inf  # failed (or unmeasured) candidates rank last
        return Score(
            pixel,
            feature,
            distance,
            code.fraction_enabled,
            latency,
            relative,
            params,
            total,
        )
