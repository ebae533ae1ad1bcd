"""Architecture search (StyleNAS P-step): find fast sub-networks of PhotoNet that stylise like it.

    # one GPU (planned to fit 9 minutes, not yet timed): supernet, 50/10/200 evolution (stopped
    # resumably at 6 minutes), 3 finalists fine-tuned, 6 candidates trained from scratch for the rank check
    python train/search.py --out runs/search/gpu --device cuda --supernet-steps 1500 --pairs 8 --pair-size 256 \
        --latency-size 512 --finetune-top 3 --finetune-steps 150 --rank-check 6 --rank-steps 150 --max-minutes 6

    # a miniature on a CPU core: tiny images, few cycles
    python train/search.py --out runs/search/mini --device cpu --threads 1 --population 8 --sample 3 \
        --cycles 12 --pairs 2 --pair-size 32 --latency-size 64 --supernet-steps 20 --supernet-crop 32

    # continue a stopped search where its state left it
    python train/search.py --out runs/search/gpu --resume

    # several GPUs or nodes: each batch of candidates is split over the processes
    torchrun --nproc_per_node=4 train/search.py --out runs/search/multi --batch 4

OUT gets history.csv (one row per evaluated candidate, written as it happens), state.json
(resumable), supernet.safetensors, pareto.csv + pareto.png (teacher distance vs latency,
PhotoNet and the published PhotoNAS code marked), best_codes.csv, summary.json and, when
asked, finetuned.csv and rank_check.csv. Any code found trains to full quality with
``python train/train_decoder.py --code CODE`` and benchmarks with
``python -m bench --methods photonas=OUT/final`` (see README).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from photonas.search.run import SearchConfig, search
from photonas.search.state import STATE_NAME, load_state
from photonas.training.config import add_options, from_args


def build_parser() -> argparse.ArgumentParser:
    """One option per :class:`SearchConfig` field, explained by its docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resume", action="store_true", help="continue OUT's search with its saved settings")
    add_options(p, SearchConfig)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse options, search (or resume), and print the best code and where the results went."""
    args = build_parser().parse_args(argv)
    config = from_args(SearchConfig, args)
    if args.resume:
        state_path = Path(args.out) / STATE_NAME
        if not state_path.is_file():
            print(f"search: error: --resume but no search state at {state_path}", file=sys.stderr)
            return 2
        # The saved search's settings win; only where it runs and for how long may change.
        saved = load_state(state_path).config
        config = dataclasses.replace(config, **saved)
    summary = search(config, resume=args.resume)
    if summary:
        print(
            json.dumps({k: summary[k] for k in ("device", "evaluated", "best", "rank_check") if k in summary}, indent=1)
        )
        print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
