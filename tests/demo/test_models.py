"""Demo model loading: Hub repo from the environment, else bundled weights; spaces.GPU when present."""

from __future__ import annotations

import sys
import types

import torch

from demo import models
from photonas.model import StyleTransferModel


def test_weights_come_from_the_env_repo_else_the_bundled_preset(monkeypatch):
    monkeypatch.delenv("PHOTONAS_HUB_REPO", raising=False)
    monkeypatch.setenv("PHOTONET_HUB_REPO", " user/photonet-gpu ")
    assert models.weights_source("photonas") == "photonas"
    assert models.weights_source("photonet") == "user/photonet-gpu"
    assert set(models.HUB_REPO_ENV.values()) == {"PHOTONAS_HUB_REPO", "PHOTONET_HUB_REPO"}


def test_load_models_uses_the_named_weights_for_each_choice(monkeypatch, model_dir, one_thread):
    monkeypatch.setenv("PHOTONAS_HUB_REPO", str(model_dir))  # a folder loads like a Hub repo id
    monkeypatch.delenv("PHOTONET_HUB_REPO", raising=False)
    loaded = models.load_models("cpu")
    assert set(loaded) == set(models.MODEL_CHOICES)
    expected = StyleTransferModel.from_pretrained(str(model_dir)).decoder.state_dict()
    got = loaded["PhotoNAS"].decoder.state_dict()
    # load_model may convert for inference (bf16 on CPUs that have it): equal up to that rounding.
    assert all(torch.allclose(got[key].float(), expected[key], rtol=1 / 128, atol=1e-6) for key in expected)
    assert loaded["PhotoNet"].code != loaded["PhotoNAS"].code


def test_on_gpu_is_the_function_itself_without_spaces(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError

    def work(x: int) -> int:
        return x + 1

    assert models.on_gpu(work) is work


def test_on_gpu_wraps_with_spaces_gpu_when_installed(monkeypatch):
    calls = []

    def gpu(duration: int):
        def wrap(fn):
            calls.append(duration)
            return lambda *args: ("on gpu", fn(*args))

        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    wrapped = models.on_gpu(lambda x: x * 2)
    assert wrapped(3) == ("on gpu", 6) and calls == [models.GPU_DURATION]
