"""Fixtures of the search tests: a folder of generated photos and the shipped teacher."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import gradient_photo

from photonas import PhotoNet


@pytest.fixture(scope="session")
def search_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 training photos (64x48) and 2 held-out ``val_*`` ones, generated."""
    folder = tmp_path_factory.mktemp("search_photos")
    for i in range(10):
        name = f"val_{i}.jpg" if i < 2 else f"img_{i}.jpg"
        gradient_photo((64, 48), seed=i).save(folder / name, quality=95)
    return folder


@pytest.fixture(scope="session")
def teacher() -> PhotoNet:
    """The shipped PhotoNet weights: the teacher every search scores against."""
    return PhotoNet.from_pretrained()
