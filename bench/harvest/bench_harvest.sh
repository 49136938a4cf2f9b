#!/usr/bin/env bash
# bench_harvest — does `loopsep harvest` take loops only from bars where the target plays?
#
# Generates bachata songs with known structure (`loopsep synth --split val`: timbres the
# model never trained on), harvests the target (default bongo) from each with the trained
# model, and scores every kept loop against the song's meta.json:
#   precision   loops whose whole span lies inside the target's presence intervals
#               (≥ 95 % of the span covered) / loops kept
#   absent      loops from bars where the target is (mostly) silent: < 50 % of the span covered
#               (the rest of the misses are bars where it enters or stops mid-bar)
#   sections    the sections the loops were taken from (and those where the target plays)
#   exact       loops whose exported WAV has exactly round(beats·60/bpm·rate) frames and
#               whose acid chunk holds that tempo and beat count (parsed here from the RIFF)
#   verify      `loopsep catalog verify` on the filled catalog
# The query is a four-beat loop of the target cut by `synth --loops` from ANOTHER song.
#
# usage: bench/harvest/bench_harvest.sh [--loopsep BIN] [--model FILE] [--songs N] [--seed S]
#            [--target NAME] [--work DIR] [-- extra harvest options, e.g. --max-loops 100 --min-quality 0.2]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/build/tools/loopsep"
model="$root/models/loopsep-v5.safetensors"
songs=3
seed=801
target=bongo
work=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --loopsep) bin=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --songs) songs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench_harvest: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "bench_harvest: no loopsep binary at $bin (use --loopsep)" >&2; exit 2; }
[ -f "$model" ] || { echo "bench_harvest: no model at $model (use --model)" >&2; exit 2; }
if [ -z "$work" ]; then work=$(mktemp -d /tmp/bench-harvest-XXXXXX); fi
mkdir -p "$work"

# Songs to harvest, and one other song whose loops give the query (--force: a --work folder of an
# earlier run gets the same songs again).
"$bin" synth --genre bachata --songs "$songs" --seed "$seed" --split val --out "$work/songs" --quiet --force
"$bin" synth --genre bachata --songs 1 --seed $((seed + 1000)) --split val --loops --out "$work/query" --quiet --force
query=$(ls "$work"/query/*/loops/"${target}"_00.wav 2>/dev/null | head -1 || true)
[ -n "$query" ] || { echo "bench_harvest: the query song has no $target loop" >&2; exit 1; }
qbpm=$(python3 -c "import json,sys; l=[x for x in json.load(open(sys.argv[1])) if x['file']=='${target}_00.wav']; print(l[0]['bpm'])" "$(dirname "$query")/loops.json")

rm -f "$work/lib.db"; rm -rf "$work/export"
start=$(date +%s.%N)
"$bin" harvest "$work"/songs/*/mix.wav --target "$target" --genre bachata --catalog "$work/lib.db" \
  --query "$query" --query-bpm "$qbpm" --model "$model" --export "$work/export" --json "${extra[@]}" > "$work/harvest.json"
end=$(date +%s.%N)
"$bin" catalog --db "$work/lib.db" verify > "$work/verify.txt" 2>&1 && verify=ok || verify=FAILED

python3 - "$work/harvest.json" "$target" "$verify" "$start" "$end" <<'EOF'
import json, os, struct, sys

report = json.load(open(sys.argv[1]))
target, verify, t0, t1 = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])

def riff_chunks(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", path
    pos, out = 12, {}
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out[cid] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    return out

kept = correct = exact = absent = 0
bars_total = bars_playing = 0
total_dur = 0.0
from_sections, where_plays = {}, {}
for song in report["songs"]:
    meta = json.load(open(os.path.join(os.path.dirname(song["song"]), "meta.json")))
    presence = meta["presence"].get(target, [])
    total_dur += meta["duration_sec"]
    secs = meta["sections"]
    def section_at(t):
        name = ""
        for start, n in secs:
            if start <= t + 0.05:
                name = n
        return name
    # Chance level: bars of the song (meta.json downbeats) where the target plays throughout.
    db = meta["downbeats"]
    for i in range(len(db) - 1):
        cov = sum(max(0.0, min(db[i + 1], e) - max(db[i], s)) for s, e in presence)
        bars_total += 1
        bars_playing += cov >= 0.95 * (db[i + 1] - db[i])
    # Share of each section's time where the target plays (sections can repeat).
    bounds = [(secs[i][0], secs[i + 1][0] if i + 1 < len(secs) else meta["duration_sec"], secs[i][1]) for i in range(len(secs))]
    for a0, b0, n in bounds:
        cov = sum(max(0.0, min(b0, e) - max(a0, s)) for s, e in presence)
        tot, c = where_plays.get(n, (0.0, 0.0))
        where_plays[n] = (tot + (b0 - a0), c + cov)
    for loop in song["loops"]:
        kept += 1
        fmt = riff_chunks(loop["file"])
        channels, rate = struct.unpack("<HI", fmt[b"fmt "][2:8])
        bits = struct.unpack("<H", fmt[b"fmt "][14:16])[0]
        frames = len(fmt[b"data"]) // (channels * bits // 8)
        acid = fmt.get(b"acid", b"")
        beats = struct.unpack("<I", acid[12:16])[0] if len(acid) >= 24 else 0
        tempo = struct.unpack("<f", acid[20:24])[0] if len(acid) >= 24 else 0.0
        want = round(beats * 60.0 / tempo * rate) if tempo > 0 else -1
        ok_len = frames == want and abs(tempo - loop["bpm"]) < 1e-3 and beats > 0
        exact += ok_len
        a = loop["start_sec"]
        b = loop["end_sec"]
        covered = sum(max(0.0, min(b, e) - max(a, s)) for s, e in presence)
        good = covered >= 0.95 * (b - a)
        correct += good
        absent += covered < 0.5 * (b - a)
        sec = section_at(a)
        from_sections[sec] = from_sections.get(sec, 0) + 1
        print(f"  {os.path.basename(os.path.dirname(song['song']))} bar {loop['bar']:3d} @ {a:7.2f}s  {sec:8s} "
              f"q={loop.get('score', {}).get('quality', float('nan')):.2f}  target plays {100*covered/(b-a):5.1f}%  "
              f"{'ok' if good else 'WRONG'}  exact={'yes' if ok_len else 'NO'}")
    dropped = ", ".join(f"{n} {k}" for k, n in song["dropped"].items())
    print(f"  {song['song']}: {song['candidates']} candidates, {song['kept']} kept; dropped: {dropped or 'none'}")

print(f"harvest {target}: songs {report['songs_harvested']}, loops kept {kept}")
print(f"precision (loop inside target presence): {correct}/{kept} = {correct / kept:.3f}" if kept else "precision: no loops kept")
print(f"from bars where {target} is silent (< 50 % of the bar): {absent}/{kept}; where it plays only part of the bar: {kept - correct - absent}/{kept}")
print(f"chance (bars where {target} plays throughout): {bars_playing}/{bars_total} = {bars_playing / max(1, bars_total):.3f}")
print(f"exact length + acid tempo/beats: {exact}/{kept}")
print(f"sections of kept loops: {from_sections}")
print(f"{target} plays in: " + ", ".join(f"{n} {100 * c / t:.0f}%" for n, (t, c) in where_plays.items() if t > 0))
print(f"catalog verify: {verify}")
print(f"wall time: {t1 - t0:.1f} s for {total_dur:.0f} s of audio ({total_dur / (t1 - t0):.1f}x real time, incl. model load)")
EOF
echo "work dir: $work"
