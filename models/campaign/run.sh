#!/usr/bin/env bash
# One session's leg of the from-scratch campaign (issue #44; models/TRAINING.md, "The campaign").
#   models/campaign/run.sh WORK                     start or resume in the background; returns at once
#   models/campaign/run.sh WORK --stop              stop it (SIGTERM: the step finishes, the checkpoint is
#                                                   written), copy the checkpoint to models/campaign/ for commit
#   models/campaign/run.sh WORK --finetune [--stop] the same for the closing SDR-loss fine-tune, started from
#                                                   WORK/last.safetensors once the campaign's schedule is done
#                                                   (else the committed models/campaign/campaign-final.safetensors)
# WORK holds the data (models/campaign/data.sh WORK), bin/ (a private copy of the binaries, so that a
# rebuild of the tree does not replace the running trainer), the live checkpoint (campaign.ckpt or
# finetune.ckpt), the best and last weights and the log (appended, one leg after another):
# best / last.safetensors and train.log for the campaign, ft_best / ft_last.safetensors and
# finetune.log for the fine-tune.
# The run's schedule is the whole stage's (--steps), not a session's: each leg is stopped by SIGTERM
# and resumed from the checkpoint with Adam, the schedule, the average and the random streams.
set -euo pipefail
WORK=${1:?usage: run.sh WORK [--finetune] [--stop]}
shift
stage=campaign prefix=
if [ "${1:-}" = "--finetune" ]; then stage=finetune prefix=ft_; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
committed=$here/$stage.ckpt ckpt=$WORK/$stage.ckpt
log=$WORK/$([ $stage = campaign ] && echo train || echo finetune).log
pidfile=$WORK/$stage.pid
[ $stage = campaign ] && pidfile=$WORK/train.pid   # the name of the first sessions' legs
pid=$(cat "$pidfile" 2>/dev/null || true)
running=false
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then running=true; fi
if [ "${1:-}" = "--stop" ]; then
  if $running; then
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 2; done
  fi
  cp "$ckpt" "$committed.tmp" && mv "$committed.tmp" "$committed"
  echo "run.sh: checkpoint copied to $committed ($(du -h "$committed" | cut -f1)); commit it"
  exit 0
fi
if $running; then echo "run.sh: the $stage trainer $pid is running already" >&2; exit 2; fi
# Each leg runs the tree's current build, copied (a leg may continue a campaign begun by older code);
# each file renamed into place, so that a trainer of the other stage keeps the files it has mapped.
mkdir -p "$WORK/bin"
for f in "$root/build/tools/loopsep" "$root"/build/tools/libloopsep_*_commands.so; do
  cp "$f" "$WORK/bin/.$(basename "$f").tmp" && mv "$WORK/bin/.$(basename "$f").tmp" "$WORK/bin/$(basename "$f")"
done
caches=()
for c in "$WORK"/train_*.cache; do caches+=(--cache "$c"); done
[ ${#caches[@]} -gt 0 ] || { echo "run.sh: no training caches in $WORK (run models/campaign/data.sh $WORK)" >&2; exit 2; }
# Files, threads and intervals: always from here. The recipe and architecture: only for a new run (a
# resumed run takes its own from the checkpoint).
common=("${caches[@]}" --val-cache "$WORK/full_val.cache" --val-cache "$WORK/full_realval.cache"
        --out "$WORK/${prefix}best.safetensors" --out-last "$WORK/${prefix}last.safetensors" --checkpoint "$ckpt"
        --checkpoint-every-min 10 --threads "${THREADS:-2}" --replicas "${REPLICAS:-2}"
        --val-every 2000 --val-examples 12 --quiet --force)   # --force: WORK's files are the campaign's own
if [ ! -f "$ckpt" ] && [ -f "$committed" ]; then cp "$committed" "$ckpt"; fi
if [ -f "$ckpt" ]; then
  start=(--resume "$ckpt")
elif [ $stage = finetune ]; then
  # The SDR loss on the campaign's weight average, as v1 → v2 (the magnitude loss is the proxy that a
  # young net needs; the SDR is what is scored): 10 000 steps of 16 (160 000 examples), a short warm-up
  # so that Adam's moments settle before the rate peaks, the campaign's examples.
  # The campaign's last weight average: WORK's own, else the committed one (a fresh machine).
  from=$WORK/last.safetensors
  [ -f "$from" ] || from=$here/campaign-final.safetensors
  [ -f "$from" ] || { echo "run.sh: no $WORK/last.safetensors to fine-tune (the campaign's weights)" >&2; exit 2; }
  start=(--resume "$from" --steps 10000 --batch 16 --lr 3e-4 --warmup-steps 200 --seed 45
         --loss sdr --ema 0.999 --augment-eq 20 --augment-pitch 4 --generic-fraction 0.05 --pair-fraction 0.3
         --self-query-fraction 0.2 --minutes 100000)
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
echo "== leg started $(date -u +%FT%TZ) at commit $(git -C "$root" rev-parse --short HEAD): ${start[*]}" >> "$log"
nohup "$WORK/bin/loopsep" train "${common[@]}" "${start[@]}" >> "$log" 2>&1 &
echo $! > "$pidfile"
echo "run.sh: $stage trainer $(cat "$pidfile") running; log $log"
