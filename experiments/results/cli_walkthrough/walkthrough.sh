#!/usr/bin/env bash
# The README's command-line walkthrough, as run for the figures in this folder (from this folder).
set -euo pipefail
export OMP_NUM_THREADS=1 PINNDD_THREADS=1 MPLBACKEND=Agg
pinndd distil --pde rod.py:cooling --method rad --budget 128 --protocol quick --out out/rad
pinndd train --points out/rad/points.npz --adam-steps 2000 --lbfgs-steps 200 --out out/train
pinndd eval out/train/model_trained.npz --param amp=1.5
pinndd ood --points out/rad/points.npz --adam-steps 2000 --lbfgs-steps 200 --dense 1024 --seeds 2 \
    --values 0.6,0.9,1.1,1.4,1.8 --out out/ood
pinndd plot --model out/train/model_trained.npz --points out/rad/points.npz --out solution.png
pinndd show out/rad/points.npz
cp out/ood/ood.png ood.png
