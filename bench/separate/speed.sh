#!/usr/bin/env bash
# Speed and peak memory of `loopsep separate` (one target, bundled/default model):
# a 3-minute synthetic bachata song, then a 30-minute file (three 10-minute songs
# joined) to show memory does not grow with length beyond the audio itself.
# usage: bench/separate/speed.sh [BUILD_DIR] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
MODEL=${2:-models/loopsep-v1.safetensors}
L=$BUILD/tools/loopsep
W=$(mktemp -d /tmp/loopsep-speed-XXXXXX)
trap 'rm -rf "$W"' EXIT

$L synth --genre bachata --songs 1 --seed 101 --split val --duration-sec 180 --out "$W/s3" --quiet
$L synth --genre bachata --songs 3 --seed 202 --split val --duration-sec 600 --out "$W/s30" --quiet
sox $(ls "$W"/s30/*/mix.wav) "$W/long30.wav"

run() {  # song label
  /usr/bin/time -f "%e %M" -o "$W/time" $L separate "$1" --target bongo --genre bachata --model "$MODEL" \
      --query samples/loops/bachata_4242_0001_bongo_00.flac --output "$W/out.wav" --force --json > "$W/summary.json"
  read -r wall rss < "$W/time"
  python3 - "$W/summary.json" "$wall" "$rss" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); rss_mb = int(sys.argv[3]) / 1024
st = s["stage_sec"]
print(f"{sys.argv[4]:>10}: {s['seconds']:7.1f} s audio, {wall:6.1f} s wall = {s['seconds']/wall:5.1f}x real time, "
      f"peak RSS {rss_mb:6.0f} MB | beats {st['beats']:.1f} s, stretch+STFT {st['stretch']:.1f} s, "
      f"model {st['model']:.1f} s, reconstruct {st['reconstruct']:.1f} s, segments {s['segments']}")
PY
}
run "$W"/s3/*/mix.wav "3 min"
run "$W/long30.wav" "30 min"
