#!/usr/bin/env bash
# A real one-node SLURM on this machine (Debian's slurmd, slurmctld, slurm-client and munge), for trying
# `ladabench bench ... --executor slurm` on a laptop and for the SLURM tests in CI.
#
#   scripts/local_slurm.sh install   apt-get install the four packages (root; about 11 s)
#   scripts/local_slurm.sh start     munge key, slurm.conf for this host (its cores and memory), daemons
#   scripts/local_slurm.sh status    daemons and `sinfo`
#   scripts/local_slurm.sh stop      stop the daemons (state and config stay)
#
# Needs root: the daemons run as root (SlurmUser=root) and munged as `munge`. One partition, `debug`.
set -euo pipefail

CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm

die() { echo "local_slurm: $*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (the SLURM daemons and munged run as system users); run it with sudo"
}

install_packages() {
  need_root
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: install slurmd slurmctld slurm-client munge with your package manager"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmd slurmctld slurm-client munge >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmd slurmctld slurm-client munge >/dev/null; }
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0  # already running with a key
  fi
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  su -s /bin/sh munge -c /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munged did not start (see /var/log/munge/munged.log)"
}

write_conf() {
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # RealMemory a little under the total: slurmd drains a node that reports less than it is configured with.
  mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.95)}' /proc/meminfo)
  mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR" "$RUN_DIR"
  cat >"$CONF_DIR/slurm.conf" <<EOF
# Written by ladabench scripts/local_slurm.sh for a one-node SLURM on $host.
ClusterName=ladabench
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
# A requeued job may start again after cred_expire seconds (default 120) and a job gets KillWait seconds
# (default 30) between SIGTERM and SIGKILL: short here, so a preemption on a laptop resumes within seconds.
AuthInfo=cred_expire=10
KillWait=10
# The main scheduling loop every 2 s (default 60): a requeued job starts as soon as it may.
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  need_root
  command -v slurmctld >/dev/null 2>&1 || die "SLURM is not installed: run \`$0 install\` first (or apt-get install slurmd slurmctld slurm-client munge)"
  start_munge
  write_conf
  pid_alive "$RUN_DIR/slurmctld.pid" || slurmctld
  pid_alive "$RUN_DIR/slurmd.pid" || slurmd
  for _ in $(seq 100); do
    if sinfo -h -o '%a %t' 2>/dev/null | grep -Eq '^up +(idle|mix|alloc)'; then
      echo "local_slurm: up: $(sinfo -h -o '%P %a %l %D %t %N')"
      return 0
    fi
    # A node left DOWN by an earlier stop returns to service on request.
    scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sleep 0.2
  done
  die "the debug partition did not become idle (see $LOG_DIR/slurmctld.log and slurmd.log)"
}

stop() {
  need_root
  for pidfile in "$RUN_DIR/slurmd.pid" "$RUN_DIR/slurmctld.pid"; do
    if pid_alive "$pidfile"; then
      kill "$(cat "$pidfile")"
    fi
  done
  echo "local_slurm: stopped"
}

status() {
  local ok=0
  for name in slurmctld slurmd; do
    if pid_alive "$RUN_DIR/$name.pid"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"))"; else echo "$name: not running"; ok=1; fi
  done
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then echo "munge: ok"; else echo "munge: not running"; ok=1; fi
  sinfo 2>/dev/null || ok=1
  return $ok
}

case "${1:-}" in
  install) install_packages ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
