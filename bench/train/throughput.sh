#!/usr/bin/env bash
# Trainer throughput: examples per second (and per core) of `loopsep train` on one training cache, for
# several thread layouts, interleaved (A B C, A B C, ...) so that a shared machine's load falls on all
# of them alike; the median over the runs of each layout's median 20-step window (the first window of
# each run, start-up and warm-up, is dropped).
#   bench/train/throughput.sh CACHE [RUNS] [STEPS]
# Environment: LOOPSEP (binary, default build/tools/loopsep), MODEL (start, default the shipped
# loopsep-v5: today's architecture; a fine-tune start, so no optimiser state is read; `scratch`: a new
# net of v6's shape, --shared-levels 3, from the run's seed), ARCHS (with MODEL=scratch: default "full";
# "full s2d" also times the same net with --space-to-depth, interleaved), LAYOUTS (default "1:1 2:1 2:2"
# = threads:replicas). The recipe is v6's (models/TRAINING.md).
set -euo pipefail
CACHE=${1:?usage: throughput.sh CACHE [RUNS] [STEPS]}
RUNS=${2:-3}
STEPS=${3:-81}
LOOPSEP=${LOOPSEP:-build/tools/loopsep}
MODEL=${MODEL:-models/loopsep-v5.safetensors}
LAYOUTS=${LAYOUTS:-"1:1 2:1 2:2"}
ARCHS=${ARCHS:-full}
BATCH=16
if [ "$MODEL" != scratch ] && [ "$ARCHS" != full ]; then
  echo "throughput.sh: ARCHS is for MODEL=scratch (a trained net cannot be converted to space-to-depth)" >&2; exit 2
fi
# Each configuration: "arch/threads:replicas" (arch "full" alone is printed without its prefix, as before).
CONFIGS=""
for arch in $ARCHS; do
  case $arch in full|s2d) ;; *) echo "throughput.sh: ARCHS entries are full or s2d, not '$arch'" >&2; exit 2 ;; esac
  for layout in $LAYOUTS; do
    if [ "$ARCHS" = full ]; then CONFIGS="$CONFIGS $layout"; else CONFIGS="$CONFIGS $arch/$layout"; fi
  done
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for run in $(seq 1 "$RUNS"); do
  for config in $CONFIGS; do
    layout=${config##*/} arch=full
    case $config in */*) arch=${config%%/*} ;; esac
    t=${layout%%:*} r=${layout##*:}
    start=(--resume "$MODEL")
    if [ "$MODEL" = scratch ]; then start=(--shared-levels 3); fi
    if [ "$arch" = s2d ]; then start+=(--space-to-depth); fi
    log=$tmp/${config//\//_}.$run.log
    "$LOOPSEP" train --cache "$CACHE" "${start[@]}" --out "$tmp/m.safetensors" --force --quiet \
      --steps "$STEPS" --batch $BATCH --lr 3e-4 --seed $((100 + run)) --threads "$t" --replicas "$r" \
      --loss sdr --ema 0.999 --augment-eq 20 --augment-pitch 4 --generic-fraction 0.05 --pair-fraction 0.3 \
      --val-every 1000000 > "$log" 2>&1
    # Windows 2.. of this run; the run's median.
    med=$(grep -o '[0-9.]* steps/s' "$log" | awk 'NR > 1 { print $1 }' | sort -g |
          awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    echo "$config $run $med $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$tmp/all"
  done
done
# Quality per example: every layout trains on the same examples (same seed per run); their loss windows
# of run 1 side by side (replicas change float rounding only; the two architectures are two nets).
echo "loss per 20-step window, run 1:$CONFIGS"
paste $(for config in $CONFIGS; do
  f=$tmp/${config//\//_}.loss; grep -o 'loss [-0-9.]*' "$tmp/${config//\//_}.1.log" | awk '{ print $2 }' > "$f"; echo "$f"; done)
echo "threads:replicas  examples/s (median of $RUNS runs)  per core  [per-run steps/s]"
for config in $CONFIGS; do
  layout=${config##*/}
  t=${layout%%:*}
  # Sorted per-run rates of this configuration (portable awk: no asort).
  awk -v l="$config" '$1 == l { print $3 }' "$tmp/all" | sort -g |
    awk -v l="$config" -v b=$BATCH -v t="$t" '{ s[++n] = $1; runs = runs " " $1 } END {
      m = (n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2);
      printf "%-17s %8.1f %23.1f  [%s ]\n", l, m * b, m * b / t, runs }'
done
