#!/usr/bin/env bash
# Installs (with apt-get) the Debian 12 packages loopsep needs that are missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libtorch-dev libopenblas0-pthread
  libaubio-dev librubberband-dev libsndfile1-dev libfftw3-dev libsamplerate0-dev
  libsqlite3-dev sqlite3 libgtest-dev nlohmann-json3-dev
  libfluidsynth-dev fluid-soundfont-gm timgm6mb-soundfont espeak-ng sox time
  csound-soundfont avldrums.lv2-soundfont opl3-soundfont lmms-common sonic-pi-samples
  hydrogen-drumkits hydrogen-drumkits-effects freepats
  libpng-dev chromium strace
  slurm-wlm munge
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
