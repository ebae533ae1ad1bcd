"""Loading by Hub repo id, against a local Hub stand-in (tests/hub_server.py) — never the real Hub.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it is imported, so every Hub load
runs in a fresh subprocess whose environment points at the local server (or at nothing, in
offline mode) and at a cache under tmp_path. The child prints one ``HUB-RESULT {json}`` line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
from hub_server import repo_commit, serve_hub  # tests/ has no __init__.py: pytest puts it on sys.path

from photonas.arch import ArchCode
from photonas.decoder import Decoder
from photonas.hub import WEIGHTS_NAME, WeightsNotFoundError
from photonas.model import StyleTransferModel

CODE = "01010000000100000000000000001111"
REPO = "photonas/test-model"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Offline loads must not connect anywhere; if one tried, loopback port 9 has nothing to answer.
NO_SERVER = "http://127.0.0.1:9"

_CHILD = """
import json, sys
from huggingface_hub import constants
from safetensors.torch import load_file
from photonas.hub import WeightsNotFoundError
from photonas.model import StyleTransferModel

source, reference = sys.argv[1], sys.argv[2]
result = {"offline": constants.HF_HUB_OFFLINE, "endpoint": constants.ENDPOINT}
try:
    model = StyleTransferModel.from_pretrained(source)
except Exception as err:
    result.update(error=type(err).__name__, message=str(err),
                  weights_not_found=isinstance(err, WeightsNotFoundError), value_error=isinstance(err, ValueError))
else:
    result["code"] = str(model.code)
    if reference:
        saved, loaded = load_file(reference), model.decoder.state_dict()
        result["identical"] = saved.keys() == loaded.keys() and all(
            saved[k].dtype == loaded[k].dtype and saved[k].shape == loaded[k].shape
            and saved[k].numpy().tobytes() == loaded[k].numpy().tobytes()
            for k in saved
        )
print("HUB-RESULT " + json.dumps(result))
"""


def load_in_subprocess(source: str, hf_home: Path, *, endpoint: str, offline: bool = False, reference: Path | None = None) -> dict:
    """``StyleTransferModel.from_pretrained(source)`` in a fresh interpreter; returns its result dict."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_CACHE=str(hf_home / "hub"),
        HF_HUB_OFFLINE="1" if offline else "0",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        HF_HUB_ETAG_TIMEOUT="2",
        HF_HUB_DOWNLOAD_TIMEOUT="5",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, source, str(reference or "")],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("HUB-RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1].removeprefix("HUB-RESULT "))
    assert result["offline"] is offline and result["endpoint"] == endpoint  # the env really reached huggingface_hub
    return result


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seeded model saved with save_pretrained: config.json + model.safetensors."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("saved") / "test-model"
    StyleTransferModel(CODE).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def downloaded(saved_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[str], Path]:
    """Load REPO from the local Hub once; the server is stopped when this returns.

    Returns the child's result, the files the server served, and the HF_HOME it cached into.
    """
    hf_home = tmp_path_factory.mktemp("hf_home")
    with serve_hub({REPO: saved_model}) as hub:
        result = load_in_subprocess(REPO, hf_home, endpoint=hub.endpoint, reference=saved_model / WEIGHTS_NAME)
    assert all(r.status == 200 for r in hub.requests), hub.requests
    return result, hub.fetched(REPO), hf_home


def test_hub_repo_id_loads_bit_identical_weights(downloaded, saved_model):
    result, fetched, hf_home = downloaded
    assert "error" not in result, result
    assert result["code"] == CODE
    assert result["identical"] is True
    assert fetched == ["config.json", WEIGHTS_NAME]
    snapshot = hf_home / "hub" / "models--photonas--test-model" / "snapshots" / repo_commit(saved_model)
    assert (snapshot / WEIGHTS_NAME).read_bytes() == (saved_model / WEIGHTS_NAME).read_bytes()


def test_hub_offline_loads_from_cache_without_server(downloaded, saved_model):
    _, _, hf_home = downloaded
    result = load_in_subprocess(REPO, hf_home, endpoint=NO_SERVER, offline=True, reference=saved_model / WEIGHTS_NAME)
    assert "error" not in result, result
    assert result["code"] == CODE
    assert result["identical"] is True


def test_hub_offline_empty_cache_raises_weights_not_found(tmp_path):
    result = load_in_subprocess(REPO, tmp_path, endpoint=NO_SERVER, offline=True)
    assert result["weights_not_found"], result
    assert REPO in result["message"]


def test_hub_repo_without_weights_raises_weights_not_found(saved_model, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(saved_model / "config.json", repo)
    with serve_hub({REPO: repo}) as hub:
        result = load_in_subprocess(REPO, tmp_path / "hf_home", endpoint=hub.endpoint)
    assert result["weights_not_found"], result
    assert REPO in result["message"]
    assert [(r.filename, r.status) for r in hub.requests if r.filename == WEIGHTS_NAME] == [(WEIGHTS_NAME, 404)]


def test_hub_weights_of_another_code_do_not_fit(saved_model, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(saved_model / "config.json", repo)
    safetensors.torch.save_model(Decoder(ArchCode.parse("0" * 32)), str(repo / WEIGHTS_NAME))
    with serve_hub({REPO: repo}) as hub:
        result = load_in_subprocess(REPO, tmp_path / "hf_home", endpoint=hub.endpoint)
    assert result["value_error"] and not result["weights_not_found"], result
    assert "does not fit" in result["message"]
    assert hub.fetched(REPO) == ["config.json", WEIGHTS_NAME]


def test_local_folder_loads_without_server(saved_model):
    model = StyleTransferModel.from_pretrained(saved_model)
    assert str(model.code) == CODE
    saved = safetensors.torch.load_file(str(saved_model / WEIGHTS_NAME))
    loaded = model.decoder.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)


def test_local_folder_without_weights_raises(tmp_path, saved_model):
    shutil.copy(saved_model / "config.json", tmp_path)
    with pytest.raises(WeightsNotFoundError, match=re.escape(str(tmp_path / WEIGHTS_NAME))):
        StyleTransferModel.from_pretrained(tmp_path)
