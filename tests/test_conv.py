import pytest
import torch
import torch.nn.functional as F

from photonas.conv import ReflectConv2d, reflect_conv3x3


def _reference(x: torch.Tensor, conv: ReflectConv2d) -> torch.Tensor:
    pad = conv.kernel_size[0] // 2
    out = F.conv2d(F.pad(x, (pad,) * 4, mode="reflect") if pad else x, conv.weight, conv.bias)
    return out.relu() if conv.relu else out


LAYOUTS = [
    (torch.contiguous_format, torch.float32),
    (torch.channels_last, torch.float32),
    (torch.channels_last, torch.bfloat16),
]


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("layout, dtype", LAYOUTS)
@pytest.mark.parametrize("size", [(2, 2), (9, 13), (32, 17)])
def test_inference_conv_equals_reflect_padded_conv(relu, layout, dtype, size):
    torch.manual_seed(0)
    conv = ReflectConv2d(5, 7, 3, relu=relu).to(dtype).to(memory_format=layout)
    x = torch.randn(2, 5, *size).to(dtype).contiguous(memory_format=layout)
    with torch.no_grad():
        fast, ref = conv(x).float(), _reference(x, conv).float()
    tol = 1e-5 if dtype == torch.float32 else 3e-2
    assert (fast - ref).abs().max() <= tol * ref.abs().max()


def test_one_by_one_kernels_and_training_take_the_plain_path():
    torch.manual_seed(1)
    conv = ReflectConv2d(4, 3, 1, relu=True)
    x = torch.randn(1, 4, 5, 6)
    with torch.no_grad():
        assert torch.allclose(conv(x), _reference(x, conv), atol=1e-6)
    conv3 = ReflectConv2d(4, 3, 3, relu=True)
    y = conv3(x.requires_grad_())
    assert torch.allclose(y, _reference(x, conv3), atol=1e-6)
    y.sum().backward()
    assert x.grad is not None and conv3.weight.grad is not None


def test_single_pixel_inputs_fall_back_to_torch():
    conv = ReflectConv2d(2, 2, 3)
    with torch.no_grad(), pytest.raises(RuntimeError):
        conv(torch.rand(1, 2, 1, 5))  # reflection padding of one row is undefined, in torch too


def test_function_form_matches_module():
    conv = ReflectConv2d(3, 4, 3)
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        assert torch.allclose(reflect_conv3x3(x, conv.weight, conv.bias), _reference(x, conv), atol=1e-6)
