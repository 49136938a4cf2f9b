#!/usr/bin/env bash
# The installed layout stands on its own: `cmake --install` into a temporary prefix, the prefix moved
# elsewhere (so nothing may point back at the build or at where it was installed), then the installed
# binary separates the demo song from an unrelated folder with a fresh HOME — the default model and the
# default catalog's samples must come from <prefix>/share/loopsep. With strace present, no file under the
# source or the build tree may even be looked at.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR SHIPPED_MODEL
#   SHIPPED_MODEL  the default model's path under the source tree, as the install rule read it from
#                  kShippedModelFile (CMakeLists.txt's LOOPSEP_SHIPPED_MODEL)
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) model=${3:-}
tmp=$(mktemp -d /tmp/loopsep-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }
[ -n "$model" ] || fail "no shipped model named (third argument)"

cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/moved"
P=$tmp/moved
for f in bin/loopsep lib/loopsep/libloopsep_model_commands.so lib/loopsep/libloopsep_beat_commands.so \
         lib/loopsep/libloopsep_synth_commands.so share/loopsep/$model \
         share/loopsep/samples/loops/loops.json share/loopsep/samples/demo/bachata_demo.flac; do
  [ -f "$P/$f" ] || fail "missing $P/$f"
done
# The loader must not be pointed at the build tree (CMake drops the build RUNPATH on install).
if readelf -d "$P/bin/loopsep" | grep -E 'R(UN)?PATH' | grep -qF "$build"; then fail "bin/loopsep keeps a RUNPATH into $build"; fi

mkdir -p "$tmp/work" "$tmp/home"
cd "$tmp/work"
run=(env -u LOOPSEP_MODEL -u LOOPSEP_SAMPLES -u LOOPSEP_CATALOG -u XDG_DATA_HOME HOME="$tmp/home"
     "$P/bin/loopsep" separate "$P/share/loopsep/samples/demo/bachata_demo.flac" --genre bachata
     --target bongo --output bongo.wav --json --quiet)
if command -v strace >/dev/null; then
  strace -f -qq -e trace=%file -o "$tmp/trace" "${run[@]}" >out.json || fail "separate failed: $(tail -3 "$tmp/trace")"
  if grep -F -e "\"$source/" -e "\"$build/" "$tmp/trace" | head -5 | grep .; then
    fail "the installed binary looked at the source or build tree (above)"
  fi
else
  echo "install test: strace not found, file accesses not checked" >&2
  "${run[@]}" >out.json || fail "separate failed"
fi
# The model and the query's loops came from the moved prefix (the catalog was seeded from its samples).
grep -qF "\"model\": \"$P/share/loopsep/$model\"" out.json || fail "model not from the prefix: $(grep '"model"' out.json)"
grep -qF '"kind": "prototype"' out.json || fail "the query is not the default catalog's prototype"
sqlite3 "$tmp/home/.local/share/loopsep/catalog.db" "select value from meta where key = 'seeded_from'" | grep -qF "$P/share/loopsep/samples/loops/loops.json" \
  || fail "default catalog not seeded from the prefix"
[ -s bongo.wav ] || fail "no bongo.wav"
echo "install test: separated the demo with $P/bin/loopsep"
