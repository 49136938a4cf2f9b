#!/usr/bin/env bash
# Builds loopsep with AddressSanitizer + UndefinedBehaviorSanitizer in its own tree and runs the
# test suites there (ctest). A memory error or undefined behaviour in loopsep's code fails the test
# that hit it, with the report on its output.
#
#   bash bench/sanitize/run.sh [BUILD_DIR] [ctest arguments...]     (default BUILD_DIR: build-sanitize)
#   bash bench/sanitize/run.sh build-sanitize -R 'Hardening|Cli'     # a subset
#
# JOBS (default 2) sets the build and ctest parallelism. The first build takes as long as a normal
# full build (longer without ccache); the suites run about 2-3x slower than in a Release build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-sanitize}
[[ $# -gt 0 ]] && shift
jobs=${JOBS:-2}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOPSEP_BUILD_TESTS=ON \
  -DLOOPSEP_SANITIZE=address,undefined "${launcher[@]}"
cmake --build "$build" -j"$jobs"

# LibTorch and other uninstrumented libraries keep allocations until exit and may free with a
# different operator than they allocated with: leaks and alloc/dealloc mismatches are not ours.
export ASAN_OPTIONS="detect_leaks=0:alloc_dealloc_mismatch=0:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
ctest --test-dir "$build" -j"$jobs" --output-on-failure "$@"
