"""The photo-faithful stage: pixels from the photo, colours from the stylised image, calibrated."""

import numpy as np
import pytest
import torch
from skimage.filters import sobel
from skimage.metrics import structural_similarity

import photonas
from photonas.api import load_model
from photonas.refine import (
    PIXELS,
    Refinement,
    calibrate_colours,
    colour_stats,
    flat_style_stand_in,
    refine,
    structure_kept,
)
from photonas.transforms import GLOBAL

pytestmark = pytest.mark.usefixtures("one_thread")


def _edge_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM of the Sobel maps of two ``(1, 3, H, W)`` images' luminance (the board's edge_ssim)."""
    ea, eb = (sobel(x[0].mean(0).double().numpy()) for x in (a, b))
    return structural_similarity(ea, eb, data_range=max(ea.max(), eb.max()) - min(ea.min(), eb.min()))


def _edge_photo(h: int = 192, w: int = 256, seed: int = 0) -> torch.Tensor:
    """A dark tower against a smooth sky, with sensor noise: one sharp vertical edge pair."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    sky = torch.stack([0.2 + 0.2 * y, 0.3 + 0.2 * y, 0.7 - 0.1 * y])
    sky[:, :, w // 2 - 6 : w // 2 + 6] = torch.tensor([0.08, 0.07, 0.06]).view(3, 1, 1)
    return (sky + 0.01 * torch.randn(3, h, w, generator=g)).clamp(0, 1)[None]


def _haloed(content: torch.Tensor) -> torch.Tensor:
    """A bad decoder's output: blurred, recoloured, a bright halo along the edge and streaks."""
    blurred = torch.nn.functional.avg_pool2d(content, 5, stride=1, padding=2, count_include_pad=False)
    out = blurred.flip(1) * 0.8 + 0.1
    w = content.shape[-1]
    out[..., w // 2 - 12 : w // 2 - 6] += 0.25
    out[..., ::7] += 0.1
    return out.clamp(0, 1)


def test_shapes_range_and_alpha_zero():
    content = _edge_photo()
    styled = _haloed(content)[..., ::2, ::2]  # any size of the same aspect
    out = refine(content, styled)
    assert out.shape == content.shape and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(refine(content, styled, alpha=0.0), content.clamp(0, 1))
    half = refine(content, styled, alpha=0.5)
    torch.testing.assert_close(half, torch.lerp(content, out, 0.5))


def test_sharp_edge_kept_whatever_the_decoder_does():
    content = _edge_photo()
    styled = _haloed(content)
    assert _edge_ssim(content, styled) < 0.8  # the "decoder" output really is bad
    out = refine(content, styled)
    assert _edge_ssim(content, out) >= 0.95
    # the halo is gone: the sky next to the tower matches the sky far from it
    w = content.shape[-1]
    near, far = out[..., w // 2 - 12 : w // 2 - 6].mean(), out[..., 4:10].mean()
    assert abs(float(near - far)) < 0.03


def test_default_stylize_keeps_the_edge_with_any_weights(model_dir):
    """An untrained decoder returns noise; the default output still keeps the photo's edges.

    The style is the photo recoloured (warm, same contrast): edge SSIM also counts a change
    of contrast, which a contrasty style legitimately brings.
    """
    model = load_model(model_dir, "cpu")
    content = _edge_photo()
    image = content[0].permute(1, 2, 0).numpy()
    style = (content.flip(1) * 0.8 + 0.15).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    raw = np.asarray(photonas.stylize(image, style, model=model, raw=True), dtype=np.float32) / 255
    assert _edge_ssim(content, torch.from_numpy(raw).permute(2, 0, 1)[None]) < 0.5
    out = np.asarray(photonas.stylize(image, style, model=model), dtype=np.float32) / 255
    assert _edge_ssim(content, torch.from_numpy(out).permute(2, 0, 1)[None]) >= 0.95


def test_structure_guard():
    content = _edge_photo()
    assert structure_kept(content, content * 0.5 + 0.2) == pytest.approx(1.0)
    assert structure_kept(content, 1 - content) == pytest.approx(-1.0)
    assert structure_kept(torch.full((1, 3, 8, 8), 0.5), content[..., :8, :8]) == 1.0  # nothing to keep


def test_calibration_gives_the_style_colour_moments():
    g = torch.Generator().manual_seed(0)
    styled = (0.5 + 0.05 * torch.randn(1, 3, 48, 64, generator=g)).clamp(0, 1)  # muted
    style = (torch.tensor([0.8, 0.4, 0.2]).view(1, 3, 1, 1) + 0.15 * torch.randn(1, 3, 40, 40, generator=g)).clamp(0, 1)
    target = colour_stats(style)[GLOBAL]
    out = calibrate_colours(styled, colour_stats(style))
    got = colour_stats(out)[GLOBAL]
    torch.testing.assert_close(got.mean, target.mean, atol=0.02, rtol=0)
    torch.testing.assert_close(got.std, target.std, atol=0.03, rtol=0)
    assert torch.equal(calibrate_colours(styled, colour_stats(style), strength=0.0), styled)


def test_two_regions_take_their_own_colours_without_a_wide_seam():
    h, w = 64, 80
    g = torch.Generator().manual_seed(0)
    content = torch.empty(1, 3, h, w)
    content[..., : h // 2, :] = torch.tensor([0.3, 0.5, 0.9]).view(1, 3, 1, 1)  # blue sky
    content[..., h // 2 :, :] = torch.tensor([0.2, 0.6, 0.2]).view(1, 3, 1, 1)  # green field
    content = (content + 0.02 * torch.randn(content.shape, generator=g)).clamp(0, 1)
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[:, h // 2 :] = 1
    orange, brown = torch.tensor([0.95, 0.55, 0.15]), torch.tensor([0.4, 0.25, 0.1])
    style = torch.empty(1, 3, 40, 40)
    style[..., :20, :] = orange.view(1, 3, 1, 1)
    style[..., 20:, :] = brown.view(1, 3, 1, 1)
    style = (style + 0.03 * torch.randn(style.shape, generator=g)).clamp(0, 1)
    style_labels = torch.zeros(1, 40, 40, dtype=torch.long)
    style_labels[:, 20:] = 1
    pixels = colour_stats(style, style_labels)
    # a network that got the regions backwards and muted: the calibration alone must fix it
    styled = torch.lerp(content, content.flip(2), 0.5)
    out = refine(content, styled, style_pixels=pixels, content_labels=labels)
    rows = out[0].mean(dim=2)  # (3, h): each row's mean colour
    seam = 3
    for row in range(h):
        if abs(row - h // 2) < seam:
            continue
        expected = orange if row < h // 2 else brown
        assert (rows[:, row] - expected).abs().max() < 0.08, (row, rows[:, row])


def test_feathered_calibration_fades_across_the_border_only():
    """Feathered region calibration mixes the two regions' maps near their border and nowhere else;
    unfeathered it is each region's own map up to the border."""
    h, w = 64, 64
    styled = torch.full((1, 3, h, w), 0.5) + 0.05 * torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[:, h // 2 :] = 1
    style = torch.stack([torch.full((3, 20, 40), 0.8), torch.full((3, 20, 40), 0.2)], 1).reshape(1, 3, 40, 40)
    style = style + 0.05 * torch.randn(style.shape, generator=torch.Generator().manual_seed(2))
    style_labels = torch.zeros(1, 40, 40, dtype=torch.long)
    style_labels[:, 20:] = 1
    pixels = colour_stats(style, style_labels)
    hard = calibrate_colours(styled, pixels, labels)[0].mean(dim=(0, 2))  # mean brightness per row
    soft = calibrate_colours(styled, pixels, labels, feather=0.05)[0].mean(dim=(0, 2))
    assert hard[h // 2 - 1] - hard[h // 2] > 0.4  # a step at the border
    assert torch.allclose(soft[:20], hard[:20], atol=1e-3) and torch.allclose(soft[-20:], hard[-20:], atol=1e-3)
    assert hard[h // 2 - 1] - soft[h // 2 - 1] > 0.1 and soft[h // 2] - hard[h // 2] > 0.1  # mixed at the border
    assert (soft[:-1] - soft[1:]).max() < 0.2  # no step left
    automatic = Refinement().for_automatic_regions()
    assert automatic.feather == 0.05 and not automatic.separate_regions
    assert Refinement(feather=0.0).for_automatic_regions().feather == 0.0


def test_flat_inputs_give_no_nan():
    flat = torch.full((1, 3, 32, 40), 0.4)
    style = flat_style_stand_in(torch.full((1, 3, 20, 20), 0.7))
    out = refine(flat, flat * 0.5, style_pixels=colour_stats(style))
    assert torch.isfinite(out).all()
    out = refine(
        _edge_photo(), torch.full((1, 3, 48, 64), 0.3), style_pixels=colour_stats(torch.full((1, 3, 8, 8), 0.2))
    )
    assert torch.isfinite(out).all()


def test_flat_style_stand_in_keeps_the_colour_and_adds_tones():
    style = torch.full((1, 3, 30, 40), 0.5)
    style[:, 0] = 0.7
    stand_in = flat_style_stand_in(style)
    torch.testing.assert_close(stand_in.mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=0.01, rtol=0)
    assert stand_in.flatten(2).std(dim=2).min() > 0.05
    photo = _edge_photo()
    assert flat_style_stand_in(photo) is photo


def test_settings_are_checked():
    with pytest.raises(ValueError, match="calibrate"):
        Refinement(calibrate=1.5)
    with pytest.raises(ValueError, match="cells"):
        Refinement(cells=0)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        refine(torch.rand(3, 8, 8), torch.rand(1, 3, 8, 8))


def test_presets_carry_the_style_colours(model_dir, tmp_path):
    model = load_model(model_dir, "cpu")
    style = np.random.default_rng(2).random((32, 48, 3)).astype(np.float32)
    preset = photonas.style_preset(style, model=model)
    assert PIXELS in preset.points
    preset.save(tmp_path / "p.safetensors")
    loaded = photonas.StyleStats.load(tmp_path / "p.safetensors")
    torch.testing.assert_close(loaded.points[PIXELS][GLOBAL].mean, preset.points[PIXELS][GLOBAL].mean)
