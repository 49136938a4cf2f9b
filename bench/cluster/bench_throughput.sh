#!/usr/bin/env bash
# Songs per hour on this machine, as one cluster task of 2 CPUs would run them: harvest of one
# target, separate of one target, and separate of the genre's default set (bachata: bongo, guira,
# bass, guitar + residual), over N generated 3-minute stereo songs, one process, --threads 2.
# Also prints what the harvest's catalog holds per song (loops, bytes), for sizing a collection.
#
#   bash bench/cluster/bench_throughput.sh BUILD [--songs 3] [--duration-sec 180] [--seed 6100] [--work DIR]
#
# Runs under nice -n 10 (the machine may be shared: say so with the figures). Song synthesis is
# not timed. The queries: the bundled bongo loop for harvest, the seeded catalog for separate.
set -euo pipefail
build=${1:?usage: bench_throughput.sh BUILD [--songs N] [--duration-sec S] [--seed S] [--work DIR]}
shift
songs=3 duration=180 seed=6100 work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --songs) songs=$2; shift 2 ;;
        --duration-sec) duration=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "bench_throughput.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
src=$(cd "$(dirname "$0")/../.." && pwd)
loopsep="$build/tools/loopsep"
cleanup=0
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/loopsep-bench-throughput-XXXXXX"); cleanup=1; fi
trap '[ $cleanup = 1 ] && rm -rf "$work"' EXIT
export LOOPSEP_CATALOG="$work/catalog.db"   # a fresh per-user catalog, seeded from samples/ on first use

[ -d "$work/songs" ] || nice -n 10 "$loopsep" synth --genre bachata --songs "$songs" --seed "$seed" \
    --duration-sec "$duration" --out "$work/songs" > /dev/null
mapfile -t files < <(ls "$work"/songs/*/mix.wav)
audio_sec=$(for f in "${files[@]}"; do soxi -D "$f"; done | awk '{ s += $1 } END { print s }')
"$loopsep" catalog stats > /dev/null   # seeds the catalog now, not inside a timed run

timed() {  # label, then the command; prints songs per hour
    local label=$1
    shift
    rm -rf "$work/out" "$work/harvest.db"*
    nice -n 10 /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/run.log" 2>&1 ||
        { cat "$work/run.log" >&2; exit 1; }
    local wall rss
    read -r wall rss < "$work/time"
    awk -v l="$label" -v w="$wall" -v n="${#files[@]}" -v a="$audio_sec" -v r="$rss" 'BEGIN {
        printf "%-34s %6.1f s wall for %d songs (%.0f s of audio): %5.1f s per song, %4.0f songs/hour, %4.0f MB max RSS\n",
               l, w, n, a, w / n, 3600 * n / w, r / 1024 }'
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs; under nice -n 10"
query="$src/samples/loops/bachata_4242_0000_bongo_00.flac"
timed "harvest bongo" "$loopsep" harvest "${files[@]}" --target bongo --genre bachata --query "$query" \
    --catalog "$work/harvest.db" --threads 2 --quiet
loops=$(sqlite3 -readonly "$work/harvest.db" "SELECT count(*) FROM loops")
audio_bytes=$(sqlite3 -readonly "$work/harvest.db" "SELECT sum(length(data)) FROM loop_audio")
file_bytes=$(stat -c %s "$work/harvest.db")
awk -v l="$loops" -v a="$audio_bytes" -v f="$file_bytes" -v n="${#files[@]}" 'BEGIN {
    printf "  catalog: %d loops (%.1f per song), %.0f kB of FLAC per loop, %.2f MB file (%.2f MB per song)\n",
           l, l / n, a / l / 1000, f / 1e6, f / 1e6 / n }'
timed "separate bongo" "$loopsep" separate "${files[@]}" --targets bongo --genre bachata --outdir "$work/out" \
    --threads 2 --quiet
timed "separate bongo,guira,bass,guitar+res" "$loopsep" separate "${files[@]}" --targets bongo,guira,bass,guitar \
    --residual --genre bachata --outdir "$work/out" --threads 2 --quiet
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
