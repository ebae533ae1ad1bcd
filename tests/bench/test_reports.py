"""The Markdown reports of bench/highres.py and bench/video.py, from known results."""

from __future__ import annotations

from bench.highres import highres_markdown
from bench.video import VARIANTS, video_markdown


def test_video_report_has_every_variant_and_throughput_row() -> None:
    flicker = {"clip": "pan", "frames": 8, "size": "192x128", "input": 2e-6} | {v: 1e-4 for v in VARIANTS}
    result = {
        "flicker": [flicker],
        "quality": [{"variant": v, "colour_to_style_lab": 8.5, "edge_ssim": 0.7} for v in VARIANTS],
        "throughput": [{"resolution": "720p", "mode": "fast", "seconds_per_frame": 0.61, "frames_per_second": 1.64}],
    }
    text = video_markdown(result, "a 2-core CPU")
    assert "a 2-core CPU" in text and "8 frames of 192x128 px" in text
    assert "| pan | 2e-06 | " + " | ".join(["0.0001"] * len(VARIANTS)) + " |" in text
    assert all(f"| {v} | 8.5 | 0.7 |" in text for v in VARIANTS)
    assert "| 720p | fast | 0.61 | 1.64 |" in text


def test_video_report_without_throughput_skips_its_table() -> None:
    assert "Throughput" not in video_markdown({"flicker": [], "quality": []}, "m")


def test_highres_report_lists_exact_rows_only_where_measured() -> None:
    rows = [
        {
            "photo": "a.jpg",
            "size": "4000x3000",
            "megapixels": 12.0,
            "fast_seconds": 4.2,
            "fast_peak_rss_mb": 1437,
            "ssim": 0.82,
            "psnr_db": 27.6,
            "exact_seconds": 66.0,
            "exact_peak_rss_mb": 2665,
            "native_ssim": 0.83,
            "native_psnr_db": 28.7,
        },
        {
            "photo": "b.jpg",
            "size": "3264x2448",
            "megapixels": 8.0,
            "fast_seconds": 3.2,
            "fast_peak_rss_mb": 1343,
            "ssim": 0.79,
            "psnr_db": 23.2,
        },
    ]
    settings = {
        "photos": "runs/wallpapers",
        "style": "runs/s.jpg",
        "work": 1024,
        "compare_side": 1280,
        "compare_work": 320,
    }
    text = highres_markdown({"machine": "a 2-core CPU", "settings": settings, "rows": rows})
    assert "| a.jpg | 4000x3000 | 12.0 | 4.2 | 1437 | 0.82 | 27.6 |" in text
    assert "| b.jpg | 3264x2448 | 8.0 | 3.2 | 1343 | 0.79 | 23.2 |" in text
    assert "| a.jpg | 12.0 | 66.0 | 2665 | 0.83 | 28.7 |" in text
    assert text.count("b.jpg") == 1
