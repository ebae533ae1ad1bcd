"""The demo served by ``python app.py`` in a subprocess, offline, for the client and browser tests.

The server runs as a Space would: ``HF_HUB_OFFLINE=1``, analytics off, PhotoNAS weights from
the Hub repo named by ``PHOTONAS_HUB_REPO`` (served from a local Hub cache filled beforehand
from tests/hub_server.py, never the real Hub), PhotoNet from the bundled weights.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from hub_server import serve_hub  # tests/ has no __init__.py: pytest puts it on sys.path
from huggingface_hub import hf_hub_download

from photonas.hub import WEIGHTS_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
HUB_REPO = "photonas/demo-test-model"
# Offline loads must not connect anywhere; if one tried, loopback port 9 has nothing to answer.
NO_SERVER = "http://127.0.0.1:9"
START_TIMEOUT_S = 120


class DemoServer(NamedTuple):
    """A running ``python app.py``: where it serves, its log file and its process id."""

    url: str
    log: Path
    pid: int


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def hub_cache(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HF_HOME whose Hub cache holds HUB_REPO (the small saved model), fetched from a local Hub."""
    hf_home = tmp_path_factory.mktemp("demo_hf_home")
    with serve_hub({HUB_REPO: model_dir}) as hub:
        for filename in ("config.json", WEIGHTS_NAME):
            hf_hub_download(HUB_REPO, filename, cache_dir=hf_home / "hub", endpoint=hub.endpoint)
    return hf_home


@pytest.fixture(scope="session")
def demo_server(hub_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``python app.py`` on a free localhost port."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("demo_server") / "server.log"
    demo_vars = ("PHOTONAS_HUB_REPO", "PHOTONET_HUB_REPO", "PHOTONAS_DEMO_MAX_SIDE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GRADIO_")) and k not in demo_vars}
    env.update(
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HOME=str(hub_cache),
        HF_HUB_CACHE=str(hub_cache / "hub"),
        HF_HUB_OFFLINE="1",
        HF_ENDPOINT=NO_SERVER,
        PHOTONAS_HUB_REPO=HUB_REPO,
        # The tests send tiny images, for which threads only contend (badly so on a shared CPU).
        OMP_NUM_THREADS="1",
    )
    url = f"http://127.0.0.1:{port}/"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url} within {START_TIMEOUT_S} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield DemoServer(url, log_path, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
