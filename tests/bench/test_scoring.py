"""The quality run: every method on every pair and mask mode, scored; reconstruction PSNR per network."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import gradient_photo, label_halves

from bench import metrics
from bench.methods import ReferenceMethod, build_methods
from bench.pairs import Pair
from bench.scoring import METRICS, reconstruction_psnr, run_benchmark, score
from photonas.encoder import VGGEncoder
from photonas.masks import load_label_map

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def encoder() -> VGGEncoder:
    torch.manual_seed(0)
    return VGGEncoder().eval()  # random weights: the metrics only need to be computable


def _pair(name: str, seed: int, labels: bool) -> Pair:
    content = np.asarray(gradient_photo((40, 32), seed), np.float32) / 255
    style = np.asarray(gradient_photo((36, 30), seed + 1), np.float32) / 255
    if not labels:
        return Pair(name, content, style)
    c_lab = load_label_map(label_halves((40, 32)), (40, 32))
    s_lab = load_label_map(label_halves((36, 30), vertical_split=False), (36, 30))
    return Pair(name, content, style, c_lab, s_lab)


def test_score_has_every_metric_and_the_region_distance_only_with_label_maps(encoder: VGGEncoder) -> None:
    for labels in (False, True):
        pair = _pair("01", 0, labels)
        row = score(pair, pair.content, metrics.gram_matrices(pair.style, encoder), encoder)
        expected = set(METRICS) if labels else set(METRICS) - {"region_swd_lab"}
        assert set(row) == expected and all(math.isfinite(v) for v in row.values())
        assert row["ssim"] == pytest.approx(1.0) and row["edge_ssim"] == pytest.approx(1.0)  # the content itself


def test_run_benchmark_records_every_pair_mode_and_method(encoder: VGGEncoder, tmp_path: Path) -> None:
    """Masks on only where the pair has maps; a published output that is missing is a logged skip, never timed."""
    pairs = [_pair("01", 0, labels=True), _pair("02", 2, labels=False)]
    gradient_photo((20, 16), 5).save(tmp_path / "01.jpg")  # the published output of pair 01 only
    methods, _ = build_methods(["reinhard", "mk"], device="cpu")
    methods.append(ReferenceMethod("dpst", tmp_path))
    logged: list[str] = []
    records, outputs = run_benchmark(pairs, methods, [False, True], encoder, log=logged.append)
    keys = [(r["pair"], r["masks"], r["method"]) for r in records]
    assert keys == [
        ("01", False, "reinhard"), ("01", False, "mk"), ("01", False, "dpst"),
        ("01", True, "reinhard"), ("01", True, "mk"), ("01", True, "dpst"),
        ("02", False, "reinhard"), ("02", False, "mk"),
    ]  # fmt: skip
    assert any("02 dpst: skipped" in line for line in logged)
    by = {(r["pair"], r["masks"], r["method"]): r for r in records}
    assert by[("01", False, "reinhard")]["seconds"] > 0 and math.isnan(by[("01", False, "dpst")]["seconds"])
    assert "region_swd_lab" in by[("01", False, "mk")] and "region_swd_lab" not in by[("02", False, "mk")]
    assert outputs["01"]["dpst"].shape == pairs[0].content.shape  # resized to the content
    assert set(outputs["02"]) == {"reinhard", "mk"}


def test_reconstruction_psnr_once_per_network(model_dir: Path) -> None:
    """Rows sharing a network share its figure; training-free rows have none."""
    methods, skipped = build_methods([f"photonas={model_dir}", f"photonas-raw={model_dir}", "reinhard"], device="cpu")
    assert not skipped
    recon = reconstruction_psnr([_pair("01", 0, labels=False)], methods)
    assert set(recon) == {"photonas", "photonas-raw"}
    assert recon["photonas"] == recon["photonas-raw"] and math.isfinite(recon["photonas"])
