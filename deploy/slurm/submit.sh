#!/usr/bin/env bash
# Submits a loopsep run over a song list to Slurm: the harvest array (one catalog per task),
# the merge as a job that waits for every harvest task to succeed (--dependency=afterok), and
# optionally the separate array. Prints the job ids.
#
#   deploy/slurm/submit.sh --list songs.txt --work /scratch/run1 --tasks 100 \
#       --target bongo --genre bachata --query /data/bongo_loop.wav [--separate bongo,guira] \
#       [--loopsep /opt/loopsep/bin/loopsep] [--max-running 50] [--wait] [-- more sbatch options]
#
# Logs go to WORK/logs/. The merged catalog is WORK/catalog.db (LOOPSEP_OUT to change it).
# --wait blocks until the merge (and separate) jobs end and exits non-zero if one failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
list="" work="" tasks="" target="" genre="" query="" separate="" max_running="" wait=0
sbatch_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --list) list=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --tasks) tasks=$2; shift 2 ;;
        --target) target=$2; shift 2 ;;
        --genre) genre=$2; shift 2 ;;
        --query) query=$2; shift 2 ;;
        --separate) separate=$2; shift 2 ;;
        --loopsep) export LOOPSEP=$2; shift 2 ;;
        --max-running) max_running=$2; shift 2 ;;
        --wait) wait=1; shift ;;
        --) shift; sbatch_extra=("$@"); break ;;
        -h|--help) usage ;;
        *) echo "submit.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in list work tasks target genre query; do
    [ -n "${!v}" ] || { echo "submit.sh: --$v is required (see --help)" >&2; exit 2; }
done
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: --tasks must be a positive whole number" >&2; exit 2; }
[ -r "$list" ] || { echo "submit.sh: $list: cannot read the song list" >&2; exit 1; }
[ -r "$query" ] || { echo "submit.sh: $query: cannot read the query loop" >&2; exit 1; }

# Absolute paths: the jobs may start in another folder, on another node.
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
mkdir -p "$work/logs"
export LOOPSEP_LIST LOOPSEP_WORK LOOPSEP_TARGET LOOPSEP_GENRE LOOPSEP_QUERY
LOOPSEP_LIST=$(abs "$list")
LOOPSEP_WORK=$(cd "$work" && pwd)
LOOPSEP_TARGET=$target LOOPSEP_GENRE=$genre
LOOPSEP_QUERY=$(abs "$query")
array="0-$((tasks - 1))${max_running:+%$max_running}"
logs="$LOOPSEP_WORK/logs"

# --parsable prints "jobid" or "jobid;cluster".
harvest=$(sbatch --parsable --export=ALL --array="$array" --output="$logs/%x_%A_%a.log" \
    "${sbatch_extra[@]}" "$here/harvest_array.sbatch")
harvest=${harvest%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$harvest" --kill-on-invalid-dep=yes \
    --output="$logs/%x_%j.log" "${sbatch_extra[@]}" "$here/merge.sbatch")
merge=${merge%%;*}
echo "harvest array: $harvest ($tasks tasks)"
echo "merge:         $merge (after every harvest task succeeds) -> ${LOOPSEP_OUT:-$LOOPSEP_WORK/catalog.db}"
separate_job=""
if [ -n "$separate" ]; then
    export LOOPSEP_TARGETS=$separate
    separate_job=$(sbatch --parsable --export=ALL --array="$array" --output="$logs/%x_%A_%a.log" \
        "${sbatch_extra[@]}" "$here/separate_array.sbatch")
    separate_job=${separate_job%%;*}
    echo "separate array: $separate_job ($tasks tasks) -> $LOOPSEP_WORK/stems"
fi

if [ "$wait" = 1 ]; then
    jobs="$merge${separate_job:+,$separate_job}"
    while [ -n "$(squeue -h -j "$jobs" -t PENDING,RUNNING,CONFIGURING,COMPLETING,REQUEUED,SUSPENDED 2>/dev/null)" ]; do
        sleep 2
    done
    failed=0
    for j in $merge $separate_job; do
        # sacct needs accounting; scontrol knows a finished job for MinJobAge (300 s by default).
        state=$(sacct -n -X -P -j "$j" -o State 2>/dev/null | head -n 1 || true)
        [ -n "$state" ] || state=$(scontrol show job "$j" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
        echo "job $j: ${state:-unknown}"
        [ "$state" = COMPLETED ] || failed=1
    done
    exit $failed
fi
