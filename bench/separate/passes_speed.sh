#!/usr/bin/env bash
# One pass against two (`separate --passes 2`): wall time, × real time and peak RSS of one target on the
# 3-minute song of speed.sh (synthetic bachata, val timbres, seed 101), runs interleaved (1, 2, 1, 2, ...)
# so that the machine's load falls on both alike; medians over RUNS.
# usage: bench/separate/passes_speed.sh [BUILD_DIR] [MODEL] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
# No MODEL: `separate` runs its own default (the shipped model, or $LOOPSEP_MODEL).
model_args=()
[ -n "${2:-}" ] && model_args=(--model "$2")
RUNS=${3:-5}
L=$BUILD/tools/loopsep
W=$(mktemp -d /tmp/loopsep-passes-XXXXXX)
trap 'rm -rf "$W"' EXIT

$L synth --genre bachata --songs 1 --seed 101 --split val --duration-sec 180 --out "$W/s3" --quiet
song=$(ls "$W"/s3/*/mix.wav)
seconds=$(soxi -D "$song")
for i in $(seq 1 "$RUNS"); do
  for passes in 1 2; do
    rm -f "$W/out.wav"
    sync  # nothing of an earlier run left to write back meanwhile
    /usr/bin/time -f "%e %M" -o "$W/time" $L separate "$song" --target bongo --genre bachata "${model_args[@]}" \
        --query samples/loops/bachata_4242_0001_bongo_00.flac --passes "$passes" --output "$W/out.wav" --force > /dev/null
    echo "$passes $(cat "$W/time")" >> "$W/runs.txt"
  done
done
python3 - "$W/runs.txt" "$seconds" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    p, wall, rss = line.split()
    runs.setdefault(p, []).append((float(wall), int(rss) / 1024))
audio = float(sys.argv[2])
for p in sorted(runs):
    wall = statistics.median(w for w, _ in runs[p]); rss = max(r for _, r in runs[p])
    print(f"passes {p}: {audio:.1f} s audio, median wall {wall:.2f} s = {audio / wall:.1f}x real time, "
          f"peak RSS {rss:.0f} MB (runs: {', '.join(f'{w:.2f}' for w, _ in runs[p])})")
PY
