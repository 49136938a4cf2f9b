#!/bin/bash
# Builds loopsep-train-gpu against PyTorch's bundled LibTorch and trains on a GPU.
# Usage (repository root): models/scripts/train_gpu.sh CACHE_DIR OUT_DIR [extra loopsep-train-gpu options]
#   CACHE_DIR holds train.cache (and optionally train2.cache, val.cache, resume.safetensors)
#   and include/nlohmann/json.hpp when the machine has no nlohmann-json package.
# Writes OUT_DIR/model.safetensors, OUT_DIR/train.log and OUT_DIR/loopsep-train-gpu.
set -euo pipefail
CACHE=$1; OUTDIR=$2; shift 2
TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
BUILD=${BUILD_DIR:-/tmp/loopsep-gpu-build}
t0=$(date +%s)
if [ ! -x "$BUILD/models/loopsep-train-gpu" ]; then
  cmake -S . -B "$BUILD" -DLOOPSEP_TRAINER_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DLOOPSEP_BUILD_TESTS=OFF \
    -DCMAKE_PREFIX_PATH="$TP" -DLOOPSEP_JSON_INCLUDE="$PWD/$CACHE/include" > "$OUTDIR/cmake.log" 2>&1 \
    || { tail -40 "$OUTDIR/cmake.log"; exit 1; }
  cmake --build "$BUILD" -j16 --target loopsep-train-gpu > "$OUTDIR/build.log" 2>&1 || { grep -E "error" -A3 "$OUTDIR/build.log" | head -60; exit 1; }
fi
echo "build: $(( $(date +%s) - t0 )) s"
ARGS=()
for f in "$CACHE"/train*.cache; do ARGS+=(--cache "$f"); done
[ -f "$CACHE/val.cache" ] && ARGS+=(--val-cache "$CACHE/val.cache")
[ -f "$CACHE/resume.safetensors" ] && ARGS+=(--resume "$CACHE/resume.safetensors")
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader || true
if [ -n "${TOTAL_S:-}" ]; then  # fit training into the time left (final validation + save need ~1 min)
  ARGS+=(--minutes "$(python3 -c "print(max(1.0, ($TOTAL_S - ($(date +%s) - $t0) - 75) / 60))")")
fi
"$BUILD/models/loopsep-train-gpu" "${ARGS[@]}" --out "$OUTDIR/model.safetensors" "$@" 2>&1 | tee "$OUTDIR/train.log"
cp "$BUILD/models/loopsep-train-gpu" "$OUTDIR/" || true
