"""The re-implemented baselines: Haar pooling, the PhotoWCT-style and WCT2-style models,
saving and loading. Untrained decoders (the properties tested hold for any weights), tiny
images, CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from photonas.baselines import BASELINES, WCT2, BaselineWeightsNotFoundError, PhotoWCT, load_baseline, train_command
from photonas.baselines.haar import HaarSkip, haar_pool, haar_unpool
from photonas.baselines.photowct import max_pool, max_unpool
from photonas.baselines.vgg import LEVELS, WEIGHTS_NAME, MirrorDecoder
from photonas.transforms import EXACT_WCT, feature_stats

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def photowct() -> PhotoWCT:
    torch.manual_seed(0)
    return PhotoWCT().eval()


@pytest.fixture(scope="module")
def wct2() -> WCT2:
    torch.manual_seed(0)
    return WCT2().eval()


@pytest.fixture(params=["photowct", "wct2"])
def model(request: pytest.FixtureRequest) -> PhotoWCT | WCT2:
    return request.getfixturevalue(request.param)


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, w).expand(h, w)
    return (
        torch.stack([ramp, ramp.T[:h, :w] if h == w else ramp.flip(1), 1 - ramp]) * 0.8 + 0.2 * torch.rand(3, h, w, generator=g)
    )[None]


# ---- Haar wavelets ---------------------------------------------------------------------------


def test_haar_pool_known_answer() -> None:
    ll, skip = haar_pool(torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2))
    # LL = (1+2+3+4)/2, LH = (1-2+3-4)/2, HL = (1+2-3-4)/2, HH = (1-2-3+4)/2
    assert [ll.item(), skip.lh.item(), skip.hl.item(), skip.hh.item()] == [5.0, -1.0, -2.0, 0.0]


def test_haar_is_perfect_reconstruction_and_orthonormal() -> None:
    x = torch.randn(2, 5, 6, 10, dtype=torch.float64)
    ll, skip = haar_pool(x)
    assert ll.shape == (2, 5, 3, 5) and all(b.shape == ll.shape for b in skip)
    torch.testing.assert_close(haar_unpool(ll, skip), x, rtol=0, atol=1e-12)
    energy = ll.pow(2).sum() + sum(b.pow(2).sum() for b in skip)
    torch.testing.assert_close(energy, x.pow(2).sum())


def test_haar_rejects_odd_sizes_and_mismatched_bands() -> None:
    with pytest.raises(ValueError, match="even"):
        haar_pool(torch.rand(1, 1, 3, 4))
    ll, skip = haar_pool(torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="one shape"):
        haar_unpool(ll, HaarSkip(skip.lh, skip.hl, skip.hh[..., :1]))


def test_max_unpool_puts_maxima_back() -> None:
    x = torch.rand(2, 3, 6, 8)
    pooled, kept = max_pool(x)
    back = max_unpool(pooled, kept)
    is_max = back != 0
    assert int(is_max.sum()) == pooled.numel()  # one value per 2x2 block, where it came from
    torch.testing.assert_close(back[is_max], x[is_max])


# ---- networks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "convs"), [("relu1_1", 1), ("relu2_1", 3), ("relu3_1", 5), ("relu4_1", 9)])
def test_mirror_decoder_mirrors_the_encoder(level: str, convs: int) -> None:
    decoder = MirrorDecoder(level)
    layers = [m for m in decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(layers) == convs and layers[-1].out_channels == 3
    assert layers[0].in_channels == {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}[level]


@pytest.mark.parametrize("size", [(37, 50), (16, 16), (5, 7), (1, 1)])
def test_stylize_keeps_any_size(model, size: tuple[int, int]) -> None:
    with torch.no_grad():
        out = model.stylize(_image(*size), _image(24, 20, seed=1))
        rec = model.reconstruct(_image(*size))
    assert out.shape == rec.shape == (1, 3, *size)
    assert torch.isfinite(out).all() and torch.isfinite(rec).all()


def test_batch_and_reconstruct_every_part(model) -> None:
    with torch.no_grad():
        out = model.stylize(_image(24, 32).repeat(2, 1, 1, 1), _image(24, 24, seed=1))
        assert out.shape == (2, 3, 24, 32)
        for part in model.parts:
            assert model.reconstruct(_image(24, 32), part).shape == (1, 3, 24, 32)


def test_wct2_own_style_is_a_fixed_point_of_exact_wct(wct2: WCT2) -> None:
    # Exact WCT of a feature to its own statistics is the identity, and WCT2 transfers along one
    # encoder pass, so stylising an image with itself must equal no transfer (alpha = 0),
    # whatever the decoder's weights.
    x = _image(32, 48)
    with torch.no_grad():
        same = wct2.stylize(x, x, config=EXACT_WCT)
        untouched = wct2.stylize(x, x, alpha=0.0)
    torch.testing.assert_close(same, untouched, rtol=1e-3, atol=2e-3)


def test_photowct_own_style_leaves_the_first_level_unchanged(photowct: PhotoWCT) -> None:
    # The coarse-to-fine cascade changes the image after the first level (untrained decoders
    # do not reconstruct), so the fixed point is checked where it holds: relu4_1.
    x = _image(32, 48)
    seen: list[torch.Tensor] = []
    hook = photowct.decoders["relu4_1"].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            photowct.stylize(x, x, config=EXACT_WCT)
            feat, _ = photowct.encode_level(x, "relu4_1")
    finally:
        hook.remove()
    torch.testing.assert_close(seen[0], feat, rtol=1e-3, atol=1e-4 * float(feat.abs().max()))


def test_photowct_colours_each_level_with_the_style(photowct: PhotoWCT) -> None:
    content, style = _image(32, 32), _image(32, 32, seed=5).flip(1)
    seen: dict[str, torch.Tensor] = {}

    def record(level: str):
        def hook(_module: torch.nn.Module, args: tuple) -> None:
            seen[level] = args[0]

        return hook

    hooks = [photowct.decoders[level].register_forward_pre_hook(record(level)) for level in LEVELS]
    try:
        with torch.no_grad():
            stats = photowct.style_stats(style)
            photowct.stylize(content, stats, config=EXACT_WCT)
    finally:
        for hook in hooks:
            hook.remove()
    assert list(seen) == ["relu4_1", "relu3_1", "relu2_1", "relu1_1"]  # coarse to fine
    for level in LEVELS:  # WCT output carries the style's mean exactly
        wanted = stats[level][-1].mean
        torch.testing.assert_close(feature_stats(seen[level]).mean, wanted, rtol=1e-2, atol=1e-3 * float(wanted.abs().max()))


def test_wct2_transfers_at_every_point(wct2: WCT2) -> None:
    stats = wct2.style_stats(_image(32, 32))
    skips = {f"skip{b}_{band}" for b in (1, 2, 3) for band in ("lh", "hl", "hh")}
    assert set(stats) == {"enc1", "enc2", "enc3", "relu4_1"} | skips


def test_masks_are_accepted_and_used(model) -> None:
    content, style = _image(32, 32), _image(32, 32, seed=3)
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    labels[..., 16:] = 1
    with torch.no_grad():
        masked = model.stylize(content, style, content_labels=labels, style_labels=labels.flip(-1), min_pixels=4)
        plain = model.stylize(content, style)
    assert masked.shape == plain.shape and torch.isfinite(masked).all()
    assert not torch.allclose(masked, plain)


def test_bad_inputs_raise_clear_errors(photowct: PhotoWCT) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        photowct.stylize(torch.rand(3, 16, 16), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="labels"):
        photowct.stylize(
            torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), content_labels=torch.zeros(1, 8, 8, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="lack transfer point"):
        photowct.stylize(torch.rand(1, 3, 16, 16), {"relu1_1": {}})


# ---- saving, loading, benchmark rows --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_save_load_round_trip_is_strict(name: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = BASELINES[name]().eval()
    model.save(tmp_path / name, {"training": {"steps": 0}})
    loaded = load_baseline(tmp_path / name, name)
    assert json.loads((tmp_path / name / "config.json").read_text())["training"] == {"steps": 0}
    for key, value in model.decoders.state_dict().items():
        assert torch.equal(loaded.decoders.state_dict()[key], value), key
    assert not any(k.startswith("encoder") for k in loaded.state_dict() if k.startswith("decoders"))

    from safetensors.torch import load_file, save_file

    state = load_file(tmp_path / name / WEIGHTS_NAME)
    save_file({k: v for k, v in list(state.items())[1:]}, tmp_path / name / WEIGHTS_NAME)
    with pytest.raises(ValueError, match="does not fit"):
        load_baseline(tmp_path / name)
    save_file({**state, "extra": torch.zeros(1)}, tmp_path / name / WEIGHTS_NAME)
    with pytest.raises(ValueError, match="does not fit"):
        load_baseline(tmp_path / name)


def test_load_checks_the_baseline_name(tmp_path: Path) -> None:
    WCT2().save(tmp_path)
    with pytest.raises(ValueError, match="names baseline 'wct2'"):
        load_baseline(tmp_path, "photowct")


def test_missing_weights_say_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(BaselineWeightsNotFoundError, match="train.train_baseline --model wct2") as error:
        load_baseline(tmp_path / "nothing", "wct2")
    assert train_command("wct2") in str(error.value)
