#!/usr/bin/env bash
# Regenerates samples/ with `loopsep synth` (deterministic: same binary → same files).
#
#   samples/demo/bachata_demo.flac, samples/demo/hiphop_demo.flac   ~30 s demo mixes
#   samples/demo/<name>/meta.json, samples/demo/<name>/stems/*.flac  their annotations and some stems
#   samples/loops/*.flac + samples/loops/loops.json                  four-beat loops per instrument,
#                                                                     cut from OTHER songs than the demos
#
# The demos and the first loops use the held-out `val` sound-source pool (TimGM6mb, the Red
# Zeppelin avldrums kit, val espeak voices, val own-synth variants), so a model trained on
# `--split train` data never heard these timbres. The default catalog also gets loops played on
# real recordings (Hydrogen kits, freepats patches, recorded sonic-pi loops, lmms-common drum
# samples) from `--split train` songs: at most two per genre and instrument, every source of the
# loop a real recording (never the realval pool, which is kept for evaluation).
#
# usage: samples/make-samples.sh [path/to/loopsep]     (default: build/tools/loopsep)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/build/tools/loopsep}
[ -x "$bin" ] || { echo "make-samples: no loopsep binary at $bin (build first or pass its path)" >&2; exit 2; }

demo_seed=2026      # the demo songs
loop_seed=4242      # the songs the loops are cut from
real_seed=5151      # the train-pool songs the real-recording loops are cut from
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

common=(--split val --format flac --quiet)
for genre in bachata hiphop; do
  "$bin" synth --genre "$genre" --songs 1 --seed "$demo_seed" --duration-sec 30 "${common[@]}" --out "$work/demo"
  "$bin" synth --genre "$genre" --songs 3 --seed "$loop_seed" --duration-sec 24 --loops --loops-per-instrument 1 \
    "${common[@]}" --out "$work/loops"
  "$bin" synth --genre "$genre" --songs 6 --seed "$real_seed" --duration-sec 24 --loops --loops-per-instrument 1 \
    --split train --format flac --quiet --out "$work/real"
done

rm -rf "$here/demo" "$here/loops"
mkdir -p "$here/demo" "$here/loops"
for genre in bachata hiphop; do
  src="$work/demo/${genre}_${demo_seed}_0000"
  cp "$src/mix.flac" "$here/demo/${genre}_demo.flac"
  mkdir -p "$here/demo/${genre}_demo/stems"
  cp "$src/meta.json" "$here/demo/${genre}_demo/meta.json"
  # Only the stems of the usual demo targets, to keep samples/ under ~15 MB; the
  # others come back with: loopsep synth --genre G --seed 2026 --duration-sec 30 --split val --format flac
  case "$genre" in
    bachata) keep=(bongo) ;;
    hiphop) keep=(vocals) ;;
  esac
  for inst in "${keep[@]}"; do cp "$src/stems/$inst.flac" "$here/demo/${genre}_demo/stems/"; done
done

# Loops: files renamed <song>_<instrument>_<nn>.flac, one loops.json for all
# ("file" relative to samples/loops).
entries=()
for dir in "$work"/loops/*/; do
  song=$(basename "$dir")
  for f in "$dir"loops/*.flac; do cp "$f" "$here/loops/${song}_$(basename "$f")"; done
  # Body of the JSON array (without its brackets), with the file names prefixed.
  body=$(sed -e '1d' -e '$d' "$dir/loops/loops.json" | sed -e "s/\"file\": \"/\"file\": \"${song}_/")
  [ -n "$body" ] && entries+=("$body")
done
# Real-recording loops: the entries (one object per loop, as synth writes them) whose every source
# is a real recording, at most two per genre and instrument.
for dir in "$work"/real/*/; do
  song=$(basename "$dir")
  body=$(awk -v song="$song" '
    /^  \{/ { obj = ""; keep = 1 }
    { obj = obj $0 "\n" }
    /"source":/ {
      src = $0; sub(/.*"source": "/, "", src); sub(/",?$/, "", src)
      n = split(src, parts, "; ")
      for (i = 1; i <= n; ++i)
        if (parts[i] !~ /^(hydrogen:|freepats:|sonic-pi:|lmms-samples:|tuned |Djembe)/) keep = 0
    }
    /"(instrument|genre)":/ { v = $0; sub(/.*": "/, "", v); sub(/",?$/, "", v); key = key "/" v }
    /^  \}/ { if (keep) { sub(/,?\n$/, "\n", obj); printf "%s%s", (out++ ? ",\n" : ""), obj; print key > "/dev/stderr" }
               key = "" }
  ' "$dir/loops/loops.json" 2> "$work/keys")
  [ -n "$body" ] || continue
  # Keep the first two per genre/instrument over all songs (in song order).
  kept=""
  i=0
  while IFS= read -r key; do
    i=$((i + 1))
    n=$(grep -cxF -- "$key" "$work/taken" 2>/dev/null || true)
    if [ "${n:-0}" -lt 2 ]; then echo "$key" >> "$work/taken"; kept="$kept $i"; fi
  done < "$work/keys"
  body=$(printf '%s\n' "$body" | awk -v kept="$kept" '
    BEGIN { n = split(kept, k, " "); for (j = 1; j <= n; ++j) want[k[j]] = 1 }
    /^  \{/ { ++idx; obj = "" }
    { obj = obj $0 "\n" }
    /^  \}/ { if (want[idx]) { sub(/,?\n$/, "\n", obj); printf "%s%s", (out++ ? ",\n" : ""), obj } }')
  [ -n "$body" ] || continue
  body=$(printf '%s\n' "$body" | sed -e "s/\"file\": \"/\"file\": \"${song}_/")
  for f in $(printf '%s\n' "$body" | sed -n 's/.*"file": "\([^"]*\)".*/\1/p'); do
    cp "$dir/loops/${f#"${song}_"}" "$here/loops/$f"
  done
  entries+=("$body")
done

{
  echo "["
  for i in "${!entries[@]}"; do
    if [ "$i" -lt $((${#entries[@]} - 1)) ]; then printf '%s,\n' "${entries[$i]}"; else printf '%s\n' "${entries[$i]}"; fi
  done
  echo "]"
} > "$here/loops/loops.json"

echo "make-samples: $(find "$here/loops" -name '*.flac' | wc -l) loops, $(du -sh "$here" | cut -f1) in samples/"
