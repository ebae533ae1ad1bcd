import pytest
import torch

from photonas.transforms import (
    CHUNK,
    EXACT_WCT,
    GLOBAL,
    WCTConfig,
    adain,
    channel_moments,
    feature_stats,
    moments,
    region_stats,
    region_transfer,
    resize_labels,
    wct,
)


def _correlated(seed: int, shape=(1, 16, 24, 24), scale=3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(shape[1], shape[1], generator=g)
    x = torch.randn(shape[0], shape[1], shape[2] * shape[3], generator=g)
    return (scale * mix @ x + torch.rand(shape[1], 1, generator=g) * 5).view(shape)


def test_smoke_shapes_and_dtype():
    content, style = _correlated(0, (2, 16, 10, 12)), _correlated(1)
    stats = feature_stats(style)
    assert stats.mean.shape == (1, 16) and stats.color.shape == (1, 16, 16) and stats.std.shape == (1, 16)
    for fn in (wct, adain):
        out = fn(content, stats)
        assert out.shape == content.shape and out.dtype == content.dtype


def test_exact_wct_gives_the_style_covariance():
    content, style = _correlated(0), _correlated(1, (1, 16, 30, 30))
    out = wct(content, feature_stats(style), config=EXACT_WCT)
    mean, cov = moments(out.flatten(2))
    s_mean, s_cov = moments(style.flatten(2))
    assert torch.allclose(mean, s_mean, atol=1e-4 * s_mean.abs().max())
    assert (cov - s_cov).abs().max() < 1e-4 * s_cov.abs().max()


def test_default_shrinkage_deliberately_undershoots_the_style_covariance():
    content, style = _correlated(0), _correlated(1, (1, 16, 30, 30))
    _, cov = moments(wct(content, feature_stats(style)).flatten(2))
    _, s_cov = moments(style.flatten(2))
    assert cov.diagonal(dim1=1, dim2=2).sum() < 0.8 * s_cov.diagonal(dim1=1, dim2=2).sum()


def test_alpha_zero_returns_the_content_and_alpha_blends():
    content, style = _correlated(0), feature_stats(_correlated(1))
    assert torch.equal(wct(content, style, alpha=0.0), content)
    assert torch.equal(adain(content, style, alpha=0.0), content)
    half = wct(content, style, alpha=0.5)
    assert torch.allclose(half, 0.5 * wct(content, style) + 0.5 * content, atol=1e-4)


def test_adain_matches_channel_mean_and_std():
    content, style = _correlated(0), _correlated(1)
    out = adain(content, feature_stats(style))
    assert torch.allclose(out.mean((2, 3)), style.mean((2, 3)), atol=1e-3)
    assert torch.allclose(out.std((2, 3)), style.std((2, 3)), rtol=1e-2)


@pytest.mark.parametrize("shape", [(1, 8, 1, 1), (1, 8, 1, 5), (1, 8, 6, 6)])
def test_flat_and_tiny_features_give_no_nan(shape):
    flat = torch.full(shape, 0.7)
    other = _correlated(2, (1, 8, 6, 6))
    for fn in (wct, adain):
        for content, style in ((flat, other), (other, flat), (flat, flat)):
            out = fn(content, feature_stats(style))
            assert torch.isfinite(out).all()
    # a flat style paints its single colour
    out = wct(other, feature_stats(torch.full((1, 8, 6, 6), 0.7)))
    assert torch.allclose(out, torch.full_like(out, 0.7), atol=1e-5)


def test_batch_style_broadcast_and_mismatch():
    content = _correlated(0, (3, 16, 8, 8))
    single = feature_stats(_correlated(1))
    batched = feature_stats(torch.cat([_correlated(1), _correlated(1)]))
    assert wct(content, single).shape == content.shape
    with pytest.raises(ValueError, match="batch"):
        wct(content, batched)
    with pytest.raises(ValueError, match="channels"):
        wct(torch.rand(1, 8, 4, 4), single)
    with pytest.raises(ValueError, match="alpha"):
        wct(content, single, alpha=1.5)


def test_regions_are_transferred_separately():
    # Style: left half dark, right half bright; content labels swap sides.
    style = torch.cat([torch.randn(1, 4, 16, 8) - 5, torch.randn(1, 4, 16, 8) + 5], dim=3)
    s_labels = torch.zeros(1, 16, 16, dtype=torch.long)
    s_labels[..., 8:] = 1
    content = torch.randn(1, 4, 16, 16)
    c_labels = 1 - s_labels
    stats = region_stats(style, s_labels, min_pixels=16)
    assert set(stats) == {GLOBAL, 0, 1}
    out = region_transfer(content, stats, c_labels, config=EXACT_WCT, min_pixels=16)
    assert out[..., :8].mean() > 4  # content label 1 (left) took the bright style region
    assert out[..., 8:].mean() < -4
    assert torch.isfinite(out).all()
    adain_out = region_transfer(content, stats, c_labels, method="adain", min_pixels=16)
    assert adain_out[..., :8].mean() > 4 and adain_out[..., 8:].mean() < -4


def test_missing_or_small_regions_fall_back_to_global():
    style = torch.randn(1, 4, 16, 16) + 3
    stats = region_stats(style, torch.zeros(1, 16, 16, dtype=torch.long), min_pixels=16)
    content = torch.randn(1, 4, 16, 16)
    labels = torch.full((1, 16, 16), 7)  # label absent from the style
    labels[..., :2, :2] = 0  # too small for its own statistics
    out = region_transfer(content, stats, labels, config=EXACT_WCT, min_pixels=16)
    assert torch.allclose(out, wct(content, stats[GLOBAL], config=EXACT_WCT), atol=1e-5)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown transfer method"):
        region_transfer(torch.rand(1, 4, 4, 4), region_stats(torch.rand(1, 4, 4, 4)), method="gram")


def test_regularisation_is_configurable():
    content, style = _correlated(0), feature_stats(_correlated(1))
    assert not torch.allclose(wct(content, style), wct(content, style, config=WCTConfig(cov_scale=1.0, diag_boost=2.0)))


def test_transfers_ignore_autocast():
    content, style_feat = _correlated(0, (1, 16, 12, 12)), _correlated(1)
    style = feature_stats(style_feat)
    expected, expected_adain = wct(content, style), adain(content, style)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(wct(content, style), expected)
        assert torch.equal(adain(content, style), expected_adain)
        assert torch.equal(feature_stats(style_feat).color, style.color)


def test_gradients_flow_through_wct_without_nan():
    content = _correlated(0, (1, 8, 10, 10)).relu()
    content[:, :4] = 0  # dead channels: repeated zero eigenvalues
    content.requires_grad_(True)
    wct(content, feature_stats(_correlated(1, (1, 8, 10, 10)).relu())).sum().backward()
    assert torch.isfinite(content.grad).all() and content.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "labels, words",
    [
        (torch.zeros(2, 16, 16, dtype=torch.long), "batch"),
        (torch.full((1, 16, 16), -1), ">= 0"),
        (torch.zeros(1, 16, 16), "integers"),
        (torch.zeros(16, 16, dtype=torch.long), "integers"),
    ],
)
def test_bad_labels_are_refused(labels, words):
    stats = region_stats(torch.rand(1, 4, 16, 16), torch.zeros(1, 16, 16, dtype=torch.long), min_pixels=4)
    with pytest.raises(ValueError, match=words):
        region_transfer(torch.rand(1, 4, 16, 16), stats, labels)


# ---- the fast float32 path against the float64 reference -----------------------------------


def _big(seed: int, channels: int = 8, side: int = 300) -> torch.Tensor:
    """More pixels than one chunk (300² > CHUNK), large offsets like raw VGG activations."""
    return _correlated(seed, (1, channels, side, side), scale=20.0) + 100.0


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_chunked_moments_match_float64(layout):
    x = _big(0)
    assert x[0, 0].numel() > CHUNK
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    mean, cov = moments(x.flatten(2))
    ref_mean, ref_cov = moments(x.flatten(2), reference=True)
    assert mean.dtype == cov.dtype == torch.float64
    assert torch.allclose(mean, ref_mean, rtol=1e-6)
    assert torch.allclose(cov, ref_cov, rtol=1e-5, atol=1e-4 * ref_cov.abs().max().item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_wct_keeps_dtype_and_layout_and_matches_reference(dtype):
    content = _big(1).contiguous(memory_format=torch.channels_last)
    style = feature_stats(_correlated(2, (1, 8, 40, 40)))
    ref = wct(content.double(), style, config=WCTConfig(reference=True))
    with torch.no_grad():
        out = wct(content.to(dtype), style)
    assert out.dtype == dtype and out.is_contiguous(memory_format=torch.channels_last)
    error = (out.double() - ref).abs().max() / ref.abs().max()
    assert error < (1e-5 if dtype == torch.float32 else 1e-2)


def test_fast_path_keeps_gradients_to_the_content():
    content = _correlated(3).requires_grad_()
    wct(content, feature_stats(_correlated(4))).sum().backward()
    assert content.grad is not None and torch.isfinite(content.grad).all()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_channel_moments_match_torch(layout):
    x = _big(5)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    var, mean = torch.var_mean(x.double(), dim=(2, 3), correction=0)
    with torch.no_grad():
        got_mean, got_var = channel_moments(x.bfloat16())
    assert got_mean.dtype == torch.float32
    assert torch.allclose(got_mean.double(), mean, rtol=1e-2)
    assert torch.allclose(got_var.double(), var, rtol=5e-2)
    with torch.no_grad():
        got_mean, got_var = channel_moments(x)
    assert torch.allclose(got_mean.double(), mean, rtol=1e-6)
    assert torch.allclose(got_var.double(), var, rtol=1e-4)


def test_huge_activations_fall_back_to_float64_statistics():
    """Values whose float32 squares overflow still give finite moments and a finite transfer."""
    x = _correlated(6) * 1e19
    mean, cov = moments(x.flatten(2))
    ref_mean, ref_cov = moments(x.flatten(2), reference=True)
    assert torch.isfinite(cov).all() and torch.allclose(cov, ref_cov, rtol=1e-6)
    with torch.no_grad():
        assert torch.isfinite(wct(x, feature_stats(_correlated(7)))).all()


def test_resize_labels_samples_pixel_centres_exactly() -> None:
    labels = torch.tensor([[[0, 1], [2, 3]]])
    assert resize_labels(labels, (2, 4)).tolist() == [[[0, 0, 1, 1], [2, 2, 3, 3]]]
    big = torch.arange(24).reshape(1, 4, 6)
    assert torch.equal(resize_labels(big, (2, 3)), big[:, 1::2, 1::2])  # the middle of each 2x2 cell
    tall = torch.arange(394)[None, :, None].expand(1, 394, 3)
    shrunk = resize_labels(tall, (393, 3))
    assert shrunk.shape == (1, 393, 3) and (shrunk[0, 1:, 0] > shrunk[0, :-1, 0]).all()  # order kept, nothing blended
    assert resize_labels(labels, (2, 2)) is labels and resize_labels(labels.to(torch.uint8), (3, 3)).dtype == torch.uint8
    # a tile cut on the grid resizes like the whole map
    whole = torch.randint(0, 5, (1, 64, 96), generator=torch.Generator().manual_seed(0))
    assert torch.equal(resize_labels(whole[:, 16:48, 32:96], (4, 8)), resize_labels(whole, (8, 12))[:, 2:6, 4:12])
    with pytest.raises(ValueError, match="positive"):
        resize_labels(labels, (0, 4))
