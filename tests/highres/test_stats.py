"""photonas.highres.stats: moments merged piece by piece, and the table of whole-image norm statistics."""

from __future__ import annotations

import pytest
import torch

from photonas.highres.stats import NormTable
from photonas.transforms import Moments


def test_moments_merge_like_one_piece() -> None:
    feat = torch.randn(1, 8, 12, 20, generator=torch.Generator().manual_seed(0)) * 3 + 5
    merged = Moments.of(feat[..., :7, :]).merge(Moments.of(feat[..., 7:, :]))
    whole = Moments.of(feat)
    torch.testing.assert_close(merged.mean, whole.mean)
    torch.testing.assert_close(merged.cov, whole.cov, rtol=1e-5, atol=1e-5)


def test_norm_table_gives_known_features_their_statistics_and_refuses_others() -> None:
    feat, other = torch.rand(1, 4, 6, 5), torch.rand(1, 4, 6, 5)
    whole = torch.rand(1, 4, 12, 5)
    table = NormTable()
    table.add(feat, Moments.of(whole))
    mean, var = table(feat)
    torch.testing.assert_close(mean, whole.mean(dim=(2, 3)))
    torch.testing.assert_close(var, whole.var(dim=(2, 3), correction=0))
    with pytest.raises(RuntimeError, match="statistics are unknown"):
        table(other)
