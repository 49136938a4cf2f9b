#!/usr/bin/env bash
# One session's leg of the from-scratch campaign (issue #44; models/TRAINING.md, "The campaign").
#   models/campaign/run.sh WORK          start or resume in the background; returns at once
#   models/campaign/run.sh WORK --stop   stop it (SIGTERM: the step finishes, the checkpoint is written),
#                                        copy the checkpoint to models/campaign/campaign.ckpt for commit
# WORK holds the data (models/campaign/data.sh WORK), bin/ (a private copy of the binaries, so that a
# rebuild of the tree does not replace the running trainer), campaign.ckpt (the live checkpoint),
# best.safetensors / last.safetensors and train.log (appended, one leg after another).
# The run's schedule is the whole campaign's (--steps), not a session's: each leg is stopped by
# SIGTERM and resumed from the checkpoint with Adam, the schedule, the average and the random streams.
set -euo pipefail
WORK=${1:?usage: run.sh WORK [--stop]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
committed=$here/campaign.ckpt
if [ "${2:-}" = "--stop" ]; then
  pid=$(cat "$WORK/train.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 2; done
  fi
  cp "$WORK/campaign.ckpt" "$committed.tmp" && mv "$committed.tmp" "$committed"
  echo "run.sh: checkpoint copied to $committed ($(du -h "$committed" | cut -f1)); commit it"
  exit 0
fi
# Each leg runs the tree's current build, copied (a leg may continue a campaign begun by older code).
mkdir -p "$WORK/bin"
cp "$root/build/tools/loopsep" "$root"/build/tools/libloopsep_*_commands.so "$WORK/bin/"
caches=()
for c in "$WORK"/train_*.cache; do caches+=(--cache "$c"); done
[ ${#caches[@]} -gt 0 ] || { echo "run.sh: no training caches in $WORK (run models/campaign/data.sh $WORK)" >&2; exit 2; }
# Files, threads and intervals: always from here. The recipe and architecture: only for a new run (a
# resumed run takes its own from the checkpoint).
common=("${caches[@]}" --val-cache "$WORK/full_val.cache" --val-cache "$WORK/full_realval.cache"
        --out "$WORK/best.safetensors" --out-last "$WORK/last.safetensors" --checkpoint "$WORK/campaign.ckpt"
        --checkpoint-every-min 10 --threads "${THREADS:-2}" --replicas "${REPLICAS:-2}"
        --val-every 2000 --val-examples 12 --quiet --force)   # --force: WORK's files are the campaign's own
if [ ! -f "$WORK/campaign.ckpt" ] && [ -f "$committed" ]; then cp "$committed" "$WORK/campaign.ckpt"; fi
if [ -f "$WORK/campaign.ckpt" ]; then
  start=(--resume "$WORK/campaign.ckpt")
else
  # The architecture: v6's shape (8,16,32,64, three shared levels) with the space-to-depth top level,
  # the band-split input and per-bin logits, from the first step. Not the repetition input: it did not
  # pay grafted onto v6, and its context bars cost two thirds of every step (0.72 against 2.2 steps/s;
  # TRAINING.md, "The campaign"). The recipe:
  # v6's examples (EQ and pitch augmentation, generic sounds, pairs) plus same-song queries for pass 2;
  # the magnitude loss (the SDR loss collapses a new net's masks to zero within 100 steps: TRAINING.md),
  # 125 000 steps of 16 = 2 M examples on one cosine schedule.
  start=(--steps 125000 --batch 16 --lr 1e-3 --warmup-steps 1000 --seed 44 --loss magnitude --ema 0.999
         --augment-eq 20 --augment-pitch 4 --generic-fraction 0.05 --pair-fraction 0.3 --self-query-fraction 0.2
         --minutes 100000 --channels 8,16,32,64 --shared-levels 3 --space-to-depth --band-split 8 --bin-logits)
fi
echo "== leg started $(date -u +%FT%TZ) at commit $(git -C "$root" rev-parse --short HEAD): ${start[*]}" >> "$WORK/train.log"
nohup "$WORK/bin/loopsep" train "${common[@]}" "${start[@]}" >> "$WORK/train.log" 2>&1 &
echo $! > "$WORK/train.pid"
echo "run.sh: trainer $(cat "$WORK/train.pid") running; log $WORK/train.log"
