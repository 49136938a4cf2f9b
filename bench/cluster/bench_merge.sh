#!/usr/bin/env bash
# Times `loopsep catalog merge` of N shard catalogs as a cluster harvest leaves them
# (bench_make_shards: real FLAC loops, a cached embedding each, a song record per 8 loops,
# 1 % of the loops repeated across shards), then `catalog verify` of the result.
#
#   bash bench/cluster/bench_merge.sh BUILD [--shards 100] [--loops-per-shard 1000] [--frames 256] [--work DIR]
#
# --frames 256 (5.8 ms of audio, ~100-byte FLAC blobs) times the per-loop work; --frames 88200
# (2 s, as a harvested one-bar loop) shows what the audio bytes add. Runs under nice -n 10.
set -euo pipefail
build=${1:?usage: bench_merge.sh BUILD [--shards N] [--loops-per-shard N] [--frames N] [--work DIR]}
shift
shards=100 per_shard=1000 frames=256 work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --shards) shards=$2; shift 2 ;;
        --loops-per-shard) per_shard=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "bench_merge.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
loopsep="$build/tools/loopsep"
cleanup=0
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/loopsep-bench-merge-XXXXXX"); cleanup=1; fi
trap '[ $cleanup = 1 ] && rm -rf "$work"' EXIT
rm -rf "$work/shards" "$work/merged.db"

t0=$(date +%s.%N)
nice -n 10 "$build/catalog/bench_make_shards" --dir "$work/shards" --shards "$shards" \
    --loops-per-shard "$per_shard" --frames "$frames" > /dev/null
t1=$(date +%s.%N)
nice -n 10 /usr/bin/time -f "%e %M %U %S" -o "$work/merge.time" "$loopsep" catalog merge "$work/merged.db" \
    "$work"/shards/harvest_*.db > "$work/merge.out"
read -r merge_s merge_rss_kb user_s sys_s < "$work/merge.time"
nice -n 10 /usr/bin/time -f "%e" -o "$work/verify.time" "$loopsep" catalog --db "$work/merged.db" verify \
    > "$work/verify.out"
verify_s=$(cat "$work/verify.time")
loops=$(sqlite3 -readonly "$work/merged.db" "SELECT count(*) FROM loops")
shard_mb=$(du -sm "$work/shards" | cut -f1)
out_mb=$(du -sm "$work/merged.db" | cut -f1)
printf 'shards: %d x %d loops of %d frames, %d MB (made in %.1f s)\n' "$shards" "$per_shard" "$frames" "$shard_mb" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
tail -n 1 "$work/merge.out"
printf 'merge: %s s wall (%s s user, %s s system), %.0f MB max RSS -> %d loops, %d MB (%.1f us wall per input loop)\n' \
    "$merge_s" "$user_s" "$sys_s" \
    "$(awk -v k="$merge_rss_kb" 'BEGIN { print k / 1024 }')" "$loops" "$out_mb" \
    "$(awk -v s="$merge_s" -v n=$((shards * per_shard)) 'BEGIN { print s * 1e6 / n }')"
printf 'verify: %s s wall (%s)\n' "$verify_s" "$(tail -n 1 "$work/verify.out")"
