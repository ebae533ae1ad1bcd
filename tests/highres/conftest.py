"""Fixtures of the high-resolution tests: the untrained PhotoNAS-code model, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from photonas import StyleTransferModel


@pytest.fixture(scope="session")
def untrained(model_dir: Path) -> StyleTransferModel:
    """The root conftest's seeded, untrained model (read-only here: every test only runs it)."""
    return StyleTransferModel.from_pretrained(model_dir)
