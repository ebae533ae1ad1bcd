import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import gradient_photo
from safetensors import safe_open

from photonas import presets
from photonas.arch import PHOTONAS, PHOTONET, ArchCode
from photonas.hub import WeightsNotFoundError
from photonas.io import image_to_tensor
from photonas.model import PhotoNAS, PhotoNet, StyleTransferModel
from photonas.presets import PRESETS
from photonas.style import StyleStats
from photonas.transforms import WCTConfig


def _model(code, seed: int = 0) -> StyleTransferModel:
    torch.manual_seed(seed)
    return StyleTransferModel(str(code)).eval()


@pytest.fixture(scope="module")
def photonet():
    return _model(PHOTONET)


def _codes() -> list[ArchCode]:
    rng = random.Random(7)
    return [ArchCode.parse("0" * 32), PHOTONET, PHOTONAS] + [ArchCode.random(rng) for _ in range(4)]


@pytest.mark.parametrize("code", _codes(), ids=str)
def test_every_code_stylises_any_size_without_nan(code):
    model = _model(code)
    style = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        for h, w in ((64, 64), (67, 101)):
            out = model.stylize(torch.rand(2, 3, h, w), style)
            assert out.shape == (2, 3, h, w)
            assert torch.isfinite(out).all()


def test_reconstruct_restores_size(photonet):
    with torch.no_grad():
        assert photonet.reconstruct(torch.rand(1, 3, 67, 101)).shape == (1, 3, 67, 101)
        assert photonet.reconstruct(torch.rand(1, 3, 1, 1)).shape == (1, 3, 1, 1)


def test_alpha_zero_is_reconstruction(photonet):
    content = torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        out = photonet.stylize(content, torch.rand(1, 3, 32, 32), alpha=0.0)
        assert torch.equal(out, photonet.reconstruct(content))


def test_style_stats_reuse_and_preset_round_trip(photonet, tmp_path):
    content, style = torch.rand(1, 3, 48, 64), torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        stats = photonet.style_stats(style)
        assert set(stats.points) == set(photonet.transfer_points)
        assert stats.decoder_id  # in-decoder positions depend on the decoder's weights
        direct = photonet.stylize(content, style)
        assert torch.equal(photonet.stylize(content, stats), direct)
        stats.save(tmp_path / "style.safetensors")
        loaded = StyleStats.load(tmp_path / "style.safetensors")
        assert torch.equal(photonet.stylize(content, loaded), direct)


def test_given_features_replace_the_encoder_pass(photonet):
    """``features`` (the caller already encoded the padded photo) give exactly the same results."""
    from photonas.padding import pad_to_grid

    content, style = torch.rand(1, 3, 44, 60), torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        style_feats = photonet.encode(pad_to_grid(style)[0])
        stats = photonet.style_stats(style, features=style_feats)
        assert torch.equal(stats.points["d5.transfer"][-1].color, photonet.style_stats(style).points["d5.transfer"][-1].color)
        feats = photonet.encode(pad_to_grid(content)[0])
        assert torch.equal(photonet.stylize(content, stats, features=feats), photonet.stylize(content, stats))


def test_preset_from_another_decoder_is_refused(photonet):
    with torch.no_grad():
        stats = photonet.style_stats(torch.rand(1, 3, 32, 32))
    other = _model(PHOTONET, seed=1)
    with pytest.raises(ValueError, match="another decoder"):
        other.stylize(torch.rand(1, 3, 32, 32), stats)
    with pytest.raises(ValueError, match="lack positions"):
        _model(PHOTONAS).stylize(torch.rand(1, 3, 32, 32), StyleStats({}, str(PHOTONET)))


def test_encoder_only_points_skip_the_decoder():
    code = ArchCode.parse("1" + "0" * 31)  # only the bottleneck transfer on relu5_1
    model = _model(code)
    with torch.no_grad():
        stats = model.style_stats(torch.rand(1, 3, 32, 32))
    assert list(stats.points) == ["d0.transfer"] and stats.decoder_id == ""


def test_save_load_round_trip_is_bit_exact_and_holds_the_decoder_only(photonet, tmp_path):
    photonet.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["code"] == str(PHOTONET)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == set(photonet.decoder.state_dict())
    assert not any("encoder" in k or "block1_conv1" in k for k in keys)
    loaded = StyleTransferModel.from_pretrained(tmp_path)
    assert loaded.code == PHOTONET and not loaded.training
    for (name, a), b in zip(photonet.decoder.state_dict().items(), loaded.decoder.state_dict().values()):
        assert torch.equal(a, b), name
    content, style = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(photonet.stylize(content, style), loaded.stylize(content, style))


def test_loading_is_strict(photonet, tmp_path):
    photonet.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"code": str(PHOTONAS)}))
    with pytest.raises(ValueError, match="does not fit architecture code"):
        StyleTransferModel.from_pretrained(tmp_path)


def test_missing_weights_say_where_and_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="looked for .*model.safetensors.*train_decoder.py"):
        StyleTransferModel.from_pretrained(tmp_path)
    # a checkout without shipped weights: the presets' folder is empty
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path / "weights")
    for cls in (PhotoNAS, PhotoNet):
        with pytest.raises(WeightsNotFoundError, match=f"weights/{cls.preset}/model.safetensors"):
            cls.from_pretrained()


def test_preset_classes_build_their_presets_code():
    for cls in (PhotoNAS, PhotoNet):
        assert cls().code == PRESETS[cls.preset].code
    assert PhotoNAS().code == PHOTONAS and PhotoNet().code == PHOTONET


def test_offline_hub_repo_gives_the_clear_error(tmp_path):
    """HF_HUB_OFFLINE is read at import, so this runs in a fresh interpreter."""
    script = (
        "from photonas.hub import WeightsNotFoundError\nfrom photonas.model import StyleTransferModel\n"
        "try:\n"
        "    StyleTransferModel.from_pretrained('nobody/no-such-photonas-repo')\n"
        "except WeightsNotFoundError as err:\n"
        "    print('OK', err)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("OK"), result.stderr
    assert "nobody/no-such-photonas-repo" in result.stdout


def test_archcode_object_round_trips_through_config(tmp_path):
    torch.manual_seed(0)
    StyleTransferModel(PHOTONAS).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["code"] == str(PHOTONAS)
    assert StyleTransferModel.from_pretrained(tmp_path).code == PHOTONAS


def test_corrupt_or_missing_checkpoints_are_clear(tmp_path, photonet):
    photonet.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        StyleTransferModel.from_pretrained(tmp_path)
    with pytest.raises(WeightsNotFoundError, match="no such folder"):
        StyleTransferModel.from_pretrained(tmp_path / "does" / "not" / "exist")


def test_fp16_and_int8_checkpoints_load(photonet, tmp_path):
    from safetensors.torch import save_file

    from photonas.quantize import dequantize_state, quantize_state

    photonet.save_pretrained(tmp_path)
    state = photonet.decoder.state_dict()
    save_file({k: v.half() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    half = StyleTransferModel.from_pretrained(tmp_path)
    for name, value in half.decoder.state_dict().items():
        assert torch.equal(value, state[name].half().float()), name
    quantized = quantize_state(state)
    assert quantized["stages.d2.fuse.weight"].dtype == torch.int8
    save_file(quantized, str(tmp_path / "model.safetensors"))
    int8 = StyleTransferModel.from_pretrained(tmp_path)
    restored = dequantize_state(quantized)
    for name, value in int8.decoder.state_dict().items():
        assert torch.equal(value, restored[name]), name
        # per-channel 8 bits: error at most half a step of that channel's scale
        step = state[name].abs().amax(dim=tuple(range(1, state[name].ndim)), keepdim=True) / 127 if state[name].ndim == 4 else 0
        assert ((value - state[name]).abs() <= step / 2 + 1e-7).all(), name


def test_bad_tensors_are_clear(photonet):
    style = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="float32"):
        photonet.stylize((torch.rand(1, 3, 32, 32) * 255).byte(), style)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        photonet.stylize(torch.rand(3, 32, 32), style)
    with pytest.raises(ValueError, match="labels"):
        photonet.stylize(torch.rand(2, 3, 32, 32), style, content_labels=torch.zeros(1, 32, 32, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        photonet.stylize(torch.rand(1, 3, 40, 50), style, content_labels=torch.zeros(1, 10, 10, dtype=torch.long))


# ---- inference conversion (issue 6): fast paths stay faithful ------------------------------


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / (a.double() - b.double()).square().mean()))


@pytest.mark.parametrize("precision, floor", [("fp32", 45.0), ("bf16", 35.0)])
def test_inference_conversion_stays_close_to_the_float64_reference(precision, floor):
    content = image_to_tensor(np.asarray(gradient_photo((72, 56), 0), np.float32) / 255)
    style = image_to_tensor(np.asarray(gradient_photo((64, 48), 1), np.float32) / 255)
    reference = _model(PHOTONAS, seed=3)
    fast = _model(PHOTONAS, seed=3).for_inference("cpu", precision)
    assert fast.dtype == {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    with torch.inference_mode():
        ref = reference.stylize(content, style, config=WCTConfig(reference=True))
        out = fast.stylize(content, style)
    assert out.dtype == torch.float32 and out.shape == content.shape
    assert _psnr(out.clamp(0, 1), ref.clamp(0, 1)) >= floor


def test_converted_model_keeps_the_preset_fingerprint():
    reference = _model(PHOTONAS, seed=4)
    style = torch.rand(1, 3, 48, 48)
    with torch.inference_mode():
        stats = reference.style_stats(style)
        fast = _model(PHOTONAS, seed=4).for_inference("cpu", "bf16")
        fast.check_style_stats(stats)  # a preset made in float32 works with the bf16 model
        assert fast.stylize(torch.rand(1, 3, 40, 40), stats).shape == (1, 3, 40, 40)


def test_folder_without_config_takes_the_class_code_and_a_code_override_wins(tmp_path):
    photonas_model = _model(PHOTONAS)
    photonas_model.save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    assert PhotoNAS.from_pretrained(tmp_path).code == PHOTONAS
    with pytest.raises(ValueError, match="does not fit architecture code"):
        PhotoNet.from_pretrained(tmp_path)  # PhotoNet's own code, which these weights do not fit
    assert StyleTransferModel.from_pretrained(tmp_path, code=str(PHOTONAS)).code == PHOTONAS
    assert isinstance(PhotoNAS.from_pretrained(tmp_path), PhotoNAS)
