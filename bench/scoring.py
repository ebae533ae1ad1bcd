"""The quality run: every method on every pair and mask mode, timed once per call and scored.

One record per (pair, masks, method) with the seconds of that call (style statistics
included) and every metric of :data:`METRICS`; the leaderboard (:mod:`bench.leaderboard`)
turns the records into tables.

Examples:
    >>> records, outputs = run_benchmark(pairs, methods, [False, True], encoder)  # doctest: +SKIP
    >>> recon = reconstruction_psnr(pairs, methods)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from bench import metrics
from bench.methods import Method
from bench.pairs import Pair
from photonas.encoder import VGGEncoder

#: Metric columns, with the direction that is better (for the leaderboard header).
METRICS: dict[str, str] = {
    "edge_ssim": "↑",
    "ssim": "↑",
    "gram_loss": "↓",
    "swd_lab": "↓",
    "artifact_energy": "↓",
    "region_swd_lab": "↓",
}


def score(pair: Pair, output: np.ndarray, style_grams: dict, encoder: VGGEncoder) -> dict[str, float]:
    """Every metric of one output; ``region_swd_lab`` whenever the pair has label maps.

    With masks off the method never saw the maps, and the region distance then says how well
    it matched regions on its own (automatic regions, or a content-aware network).
    """
    row = {
        "edge_ssim": metrics.edge_ssim(pair.content, output),
        "ssim": metrics.ssim(pair.content.astype(np.float64), output.astype(np.float64)),
        "gram_loss": metrics.gram_loss(output, style_grams, encoder),
        "swd_lab": metrics.sliced_wasserstein_lab(output, pair.style),
        "artifact_energy": metrics.artifact_energy(pair.content, output),
    }
    if pair.content_labels is not None and pair.style_labels is not None:
        try:
            row["region_swd_lab"] = metrics.region_color_distance(output, pair.style, pair.content_labels, pair.style_labels)
        except ValueError:  # no shared region: the measure does not apply to this pair
            row["region_swd_lab"] = math.nan
    return row


def _network(method: Method):
    """The encoder–decoder under a row (refined rows included), or None for a training-free one."""
    inner = getattr(method, "inner", method)
    return getattr(inner, "model", None)


def reconstruction_psnr(pairs: Sequence[Pair], methods: Sequence[Method]) -> dict[str, float]:
    """Mean reconstruction PSNR (dB) over the pairs' contents of every row that has a network.

    Each network is measured once (rows sharing one share the figure). A style transfer cannot
    be better than its auto-encoder, so this says whether a neural row is trained at all.
    """
    by_model: dict[int, float] = {}
    result: dict[str, float] = {}
    for method in methods:
        net = _network(method)
        if net is None or not hasattr(net, "reconstruct"):
            continue
        if id(net) not in by_model:
            device = net.device
            values = []
            for pair in pairs:
                with torch.inference_mode():
                    out = net.reconstruct(torch.from_numpy(pair.content).permute(2, 0, 1)[None].to(device))
                rebuilt = out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float64)
                values.append(metrics.psnr(pair.content.astype(np.float64), rebuilt))
            by_model[id(net)] = float(np.mean(values))
        result[method.name] = by_model[id(net)]
    return result


def _timed(method: Method, pair: Pair, masked: bool) -> tuple[np.ndarray, float]:
    given = pair if masked else replace(pair, content_labels=None, style_labels=None)
    start = time.perf_counter()
    out = method.run(given)
    return out, time.perf_counter() - start


def run_benchmark(
    pairs: Sequence[Pair],
    methods: Sequence[Method],
    mask_modes: Sequence[bool],
    encoder: VGGEncoder,
    log: Callable[[str], object] = print,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """One record per (pair, masks, method), and the outputs by pair and method (masks off first).

    Each timed method first runs once untimed on the first pair (warm-up); then every call is
    timed alone. A method that cannot run on a pair (no published output, a bad input) is
    logged and left out of that pair's records.
    """
    records: list[dict[str, Any]] = []
    outputs: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:  # warm-up, untimed
        if method.timed and pairs:
            method.run(replace(pairs[0], content_labels=None, style_labels=None))
    for pair in pairs:
        style_grams = metrics.gram_matrices(pair.style, encoder)  # once per pair, shared by every method
        for masked in mask_modes:
            if masked and pair.content_labels is None:
                continue
            for method in methods:
                try:
                    out, seconds = _timed(method, pair, masked)
                except (FileNotFoundError, ValueError) as err:
                    log(f"  {pair.name} {method.name}: skipped ({err})")
                    continue
                outputs.setdefault(pair.name, {}).setdefault(method.name, out)
                record = {"pair": pair.name, "masks": masked, "method": method.name, "kind": method.kind}
                record["seconds"] = seconds if method.timed else math.nan
                record.update(score(pair, out, style_grams, encoder))
                records.append(record)
                log(f"  {pair.name} masks={'on' if masked else 'off'} {method.name}: {record['seconds']:.3f} s")
    return records, outputs
