#!/usr/bin/env bash
# Fuzz the model-file parser (libFuzzer, clang, with ASan + UBSan) for a fixed time, starting from the
# committed seed corpus tests/models/fuzz/corpus (new interesting inputs go to a scratch copy, so the
# committed corpus only changes by hand). Prints the executions and any crash (a crash leaves
# crash-* files in the scratch folder and exits non-zero).
# usage: bench/fuzz/run.sh [SECONDS=120] [BUILD_DIR=build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-120}
B=${2:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DLOOPSEP_FUZZ=ON -DLOOPSEP_BUILD_TESTS=OFF > /dev/null
cmake --build "$B" --target fuzz_safetensors -j"$(nproc)" > /dev/null
FUZZER=$(cd "$B" && pwd)/models/fuzz_safetensors
W=$(mktemp -d /tmp/loopsep-fuzz-XXXXXX)
cp tests/models/fuzz/corpus/* "$W/"
cd "$W"
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -print_final_stats=1 "$W" 2>&1 |
  grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done [0-9]+ runs' || true
ls "$W"/crash-* 2>/dev/null && { echo "crashes kept in $W"; exit 1; }
echo "no crash; corpus grew to $(ls "$W" | wc -l) inputs (scratch: $W)"
