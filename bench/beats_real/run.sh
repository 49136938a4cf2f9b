#!/usr/bin/env bash
# The real-recording beat bench (README "Beat grid", real-recording rows).
#   bash bench/beats_real/run.sh [BUILD_DIR] [WORK_DIR] [bench_beats options...]
# Renders 10 bachata and 10 hip-hop songs of the realval split (every part on real recordings
# held out of training: Hydrogen kits, sampled loops sliced and re-sequenced, freepats hand
# percussion, basses and guitars) into WORK_DIR once, then scores the tracker on four variants of
# each (plain, pickup, drum-less intro + breakdown, ±4 % vinyl drift; bench/beats_real/real_songs.h).
# The render is deterministic (same files on every machine); about 1 min of CPU.
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/loopsep_beats_real}
shift $(( $# < 2 ? $# : 2 ))
for genre in bachata hiphop; do
  if [ ! -f "$work/$genre/.done" ]; then
    rm -rf "${work:?}/$genre"
    "$build/tools/loopsep" synth --genre "$genre" --split realval --songs 10 --seed 43 --out "$work/$genre" --quiet
    touch "$work/$genre/.done"
  fi
done
exec "$build/beat/bench_beats" --seeds 0 --no-neutral --real-dir "$work/bachata" --real-dir "$work/hiphop" "$@"
