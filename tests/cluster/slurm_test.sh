#!/usr/bin/env bash
# The cluster run on a real Slurm: starts a one-node cluster on localhost from Debian's packages
# (munged + slurmctld + slurmd, as the current user, everything under one temp folder, free
# ports), submits deploy/slurm/submit.sh's harvest array over a few short generated songs plus
# the dependent merge (and the separate array), waits, and checks the merged catalog against a
# single-process harvest of the same songs: the same loops (hash, instrument, tags, length),
# the same count, verify clean, every song recorded once. The daemons are stopped on exit.
#
#   bash tests/cluster/slurm_test.sh path/to/loopsep        (ctest runs it as cluster.slurm)
#
# A cluster that cannot start is a FAILURE that says why, never a skip: CI installs slurm-wlm
# and munge (tools/install-deps.sh), so a missing daemon is a broken setup.
set -euo pipefail
loopsep=$(realpath "${1:?usage: slurm_test.sh LOOPSEP_BINARY}")
src=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"  # the daemons live there; a plain user's PATH may lack it
start_sec=$SECONDS

fail() {  # the logs first, the reason last (where a reader of CI output looks)
    for f in "${work:-/nonexistent}"/log/* "${work:-/nonexistent}"/run/logs/*; do
        [ -f "$f" ] || continue
        echo "----- $f (last 20 lines)" >&2
        tail -n 20 "$f" >&2
    done
    echo "slurm_test: FAIL: $*" >&2
    exit 1
}
for tool in mungekey munged slurmctld slurmd sbatch squeue sinfo scontrol sqlite3; do
    command -v "$tool" > /dev/null ||
        fail "$tool not found: the Slurm test needs Debian's slurm-wlm, munge and sqlite3 (tools/install-deps.sh)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/loopsep-slurm-XXXXXX")
chmod 700 "$work"
mkdir -p "$work/munge" "$work/log" "$work/spool/ctld" "$work/spool/d"
chmod 700 "$work/munge"
export SLURM_CONF="$work/slurm.conf"
# The catalog separate's queries come from: seeded from samples/ by its first use (just below), then
# copied by each separate task (deploy/slurm/separate_array.sbatch). Not the user's own catalog.
export LOOPSEP_CATALOG="$work/catalog.db"

stop_cluster() {
    local rc=$?
    set +e
    # This cluster's jobs (none left after a pass), then its daemons; munge last, slurm needs it to stop.
    scancel --full -u "$(id -un)" > /dev/null 2>&1
    scontrol shutdown > /dev/null 2>&1
    local pid
    for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
        [ -s "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        [ "$pidfile" = "$work/munge/munged.pid" ] && munged --stop --socket="$work/munge/socket" > /dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2> /dev/null && kill "$pid"   # only the daemons this test started, by their pid
    done
    if [ $rc -eq 0 ]; then rm -rf "$work"; else echo "slurm_test: files kept in $work" >&2; fi
    exit $rc
}
trap stop_cluster EXIT

# Two free TCP ports (something listening answers a connect).
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
ports=()
for p in $(seq $((20000 + RANDOM % 20000)) 1 $((45000))); do
    port_free "$p" && ports+=("$p")
    [ ${#ports[@]} -eq 2 ] && break
done
[ ${#ports[@]} -eq 2 ] || fail "no free TCP port for slurmctld/slurmd"

# --- munge: the authentication slurm's daemons and commands share
mungekey --create --keyfile="$work/munge/munge.key" > /dev/null 2>&1 || fail "mungekey could not create a key"
chmod 400 "$work/munge/munge.key"
munged --force --socket="$work/munge/socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/seed" --log-file="$work/log/munged.log" ||
    fail "munged did not start"

# --- slurm.conf: one 2-core node, no cgroups (linuxproc tracking), no accounting, state in $work.
# config_overrides: the node is what this file says (2 CPUs, 8 GB), whatever the machine has.
user=$(id -un)
node=$(hostname -s)
cat > "$SLURM_CONF" << CONF
ClusterName=loopseptest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
MinJobAge=600
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 RealMemory=8192 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -i > "$work/log/slurmctld.out" 2>&1 || fail "slurmctld did not start"
slurmd -N "$node" > "$work/log/slurmd.out" 2>&1 || fail "slurmd did not start"
ready=0
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2> /dev/null || true)
    if [ "$state" = idle ]; then ready=1; break; fi
    sleep 0.5
done
[ $ready = 1 ] || fail "the node did not become idle within 30 s (state: '${state:-none}')"
echo "slurm_test: cluster up after $((SECONDS - start_sec)) s (node $node, ports ${ports[*]})"

# --- songs, and a single-process harvest of them as the reference
"$loopsep" synth --genre bachata --songs 4 --seed 4545 --out "$work/songs" --duration-sec 20 --mono > /dev/null 2>&1 ||
    fail "loopsep synth failed"
ls "$work"/songs/*/mix.wav > "$work/songs.txt"
"$loopsep" catalog stats > /dev/null || fail "could not seed the query catalog $LOOPSEP_CATALOG"
query="$src/samples/loops/bachata_4242_0000_bongo_00.flac"
no_scheduler=(env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN -u SLURM_ARRAY_TASK_MAX
              -u SLURM_ARRAY_TASK_STEP -u SLURM_ARRAY_JOB_ID -u JOB_COMPLETION_INDEX)
"${no_scheduler[@]}" "$loopsep" harvest --list "$work/songs.txt" --target bongo --genre bachata --query "$query" \
    --catalog "$work/single.db" --threads 2 --quiet > "$work/log/single.out" 2>&1 || fail "single-process harvest failed"

# --- the cluster run: 3 harvest tasks of 1 CPU each, the merge after them, 3 separate tasks
"$src/deploy/slurm/submit.sh" --list "$work/songs.txt" --work "$work/run" --tasks 3 --target bongo \
    --genre bachata --query "$query" --separate bongo --loopsep "$loopsep" --wait -- --cpus-per-task=1 \
    > "$work/log/submit.out" 2>&1 || { cat "$work/log/submit.out" >&2; fail "the jobs did not all complete"; }
cat "$work/log/submit.out"

# --- checks
merged="$work/run/catalog.db"
[ -f "$merged" ] || fail "no merged catalog at $merged"
shards=$(find "$work/run/shards" -name 'harvest_*.db' | wc -l)
[ "$shards" -eq 3 ] || fail "expected 3 shard catalogs, found $shards"
loops_sql="SELECT hash, instrument, genre, section, key, printf('%.6f', bpm), beats, sample_rate_hz, frames
           FROM loops ORDER BY hash, instrument"
sqlite3 -readonly "$work/single.db" "$loops_sql" > "$work/single.txt"
sqlite3 -readonly "$merged" "$loops_sql" > "$work/merged.txt"
n_single=$(wc -l < "$work/single.txt")
n_merged=$(wc -l < "$work/merged.txt")
[ "$n_single" -ge 4 ] || fail "the single-process harvest kept only $n_single loops: nothing to compare"
diff "$work/single.txt" "$work/merged.txt" > "$work/log/loops.diff" ||
    fail "merged catalog ($n_merged loops) differs from the single-process one ($n_single loops): $(head -c 2000 "$work/log/loops.diff")"
"$loopsep" catalog --db "$merged" verify > "$work/log/verify.out" 2>&1 || fail "catalog verify: $(cat "$work/log/verify.out")"
songs_recorded=$(sqlite3 -readonly "$merged" "SELECT count(*) FROM meta WHERE key LIKE 'harvest:%'")
[ "$songs_recorded" -eq 4 ] || fail "the merged catalog records $songs_recorded songs as harvested, not 4"
dangling=$(sqlite3 -readonly "$merged" "SELECT count(*) FROM meta, json_each(meta.value, '\$.loops') AS l
    WHERE meta.key LIKE 'harvest:%' AND json_extract(l.value, '\$.id') NOT IN (SELECT id FROM loops)")
[ "$dangling" -eq 0 ] || fail "$dangling loop ids in the merged song records name no loop"
# Every song separated once, by exactly one task.
stems=$(find "$work/run/stems" -name 'bongo.wav' | wc -l)
[ "$stems" -eq 4 ] || fail "expected 4 separated bongo stems, found $stems"
# The merged records let a harvest into the merged catalog skip every song.
"${no_scheduler[@]}" "$loopsep" harvest --list "$work/songs.txt" --target bongo --genre bachata --query "$query" \
    --catalog "$merged" --quiet > "$work/log/again.out" 2>&1 || fail "harvest into the merged catalog failed"
grep -q "0 songs harvested, 4 skipped" "$work/log/again.out" ||
    fail "harvest into the merged catalog did not skip the 4 songs: $(tail -n 1 "$work/log/again.out")"

echo "slurm_test: OK: $n_merged loops from 3 array tasks merged = single-process harvest; 4 songs separated;" \
     "$((SECONDS - start_sec)) s"
