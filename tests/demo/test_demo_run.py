"""One demo request in-process (demo/run.py): errors worded for visitors, working size, clean download.

Named test_demo_run.py because tests/ has no __init__.py and tests/bench/test_run.py exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from helpers import gradient_photo, label_halves
from PIL import Image

from demo import run
from demo.regions import BRUSH_COLOURS

pytestmark = pytest.mark.usefixtures("one_thread")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _painted(height: int, width: int, colour_index: int | None) -> dict:
    """An editor value with the top half painted in one brush colour (or nothing painted)."""
    layer = np.zeros((height, width, 4), np.uint8)
    if colour_index is not None:
        hex_colour = BRUSH_COLOURS[colour_index][1].lstrip("#")
        layer[: height // 2, :, :3] = [int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)]
        layer[: height // 2, :, 3] = 255
    return {"background": None, "layers": [layer], "composite": None}


@pytest.fixture
def photos(write_image):
    return str(write_image(gradient_photo((64, 48), seed=1), "content.png")), str(
        write_image(gradient_photo((40, 40), seed=2), "style.png")
    )


def test_request_returns_before_after_info_and_download(photos):
    (before, after), info, download, found = run.stylize_request(*photos, model="PhotoNAS", alpha=0.5)
    assert found is None  # no automatic regions asked for
    assert before.size == after.size == (64, 48)
    assert "64×48 px" in info and "strength 0.50" in info
    with Image.open(download) as saved:
        assert saved.format == "PNG" and saved.size == (64, 48)


def test_download_carries_no_location_or_other_metadata(write_image, photos):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    content = write_image(gradient_photo((48, 32), seed=3), "gps.jpg", exif=exif.tobytes())
    with Image.open(content) as source:
        assert source.getexif()  # the upload really carries EXIF and a location
    _, _, download, _ = run.stylize_request(str(content), photos[1])
    with Image.open(download) as saved:
        assert not saved.getexif() and not saved.info.get("exif") and not getattr(saved, "text", {})


def test_photos_are_shrunk_to_the_working_size(write_image, monkeypatch):
    monkeypatch.setenv(run.MAX_SIDE_ENV, "64")
    content = write_image(gradient_photo((200, 100), seed=4), "wide.png")
    style = write_image(gradient_photo((90, 90), seed=5), "style.png")
    (before, after), info, _, _ = run.stylize_request(str(content), str(style))
    assert before.size == after.size == (64, 32)
    assert "64×32 px" in info


def test_missing_photo_and_unknown_model_are_visitor_errors(photos):
    with pytest.raises(gr.Error, match="Upload a content photo and a style photo"):
        run.stylize_request(None, photos[1])
    with pytest.raises(gr.Error, match="Unknown model"):
        run.stylize_request(*photos, model="nope")


def test_broken_upload_names_the_file_not_the_server_folder(tmp_path, photos):
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"not a photo at all")
    with pytest.raises(gr.Error) as caught:
        run.stylize_request(str(broken), photos[1])
    message = str(caught.value)
    assert "content image 'holiday.jpg'" in message and str(tmp_path) not in message


def test_painted_regions_reach_stylize(photos):
    (_, after), info, _, _ = run.stylize_request(
        *photos, content_paint=_painted(48, 64, 0), style_paint=_painted(40, 40, 0)
    )
    assert after.size == (64, 48) and "with regions" in info


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content_paint": _painted(48, 64, 0)}, "on the style photo too"),
        ({"style_paint": _painted(40, 40, 1)}, "on the content photo too"),
        ({"content_paint": _painted(48, 64, 0), "style_paint": _painted(40, 40, 1)}, "No brush colour is used on both"),
    ],
)
def test_unmatched_painting_is_a_visitor_error(photos, kwargs, message):
    with pytest.raises(gr.Error, match=message):
        run.stylize_request(*photos, **kwargs)


def test_uploaded_label_maps_need_both_sides_and_not_painting_too(write_image, photos):
    content_map = str(write_image(label_halves((64, 48)), "content_map.png"))
    style_map = str(write_image(label_halves((40, 40)), "style_map.png"))
    (_, after), info, _, _ = run.stylize_request(*photos, content_map=content_map, style_map=style_map)
    assert after.size == (64, 48) and "with regions" in info
    with pytest.raises(gr.Error, match="needs the style's label map"):
        run.stylize_request(*photos, content_map=content_map)
    with pytest.raises(gr.Error, match="needs the content's label map"):
        run.stylize_request(*photos, style_map=style_map)
    with pytest.raises(gr.Error, match="one way"):
        run.stylize_request(*photos, content_map=content_map, style_map=style_map, content_paint=_painted(48, 64, 0))


def test_label_map_of_the_wrong_shape_is_the_library_message(write_image, photos):
    content_map = str(write_image(label_halves((20, 60)), "tall_map.png"))
    style_map = str(write_image(label_halves((40, 40)), "style_map.png"))
    with pytest.raises(gr.Error, match="content label map is 20x60 but the content image is 64x48"):
        run.stylize_request(*photos, content_map=content_map, style_map=style_map)


def test_full_size_output_downloads_the_whole_photo(write_image, monkeypatch):
    mode = "fast"  # exact differs only in the mode passed on (and is offered on GPUs only)
    monkeypatch.setenv(run.MAX_SIDE_ENV, "96")
    content = write_image(gradient_photo((200, 100), seed=8), "big.png")
    style = write_image(gradient_photo((90, 90), seed=9), "style.png")
    resolution = next(name for name, value in run.RESOLUTIONS.items() if value == mode)
    (before, after), info, download, _ = run.stylize_request(str(content), str(style), resolution=resolution)
    assert before.size == after.size == (96, 48)  # shown at working size
    with Image.open(download) as saved:
        assert saved.size == (200, 100)  # downloaded at full size
    assert "200×100 px" in info and f"{mode} full size" in info


def test_unknown_resolution_is_a_visitor_error(photos):
    with pytest.raises(gr.Error, match="Unknown resolution"):
        run.stylize_request(*photos, resolution="huge")


def test_size_limit_is_told_in_plain_words(write_image, photos, monkeypatch):
    monkeypatch.setattr(run, "MAX_PIXELS", 2_000)
    big = write_image(gradient_photo((80, 50), seed=6), "big.png")
    with pytest.raises(gr.Error) as caught:
        run.stylize_request(str(big), photos[1])
    message = str(caught.value)
    assert "content image 'big.png' is 80×50 pixels (0.0 megapixels)" in message
    assert "up to 0.002 megapixels" in message and "smaller photo" in message
    for advice in ("PHOTONAS_MAX_PIXELS", "max_pixels", "MAX_IMAGE_PIXELS", "environment"):
        assert advice not in message  # server settings a visitor cannot change


def test_pillow_limit_is_told_in_plain_words(write_image, photos, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)  # Pillow refuses over twice this, before our check
    big = write_image(gradient_photo((200, 150), seed=6), "big.png")
    with pytest.raises(gr.Error) as caught:
        run.stylize_request(photos[0], str(big))
    message = str(caught.value)
    assert "style image 'big.png' is far too large" in message and "MAX_IMAGE_PIXELS" not in message


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_results_are_expired_and_capped(monkeypatch, tmp_path):
    monkeypatch.setattr(run, "DOWNLOAD_DIR", tmp_path)
    monkeypatch.setattr(run, "DOWNLOAD_MAX_FILES", 3)
    monkeypatch.setattr(run, "DOWNLOAD_MAX_BYTES", 10_000)
    files = [tmp_path / f"photonas-{i}.png" for i in range(6)]
    for age, path in enumerate(files):  # photonas-0 newest … photonas-5 oldest
        path.write_bytes(b"x" * 100)
        _age(path, 10 * age)
    _age(files[1], run.DOWNLOAD_MAX_AGE_S + 1)
    run.prune_downloads()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photonas-0.png", "photonas-2.png", "photonas-3.png"]
    (tmp_path / "photonas-big.mp4").write_bytes(b"x" * 9_950)  # newest; the rest no longer fits the size cap
    run.prune_downloads()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photonas-big.mp4"]
    assert run.download_path(".png").parent == tmp_path


def test_result_folder_is_removed_when_the_server_stops(tmp_path):
    """SIGTERM (how a server or Space is stopped) exits normally, so the folder goes with it."""
    script = (
        "import time\n"
        "from demo import run\n"
        "run.save_download(run.Image.new('RGB', (4, 4)))\n"
        "print(run.DOWNLOAD_DIR, flush=True)\n"
        "time.sleep(120)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", script]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        folder = Path(proc.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.name.startswith("photonas-demo-")
        assert len(list(folder.iterdir())) == 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert not folder.exists(), proc.stderr.read()
    assert proc.returncode == 128 + signal.SIGTERM


def test_automatic_regions_are_shown(photos):
    (_, after), info, _, found = run.stylize_request(*photos, auto_regions=True)
    assert "automatic regions" in info
    assert isinstance(found, Image.Image) and found.size == after.size
    with pytest.raises(gr.Error, match="automatic regions find the regions themselves"):
        run.stylize_request(*photos, auto_regions=True, content_paint=_painted(48, 64, 0), style_paint=_painted(40, 40, 0))


def test_raw_output_is_offered(photos):
    (_, default), _, _, _ = run.stylize_request(*photos)
    (_, raw), info, _, _ = run.stylize_request(*photos, raw=True)
    assert "raw output" in info
    assert not np.array_equal(np.asarray(default), np.asarray(raw))
