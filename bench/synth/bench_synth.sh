#!/usr/bin/env bash
# bench_synth.sh — training-set throughput of the generator on a 2-core machine:
# two bench_synth processes in parallel (different seeds), each rendering N
# bachata + N hip-hop songs; prints each process's figures and the total.
#
# usage: bench/synth/bench_synth.sh [--bin build/tools/synth/bench_synth] [--songs N] [--duration-sec S] [--loops]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/build/tools/synth/bench_synth"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -x "$bin" ] || { echo "bench_synth.sh: no $bin (build the bench_synth target)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
"$bin" --seed 101 --out "$work/a" "${args[@]}" > "$work/a.txt" &
"$bin" --seed 202 --out "$work/b" "${args[@]}" > "$work/b.txt" &
wait
end=$(date +%s.%N)
cat "$work/a.txt" "$work/b.txt"
songs=$(find "$work" -name meta.json | wc -l)
awk -v s="$songs" -v t0="$start" -v t1="$end" 'BEGIN { w = t1 - t0; printf "total: %d songs in %.1f s wall on 2 processes = %.1f songs/minute\n", s, w, 60 * s / w }'
du -sh "$work" | awk '{ print "disk: " $1 " for all songs (pcm16 WAV)" }'
