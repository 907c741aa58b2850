#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for testing the SLURM profile (tests/workflow/test_slurm.py).
#
#   tests/slurm/cluster.sh start    munge + slurmctld + slurmd; waits until a job runs (idempotent); exit 2: not
#                                   root, 3: packages missing, 4: another slurm.conf in /etc/slurm
#   tests/slurm/cluster.sh stop     cancels the jobs, stops the daemons by their recorded PIDs
#   tests/slurm/cluster.sh status   exit 0 when all three daemons run, 1 otherwise
#   tests/slurm/cluster.sh env      prints `export SLURM_CONF=... SDT_SLURM_DIR=...` (eval "$(... env)")
#
# Everything lives in one state directory ($SDT_SLURM_DIR, default /tmp/sdt-slurm): its own munge key and
# socket, slurm.conf + gres.conf, spool, state, logs and PID files.  The one thing written outside it is the
# symlink /etc/slurm/slurm.conf -> $SDT_SLURM_DIR/etc/slurm.conf (removed by stop): SLURM_CONF alone is not
# enough, because the `srun` that snakemake runs inside each job does not see it (the executor plugins clear the
# SLURM_* variables), so srun finds only the default path ("Could not establish a configuration source").
# A slurm.conf that is not ours is never touched: start refuses to run (exit 4).
# Needs root (slurmd starts jobs as their user) and Debian's slurmctld slurmd slurm-client munge.
# No accounting (no slurmdbd): sacct fails, so the profile must query job status with squeue, which sees
# finished jobs for MinJobAge=300 s.  Two fake GPUs are declared as GRES (character devices 1,3 = /dev/null's,
# made under $SDT_SLURM_DIR/dev): jobs that ask for GPUs are scheduled and get CUDA_VISIBLE_DEVICES=0 or 0,1, but
# no CUDA runs (a 2-GPU training job runs two CPU processes with gloo).  A TaskProlog records, for every task of
# every job (the batch script and each srun step), the GPU environment SLURM gave it, one line per task in
# $SDT_SLURM_DIR/log/tasks.log:  job=<id> step=<step id or empty> CUDA_VISIBLE_DEVICES=<..> SLURM_JOB_GPUS=<..>
set -euo pipefail

STATE=${SDT_SLURM_DIR:-/tmp/sdt-slurm}
CONF=$STATE/etc/slurm.conf
GLOBAL_CONF=/etc/slurm/slurm.conf  # where srun looks when SLURM_CONF is unset
TIMEOUT=${SDT_SLURM_TIMEOUT:-60}   # seconds to wait for the node to come up and a first job to run
DAEMONS="munged slurmctld slurmd"  # start order; stop goes the other way
GPUS=2                             # fake GPUs of the node: a 2-process training job is tested
export SLURM_CONF=$CONF PATH=$PATH:/usr/sbin:/sbin  # the daemons live in /usr/sbin

die() { echo "cluster.sh: $1" >&2; exit "${2:-1}"; }
fail_start() {  # a start that failed: show why, then stop whatever did start
  local f
  for f in "$STATE"/log/*.log "$STATE"/munge/munged.log; do  # PMIx errors: harmless noise
    [ -s "$f" ] && { echo "--- last lines of $f" >&2; grep -v -e PMIx -e 'mpi/pmix' "$f" | tail -n 5 >&2; }
  done
  do_stop >&2 || true
  die "$1"
}
log() { echo "[slurm] $*"; }

pid_of() {  # the recorded PID of a daemon, if that process still runs (and is that daemon, not a reused PID)
  local f=$STATE/run/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

running() { pid_of munged >/dev/null && pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null; }

preflight() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs under their user's id)" 2
  local missing="" t
  for t in munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol scancel; do
    command -v "$t" >/dev/null || missing="$missing $t"
  done
  [ -z "$missing" ] || die "missing:$missing - install Debian's slurmctld slurmd slurm-client munge (envs/setup.sh)" 3
  id munge >/dev/null 2>&1 || die "no 'munge' user: install Debian's munge package" 3
  if { [ -e "$GLOBAL_CONF" ] || [ -L "$GLOBAL_CONF" ]; } && ! ours_global; then
    die "$GLOBAL_CONF exists and is not this test cluster's ($(readlink -f "$GLOBAL_CONF")): a real SLURM\
 or another test cluster (SDT_SLURM_DIR) is configured here. Not touching it." 4
  fi
}

ours_global() { [ -L "$GLOBAL_CONF" ] && [ "$(readlink "$GLOBAL_CONF")" = "$CONF" ]; }

write_config() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  # 95 % of what slurmd measures, so the node is never drained for having less memory than declared
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mem=$((mem * 95 / 100))
  mkdir -p "$STATE"/{etc,run,log,spool/ctld,spool/d}
  cat >"$CONF.tmp" <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster, no accounting.
ClusterName=sdt
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job asking for no memory would take the whole node.
DefMemPerCPU=1000
# Finished jobs stay visible to squeue for 5 min: the executor's squeue status check relies on it.
MinJobAge=300
ReturnToService=2
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
TaskProlog=$STATE/etc/task_prolog.sh
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:fake:$GPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  ours_global || { mkdir -p "$(dirname "$GLOBAL_CONF")"; ln -s "$CONF" "$GLOBAL_CONF"; }
  # A GRES without File= drains the node ("count reported lower than configured").
  mkdir -p "$STATE/dev"
  local i
  for ((i = 0; i < GPUS; i++)); do
    [ -c "$STATE/dev/fakegpu$i" ] || mknod "$STATE/dev/fakegpu$i" c 1 3
  done
  printf 'AutoDetect=off\nNodeName=%s Name=gpu Type=fake File=%s/dev/fakegpu[0-%d]\n' "$host" "$STATE" \
    $((GPUS - 1)) >"$STATE/etc/gres.conf"
  # Runs before every task of every job, in the task's environment.
  cat >"$STATE/etc/task_prolog.sh" <<EOF
#!/bin/sh
echo "job=\$SLURM_JOB_ID step=\${SLURM_STEP_ID-} CUDA_VISIBLE_DEVICES=\${CUDA_VISIBLE_DEVICES-unset}\
 SLURM_JOB_GPUS=\${SLURM_JOB_GPUS-unset}" >>"$STATE/log/tasks.log"
EOF
  chmod 0755 "$STATE/etc/task_prolog.sh"
  : >"$STATE/log/tasks.log"  # job ids may start again from 1
  chmod 0666 "$STATE/log/tasks.log"  # tasks run under their user's id
}

start_munge() {
  local d=$STATE/munge
  install -d -m 0755 -o munge -g munge "$d"
  [ -s "$d/munge.key" ] || runuser -u munge -- mungekey --create --keyfile="$d/munge.key"
  rm -f "$d/munge.socket" "$d/munge.socket.lock"
  runuser -u munge -- munged --socket="$d/munge.socket" --key-file="$d/munge.key" \
    --pid-file="$d/munged.pid" --log-file="$d/munged.log" --seed-file="$d/munged.seed"
  cp "$d/munged.pid" "$STATE/run/munged.pid"  # munged returns once its PID file is written
}

wait_for() {  # wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout or a daemon's death
  local limit=$1 t0=$SECONDS d
  shift
  until "$@" >/dev/null 2>&1; do
    for d in $DAEMONS; do  # a daemon that wrote its PID file and then died (e.g. a fatal config error)
      [ -s "$STATE/run/$d.pid" ] && ! pid_of "$d" >/dev/null && { echo "$d exited" >&2; return 1; }
    done
    ((SECONDS - t0 < limit)) || return 1
    sleep 0.5
  done
}

node_idle() { sinfo -h -N -o '%T' | grep -qx idle; }

do_start() {
  preflight
  if running && node_idle; then
    log "already running (SLURM_CONF=$CONF)"
    return 0
  fi
  do_stop >/dev/null 2>&1 || true  # a half-started cluster: begin again from nothing
  write_config
  start_munge
  # -c: start from a clean state (no jobs of an earlier session)
  slurmctld -c -f "$CONF" || fail_start "slurmctld did not start"
  wait_for 20 scontrol ping || fail_start "slurmctld not answering"
  slurmd -c -f "$CONF" || fail_start "slurmd did not start"
  wait_for "$TIMEOUT" node_idle || fail_start "node not idle within ${TIMEOUT}s"
  local jobid
  jobid=$(sbatch --parsable --output=/dev/null --wrap true) || fail_start "sbatch refused a test job"
  wait_for "$TIMEOUT" job_completed "$jobid" || fail_start "test job $jobid not completed within ${TIMEOUT}s"
  log "running: $(sinfo -h -N -o '%N %c CPUs %m MB %G %T'), SLURM_CONF=$CONF"
}

job_completed() { [ "$(squeue -h -j "$1" --states=all -o %T)" = COMPLETED ]; }

stop_pid() {  # stop_pid NAME: SIGTERM the recorded PID, SIGKILL after 10 s
  local pid i
  pid=$(pid_of "$1") || { rm -f "$STATE/run/$1.pid"; return 0; }  # not running: forget a stale PID file
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { log "$1 ($pid) ignored SIGTERM: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; }
  rm -f "$STATE/run/$1.pid"
  log "stopped $1 ($pid)"
}

stepd_pids() {  # job step daemons of our slurmd (they outlive it): slurmstepd* writing to our slurmd.log
  local p
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */slurmstepd*) ;; *) continue ;; esac
    find "$p/fd" -lname "$STATE/log/slurmd.log" 2>/dev/null | grep -q . && echo "${p#/proc/}"
  done
  return 0
}

children() {  # PIDs whose parent is $1 (from /proc: procps may be missing on a minimal machine)
  local stat
  for stat in /proc/[0-9]*/stat; do
    # fields after the "(comm)" that may hold spaces: state ppid ...
    [ "$(sed 's/.*) //' "$stat" 2>/dev/null | cut -d' ' -f2)" = "$1" ] && basename "$(dirname "$stat")"
  done
  return 0
}

kill_tree() {  # SIGKILL a process and all its descendants, children first
  local child
  for child in $(children "$1"); do kill_tree "$child"; done
  kill -9 "$1" 2>/dev/null || true
}

do_stop() {
  [ -d "$STATE" ] || { log "not running"; return 0; }
  if pid_of slurmctld >/dev/null; then
    # Cancel every job first, so that no job's processes outlive the daemons.
    scancel --full --quiet --state=PENDING 2>/dev/null || true
    scancel --full --quiet --state=RUNNING 2>/dev/null || true
    wait_for 20 no_active_jobs || log "some jobs still active after 20 s"
  fi
  local d pid
  for d in slurmd slurmctld munged; do stop_pid "$d"; done
  for pid in $(stepd_pids); do
    log "killing leftover slurmstepd $pid and its job's processes"
    kill_tree "$pid"
  done
  if ours_global; then rm -f "$GLOBAL_CONF"; fi
}

no_active_jobs() { [ -z "$(squeue -h -t PENDING,RUNNING,COMPLETING,CONFIGURING -o %i)" ]; }

case ${1:-} in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if running; then log "running (SLURM_CONF=$CONF)"; sinfo; else log "not running"; exit 1; fi ;;
  env) echo "export SLURM_CONF=$CONF SDT_SLURM_DIR=$STATE" ;;
  *) die "usage: $0 start|stop|status|env" 64 ;;
esac
