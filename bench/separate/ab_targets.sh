#!/usr/bin/env bash
# Four targets against one, for two builds run interleaved on the same machine (so a slow or noisy
# machine slows both alike): `separate --targets bongo` and `--targets bongo,guira,bass,guitar` on the
# 3-minute synthetic bachata song of speed.sh, N rounds; medians of wall and CPU (user + system) time
# and of the per-stage times that `separate --json` reports.
# usage: bench/separate/ab_targets.sh OLD_LOOPSEP NEW_LOOPSEP [ROUNDS=8] [MODEL] [NEW_MODEL=MODEL]
# (two models on one build: pass the same binary twice and both models)
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=$1
NEW=$2
ROUNDS=${3:-8}
MODEL=${4:-models/loopsep-v5.safetensors}
NEW_MODEL=${5:-$MODEL}
W=$(mktemp -d /tmp/loopsep-ab-XXXXXX)
trap 'rm -rf "$W"' EXIT

"$NEW" synth --genre bachata --songs 1 --seed 101 --split val --duration-sec 180 --out "$W/s3" --quiet
song=$(ls "$W"/s3/*/mix.wav)
for _ in $(seq "$ROUNDS"); do
  for label in old new; do
    bin=$OLD
    model=$MODEL
    [ "$label" = new ] && bin=$NEW && model=$NEW_MODEL
    for t in bongo bongo,guira,bass,guitar; do
      # Each run starts with no output of an earlier run and nothing left to write back: replacing the
      # earlier run's stems, or the kernel flushing them meanwhile, slowed four-target runs more.
      rm -rf "$W/out"
      sync
      /usr/bin/time -f "%e %U %S" -o "$W/time" "$bin" separate "$song" --targets "$t" --genre bachata \
          --model "$model" --outdir "$W/out" --force --json > "$W/summary.json"
      python3 - "$label" "$t" "$W/time" "$W/summary.json" >> "$W/runs.txt" <<'PY'
import json, sys
wall, user, sys_s = map(float, open(sys.argv[3]).read().split())
stages = json.load(open(sys.argv[4]))["songs"][0]["timings"]["stage_sec"]
print(json.dumps({"build": sys.argv[1], "targets": sys.argv[2].count(",") + 1, "wall": wall,
                  "cpu": user + sys_s, "stages": stages}))
PY
    done
  done
done
python3 - "$W/runs.txt" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def med(build, n, key, stage=None):
    vals = [r["stages"][stage] if stage else r[key] for r in runs if r["build"] == build and r["targets"] == n]
    return statistics.median(vals)
def paired(build):  # each round's four-target run over the one-target run just before it
    ones = [r["wall"] for r in runs if r["build"] == build and r["targets"] == 1]
    fours = [r["wall"] for r in runs if r["build"] == build and r["targets"] == 4]
    return statistics.median(f / o for o, f in zip(ones, fours))
for b in ("old", "new"):
    one, four = med(b, 1, "wall"), med(b, 4, "wall")
    c1, c4 = med(b, 1, "cpu"), med(b, 4, "cpu")
    stages = ", ".join(f"{s} {med(b, 1, None, s):.2f}/{med(b, 4, None, s):.2f}"
                       for s in ("model", "reconstruct", "write"))
    print(f"{b}: 1 target {one:.2f} s, 4 targets {four:.2f} s = {four / one:.2f}x (median of the rounds' own "
          f"ratios {paired(b):.2f}x; CPU {c1:.2f} / {c4:.2f} s = "
          f"{c4 / c1:.2f}x); each extra target {(four - one) / 3:.2f} s wall, {(c4 - c1) / 3:.2f} CPU-s; "
          f"stages (1/4 targets) {stages}")
PY
