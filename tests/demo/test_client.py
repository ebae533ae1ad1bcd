"""The served demo through ``gradio_client``, as an API user (or a script) calls it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.client import Job
from gradio_client.exceptions import AppError
from helpers import gradient_photo
from PIL import Image

from demo.ui import MAX_FILE_SIZE


@pytest.fixture(scope="module")
def client(demo_server: tuple[str, Path, int], tmp_path_factory: pytest.TempPathFactory) -> Client:
    """A client that downloads every output file into a folder of its own, as a remote caller would."""
    url, _, _ = demo_server
    return Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("client_downloads")))


def _stylize(client: Client, content: Path, style: Path, **kwargs: object) -> tuple:
    return client.predict(
        content=handle_file(str(content)), style=handle_file(str(style)), api_name="/stylize", **kwargs
    )


def test_server_loaded_hub_weights_offline(demo_server):
    _, log, _ = demo_server
    text = log.read_text()
    assert "PhotoNAS weights: Hub repo photonas/demo-test-model" in text
    assert "PhotoNet weights: bundled weights" in text


def test_round_trip_returns_content_sized_image(client, write_image):
    content = write_image(gradient_photo((96, 64), seed=1), "content.png")
    style = write_image(gradient_photo((80, 80), seed=2), "style.jpg")
    (before, after), info, download, found = _stylize(client, content, style, model="PhotoNet", alpha=0.8)
    for served in (before, after, download):
        with Image.open(served) as image:
            assert image.size == (96, 64)
    assert "96×64 px" in info and "PhotoNet" in info and "strength 0.80" in info


def test_corrupt_upload_gets_the_library_message(client, tmp_path, write_image):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    style = write_image(gradient_photo((32, 32), seed=3), "style.png")
    with pytest.raises(AppError, match=r"content image 'broken\.jpg' (is not an image|cannot be read)"):
        _stylize(client, broken, style)


def test_oversized_image_is_refused_before_decoding(client, write_image):
    huge = write_image(Image.new("L", (5100, 5000)), "huge.png")  # 25.5 MP, a few kB as PNG
    style = write_image(gradient_photo((32, 32), seed=4), "style.png")
    with pytest.raises(AppError, match=r"style image 'huge\.png' is 5100×5000 pixels \(25\.5 megapixels\)") as caught:
        _stylize(client, style, huge)
    assert "up to 25 megapixels" in str(caught.value) and "PHOTONAS_MAX_PIXELS" not in str(caught.value)


def test_server_refuses_uploads_over_the_size_limit(demo_server):
    url, _, _ = demo_server
    limit = int(MAX_FILE_SIZE.removesuffix("mb")) * 1024 * 1024
    for size, status in ((limit + 1, 413), (1000, 200)):
        files = {"files": ("photo.png", b"\0" * size, "image/png")}
        assert httpx.post(f"{url}gradio_api/upload", files=files, timeout=60).status_code == status


def _peak_memory_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB where /proc tells it (Linux), else NaN."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# 50 tiny requests through the one queue of a CPU server; each takes well under a second alone.
BURST = 50
BURST_DEADLINE_S = 300


def test_fifty_concurrent_requests_all_complete_in_bounded_time(client, demo_server, write_image):
    # Distinct photos: the client names downloads by content hash, so identical outputs fetched
    # at once would share (and race on) one file.
    contents = [write_image(gradient_photo((48, 32), seed=10 + i), f"content{i}.png") for i in range(BURST)]
    style = write_image(gradient_photo((32, 32), seed=7), "style.png")
    peak_before = _peak_memory_mib(demo_server.pid)
    start = time.monotonic()
    jobs = [
        (time.monotonic(), client.submit(content=handle_file(str(c)), style=handle_file(str(style)), api_name="/stylize"))
        for c in contents
    ]  # fmt: skip

    def wait(job: tuple[float, Job]) -> tuple[float, tuple]:
        submitted, future = job
        remaining = BURST_DEADLINE_S - (time.monotonic() - start)
        result = future.result(timeout=max(remaining, 1))
        return time.monotonic() - submitted, result

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        done = list(pool.map(wait, jobs))
    total = time.monotonic() - start
    waits = [seconds for seconds, _ in done]
    peak = _peak_memory_mib(demo_server.pid)
    print(
        f"\n{BURST} requests: all done in {total:.1f} s, longest wait {max(waits):.1f} s, "
        f"median {sorted(waits)[BURST // 2]:.1f} s; server peak memory (VmHWM) {peak_before:.0f} MiB before, "
        f"{peak:.0f} MiB after"
    )
    assert len(done) == BURST and total < BURST_DEADLINE_S
    for _, ((_, after), info, _, _) in done:
        assert "48×32 px" in info
        with Image.open(after) as image:
            assert image.size == (48, 32)
