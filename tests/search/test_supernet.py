"""The weight-sharing supernet: any code runs on slices of PhotoNet's weights, and trains them."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from photonas.arch import PHOTONAS, PHOTONET, ArchCode
from photonas.decoder import Decoder
from photonas.search.supernet import SuperNet, SupernetTraining, _bfa_channels, sampled_codes, train_supernet

pytestmark = pytest.mark.usefixtures("one_thread")

CODES = [ArchCode.parse("0" * 32), PHOTONAS, PHOTONET] + [ArchCode.random(random.Random(s)) for s in range(3)]


@pytest.fixture(scope="module")
def net(teacher) -> SuperNet:
    return SuperNet(teacher.decoder)


@pytest.fixture(scope="module")
def feats(teacher) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return teacher.encode(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))


def test_full_code_is_the_teacher(net: SuperNet, teacher, feats) -> None:
    with torch.no_grad():
        assert torch.equal(net(PHOTONET, feats), teacher.decoder(feats))


@pytest.mark.parametrize("code", CODES, ids=str)
def test_extract_runs_like_the_shared_weights(net: SuperNet, feats, code: ArchCode) -> None:
    decoder = net.extract(code)
    assert isinstance(decoder, Decoder) and decoder.code == code
    with torch.no_grad():
        shared, alone = net(code, feats), decoder(feats)
    assert shared.shape == (2, 3, 32, 32) and torch.isfinite(shared).all()
    assert torch.equal(shared, alone)


def test_slices_bfa_channels_skipless_fuse_and_centre_tap(net: SuperNet) -> None:
    code = ArchCode.parse("0" * 32).flip(3)  # BFA from relu2_1 only; no skips; 1x1 reduces
    state = net.shared_state(code)
    full = dict(net.full.named_parameters())
    assert _bfa_channels(code) == list(range(512)) + list(range(512 + 512 + 256, 512 + 512 + 256 + 128))
    assert torch.equal(state["bottleneck.bfa.weight"], full["bottleneck.bfa.weight"][:, _bfa_channels(code)])
    assert torch.equal(state["stages.d2.fuse.weight"], full["stages.d2.fuse.weight"][:, :512])
    assert torch.equal(state["stages.d2.reduce.weight"], full["stages.d2.reduce.weight"][:, :, 1:2, 1:2])


def test_gradients_reach_the_shared_weights(net: SuperNet, feats) -> None:
    net.zero_grad()
    net(PHOTONAS, feats).square().mean().backward()
    grad = net.full.bottleneck.bfa.weight.grad
    used = _bfa_channels(PHOTONAS)
    assert grad[:, used].abs().sum() > 0
    assert grad[:, [c for c in range(grad.shape[1]) if c not in used]].abs().sum() == 0
    assert net.full.stages["d1"].conv.weight.grad is None  # PhotoNAS has no d1 conv
    net.zero_grad()


def test_supernet_starts_only_from_the_full_network() -> None:
    with pytest.raises(ValueError, match="full network"):
        SuperNet(Decoder(PHOTONAS))


def test_sampled_codes_are_seeded_canonical_and_include_the_full_network() -> None:
    settings = SupernetTraining(steps=8, full_every=4, seed=1)
    codes = list(sampled_codes(settings))
    assert codes == list(sampled_codes(settings)) and len(codes) == 8
    assert codes[0] == codes[4] == PHOTONET.canonical() and all(c.is_canonical for c in codes)
    with pytest.raises(ValueError, match="target"):
        SupernetTraining(target="style")


def test_training_changes_the_shared_weights(teacher) -> None:
    net = SuperNet(teacher.decoder)
    before = {k: v.detach().clone() for k, v in net.full.named_parameters()}
    batches = itertools.repeat(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    settings = SupernetTraining(steps=2, full_every=0, target="teacher", seed=5)
    losses = train_supernet(net, batches, teacher.encoder, settings, teacher.decoder)
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses))) and not net.training
    used = {k for code in sampled_codes(settings) for k in net.shared_state(code)}
    changed = {k for k, v in net.full.named_parameters() if not torch.equal(v, before[k])}
    assert changed and changed <= used  # only the sampled sub-networks' weights moved
