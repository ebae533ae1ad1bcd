import numpy as np
import pytest
import torch
from PIL import Image

import photonas
from photonas import presets
from photonas.api import load_model
from photonas.highres import resize_long_side
from photonas.io import ImageError, image_to_tensor, tensor_to_image
from photonas.transforms import GLOBAL

BLUE, GREEN = (0, 0, 255), (0, 255, 0)


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir, "cpu")


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 1 - x], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def _halves(h: int, w: int, first=BLUE, second=GREEN) -> Image.Image:
    labels = np.zeros((h, w, 3), np.uint8)
    labels[:, : w // 2] = first
    labels[:, w // 2 :] = second
    return Image.fromarray(labels)


def test_stylize_accepts_paths_pil_and_arrays_and_keeps_size(model, tmp_path):
    content = _photo(67, 101)
    style = _photo(48, 64, seed=1)
    Image.fromarray((content * 255).astype(np.uint8)).save(tmp_path / "c.png")
    for c in (tmp_path / "c.png", str(tmp_path / "c.png"), Image.open(tmp_path / "c.png"), content):
        out = photonas.stylize(c, style, model=model)
        assert isinstance(out, Image.Image) and out.size == (101, 67) and out.mode == "RGB"


def test_alpha_zero_returns_the_content_photo(model):
    content = _photo(40, 56)
    out = np.asarray(photonas.stylize(content, _photo(32, 32, seed=1), model=model, alpha=0.0)).astype(int)
    assert np.abs(out - np.round(content * 255)).max() <= 1


def test_raw_alpha_zero_reproduces_the_reconstruction(model):
    content = _photo(40, 56)
    out = photonas.stylize(content, _photo(32, 32, seed=1), model=model, alpha=0.0, raw=True)
    with torch.no_grad():
        expected = tensor_to_image(model.reconstruct(image_to_tensor(content)))
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_rgba_content_keeps_its_alpha(model):
    rgba = np.concatenate([_photo(33, 47), np.linspace(0, 1, 33 * 47, dtype=np.float32).reshape(33, 47, 1)], axis=2)
    out = photonas.stylize(rgba, _photo(32, 32, seed=1), model=model)
    assert out.mode == "RGBA"
    assert np.abs(np.asarray(out)[..., 3] / 255.0 - rgba[..., 3]).max() <= 0.5 / 255 + 1e-6


def test_flat_style_is_a_colour_cast_and_tiny_contents_work(model):
    """A flat style keeps the photo's structure and gives it the style's colour, on both outputs."""
    colour = np.array([200, 120, 40]) / 255
    flat = np.broadcast_to(colour, (40, 40, 3)).astype(np.float32)
    content = _photo(48, 48)
    for raw in (False, True):
        out = np.asarray(photonas.stylize(content, flat, model=model, raw=raw)) / 255
        assert np.isfinite(out).all() and out.shape == (48, 48, 3)
        assert out.std(axis=(0, 1)).max() > 0.03  # not one flat colour
    out = np.asarray(photonas.stylize(content, flat, model=model)) / 255
    assert np.abs(out.mean(axis=(0, 1)) - colour).max() < 0.06
    flat_content = np.full((40, 40, 3), 0.5, np.float32)
    assert np.isfinite(np.asarray(photonas.stylize(flat_content, flat, model=model), dtype=float)).all()
    for h, w in ((1, 1), (1, 500), (5, 3)):
        assert photonas.stylize(_photo(h, w), _photo(32, 32), model=model).size == (w, h)


def test_masks(model):
    content, style = _photo(64, 80), _photo(48, 48, seed=1)
    masked = photonas.stylize(content, style, model=model, masks=(_halves(64, 80), _halves(48, 48, GREEN, BLUE)))
    plain = photonas.stylize(content, style, model=model)
    assert masked.size == (80, 64)
    assert not np.array_equal(np.asarray(masked), np.asarray(plain))
    # a one-pixel-short map (as DPST's content_seg/07) is resized, a wrong shape is refused
    assert photonas.stylize(content, style, model=model, masks=(_halves(63, 80), _halves(48, 48))).size == (80, 64)
    with pytest.raises(ImageError, match="label map"):
        photonas.stylize(content, style, model=model, masks=(_halves(30, 80), _halves(48, 48)))
    with pytest.raises(ValueError, match="style"):
        photonas.stylize(content, style, model=model, masks=(_halves(64, 80), None))


def test_style_preset_file_and_object(model, tmp_path):
    content, style = _photo(40, 40), _photo(40, 40, seed=1)
    direct = np.asarray(photonas.stylize(content, style, model=model))
    preset = photonas.style_preset(style, model=model)
    assert np.array_equal(np.asarray(photonas.stylize(content, preset, model=model)), direct)
    preset.save(tmp_path / "p.safetensors")
    assert np.array_equal(np.asarray(photonas.stylize(content, tmp_path / "p.safetensors", model=model)), direct)
    masked_preset = photonas.style_preset(style, model=model, style_mask=_halves(40, 40))
    out = photonas.stylize(content, masked_preset, model=model, masks=(_halves(40, 40), None))
    assert out.size == (40, 40)


def test_a_large_style_is_summarised_at_max_side(model):
    """A style longer than max_side gives the statistics of its copy scaled to max_side (labels too)."""
    style = _photo(96, 160, seed=2)
    small = resize_long_side(image_to_tensor(style), 64)
    with torch.inference_mode():
        expected = model.style_stats(small)
    got = photonas.style_preset(style, model=model, max_side=64)
    for point, regions in expected.points.items():
        torch.testing.assert_close(got.points[point][GLOBAL].color, regions[GLOBAL].color)
    masked = photonas.style_preset(style, model=model, max_side=64, style_mask=_halves(96, 160))
    assert len(masked.points[next(iter(masked.points))]) == 3  # whole image and both halves
    content = _photo(40, 48)
    assert photonas.stylize(content, style, model=model, max_side=64).size == (48, 40)


def test_bad_inputs_are_clear(model, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageError, match="content image"):
        photonas.stylize(tmp_path / "broken.jpg", _photo(32, 32), model=model)
    with pytest.raises(ImageError, match="style image"):
        photonas.stylize(_photo(32, 32), tmp_path / "missing.png", model=model)
    with pytest.raises(ValueError, match="alpha"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model=model, alpha=2.0)
    with pytest.raises(ValueError, match="alpha"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model=model, alpha="strong")
    with pytest.raises(ValueError, match="alpha"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model=model, alpha=True)
    with pytest.raises(ValueError, match="unknown transfer method"):  # before any work on the style
        photonas.stylize(_photo(32, 32), tmp_path / "missing.png", model=model, method="gram")
    with pytest.raises(ValueError, match="pair"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model=model, masks=_halves(32, 32))
    with pytest.raises(ValueError, match="unknown model"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model="photonass")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        photonas.stylize(_photo(32, 32), _photo(32, 32), model=str(tmp_path / "no" / "model"))
    (tmp_path / "fake.safetensors").write_bytes(b"nope")
    with pytest.raises(ValueError, match="style preset"):
        photonas.stylize(_photo(32, 32), tmp_path / "fake.safetensors", model=model)
    with pytest.raises(ImageError, match="pixels"):
        photonas.stylize(_photo(64, 64), _photo(32, 32), model=model, max_pixels=1000)


def test_named_models_are_loaded_once(model_dir):
    assert load_model(model_dir, "cpu") is load_model(str(model_dir), "cpu")


def test_default_model_without_shipped_weights_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path)  # a checkout without shipped weights
    photonas.hub._load_cached.cache_clear()  # the shipped model may be cached by an earlier test
    try:
        with pytest.raises(photonas.WeightsNotFoundError, match="no trained decoder"):
            photonas.stylize(_photo(32, 32), _photo(32, 32), device="cpu")
    finally:
        photonas.hub._load_cached.cache_clear()


def test_automatic_regions(model, tmp_path):
    """masks="auto" pairs regions itself: deterministic, no NaN on a flat content, photo style only."""
    content, style = _photo(48, 64), _photo(40, 40, seed=3)
    first = np.asarray(photonas.stylize(content, style, model=model, masks="auto"))
    again = np.asarray(photonas.stylize(content, style, model=model, masks="auto"))
    assert first.shape == (48, 64, 3) and np.array_equal(first, again)
    flat = np.full((40, 40, 3), 0.4, np.float32)
    assert np.isfinite(np.asarray(photonas.stylize(flat, style, model=model, masks="auto"), dtype=float)).all()
    preset = photonas.style_preset(style, model=model)
    with pytest.raises(ValueError, match='style_mask="auto"'):
        photonas.stylize(content, preset, model=model, masks="auto")
    with pytest.raises(ValueError, match="auto"):
        photonas.stylize(content, style, model=model, masks="automatic")


def test_automatic_regions_in_a_preset(model, tmp_path):
    """A preset made with style_mask="auto" keeps the style's regions: saved and loaded, it gives
    what the style photo gives, in the default and the raw output."""
    content, style = _photo(48, 64), _photo(40, 40, seed=3)
    preset = photonas.style_preset(style, model=model, style_mask="auto")
    assert preset.regions is not None
    preset.save(tmp_path / "auto.safetensors")
    loaded = photonas.StyleStats.load(tmp_path / "auto.safetensors")
    torch.testing.assert_close(loaded.regions.centroids, preset.regions.centroids)
    assert loaded.regions.config == preset.regions.config and torch.equal(loaded.regions.targets, preset.regions.targets)
    from_photo = np.asarray(photonas.stylize(content, style, model=model, masks="auto"))
    for source in (preset, tmp_path / "auto.safetensors"):
        assert np.array_equal(np.asarray(photonas.stylize(content, source, model=model, masks="auto")), from_photo)
    raw = np.asarray(photonas.stylize(content, loaded, model=model, masks="auto", raw=True))
    assert np.array_equal(raw, np.asarray(photonas.stylize(content, style, model=model, masks="auto", raw=True)))
