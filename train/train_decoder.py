"""Train a photonas decoder (any architecture code) as a reconstruction auto-encoder.

    # PhotoNAS on the shared training photos, on the best device here
    python train/train_decoder.py --code photonas --out runs/train/photonas

    # any 32-bit code, small CPU run
    python train/train_decoder.py --code 01010000000100000000000000001111 --crop 128 --batch-size 4 \
        --steps 500 --device cpu --out runs/train/mini

    # continue a run exactly where its last checkpoint left it
    python train/train_decoder.py --out runs/train/photonas --resume

    # several GPUs (DDP, one process per GPU)
    torchrun --nproc_per_node=4 train/train_decoder.py --code photonet --out runs/train/photonet

The final model lands in OUT/final (config.json + model.safetensors), loadable with
photonas.StyleTransferModel.from_pretrained("OUT/final"); OUT/log.csv and OUT/loss.png
record the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from photonas.training.decoder import TrainConfig, checkpoint_config, train
from photonas.training.loop import CHECKPOINT_NAME


def _pair(text: str) -> tuple[float, float]:
    low, high = (float(v) for v in text.split(","))
    return low, high


def build_parser() -> argparse.ArgumentParser:
    """Options mirror :class:`TrainConfig`; its docstring explains each."""
    defaults = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--code", default=defaults.code, help="preset name (photonas, photonet) or a 32-bit code")
    p.add_argument("--data", default=defaults.data, help="folder of training photos (BSDS500 val_* held out)")
    p.add_argument("--out", default=defaults.out, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue OUT's checkpoint with its saved settings")
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--crop", type=int, default=defaults.crop)
    p.add_argument("--scale", type=_pair, default=defaults.scale, help="resize range before cropping, e.g. 0.25,1")
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--betas", type=_pair, default=defaults.betas)
    p.add_argument("--warmup", type=int, default=defaults.warmup)
    p.add_argument("--min-lr-ratio", type=float, default=defaults.min_lr_ratio)
    p.add_argument("--pixel-weight", type=float, default=defaults.pixel_weight)
    p.add_argument("--feature-weight", type=float, default=defaults.feature_weight)
    p.add_argument("--feature-levels", type=lambda t: tuple(t.split(",")), default=defaults.feature_levels)
    p.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    p.add_argument("--val-every", type=int, default=defaults.val_every)
    p.add_argument("--val-images", type=int, default=defaults.val_images)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--device", default=defaults.device)
    p.add_argument("--precision", default=defaults.precision, choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--compile", action="store_true", help="torch.compile the decoder")
    p.add_argument("--workers", type=int, default=defaults.workers)
    p.add_argument("--threads", type=int, default=defaults.threads, help="CPU intra-op threads")
    p.add_argument("--max-minutes", type=float, default=defaults.max_minutes, help="stop cleanly after this wall time")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse options, then train (or resume) and print where the final model went."""
    args = build_parser().parse_args(argv)
    if args.resume:
        checkpoint = Path(args.out) / CHECKPOINT_NAME
        if not checkpoint.is_file():
            print(f"train_decoder: error: --resume but no checkpoint at {checkpoint}", file=sys.stderr)
            return 2
        # The run's own settings win; only where it runs and for how long may change.
        config = dataclasses.replace(
            checkpoint_config(checkpoint), out=args.out, device=args.device, workers=args.workers,
            threads=args.threads, max_minutes=args.max_minutes,
        )
    else:
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    final = train(config, resume=args.resume)
    print(f"final model: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
