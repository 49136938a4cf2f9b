#!/usr/bin/env bash
# The README's first quality table: end-to-end separation (bench_separate) of one model on
#   synthetic val  `loopsep synth --split val`     (held-out soundfonts, kits and own-synth ranges)
#   real val       `loopsep synth --split realval` (held-out real recordings: Hydrogen kits, freepats
#                  patches and recorded loops never in training; models/TRAINING.md names them)
# both genres, every target, queries = one loop of the instrument from ANOTHER song of the set,
# with the ideal ratio mask, the mixture, the right-instrument check and silent estimates.
# usage: bench/quality/run.sh BUILD_DIR MODEL [SONGS_PER_GENRE=6] [VARIANTS=query,proto]
# The song sets are cached under bench/out/quality/ (git-ignored) and reused when present.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$1
MODEL=$2
N=${3:-6}
VARIANTS=${4:-query,proto}
L=$BUILD/tools/loopsep
OUT=bench/out/quality
mkdir -p "$OUT"

render() {  # split genre seed dir
  local dir=$OUT/$4
  [ -f "$dir/.complete" ] && return 0
  rm -rf "$dir"
  "$L" synth --genre "$2" --songs "$N" --seed "$3" --split "$1" --loops --duration-sec 30 --out "$dir" --quiet
  touch "$dir/.complete"
}
render val bachata 777 val_bachata_$N
render val hiphop 778 val_hiphop_$N
render realval bachata 977 realval_bachata_$N
render realval hiphop 978 realval_hiphop_$N

for set in val_bachata val_hiphop realval_bachata realval_hiphop; do
  echo "== $set ($N songs, $(basename "$MODEL"))"
  "$BUILD/engine/bench_separate" --data "$OUT/${set}_$N" --model "$MODEL" --max-songs "$N" --variants "$VARIANTS" 2> /dev/null
done
