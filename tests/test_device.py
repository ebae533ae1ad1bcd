import pytest
import torch

from photonas.device import (
    autocast,
    choose_device,
    compute_dtype,
    convert_for_inference,
    cpu_has_native_bf16,
    resolve_precision,
)


def test_default_device_is_the_best_available():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert choose_device().type == expected
    assert choose_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_or_unknown_devices_are_clear():
    with pytest.raises(ValueError, match="CUDA is not available"):
        choose_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        choose_device("gpu7")


def test_autocast_precisions():
    cpu = torch.device("cpu")
    a, b = torch.rand(4, 4), torch.rand(4, 4)
    with autocast(cpu):  # auto is fp32 off CUDA
        assert (a @ b).dtype == torch.float32
    with autocast(cpu, "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        autocast(cpu, "int4")


def test_precision_resolution_and_inference_conversion():
    cpu = torch.device("cpu")
    assert resolve_precision(cpu) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert resolve_precision(cpu, "fp16") == "fp16" and compute_dtype(cpu, "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        resolve_precision(cpu, "int4")
    conv = convert_for_inference(torch.nn.Conv2d(3, 4, 3), cpu, "bf16")
    assert conv.weight.dtype == torch.bfloat16 and conv.weight.is_contiguous(memory_format=torch.channels_last)
