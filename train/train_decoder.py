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

from photonas.device import PRECISIONS
from photonas.training.config import add_options, from_args
from photonas.training.decoder import TrainConfig, checkpoint_config, train
from photonas.training.loop import CHECKPOINT_NAME


def build_parser() -> argparse.ArgumentParser:
    """One option per :class:`TrainConfig` field, explained by its docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resume", action="store_true", help="continue OUT's checkpoint with its saved settings")
    add_options(p, TrainConfig, choices={"precision": PRECISIONS})
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
        config = from_args(TrainConfig, args)
    final = train(config, resume=args.resume)
    print(f"final model: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
