#!/usr/bin/env bash
# Key detection (loopsep/key.h) on synth songs with known keys: the README's key table.
#   synthetic val  `loopsep synth --split val`      (bachata + hip-hop)
#   real val       `loopsep synth --split realval`  (held-out real recordings, produced: some songs
#                  sped up or slowed down, so detuned by up to ±50 cents; meta.json's key is the
#                  nearest key as heard)
# Exact, fifth, relative, parallel, other (MIREX classes) and the MIREX weighted score, for the
# Temperley (harvest's choice, made on val) and Krumhansl profiles; then each stem alone.
# usage: bench/key/run.sh BUILD_DIR [SONGS_PER_GENRE=20]
# The song sets are cached under bench/out/key/ (git-ignored) and reused when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$1
N=${2:-20}
L=$BUILD/tools/loopsep
OUT=bench/out/key
mkdir -p "$OUT"

render() {  # split genre seed dir
  local dir=$OUT/$4
  [ -f "$dir/.complete" ] && return 0
  rm -rf "$dir"
  if ! "$L" synth --genre "$2" --songs "$N" --seed "$3" --split "$1" --duration-sec 30 --out "$dir" --quiet; then
    # Some draws fail (realval hip-hop: a Hydrogen kit sample that is AIFF data named .wav): then one
    # song per seed from the same seed on, skipping the seeds that fail, until there are N.
    echo "bench/key: $4 as one batch failed; rendering one song per seed" >&2
    rm -rf "$dir"
    local seed=$3 made=0
    while [ "$made" -lt "$N" ]; do
      if "$L" synth --genre "$2" --songs 1 --seed "$seed" --split "$1" --duration-sec 30 --out "$dir" --quiet 2> /dev/null; then
        made=$((made + 1))
      else
        rm -rf "$dir/$2_${seed}_0000"
      fi
      seed=$((seed + 1))
    done
  fi
  touch "$dir/.complete"
}
render val bachata 1777 val_bachata_$N
render val hiphop 1778 val_hiphop_$N
render realval bachata 1977 realval_bachata_$N
render realval hiphop 1978 realval_hiphop_$N

# Per split (both genres together), then per genre.
mkdir -p "$OUT/val_$N" "$OUT/realval_$N"
for split in val realval; do
  for g in bachata hiphop; do
    for s in "$OUT/${split}_${g}_$N"/*/; do ln -sfn "$(realpath "$s")" "$OUT/${split}_$N/$(basename "$s")"; done
  done
done
"$BUILD/loops/bench_key" --data "$OUT/val_$N" --data "$OUT/realval_$N"
"$BUILD/loops/bench_key" --data "$OUT/val_bachata_$N" --data "$OUT/val_hiphop_$N" \
  --data "$OUT/realval_bachata_$N" --data "$OUT/realval_hiphop_$N"
