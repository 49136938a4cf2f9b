#!/usr/bin/env bash
# Fresh Debian 12 → separated demo: installs what is missing, builds loopsep,
# and pulls bongo, güira, bass and guitar out of the bundled bachata demo song.
# Stems land in separated/bachata_demo/, the report to look at and listen to in separated/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLOOPSEP_BUILD_TESTS=OFF
cmake --build build -j"$(nproc)" --target loopsep
build/tools/loopsep separate samples/demo/bachata_demo.flac \
  --targets bongo,guira,bass,guitar --residual --genre bachata --outdir separated --force --report
ls -l separated/bachata_demo/
