#!/usr/bin/env bash
# Builds loopsep (Release) and runs every test suite with ctest.
# This is the command CI runs (.ci/run) and the README's second quick-start command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
# Tests ON explicitly: tools/quickstart.sh configures the same build folder with them OFF.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DLOOPSEP_BUILD_TESTS=ON
cmake --build "$BUILD_DIR" -j"$(nproc)"
# The report's browser test (headless chromium, installed above) must run here, not be skipped.
export LOOPSEP_REQUIRE_BROWSER=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)"
