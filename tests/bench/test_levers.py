"""The lever table on a tiny size: every configuration runs, the fast paths stay faithful."""

from __future__ import annotations

import math

import pytest

from bench.levers import main, markdown, measure
from bench.pairs import load_example_pairs
from photonas.device import choose_device


@pytest.mark.usefixtures("one_thread")
def test_levers_measure_speed_and_faithfulness() -> None:
    pairs = load_example_pairs(64)[:1]
    records = measure(["reference", "fp32", "bf16_cl", "bf16_cl_zero"], ["64"], pairs, choose_device("cpu"), rounds=1, log=lambda _: None)
    by = {r["config"]: r for r in records}
    assert math.isinf(by["reference"]["psnr_min"])  # the reference against itself
    assert by["fp32"]["psnr_min"] >= 45.0  # issue 6: fp32 fast paths within 45 dB of float64
    assert by["bf16_cl"]["psnr_min"] >= 35.0
    assert by["bf16_cl_zero"]["psnr_min"] < by["bf16_cl"]["psnr_min"]  # zero padding changes the borders
    assert all(r["preset_s"] > 0 and r["encoder_s"] > 0 for r in records)
    text = markdown(records, {"processor": "x", "cpu_count": 2, "torch": "t"}, {"rounds": 1, "pairs": "p", "long_side": 64})
    assert "| bf16_cl |" in text


def test_configs_must_start_with_the_reference(capsys) -> None:
    assert main(["--configs", "fp32"]) == 2
    assert "reference" in capsys.readouterr().err
