"""Hostile and careless inputs, one table for the library and one for the command line.

Each case is what a careless or hostile user might pass, with the exception (library) or exit
status (CLI) it must give and a fragment of the message that says what is wrong. The CLI must
never print a traceback. Issue 14 found the cases marked (#14); the others guard older fixes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import gradient_photo
from PIL import Image
from safetensors.torch import save_file

from photonas import cli
from photonas.io import ImageError, load_image, save_image
from photonas.model import StyleTransferModel
from photonas.style import StyleStats

REPO_ROOT = Path(__file__).resolve().parents[1]
_PRESET_META = {"format": "photonas-style-preset", "code": "0" * 32, "decoder_id": ""}


def _preset(path: Path, *, bogus: bool = False, missing: bool = False) -> Path:
    """A hand-made preset file: a field it should not have, or one it lacks."""
    tensors = {"d5.transfer/-1/mean": torch.zeros(1, 4), "d5.transfer/-1/color": torch.eye(4)[None]}
    if not missing:
        tensors["d5.transfer/-1/std"] = torch.ones(1, 4)
    if bogus:
        tensors["d5.transfer/-1/bogus"] = torch.zeros(1, 4)
    save_file(tensors, str(path), metadata=_PRESET_META)
    return path


def _model_with_config(model_dir: Path, folder: Path, config: bytes) -> Path:
    shutil.copytree(model_dir, folder)
    (folder / "config.json").write_bytes(config)
    return folder


class Env:
    """What a case builds its input from: a folder of its own and a saved small model."""

    def __init__(self, tmp_path: Path, model_dir: Path) -> None:
        self.tmp, self.model_dir = tmp_path, model_dir
        self.content = tmp_path / "content.png"
        self.style = tmp_path / "style.jpg"
        gradient_photo((40, 32), seed=1).save(self.content)
        gradient_photo((36, 36), seed=2).save(self.style)

    def model(self, config: bytes) -> Path:
        return _model_with_config(self.model_dir, self.tmp / "model", config)

    def below_a_file(self, name: str) -> Path:
        return self.content / name

    def stylize(self, content: Path, style: Path, model: Path | None = None) -> list[object]:
        """``photonas stylize`` arguments writing o.png with the small model (or ``model``)."""
        return ["stylize", content, style, "-o", self.tmp / "o.png", "--model", model or self.model_dir]

    def file(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path


@pytest.fixture
def env(tmp_path: Path, model_dir: Path) -> Env:
    return Env(tmp_path, model_dir)


# (id, call that must raise, exception type, message fragment)
LIBRARY_CASES: list[tuple[str, Callable[[Env], object], type[BaseException], str]] = [
    ("config not JSON (#14)", lambda e: StyleTransferModel.from_pretrained(e.model(b"{code: 1}")), ValueError,
     "config.json is not a usable model config: it is not valid JSON (Expecting property name"),
    ("config empty (#14)", lambda e: StyleTransferModel.from_pretrained(e.model(b"")), ValueError,
     "config.json is not a usable model config: it is not valid JSON"),
    ("config a list (#14)", lambda e: StyleTransferModel.from_pretrained(e.model(b"[1, 2]")), ValueError,
     "config.json is not a usable model config: it holds a JSON list"),
    ("config not UTF-8 (#14)", lambda e: StyleTransferModel.from_pretrained(e.model(b"\xff\xfe{}")), ValueError,
     "config.json is not a usable model config: it is not UTF-8 text"),
    ("config bad code (#14)", lambda e: StyleTransferModel.from_pretrained(e.model(b'{"code": "01"}')), ValueError,
     'its "code" is not an architecture code'),
    ("preset unknown field (#14)", lambda e: StyleStats.load(_preset(e.tmp / "p.safetensors", bogus=True)),
     ValueError, "unknown field 'bogus'"),
    ("preset missing field (#14)", lambda e: StyleStats.load(_preset(e.tmp / "p.safetensors", missing=True)),
     ValueError, "lacks field(s) std"),
    ("preset random bytes", lambda e: StyleStats.load(e.file("p.safetensors", b"xx")),
     ValueError, "not a readable style preset"),
    ("save below a file (#14)", lambda e: save_image(Image.new("RGB", (4, 4)), e.below_a_file("out.png")), OSError,
     "cannot write '"),
    ("save into a folder's name (#14)", lambda e: save_image(Image.new("RGB", (4, 4)), e.tmp), ImageError,
     "unknown extension"),
    ("image random bytes", lambda e: load_image(b"\x00garbage" * 10, name="content image"), ImageError,
     "content image (80 bytes in memory) is not an image"),
    ("image NaN array", lambda e: load_image(np.full((4, 4, 3), np.nan, np.float32)), ImageError,
     "contains NaN or infinite values"),
    ("image as tensor", lambda e: load_image(torch.rand(1, 3, 4, 4)), ImageError, "is a torch.Tensor"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "error", "fragment"), [c[1:] for c in LIBRARY_CASES], ids=[c[0] for c in LIBRARY_CASES]
)
def test_library_hostile_input(env: Env, build: Callable, error: type[BaseException], fragment: str) -> None:
    with pytest.raises(error) as caught:
        build(env)
    assert fragment in str(caught.value)
    assert ".tmp" not in str(caught.value)  # never the name of a hidden temporary file


# (id, argv built from the env, exit status, message fragment)
CLI_CASES: list[tuple[str, Callable[[Env], list[object]], int, str]] = [
    ("-o is the content (#14)", lambda e: ["stylize", e.content, e.style, "-o", e.content], 2,
     "is the content image"),
    ("-o is ./style (#14)", lambda e: ["stylize", e.content, e.style, "-o", f"{e.tmp}/./{e.style.name}"], 2,
     "is the style image"),
    ("-o below a file (#14)", lambda e: ["stylize", e.content, e.style, "-o", e.below_a_file("out.png")], 1,
     "cannot write '"),
    ("preset -o below a file (#14)", lambda e: ["preset", e.style, "-o", e.below_a_file("p.safetensors")], 1,
     "cannot write '"),
    ("video -o is the video (#14)", lambda e: ["video", e.file("in.mp4", b"v"), e.style, "-o", e.tmp / "in.mp4"], 2,
     "is the video"),
    ("config not JSON (#14)", lambda e: e.stylize(e.content, e.style, model=e.model(b"{,")), 1,
     "config.json is not a usable model config: it is not valid JSON"),
    ("preset unknown field (#14)", lambda e: e.stylize(e.content, _preset(e.tmp / "p.safetensors", bogus=True)), 1,
     "unknown field 'bogus'"),
    ("preset missing field (#14)", lambda e: e.stylize(e.content, _preset(e.tmp / "p.safetensors", missing=True)), 1,
     "lacks field(s) std"),
    ("content not an image", lambda e: e.stylize(e.file("x.png", b"junk"), e.style), 1, "is not an image"),
    ("style missing", lambda e: ["stylize", e.content, e.tmp / "nope.jpg", "-o", e.tmp / "o.png"], 1, "not found"),
    ("alpha out of range", lambda e: ["stylize", e.content, e.style, "-o", e.tmp / "o.png", "--alpha", "2"], 2,
     "must be in [0, 1]"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "status", "fragment"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_hostile_input(
    env: Env, capsys: pytest.CaptureFixture[str], argv: Callable, status: int, fragment: str
) -> None:
    before = {p: p.read_bytes() for p in (env.content, env.style)}
    assert cli.main([str(a) for a in argv(env)]) == status
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(("photonas: error: ", "photonas stylize: error: "))
    assert {p: p.read_bytes() for p in before} == before  # no input touched


def test_cli_hostile_preset_in_a_real_process(env: Env) -> None:
    """The installed entry point, not main() in-process: the bad preset ends in one line, no traceback."""
    preset = _preset(env.tmp / "hand_made.safetensors", bogus=True)
    argv = ["stylize", env.content, preset, "-o", env.tmp / "o.png", "--model", env.model_dir, "--device", "cpu"]
    result = subprocess.run(
        [sys.executable, "-m", "photonas", *map(str, argv)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("photonas: error: ")
    assert "unknown field 'bogus'" in result.stderr
