"""Atomic writes: a crash mid-write never leaves a partial file, and the previous one survives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import photonas.checkpoint
from photonas.checkpoint import atomic_path, save_safetensors_atomic


def test_interrupted_safetensors_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt" / "weights.safetensors"
    save_safetensors_atomic({"w": torch.ones(3)}, path, {"step": "1"})
    before = path.read_bytes()
    if os.name == "posix":  # umask permissions, not the owner-only ones of the temporary file
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask

    def crash(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str] | None = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(photonas.checkpoint, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_safetensors_atomic({"w": torch.zeros(3)}, path, {"step": "2"})
    assert path.read_bytes() == before and torch.equal(load_file(str(path))["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    with pytest.raises(OSError):
        save_safetensors_atomic({"w": torch.zeros(3)}, tmp_path / "never.safetensors")
    assert not (tmp_path / "never.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_atomic_path_replaces_only_on_success(tmp_path):
    path = tmp_path / "deep" / "file.txt"
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_text("first")
    assert path.read_text() == "first"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert path.read_text() == "first"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]

