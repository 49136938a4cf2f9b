#!/usr/bin/env bash
# The full validation that ends each session of the campaign (issue #44; models/TRAINING.md, "The
# campaign"): the model against the ideal masks on the real-recording and synthetic validation windows
# and on its own training windows (the issue's capacity target), beside the model shipped when it began
# (v6) on the same windows, one thread each.
#   models/campaign/evaluate.sh WORK [--end-to-end] [MODEL] [SHIPPED]
#     --end-to-end  also separate bench/quality's four song sets (6 songs each) with both models, one
#              pass, two passes and two passes with half the given loop (`bench/quality/run.sh MODEL 6
#              query,passes2,passes2half`), and print each split's mean SDR over its targets; the
#              reports in WORK/eval/<name>_e2e.txt (the stop rule's check and the campaign's end)
#     MODEL    default WORK/last.safetensors (the weight average at the last checkpoint)
#     SHIPPED  default models/loopsep-v6.safetensors, the campaign's baseline (a committed model: its
#              reports are made once, kept in WORK/eval/ under its file name)
#   BUILD (environment) the build tree whose bench_model and engine run (default: the tree's build/)
# Writes WORK/eval/<name>_{real,synthetic,train}.txt (bench_model's reports) and prints one line per
# model and set: mean SDR, ideal ratio mask, gap. Run it on a quiet machine (or read only the SDRs:
# the speed lines of the reports are then not the machine's).
set -euo pipefail
WORK=${1:?usage: evaluate.sh WORK [--end-to-end] [MODEL] [SHIPPED]}
shift
end_to_end=false
if [ "${1:-}" = "--end-to-end" ]; then end_to_end=true; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MODEL=${1:-$WORK/last.safetensors}
SHIPPED=${2:-$root/models/loopsep-v6.safetensors}
BUILD=${BUILD:-$root/build}
BENCH=${BENCH:-$BUILD/models/loopsep_bench_model}
[ -x "$BENCH" ] || { echo "evaluate.sh: no $BENCH (build with -DLOOPSEP_BUILD_TESTS=ON)" >&2; exit 2; }
mkdir -p "$WORK/eval"
# The training windows: the first block of training songs (v6's own, so both models are scored on
# windows they trained on).
train_cache=$(ls "$WORK"/train_*.cache | head -1)
declare -A sets=([real]="$WORK/full_realval.cache" [synthetic]="$WORK/full_val.cache" [train]="$train_cache")

shipped=$(basename "$SHIPPED" .safetensors)
made() {  # name out command... → out, the command's report: made each time, the shipped model's once
  local who=$1 out=$2
  shift 2
  if [ "$who" != "$shipped" ] || [ ! -s "$out" ]; then
    "$@" > "$out.tmp" 2>&1
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}
report() {  # model name set → its window report
  made "$2" "$WORK/eval/$2_$3.txt" "$BENCH" --model "$1" --val-cache "${sets[$3]}" --val-examples 24 --threads 1
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

$end_to_end || exit 0
# End to end: each split's mean over its targets (7 a split: bachata bass, bongo, güira, guitar; hip-hop
# bass, drums, vocals), per column of bench_separate's table up to the ideal mask (the parenthesised SI-SDRs dropped).
e2e() {  # model name → its end-to-end report
  made "$2" "$WORK/eval/$2_e2e.txt" bash "$root/bench/quality/run.sh" "$BUILD" "$1" 6 query,passes2,passes2half
}
for who in "$name:$MODEL" "$shipped:$SHIPPED"; do
  awk -v w="${who%%:*}" '
    /^== / { split($2, a, "_"); set = a[1]; table = 0 }
    /^target / { n = split($0, h, " "); ncol = 0; while (h[ncol + 2] != "mix") { col[ncol + 1] = h[ncol + 2]; ++ncol } table = 1; next }
    /^right instrument/ { table = 0 }
    table && NF > 1 {
      line = $0; gsub(/\([^)]*\)/, "", line); split(line, v, " ")
      for (i = 1; i <= ncol; ++i) sum[set, col[i]] += v[i + 1]
      count[set]++
    }
    END {
      for (s in count) {
        printf "end to end %-8s %-10s", s, w
        for (i = 1; i <= ncol; ++i) printf "  %s %5.2f", col[i], sum[s, col[i]] / count[s]
        printf "  (%d targets)\n", count[s]
      }
    }' "$(e2e "${who#*:}" "${who%%:*}")"
done
