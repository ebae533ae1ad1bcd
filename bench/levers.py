"""What each inference lever buys: speed and faithfulness of PhotoNAS, one configuration at a time.

Every configuration stylises with a saved style preset (style work excluded, as in the speed
target) and is timed against its own encoder in the same run; faithfulness is the PSNR of
its output against the float64 reference path (float32 weights, float64 WCT) on real photo
pairs. Configurations, each adding one lever to the one before unless noted:

    reference      float32 weights, channels-first, float64 statistics and transforms
    fp32           the float32 chunked WCT (one matmul plus bias per chunk)
    fp32_cl        + channels-last weights and activations
    bf16_autocast  float32 weights under bf16 autocast (instead of converting the weights)
    bf16_cl        bf16 weights, channels-last (the default on CUDA and CPUs with native bf16)
    bf16_cl_zero   + zero instead of reflection padding (changes results at the borders)
    bf16_cl_1t     bf16_cl on one intra-op thread (what the second core adds)

Examples:
    python -m bench.levers --sizes 512,1024 --pairs 1-4 --out bench/results/cpu-2cores
    python -m bench.levers --device cuda --sizes 1024,4k --out bench/results/<gpu>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.machine import machine_facts, machine_slug
from bench.markdown import markdown_table
from bench.pairs import REPO_ROOT, load_dpst_pairs, load_example_pairs, parse_pairs
from bench.speed import RESOLUTIONS, time_call
from photonas.device import choose_device, cpu_has_native_bf16
from photonas.io import image_to_tensor
from photonas.model import PhotoNAS, StyleTransferModel
from photonas.padding import pad_to_grid
from photonas.training.data import default_dpst_dir
from photonas.training.metrics import psnr
from photonas.transforms import WCTConfig

REFERENCE = WCTConfig(reference=True)
CONFIGS: tuple[str, ...] = ("reference", "fp32", "fp32_cl", "bf16_autocast", "bf16_cl", "bf16_cl_zero", "bf16_cl_1t")


def build(name: str, device: torch.device) -> tuple[StyleTransferModel, WCTConfig, Callable[[], contextlib.AbstractContextManager]]:
    """The model, WCT config and precision context of one configuration."""
    model = PhotoNAS.from_pretrained().to(device).eval()
    config = REFERENCE if name == "reference" else WCTConfig()
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    if name == "fp32_cl":
        model.for_inference(device, "fp32")
    elif name == "bf16_autocast":
        context = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)  # noqa: E731
    elif name.startswith("bf16_cl"):
        model.for_inference(device, "bf16")
    if name == "bf16_cl_zero":
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.padding_mode = "zeros"
    return model, config, context


def measure(names: Sequence[str], sizes: Sequence[str], pairs, device: torch.device, rounds: int, log=print) -> list[dict[str, Any]]:
    """One record per (configuration, size): median seconds of the preset path and the encoder, PSNR."""
    references: list[torch.Tensor] = []
    records = []
    threads = torch.get_num_threads()
    for name in names:
        model, config, context = build(name, device)
        torch.set_num_threads(1 if name.endswith("_1t") else threads)
        with torch.inference_mode(), context():
            outputs = []
            for pair in pairs:
                c, s = image_to_tensor(pair.content).to(device), image_to_tensor(pair.style).to(device)
                outputs.append(model.stylize(c, s, config=config).float().cpu())
            if name == "reference":
                references = outputs
            quality = [psnr(r.clamp(0, 1), o.clamp(0, 1)) for o, r in zip(outputs, references)]
            for size in sizes:
                height, width = RESOLUTIONS[size]
                generator = torch.Generator().manual_seed(0)
                content = torch.rand(1, 3, height, width, generator=generator).to(device)
                stats = model.style_stats(torch.rand(1, 3, height, width, generator=generator).to(device), reference=config.reference)
                padded, _ = pad_to_grid(content)
                preset = time_call(partial(model.stylize, content, stats, config=config), device, rounds).median
                encoder = time_call(partial(model.encode, padded), device, rounds).median
                record = {
                    "config": name, "size": size, "preset_s": preset, "encoder_s": encoder, "ratio": preset / encoder,
                    "psnr_min": min(quality), "psnr_mean": statistics.fmean(quality),
                }  # fmt: skip
                records.append(record)
                log(f"  {name:14s} {size:>5s}: preset {preset:.3f} s, encoder {encoder:.3f} s, ×{preset / encoder:.2f}, PSNR ≥ {min(quality):.1f} dB")
    torch.set_num_threads(threads)
    return records


def markdown(records: list[dict[str, Any]], facts: dict[str, Any], settings: dict[str, Any]) -> str:
    """The lever table: each configuration's speed at each size, its ratio to its own encoder and its PSNR."""
    lines = [
        f"# Inference levers on {facts.get('cuda_device', facts['processor'])} ({facts['cpu_count']} CPUs, torch {facts['torch']})",
        "",
        f"PhotoNAS with a saved style preset; median of {settings['rounds']} rounds after a warm-up; "
        f"`×enc` = the preset path over the same configuration's encoder alone; PSNR (dB) against the "
        f"float64 reference on {settings['pairs']} at {settings['long_side']} px (∞: identical).",
        "",
    ]
    sizes = list(dict.fromkeys(r["size"] for r in records))
    header = ["config"] + [f"{s} {c}" for s in sizes for c in ("s", "enc s", "×enc")] + ["PSNR min", "PSNR mean"]
    table_rows = []
    for name in dict.fromkeys(r["config"] for r in records):
        rows = {r["size"]: r for r in records if r["config"] == name}
        cells = [name]
        for size in sizes:
            r = rows[size]
            cells += [f"{r['preset_s']:.3f}", f"{r['encoder_s']:.3f}", f"{r['ratio']:.2f}"]
        first = next(iter(rows.values()))
        cells += [f"{first['psnr_min']:.1f}", f"{first['psnr_mean']:.1f}"]
        table_rows.append(cells)
    return "\n".join(lines + markdown_table(header, table_rows)) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.levers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="512,1024", help="timing resolutions (512, 1024, 2048, 4k)")
    parser.add_argument("--pairs", default="1-4", help="DPST pairs for PSNR (default 1-4); bundled examples without data")
    parser.add_argument("--long-side", type=int, default=512)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default=None)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="folder for levers.md and levers.json (default bench/results/<machine>)")
    args = parser.parse_args(argv)
    device = choose_device(args.device)
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or names[:1] != ["reference"]:
        print(f"error: configs must start with reference and be among {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    data = args.data or default_dpst_dir(REPO_ROOT)
    if (data / "content").is_dir():
        pairs = load_dpst_pairs(data, parse_pairs(args.pairs), args.long_side, with_labels=False)
        described = f"DPST pairs {args.pairs}"
    else:
        pairs, described = load_example_pairs(args.long_side), "the bundled example pairs"
    settings = {"sizes": args.sizes, "pairs": described, "long_side": args.long_side, "rounds": args.rounds}
    facts = machine_facts(device) | {"cpu_native_bf16": cpu_has_native_bf16()}
    records = measure(names, [s.strip() for s in args.sizes.split(",")], pairs, device, args.rounds)
    out = args.out or Path(__file__).resolve().parent / "results" / machine_slug(device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "levers.json").write_text(json.dumps({"machine": facts, "settings": settings, "records": records}, indent=2) + "\n")
    text = markdown(records, facts, settings)
    (out / "levers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
