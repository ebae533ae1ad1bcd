import pytest
import torch

from photonas.device import autocast, choose_device


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
