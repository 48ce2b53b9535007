#!/bin/sh
# Training throughput of cyclegan, hlsnc, pix2pix and hagan on one GPU at 256 px, bf16 and
# channels-last: images/s, peak memory and MFU, as a markdown table in benchmarks/gpu-results.md
# (paste it into benchmarks/README.md with the device named); then the 3-D models at 128³ in
# benchmarks/gpu-results-3d.md. Takes a few minutes on one GPU.
# Extra arguments go to benchmarks/throughput.py, e.g. a quick CPU check of the script itself:
#   sh benchmarks/gpu.sh --device cpu --image-size 32 --tiny --steps 1 --warmup 0
# On a machine with several GPUs it then adds the multi-GPU line: one cyclegan run on 1 and on
# all GPUs (medganbench run --devices N), global images/s, device-seconds and scaling
# efficiency (benchmarks/devices.py).
set -e
cd "$(dirname "$0")/.."
python3 benchmarks/throughput.py --device cuda --image-size 256 --precision bf16 \
    --channels-last --steps 20 --warmup 5 --out benchmarks/gpu-results.md "$@"
# The 3-D models on 128³ volumes (the GPU track's size: sweeps/gpu-track-3d-*.toml).
python3 benchmarks/throughput.py --device cuda --image-size 128 --precision bf16 \
    --channels-last --steps 10 --warmup 3 --models dcgan3d,wgan-gp3d,pix2pix3d,hagan3d \
    --out benchmarks/gpu-results-3d.md "$@"
gpus=$(python3 -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -gt 1 ]; then
    python3 benchmarks/devices.py --devices "$gpus" --out benchmarks/gpu-results.md
fi
