#!/usr/bin/env bash
# Runs one libFuzzer target (clang, ASan + UBSan, every loopsep library instrumented) for a fixed time,
# starting from its committed seed corpus (new interesting inputs go to a scratch copy, so the committed
# corpus only changes by hand). Prints the executions and any crash (a crash leaves crash-* files in the
# scratch folder and exits non-zero).
#
#   bench/fuzz/run.sh [TARGET=fuzz_safetensors] [SECONDS=120] [BUILD_DIR=build-fuzz]
#   bench/fuzz/run.sh 120                  # the old form: a number alone is SECONDS for fuzz_safetensors
#
# TARGET           harness                                          seed corpus
# fuzz_safetensors the model-file parser                            tests/models/fuzz/corpus
# fuzz_loopfile    audio decoding + the acid/smpl loop-info reader  tests/loops/fuzz/corpus (make_corpus.py)
# fuzz_catalog_rows tampered catalog rows through every read path   tests/catalog/fuzz/corpus
# fuzz_cli_args    the argument parser on NUL-separated argv        tests/cli/fuzz/corpus
# fuzz_prototype   the class prototype from tampered catalog rows   tests/separate/fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=fuzz_safetensors
if [[ $# -gt 0 && ! $1 =~ ^[0-9]+$ ]]; then TARGET=$1; shift; fi
SECONDS_TO_RUN=${1:-120}
B=${2:-build-fuzz}
case $TARGET in
  fuzz_safetensors) CORPUS=tests/models/fuzz/corpus; BIN=models ;;
  fuzz_loopfile) CORPUS=tests/loops/fuzz/corpus; BIN=loops ;;
  fuzz_catalog_rows) CORPUS=tests/catalog/fuzz/corpus; BIN=catalog ;;
  fuzz_cli_args) CORPUS=tests/cli/fuzz/corpus; BIN=tools ;;
  fuzz_prototype) CORPUS=tests/separate/fuzz/corpus; BIN=engine ;;
  *) echo "unknown fuzz target '$TARGET' (fuzz_safetensors, fuzz_loopfile, fuzz_catalog_rows, fuzz_cli_args, fuzz_prototype)" >&2; exit 2 ;;
esac
CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DLOOPSEP_FUZZ=ON -DLOOPSEP_BUILD_TESTS=OFF > /dev/null
cmake --build "$B" --target "$TARGET" -j"$(nproc)" > /dev/null
FUZZER=$(cd "$B" && pwd)/$BIN/$TARGET
W=$(mktemp -d /tmp/loopsep-fuzz-XXXXXX)
cp "$CORPUS"/* "$W/"
rm -f "$W"/*.py
cd "$W"
# -timeout: one input running 20 s is a hang, reported like a crash (timeout-* files).
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 "$W" 2>&1 |
  grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done [0-9]+ runs' || true
FINDINGS=$(ls "$W" | grep -E '^(crash|timeout|oom|leak)-' || true)
[[ -n $FINDINGS ]] && { echo "$FINDINGS"; echo "findings kept in $W"; exit 1; }
echo "no crash; corpus grew to $(ls "$W" | wc -l) inputs (scratch: $W)"
