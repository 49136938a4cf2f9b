#!/usr/bin/env bash
# The generated-song beat bench as the README's table was made (58 songs: bench_songs.h's 30
# synthetic songs and 28 `loopsep synth` songs), for before/after comparisons.
#   bash bench/beats_real/generated.sh [BUILD_DIR] [WORK_DIR] [bench_beats options...]
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/loopsep_beats_generated}
shift $(( $# < 2 ? $# : 2 ))
dirs=()
for genre in bachata hiphop; do
  for set in "val 6 11" "train 8 23"; do
    read -r split songs seed <<<"$set"
    d="$work/${genre}_${split}_${seed}"
    if [ ! -f "$d/.done" ]; then
      rm -rf "$d"
      "$build/tools/loopsep" synth --genre "$genre" --split "$split" --songs "$songs" --seed "$seed" --out "$d" --quiet
      touch "$d/.done"
    fi
    dirs+=(--synth-dir "$d")
  done
done
exec "$build/beat/bench_beats" --seeds 6 "${dirs[@]}" "$@"
