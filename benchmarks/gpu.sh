#!/bin/sh
# Training throughput of cyclegan, hlsnc, pix2pix and hagan on one GPU at 256 px, bf16 and
# channels-last: images/s, peak memory and MFU, as a markdown table in benchmarks/gpu-results.md
# (paste it into benchmarks/README.md with the device named). Takes a few minutes on one GPU.
# Extra arguments go to benchmarks/throughput.py, e.g. a quick CPU check of the script itself:
#   sh benchmarks/gpu.sh --device cpu --image-size 32 --tiny --steps 1 --warmup 0
set -e
cd "$(dirname "$0")/.."
exec python3 benchmarks/throughput.py --device cuda --image-size 256 --precision bf16 \
    --channels-last --steps 20 --warmup 5 --out benchmarks/gpu-results.md "$@"
