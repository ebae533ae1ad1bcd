"""The ``photonas`` command, run in-process through ``main(argv)`` with a small untrained model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import gradient_photo as _photo
from helpers import label_halves as _halves
from PIL import Image

from photonas import __version__, cli, presets
from photonas.api import style_preset
from photonas.hub import _load_cached
from photonas.presets import PRESETS

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTENT_SIZE = (48, 40)  # (width, height)
STYLE_SIZE = (67, 101)


def _save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return _save(_photo(CONTENT_SIZE, 1), tmp_path / "content.png")


@pytest.fixture
def style(tmp_path: Path) -> Path:
    return _save(_photo(STYLE_SIZE, 2), tmp_path / "style.jpg")


def load_model_cache_clear() -> None:
    """Forget the models loaded by name (a test that moves the shipped weights must not get them cached)."""
    _load_cached.cache_clear()


def _run(*argv: object) -> int:
    return cli.main([str(a) for a in argv])


def _opened(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--version") == 0
    assert capsys.readouterr().out.strip() == f"photonas {__version__}"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--help") == 0
    out = capsys.readouterr().out
    assert "stylize" in out and "preset" in out
    assert all(name in out for name in PRESETS)
    assert _run("stylize", "--help") == 0
    out = capsys.readouterr().out
    assert "--content-mask" in out and "--max-pixels" in out and "examples:" in out
    assert _run("preset", "--help") == 0
    assert "examples:" in capsys.readouterr().out


def test_stylize_single_image(
    model_dir: Path, content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "result.png"
    assert _run("stylize", content, style, "-o", out, "--model", model_dir, "--device", "cpu") == 0
    result = _opened(out)
    assert result.size == CONTENT_SIZE and result.mode == "RGB"
    assert str(out) in capsys.readouterr().out


def test_raw_writes_the_network_output(model_dir: Path, content: Path, style: Path, tmp_path: Path) -> None:
    """--raw is stylize(raw=True) (the paper's output); without it, the photo-faithful default."""
    from photonas.api import stylize

    for flag, raw in (("--raw", True), (None, False)):
        out = tmp_path / f"{raw}.png"
        assert _run("stylize", content, style, "-o", out, "--model", model_dir, *([flag] if flag else [])) == 0
        expected = stylize(content, style, str(model_dir), device="cpu", raw=raw)
        assert np.array_equal(np.asarray(_opened(out)), np.asarray(expected))
    assert not np.array_equal(np.asarray(_opened(tmp_path / "True.png")), np.asarray(_opened(tmp_path / "False.png")))


def test_auto_regions_single_and_batch(model_dir: Path, content: Path, style: Path, tmp_path: Path) -> None:
    from photonas.api import stylize

    out = tmp_path / "auto.png"
    assert _run("stylize", content, style, "-o", out, "--model", model_dir, "--auto-regions") == 0
    expected = stylize(content, style, str(model_dir), masks="auto", device="cpu")
    assert np.array_equal(np.asarray(_opened(out)), np.asarray(expected))
    folder = tmp_path / "photos"
    _save(_photo(CONTENT_SIZE, 3), folder / "a.png")
    assert _run("stylize", folder, style, "-o", tmp_path / "styled", "--model", model_dir, "--auto-regions") == 0
    assert _opened(tmp_path / "styled" / "a.png").size == CONTENT_SIZE


def test_auto_regions_refuses_maps_and_presets_without_regions(
    model_dir: Path, content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mask = _save(_halves(CONTENT_SIZE), tmp_path / "mask.png")
    argv = ("stylize", content, style, "-o", tmp_path / "o.png", "--model", model_dir, "--auto-regions")
    assert _run(*argv, "--content-mask", mask, "--style-mask", mask) == 2
    assert "not both" in capsys.readouterr().err
    preset = tmp_path / "p.safetensors"
    assert _run("preset", style, "-o", preset, "--model", model_dir) == 0
    assert _run("stylize", content, preset, "-o", tmp_path / "o.png", "--model", model_dir, "--auto-regions") == 1
    assert "photonas preset --auto-regions" in capsys.readouterr().err
    assert _run("preset", style, "-o", preset, "--model", model_dir, "--auto-regions", "--style-mask", mask) == 2
    assert _run("preset", style, "-o", preset, "--model", model_dir, "--auto-regions") == 0
    assert _run("stylize", content, preset, "-o", tmp_path / "p.png", "--model", model_dir, "--auto-regions") == 0
    assert _run(*argv) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p.png")), np.asarray(Image.open(tmp_path / "o.png")))


def test_stylize_adain_jpeg(model_dir: Path, content: Path, style: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.JPG"
    argv = ("stylize", content, style, "-o", out, "--model", model_dir, "--method", "adain", "--alpha", "0.5")
    assert _run(*argv, "--quality", "80") == 0
    with Image.open(out) as result:
        assert result.format == "JPEG" and result.size == CONTENT_SIZE


def test_batch_with_corrupt_file(
    model_dir: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summaries = []

    def counted_preset(*args: object, **kwargs: object) -> object:
        summaries.append(args[0])
        return style_preset(*args, **kwargs)

    monkeypatch.setattr(cli, "style_preset", counted_preset)
    photos = tmp_path / "photos"
    _save(_photo(CONTENT_SIZE, 3), photos / "a.png")
    _save(_photo(STYLE_SIZE, 4), photos / "b.JPG")
    (photos / "bad.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (photos / "notes.txt").write_text("not an image")
    _save(_photo(CONTENT_SIZE, 5), photos / "nested" / "skipped.png")
    out = tmp_path / "styled"

    assert _run("stylize", photos, style, "-o", out, "--model", model_dir) == 1

    assert summaries == [style]  # the style is summarised once for the whole folder
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.JPG"]
    assert _opened(out / "a.png").size == CONTENT_SIZE
    assert _opened(out / "b.JPG").size == STYLE_SIZE
    captured = capsys.readouterr()
    assert "stylised 2 of 3 images" in captured.out and "failed: bad.jpg (" in captured.out
    assert "bad.jpg" in captured.err and "Traceback" not in captured.err


def test_preset_then_stylize(model_dir: Path, content: Path, style: Path, tmp_path: Path) -> None:
    preset = tmp_path / "look.safetensors"
    assert _run("preset", style, "-o", preset, "--model", model_dir) == 0
    assert preset.is_file()
    from_preset, from_image = tmp_path / "from_preset.png", tmp_path / "from_image.png"
    assert _run("stylize", content, preset, "-o", from_preset, "--model", model_dir) == 0
    assert _run("stylize", content, style, "-o", from_image, "--model", model_dir) == 0
    np.testing.assert_array_equal(np.asarray(_opened(from_preset)), np.asarray(_opened(from_image)))


def test_preset_needs_safetensors_name(style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("preset", style, "-o", tmp_path / "look.bin") == 2
    assert ".safetensors" in capsys.readouterr().err


def test_masks_single_and_batch(
    model_dir: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    style_map = _save(_halves(STYLE_SIZE, vertical_split=False), tmp_path / "style_seg.png")
    photos, maps = tmp_path / "photos", tmp_path / "photos_seg"
    first = _save(_photo(CONTENT_SIZE, 6), photos / "first.png")
    _save(_photo(CONTENT_SIZE, 7), photos / "unmapped.png")
    first_map = _save(_halves(CONTENT_SIZE), maps / "first.png")

    single = tmp_path / "single.png"
    masks = ("--content-mask", first_map, "--style-mask", style_map)
    unmasked = tmp_path / "unmasked.png"
    assert _run("stylize", first, style, "-o", single, "--model", model_dir, *masks) == 0
    assert _run("stylize", first, style, "-o", unmasked, "--model", model_dir) == 0
    assert _opened(single).size == CONTENT_SIZE
    assert not np.array_equal(np.asarray(_opened(single)), np.asarray(_opened(unmasked)))  # regions were used

    out = tmp_path / "styled"
    batch_masks = ("--content-mask", maps, "--style-mask", style_map)
    assert _run("stylize", photos, style, "-o", out, "--model", model_dir, *batch_masks, "--ext", "webp") == 1
    assert [p.name for p in out.iterdir()] == ["first.webp"]
    captured = capsys.readouterr()
    assert "stylised 1 of 2 images" in captured.out and "unmapped.png (no content label map" in captured.out


def test_content_mask_needs_style_regions(
    content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content_map = _save(_halves(CONTENT_SIZE), tmp_path / "seg.png")
    assert _run("stylize", content, style, "-o", tmp_path / "out.png", "--content-mask", content_map) == 2
    assert "--style-mask" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("-o", "out.gif"), "unknown image extension '.gif'"),
        (("-o", "out.png", "--ext", "png"), "--ext is for batch mode"),
        (("-o", "out.png", "--device", "warp-drive"), "unknown device"),
    ],
)
def test_usage_errors(
    content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    argv = tuple(str(tmp_path / a) if a.startswith("out.") else a for a in argv)
    assert _run("stylize", content, style, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("photonas: error: ") and message in err
    assert not list(tmp_path.glob("out.*"))


def test_bad_option_value(content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("stylize", content, style, "-o", tmp_path / "out.png", "--alpha", "1.5") == 2
    assert "alpha (style strength) must be in [0, 1]" in capsys.readouterr().err


def test_missing_content(model_dir: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jpg"
    assert _run("stylize", missing, style, "-o", tmp_path / "out.png", "--model", model_dir) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines() == [f"photonas: error: content image '{missing}' not found"]


def test_default_model_without_weights(
    content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path / "weights")  # a checkout without shipped weights
    load_model_cache_clear()
    try:
        assert _run("stylize", content, style, "-o", tmp_path / "out.png") != 0
    finally:
        load_model_cache_clear()
    err = capsys.readouterr().err
    assert "no trained decoder" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_keyboard_interrupt_is_quiet(
    content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_model", interrupted)
    assert _run("stylize", content, style, "-o", tmp_path / "out.png") == 130
    assert capsys.readouterr().err == ""


def test_python_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "photonas", "--version"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"photonas {__version__}"


def _no_model(*args: object, **kwargs: object) -> None:
    raise AssertionError("the model was loaded: the check came after the work started")


@pytest.mark.parametrize(
    "target",
    ["content", "./content", "style", "content_symlink", "content_hardlink", "style_via_dotdot"],
)
def test_output_that_is_an_input_is_refused(
    content: Path,
    style: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:
    link = tmp_path / "link.png"
    if target == "content_symlink":
        link.symlink_to(content)
    elif target == "content_hardlink":
        link.hardlink_to(content)
    (tmp_path / "sub").mkdir()
    out = {
        "content": content,
        "./content": Path(f"{tmp_path}/./{content.name}"),
        "style": style,
        "content_symlink": link,
        "content_hardlink": link,
        "style_via_dotdot": tmp_path / "sub" / ".." / style.name,
    }[target]
    before = {p: p.read_bytes() for p in (content, style)}
    monkeypatch.setattr(cli, "load_model", _no_model)
    assert _run("stylize", content, style, "-o", out, "--model", "photonas") == 2
    err = capsys.readouterr().err
    assert "would overwrite it" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in (content, style)} == before


def test_input_given_through_a_symlink_is_not_overwritten(
    content: Path, style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "link.png"
    link.symlink_to(content)
    monkeypatch.setattr(cli, "load_model", _no_model)
    assert _run("stylize", link, style, "-o", content, "--model", "photonas") == 2
    assert "is the content image" in capsys.readouterr().err


def test_batch_output_over_the_style_is_refused(
    style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    _save(_photo(CONTENT_SIZE, 3), photos / f"{style.stem}.jpg")  # its output would be tmp_path/style.jpg
    assert _run("stylize", photos, style, "-o", tmp_path) == 2
    assert "would overwrite the style image" in capsys.readouterr().err


def test_batch_output_over_a_label_map_is_refused(
    style: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos, maps = tmp_path / "photos", tmp_path / "maps"
    _save(_photo(CONTENT_SIZE, 3), photos / "a.jpg")
    label_map = _save(_halves(CONTENT_SIZE), maps / "a.png")
    before = label_map.read_bytes()
    style_map = _save(_halves(STYLE_SIZE), tmp_path / "style_map.png")
    argv = ("stylize", photos, style, "-o", maps, "--ext", "png", "--content-mask", maps, "--style-mask", style_map)
    assert _run(*argv) == 2
    assert "would overwrite the content label map" in capsys.readouterr().err
    assert label_map.read_bytes() == before


def _unwritable_outputs(tmp_path: Path, below_a_file: Path, suffix: str) -> list[Path]:
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    outputs = [below_a_file / f"result{suffix}", folder]
    if Path("/proc/self").is_dir():  # Linux: no file can be created in /proc, not even by root
        outputs.append(Path(f"/proc/photonas_result{suffix}"))
    return outputs


@pytest.mark.parametrize(("command", "suffix"), [("stylize", ".png"), ("preset", ".safetensors")])
def test_unwritable_output_fails_before_the_work_and_names_it(
    content: Path,
    style: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    suffix: str,
) -> None:
    monkeypatch.setattr(cli, "load_model", _no_model)
    inputs = (content, style) if command == "stylize" else (style,)
    for out in _unwritable_outputs(tmp_path, content, suffix):
        assert _run(command, *inputs, "-o", out) == 1, out
        err = capsys.readouterr().err
        assert err.startswith(f"photonas: error: cannot write '{out}'"), err
        assert ".tmp" not in err and "Traceback" not in err
