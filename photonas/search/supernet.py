"""The weight-sharing supernet: PhotoNet's decoder, able to run any sub-network of itself.

Every architecture code builds a decoder whose layers are all present in PhotoNet's (every
bit on); only three kinds of shape differ, and each maps to a slice of the full weight:

- **BFA width**: the bottleneck's 1×1 conv takes relu5_1 plus the chosen shallower levels;
  the sub-network uses the input channels of exactly those levels.
- **Skip not concatenated**: a stage's fuse conv then sees the decoder feature alone, which
  is the first ``width`` input channels of the full conv (the skip is concatenated after it).
- **1×1 instead of 3×3 reduce**: the centre tap of the 3×3 kernel (as in once-for-all
  kernel sharing; supernet training makes the centre tap useful on its own).

A sub-network runs with :func:`torch.func.functional_call` on a weightless (meta-device)
:class:`~photonas.decoder.Decoder` of its code, fed slices of the shared weights, so the
forward code is the decoder's own and gradients reach the shared weights.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from photonas.arch import BFA_SOURCES, PHOTONET, ArchCode
from photonas.decoder import Decoder, Transfer
from photonas.encoder import LEVEL_CHANNELS, Features, VGGEncoder
from photonas.training.loop import Plan, fit
from photonas.training.losses import LossParts, ReconstructionLoss

_BFA_WEIGHT = "bottleneck.bfa.weight"


def _bfa_channels(code: ArchCode) -> list[int]:
    """Input channels of the full BFA conv that the code's chosen levels occupy."""
    chosen = [True, *code.stage("d0").bfa]  # relu5_1 always comes first
    channels, start = [], 0
    for on, level in zip(chosen, ("relu5_1", *BFA_SOURCES)):
        width = LEVEL_CHANNELS[level]
        if on:
            channels.extend(range(start, start + width))
        start += width
    return channels


def _slice(name: str, full: Tensor, shape: torch.Size, code: ArchCode) -> Tensor:
    """The part of a full-network tensor that plays the sub-network's tensor ``name``."""
    w = full
    if name == _BFA_WEIGHT and w.shape[1] != shape[1]:
        w = w[:, _bfa_channels(code)]
    elif w.ndim == 4 and w.shape[1] != shape[1]:
        w = w[:, : shape[1]]  # fuse conv without its skip: the decoder feature's channels come first
    if w.ndim == 4 and w.shape[-1] != shape[-1]:
        lo = (w.shape[-1] - shape[-1]) // 2
        w = w[:, :, lo : lo + shape[-2], lo : lo + shape[-1]]  # 1×1 reduce: the 3×3 kernel's centre tap
    if w.shape != shape:
        raise RuntimeError(f"supernet cannot share {name}: full {tuple(full.shape)}, wanted {tuple(shape)}")
    return w


class SuperNet(nn.Module):
    """PhotoNet's decoder whose weights every sub-network shares.

    Args:
        decoder: a decoder of the full code (e.g. ``PhotoNet.from_pretrained().decoder``);
            its weights are copied, not shared with the caller. None: a fresh random one.

    Example:
        >>> net = SuperNet()
        >>> sub = net.extract("01010000000100000000000000001111")  # a standalone Decoder
        >>> sorted(sub.state_dict()) == sorted(Decoder(sub.code).state_dict())
        True
    """

    def __init__(self, decoder: Decoder | None = None) -> None:
        super().__init__()
        self.full = Decoder(PHOTONET)
        if decoder is not None:
            if decoder.code.canonical() != PHOTONET.canonical():
                raise ValueError(f"a supernet starts from the full network's decoder, got code {decoder.code}")
            self.full.load_state_dict(decoder.state_dict())
        self._skeletons: dict[str, Decoder] = {}

    def skeleton(self, code: ArchCode | str) -> Decoder:
        """A weightless decoder of ``code`` (meta device) that defines the sub-network's shapes."""
        code = ArchCode.parse(code).canonical()
        key = str(code)
        if key not in self._skeletons:
            with torch.device("meta"):
                self._skeletons[key] = Decoder(code)
        return self._skeletons[key]

    def shared_state(self, code: ArchCode | str) -> dict[str, Tensor]:
        """The sub-network's tensors as slices (views or gathers) of the shared weights."""
        code = ArchCode.parse(code).canonical()
        full = dict(self.full.named_parameters())
        return {name: _slice(name, full[name], p.shape, code) for name, p in self.skeleton(code).named_parameters()}

    def forward(self, code: ArchCode | str, feats: Features, transfer: Transfer | None = None) -> Tensor:
        """Run sub-network ``code`` on encoder features with the shared weights → ``(B, 3, H, W)``."""
        return functional_call(self.skeleton(code), self.shared_state(code), (feats, transfer))

    def extract(self, code: ArchCode | str) -> Decoder:
        """A standalone :class:`Decoder` of ``code`` holding a copy of its shared weights."""
        code = ArchCode.parse(code)
        with torch.device("meta"):
            decoder = Decoder(code)
        state = {k: v.detach().clone() for k, v in self.shared_state(code).items()}
        decoder.load_state_dict(state, assign=True)
        return decoder


@dataclass(frozen=True)
class SupernetTraining:
    """How the supernet is trained once before the search.

    Attributes:
        steps: optimiser steps; each samples one random code.
        lr: Adam learning rate (reference training: 1e-4).
        betas: Adam betas (reference: 0.5, 0.9).
        pixel_weight: weight of the pixel MSE.
        feature_weight: weight of the layer-normalised feature MSE.
        target: "input" (reconstruct the crop, as PhotoNet was trained) or "teacher"
            (match the teacher's reconstruction of the crop: distillation).
        full_every: every this many steps train the full code instead of a random one
            (keeps PhotoNet itself good inside the supernet; 0: never).
        seed: seeds the code sampling.
    """

    steps: int = 200
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    pixel_weight: float = 1.0
    feature_weight: float = 0.1
    target: str = "input"
    full_every: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.target not in ("input", "teacher"):
            raise ValueError(f"supernet target must be 'input' or 'teacher', got {self.target!r}")


def sampled_codes(settings: SupernetTraining) -> Iterator[ArchCode]:
    """The code trained at each step: random (canonical) ones, the full code every ``full_every``."""
    rng = random.Random(settings.seed)
    for step in range(settings.steps):
        if settings.full_every and step % settings.full_every == 0:
            yield PHOTONET.canonical()
        else:
            yield ArchCode.random(rng).canonical()


def train_decoder_steps(
    run: nn.Module,
    params: list[nn.Parameter],
    batches: Iterator[Tensor],
    encoder: VGGEncoder,
    settings: SupernetTraining,
    codes: Iterator[ArchCode | None],
    teacher: Decoder | None = None,
    progress: str | None = None,
) -> list[float]:
    """Short Adam training on :func:`~photonas.training.loop.fit`: supernet, fine-tuning, from-scratch baselines.

    Args:
        run: ``run(code, feats) -> image`` (a :class:`SuperNet`) or ``run(feats) -> image``
            (a :class:`Decoder`, with ``codes`` yielding None).
        params: what the optimiser updates.
        batches: ``(B, 3, H, W)`` crops in [0, 1], one per step.
        encoder: the frozen encoder.
        settings: steps, optimiser and loss.
        codes: the code of each step (None for a plain decoder).
        teacher: the teacher decoder, when ``settings.target == "teacher"``.
        progress: label of a progress bar (None: no bar).

    Returns:
        The loss of every step.
    """
    if settings.target == "teacher" and teacher is None:
        raise ValueError("target='teacher' needs the teacher decoder")
    device = params[0].device
    loss_fn = ReconstructionLoss(encoder, settings.pixel_weight, settings.feature_weight)

    def loss(item: tuple[ArchCode | None, Tensor]) -> LossParts:
        code, batch = item
        x = batch.to(device)
        with torch.no_grad():
            feats = encoder(x)
            target = teacher(feats).clamp(0, 1) if settings.target == "teacher" else x
        output = run(feats) if code is None else run(code, feats)
        return loss_fn(output, target, feats if target is x else None)

    losses: list[float] = []
    optimizer = torch.optim.Adam(params, lr=settings.lr, betas=settings.betas)
    plan = Plan(end=settings.steps, progress=progress, progress_interval_s=10)
    fit(loss, optimizer, zip(codes, batches), 0, plan, lambda record: losses.append(record.loss))
    return losses


def train_supernet(
    supernet: SuperNet,
    batches: Iterator[Tensor],
    encoder: VGGEncoder,
    settings: SupernetTraining,
    teacher: Decoder | None = None,
    progress: str | None = None,
) -> list[float]:
    """Train the shared weights once, one sampled sub-network per step; returns the step losses."""
    supernet.train()
    losses = train_decoder_steps(
        supernet, list(supernet.parameters()), batches, encoder, settings, sampled_codes(settings), teacher, progress
    )
    supernet.eval()
    return losses
