#!/bin/sh
# GPU readiness check (issue 11 §2), one short prepared script for a machine with a CUDA GPU:
#   1. the GPU tests (train on the GPU, load its checkpoint on the CPU, sample on both, resume);
#   2. a 60-second training throughput figure of the default model on the GPU (and its
#      checkpoint sampled on the CPU).
# Run from anywhere: sh bench/gpu_check.sh   (PYTHON=... to use another interpreter,
# GPU_CHECK_SECONDS=... for another length). Without a CUDA GPU it prints
# "gpu_check: no CUDA GPU: skipped" and exits 0. About 2 minutes on a GPU.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SECONDS_BUDGET=${GPU_CHECK_SECONDS:-60}

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    echo "gpu_check: no CUDA GPU: skipped"
    exit 0
fi

"$PY" -c 'import torch; print("gpu_check:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)'
echo "gpu_check: tests"
"$PY" -m pytest -q -p no:cacheprovider tests/core/test_gpu.py tests/core/test_sampler.py tests/core/test_trainer.py

echo "gpu_check: ${SECONDS_BUDGET} s of training on the GPU (default model, demo corpus)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PY" - "$out" "$SECONDS_BUDGET" <<'PYEOF'
import sys
from pathlib import Path

from core.events import DoneEvent, StartEvent, StepEvent
from core.train.setup import RunRequest, prepare_run

out, seconds = Path(sys.argv[1]), float(sys.argv[2])
request = RunRequest(data=Path("assets/demo_tweets.txt"), run_dir=out / "gpu",
                     train={"device": "cuda", "minutes": seconds / 60, "val_every": 0, "ckpt_every": 0})
run = prepare_run(request)
rates, chars, done = [], 0, None
for event in run.trainer.run():
    if isinstance(event, StartEvent):
        print(f"gpu_check: training on {event.device}, {event.n_params:,} parameters, batch {run.trainer.config.batch_size}")
    elif isinstance(event, StepEvent) and event.step > 20:  # past CUDA's warm-up
        rates.append(event.chars_per_s)
    elif isinstance(event, DoneEvent):
        done = event
run.lock.release()
rates.sort()
median = rates[len(rates) // 2] if rates else float("nan")
print(f"gpu_check: throughput {median:,.0f} chars/s (median of {len(rates)} reports), "
      f"{done.step:,} steps in {run.trainer.progress.elapsed:.0f} s")
print(done.last_checkpoint)
PYEOF
ckpt=$(ls "$out"/gpu/step-*.pt | tail -n 1)
echo "gpu_check: the GPU checkpoint sampled on the CPU:"
"$PY" -m core.cli.main sample "$ckpt" -n 3 --seed 0 --device cpu
echo "gpu_check: done"
