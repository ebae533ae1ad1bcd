import random

import pytest
import torch
import torch.nn.functional as F

from photonas.arch import PHOTONAS, PHOTONET, ArchCode
from photonas.conv import ReflectConv2d
from photonas.decoder import Decoder, _conv_of_concat, instance_norm, pooled_instance_norm
from photonas.encoder import LEVEL_CHANNELS, LEVEL_STRIDE


def _features(h: int = 64, w: int = 64, batch: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        level: torch.rand(batch, c, h // LEVEL_STRIDE[level], w // LEVEL_STRIDE[level], generator=g)
        for level, c in LEVEL_CHANNELS.items()
    }


def test_parameter_counts_match_the_paper():
    # PhotoNAS about 6.1 M decoder parameters, PhotoNet about 16.7 M.
    assert sum(p.numel() for p in Decoder(PHOTONAS).parameters()) == pytest.approx(6.14e6, rel=0.01)
    assert sum(p.numel() for p in Decoder(PHOTONET).parameters()) == pytest.approx(16.72e6, rel=0.01)


def test_bfa_width_follows_the_chosen_skips():
    assert Decoder(PHOTONAS).bottleneck.bfa.in_channels == 512 + 512 + 128
    assert Decoder(PHOTONET).bottleneck.bfa.in_channels == 512 + 512 + 256 + 128 + 64
    assert Decoder("0" * 32).bottleneck.bfa is None


def test_skip_concat_sets_the_fuse_width_and_reduce_kernel():
    stages = Decoder(PHOTONAS).stages
    assert stages["d2"].fuse.in_channels == 1024 and stages["d3"].fuse.in_channels == 256
    assert stages["d2"].reduce.kernel_size == (1, 1)
    assert Decoder(PHOTONET).stages["d2"].reduce.kernel_size == (3, 3)
    assert stages["d5"].fuse.in_channels == 128 and stages["d5"].fuse.out_channels == 3


def test_transfer_points_follow_the_code():
    assert Decoder(PHOTONAS).transfer_points == ("d5.transfer", "d5.skip_transfer")
    assert len(Decoder(PHOTONET).transfer_points) == 10
    assert Decoder("0" * 32).transfer_points == ()
    # A skip transfer without the skip concat has nothing to act on.
    code = ArchCode.parse("0" * 31 + "1")
    assert Decoder(code).transfer_points == ()


def _codes() -> list[ArchCode]:
    rng = random.Random(1234)
    return [ArchCode.parse("0" * 32), PHOTONET, PHOTONAS] + [ArchCode.random(rng) for _ in range(5)]


@pytest.mark.parametrize("code", _codes(), ids=str)
def test_every_code_calls_its_points_in_order(code):
    decoder = Decoder(code)
    called = []

    def transfer(point, x):
        called.append(point)
        return x * 0.5

    with torch.no_grad():
        out = decoder(_features(batch=2), transfer)
    assert called == list(decoder.transfer_points)
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize("point", Decoder(PHOTONET).transfer_points)
def test_each_transfer_position_reaches_the_output(point):
    decoder = Decoder(PHOTONET)
    feats = _features()
    with torch.no_grad():
        plain = decoder(feats)
        changed = decoder(feats, lambda p, x: x.flip(-1) if p == point else x)
    assert not torch.allclose(plain, changed)


def test_encoder_level_of_points():
    assert Decoder.encoder_level("d0.transfer") == "relu5_1"
    assert Decoder.encoder_level("d2.skip_transfer") == "relu4_1"
    assert Decoder.encoder_level("d5.skip_transfer") == "relu1_1"
    assert Decoder.encoder_level("d3.transfer") is None


# ---- inference fast paths equal the training formulas ---------------------------------------


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_inference_norms_equal_torch(layout):
    x = (torch.rand(2, 6, 32, 48) * 5 + 3).contiguous(memory_format=layout)
    with torch.no_grad():
        fast = instance_norm(x)
        assert fast.is_contiguous(memory_format=layout)
        assert torch.allclose(fast, F.instance_norm(x), atol=1e-5)
        assert torch.allclose(pooled_instance_norm(x, 4), F.max_pool2d(F.instance_norm(x), 4), atol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
def test_split_fuse_conv_equals_conv_of_concat(relu):
    conv = ReflectConv2d(10, 5, 3, relu=relu)
    x, skip = torch.rand(1, 6, 9, 11), torch.rand(1, 4, 9, 11)
    expected = F.conv2d(F.pad(torch.cat([x, skip], 1), (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias)
    with torch.no_grad():
        assert torch.allclose(_conv_of_concat(conv, x, skip), expected.relu() if relu else expected, atol=1e-6)
