#!/usr/bin/env bash
# Start-up and end-to-end wall time of loopsep commands, median of N runs each.
# With two build folders the runs of the two binaries are interleaved (A, B, A, B, ...),
# so both see the same machine state.
#   loopsep --version
#   loopsep catalog --db X stats      (X: a catalog of the bundled bachata bongo loops)
#   loopsep beats SONG --json         (SONG: the bundled 30-s bachata demo)
#   loopsep separate SONG --target bongo (the demo, default model and catalog prototype)
# usage: bench/startup/startup.sh BUILD_DIR [BASELINE_BUILD_DIR] [N=10]
set -euo pipefail
cd "$(dirname "$0")/../.."
NEW=$1
OLD=${2:-}
N=${3:-10}
W=$(mktemp -d /tmp/loopsep-startup-XXXXXX)
trap 'rm -rf "$W"' EXIT
SONG=samples/demo/bachata_demo.flac

mkdir "$W/bongo" && cp samples/loops/bachata_*_bongo_*.flac "$W/bongo/"
"$NEW/tools/loopsep" catalog --db "$W/cat.db" import "$W/bongo" --instrument bongo --genre bachata > /dev/null

ms() {  # command... → wall milliseconds on stdout (output discarded)
  local t0 t1
  t0=$(date +%s%N)
  "$@" > /dev/null 2>&1
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

bench() {  # label, then the arguments after `loopsep`
  local label=$1; shift
  : > "$W/new"; : > "$W/old"
  for _ in $(seq "$N"); do
    [ -n "$OLD" ] && ms "$OLD/tools/loopsep" "$@" >> "$W/old"
    ms "$NEW/tools/loopsep" "$@" >> "$W/new"
  done
  if [ -n "$OLD" ]; then
    printf '%-28s %8s ms (baseline %s ms)\n' "$label" "$(median < "$W/new")" "$(median < "$W/old")"
  else
    printf '%-28s %8s ms\n' "$label" "$(median < "$W/new")"
  fi
}

echo "median wall time of $N runs ($(nproc) cores)"
bench "--version" --version
bench "catalog --db X stats" catalog --db "$W/cat.db" stats
bench "beats SONG --json" beats "$SONG" --json
bench "separate SONG (bongo)" separate "$SONG" --target bongo --genre bachata --output "$W/out.wav" --force
