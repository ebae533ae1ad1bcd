"""Shared test fixtures: a writer for generated images, an untrained model folder, one intra-op thread.

No test reads the benchmark data (../shared/data) or trained runs (runs/): a fresh clone runs them
all (the browser test needs chromium).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from photonas.arch import PHOTONAS
from photonas.model import StyleTransferModel


@pytest.fixture
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """Saves a generated PIL image under tmp_path and returns its path.

    Call as `write_image(image, "name.png", **save_options)`.
    """

    def write(image: Image.Image, filename: str, **save_options: object) -> Path:
        path = tmp_path / filename
        image.save(path, **save_options)
        return path

    return write


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, untrained PhotoNAS-code model saved like shipped weights (its transfers are in the decoder)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    StyleTransferModel(str(PHOTONAS)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module of tiny tensors (threads only contend there, and
    ``train()`` changes the process's count); the previous setting is restored after.

    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
