#!/usr/bin/env bash
# The from-scratch campaign's data (issue #44), made deterministically so that a fresh machine can
# rebuild it before resuming: training songs in blocks of 100 per genre and seed (20 s, mono, the
# train pool with real recordings and production), and the v6 validation sets (seed 900: 8 songs per
# genre of the synthetic and of the real-recording val pools, so figures compare with v6's).
#   models/campaign/data.sh WORK [SEEDS...]        (default seeds: 11 12)
# Writes WORK/train_<seed>.cache, WORK/full_val.cache, WORK/full_realval.cache, WORK/realval1.cache.
# Each step is skipped when its output exists, so a killed run resumes. The songs depend on the synth's
# code: TRAINING.md records the commit each session's data was made with.
set -euo pipefail
WORK=${1:?usage: data.sh WORK [SEEDS...]}
shift
SEEDS=("$@")
[ ${#SEEDS[@]} -eq 0 ] && SEEDS=(11 12)
L=${LOOPSEP:-build/tools/loopsep}
mkdir -p "$WORK/songs"
song_set() {  # name split genre songs seed
  local dir=$WORK/songs/$1
  [ -f "$dir/.done" ] && return 0
  rm -rf "$dir"
  "$L" synth --genre "$3" --songs "$4" --seed "$5" --split "$2" --duration-sec 20 --mono --out "$dir" --quiet
  touch "$dir/.done"
}
cache() {  # out.cache extra-args... (the set folders follow)
  local out=$WORK/$1
  shift
  [ -f "$out" ] && return 0
  "$L" train "$@" --cache "$out.tmp" --out "$WORK/unused.safetensors" --prepare-only --force > "$out.log" 2>&1
  mv "$out.tmp" "$out"
}
if [ ! -f "$WORK/full_val.cache" ] || [ ! -f "$WORK/full_realval.cache" ] || [ ! -f "$WORK/realval1.cache" ]; then
  for split in val realval; do
    for genre in bachata hiphop; do song_set ${split}_$genre $split $genre 8 900; done
  done
fi
cache full_val.cache --data "$WORK/songs/val_bachata" --data "$WORK/songs/val_hiphop"
cache full_realval.cache --data "$WORK/songs/realval_bachata" --data "$WORK/songs/realval_hiphop"
cache realval1.cache --bars-per-song 1 --data "$WORK/songs/realval_bachata" --data "$WORK/songs/realval_hiphop"
for seed in "${SEEDS[@]}"; do
  [ -f "$WORK/train_$seed.cache" ] && continue
  for genre in bachata hiphop; do song_set train_${genre}_$seed train $genre 100 "$seed"; done
  cache train_$seed.cache --data "$WORK/songs/train_bachata_$seed" --data "$WORK/songs/train_hiphop_$seed"
done
echo "data.sh: $(ls "$WORK"/train_*.cache | wc -l) training caches in $WORK"
