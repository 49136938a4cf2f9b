#!/usr/bin/env bash
# Rubber Band R2 vs R3 vs R3 short-window: speed on 2 cores and ×1.033 round-trip SI-SDR.
# usage: bench/stretch/run.sh [BUILD_DIR] [extra bench_stretch args, e.g. --input song.wav]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
shift || true
cmake --build "$BUILD" --target bench_stretch -j2 >/dev/null
exec taskset -c 0,1 "$BUILD/loops/bench_stretch" "$@"
