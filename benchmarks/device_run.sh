#!/usr/bin/env bash
# The one prepared GPU run of issue #10 (Triton kernels for NA), sized for 9 minutes of wall time
# on a lent NVIDIA H200. benchmarks/device_run.py does the work; benchmarks/README.md ("Device
# run") says what comes back and where the results go.
#
# 1. Prepare, on this machine, once (data/ is git-ignored: nothing here changes git state). The
#    device has no internet; Debian's Fashion-MNIST gz files (30 MB) travel with the tree:
#
#      mkdir -p data/device/fashion-mnist
#      cp /usr/share/datasets/fashion-mnist/*.gz data/device/fashion-mnist/
#
# 2. The exact device call (tool `run`), then `give_back` unless rerunning at once:
#
#      command:   bash benchmarks/device_run.sh
#      carry:     ["data/device"]
#      timeout_s: 580
#
#    The budget below (BUDGET_S=500 s for the driver, plus imports and CUDA start-up) ends the run
#    within 9 minutes; a fresh machine's start (1-2 min) comes on top of the session's device time.
#
# 3. What comes back in $OUT (at most 8 files, 16 MiB each, two folders deep): device_run.log,
#    results.json, tables.md, metrics.csv, weights/{config.json,model.safetensors,README.md}.
#
# The device image has torch, lightning, torchmetrics, triton, huggingface_hub and safetensors,
# but not tonic nor jsonargparse: the package runs from the working tree through PYTHONPATH (no
# pip install, which would need the network for its build dependencies), and the training is
# built from the config without LightningCLI.
#
# Smoke mode (CPU, Triton interpreter, tiny sizes; tests/test_device_run.py runs it):
#      OUT=/tmp/out bash benchmarks/device_run.sh --smoke
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/device_run_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
unset BNA_ZOO_KERNEL  # the default choice (auto: Triton on CUDA) is what is measured
if [[ " $* " != *" --smoke "* ]]; then
  unset TRITON_INTERPRET
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 |
    tee "$OUT/device_run.log"
fi
"${PYTHON:-python3}" benchmarks/device_run.py --out "$OUT" --budget-s "${BUDGET_S:-500}" \
  --data data/device/fashion-mnist "$@" 2>&1 | tee -a "$OUT/device_run.log"
