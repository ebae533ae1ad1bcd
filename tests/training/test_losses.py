"""The reconstruction loss: its parts, its gradient, and the scale-free feature term."""

from __future__ import annotations

import pytest
import torch

from photonas.training.losses import ReconstructionLoss, normalised_feature_mse


class _CountingEncoder(torch.nn.Module):
    """Features that scale with the input; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, image: torch.Tensor, last: str = "relu5_1") -> dict[str, torch.Tensor]:
        self.calls += 1
        return {"relu1_1": image * 3, "relu2_1": image[:, :, ::2, ::2] * 100}


def test_reconstruction_loss():
    levels = ("relu1_1", "relu2_1")
    target = torch.rand(2, 3, 16, 16)
    encoder = _CountingEncoder()
    loss = ReconstructionLoss(encoder, pixel_weight=1.0, feature_weight=0.5, levels=levels)
    same = loss(target.clone(), target)
    assert same.total.item() == 0 and same.pixel.item() == 0 and same.feature.item() == 0

    output = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    parts = loss(output, target)
    assert parts.total.item() == pytest.approx(parts.pixel.item() + 0.5 * parts.feature.item(), rel=1e-6)
    assert parts.feature > 0 and not parts.pixel.requires_grad
    parts.total.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0

    # Scale-free: the level whose activations are 33x larger counts as much as the other.
    out_feats, target_feats = encoder(output.detach()), encoder(target)
    plain = normalised_feature_mse(out_feats, target_feats, levels)
    scaled = normalised_feature_mse({k: 10 * v for k, v in out_feats.items()}, {k: 10 * v for k, v in target_feats.items()}, levels)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)
    one = normalised_feature_mse(out_feats, target_feats, levels[:1])
    assert normalised_feature_mse(out_feats, target_feats, levels[1:]).item() == pytest.approx(one.item(), rel=0.5)

    encoder.calls = 0
    pixel_only = ReconstructionLoss(encoder, feature_weight=0.0, levels=levels)(output, target)
    assert encoder.calls == 0 and pixel_only.feature.item() == 0
    assert pixel_only.total.item() == pytest.approx(parts.pixel.item())
