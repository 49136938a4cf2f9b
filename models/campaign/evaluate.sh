#!/usr/bin/env bash
# The full validation that ends each session of the campaign (issue #44; models/TRAINING.md, "The
# campaign"): the model against the ideal masks on the real-recording and synthetic validation windows
# and on its own training windows (the issue's capacity target), beside the shipped model on the same
# windows, one thread each.
#   models/campaign/evaluate.sh WORK [MODEL] [SHIPPED]
#     MODEL    default WORK/last.safetensors (the weight average at the last checkpoint)
#     SHIPPED  default models/loopsep-v6.safetensors (a committed model: its reports are made once, kept
#              in WORK/eval/ under its file name)
# Writes WORK/eval/<name>_{real,synthetic,train}.txt (bench_model's reports) and prints one line per
# model and set: mean SDR, ideal ratio mask, gap. Run it on a quiet machine (or read only the SDRs:
# the speed lines of the reports are then not the machine's).
set -euo pipefail
WORK=${1:?usage: evaluate.sh WORK [MODEL] [SHIPPED]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MODEL=${2:-$WORK/last.safetensors}
SHIPPED=${3:-$root/models/loopsep-v6.safetensors}
BENCH=${BENCH:-$root/build/models/loopsep_bench_model}
[ -x "$BENCH" ] || { echo "evaluate.sh: no $BENCH (build with -DLOOPSEP_BUILD_TESTS=ON)" >&2; exit 2; }
mkdir -p "$WORK/eval"
# The training windows: the first block of training songs (v6's own, so both models are scored on
# windows they trained on).
train_cache=$(ls "$WORK"/train_*.cache | head -1)
declare -A sets=([real]="$WORK/full_realval.cache" [synthetic]="$WORK/full_val.cache" [train]="$train_cache")

shipped=$(basename "$SHIPPED" .safetensors)
report() {  # model name set → the report file (the shipped model's are made once)
  local out=$WORK/eval/$2_$3.txt
  if [ "$2" != "$shipped" ] || [ ! -s "$out" ]; then
    "$BENCH" --model "$1" --val-cache "${sets[$3]}" --val-examples 24 --threads 1 > "$out.tmp" 2>&1
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

name=$(basename "$MODEL" .safetensors)
steps=$(grep -o 'trained [0-9]* steps' "$(report "$MODEL" "$name" real)" | grep -o '[0-9]*' || echo '?')
echo "model $MODEL: $steps steps"
for set in real synthetic train; do
  for who in "$name:$MODEL" "$shipped:$SHIPPED"; do
    f=$(report "${who#*:}" "${who%%:*}" "$set")
    # "mean SDR dB: model 2.63, IRM 9.31, band IRM 7.89, ..."
    grep -m1 'mean SDR dB' "$f" | sed -E "s/.*model ([-0-9.]+), IRM ([-0-9.]+), band IRM ([-0-9.]+).*/\1 \2 \3/" |
      awk -v s="$set" -v w="${who%%:*}" '{printf "%-10s %-10s SDR %6.2f  IRM %6.2f  band IRM %6.2f  gap to IRM %5.2f dB\n", s, w, $1, $2, $3, $2 - $1}'
  done
done
