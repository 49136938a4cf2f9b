#!/usr/bin/env bash
# Speed and peak memory of `loopsep separate` (one target, bundled/default model):
# a 3-minute synthetic bachata song, then a 30-minute file (three 10-minute songs
# joined) to show memory does not grow with length beyond the audio itself; then the
# cost of four bachata targets against one on the 3-minute song (median of 5 runs each).
# usage: bench/separate/speed.sh [BUILD_DIR] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
MODEL=${2:-models/loopsep-v5.safetensors}
L=$BUILD/tools/loopsep
W=$(mktemp -d /tmp/loopsep-speed-XXXXXX)
trap 'rm -rf "$W"' EXIT

$L synth --genre bachata --songs 1 --seed 101 --split val --duration-sec 180 --out "$W/s3" --quiet
$L synth --genre bachata --songs 3 --seed 202 --split val --duration-sec 600 --out "$W/s30" --quiet
sox $(ls "$W"/s30/*/mix.wav) "$W/long30.wav"

run() {  # song label
  rm -f "$W/out.wav"
  sync  # nothing of an earlier run left to write back meanwhile
  /usr/bin/time -f "%e %M" -o "$W/time" $L separate "$1" --target bongo --genre bachata --model "$MODEL" \
      --query samples/loops/bachata_4242_0001_bongo_00.flac --output "$W/out.wav" --force --json > "$W/summary.json"
  read -r wall rss < "$W/time"
  python3 - "$W/summary.json" "$wall" "$rss" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["songs"][0]; wall = float(sys.argv[2]); rss_mb = int(sys.argv[3]) / 1024
st = s["timings"]["stage_sec"]
print(f"{sys.argv[4]:>10}: {s['seconds']:7.1f} s audio, {wall:6.1f} s wall = {s['seconds']/wall:5.1f}x real time, "
      f"peak RSS {rss_mb:6.0f} MB | decode {st['decode']:.2f} s, beats {st['beats']:.2f} s, stretch+STFT {st['stretch']:.2f} s, "
      f"model {st['model']:.2f} s, reconstruct {st['reconstruct']:.2f} s, write {st['write']:.2f} s, setup {s['timings']['setup_sec']:.2f} s, "
      f"segments {s['segments']}")
PY
}
run "$W"/s3/*/mix.wav "3 min"
run "$W/long30.wav" "30 min"

# Four targets vs one (class-prototype queries from the default catalog), interleaved runs.
song3=$(ls "$W"/s3/*/mix.wav)
for i in 1 2 3 4 5; do
  for t in bongo bongo,guira,bass,guitar; do
    rm -rf "$W/out"
    sync
    /usr/bin/time -f "%e" -o "$W/time" $L separate "$song3" --targets "$t" --genre bachata --model "$MODEL" \
        --outdir "$W/out" --force > /dev/null
    echo "$t $(cat "$W/time")" >> "$W/targets.txt"
  done
done
python3 - "$W/targets.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    t, wall = line.split()
    runs.setdefault(t, []).append(float(wall))
one, four = statistics.median(runs["bongo"]), statistics.median(runs["bongo,guira,bass,guitar"])
print(f"  targets: 1 target {one:.2f} s, 4 targets {four:.2f} s (median of {len(runs['bongo'])}) = {four / one:.2f}x")
PY
