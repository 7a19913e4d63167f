#!/usr/bin/env bash
# A single-node Slurm on localhost for the launcher's CI test, without systemd:
# munged (as the munge user), slurmctld and slurmd (as root) with a minimal slurm.conf in
# DIR (default: a fresh temp dir). Prints `SLURM_CONF=<DIR>/slurm.conf` when the node is
# idle; the daemons' PIDs are in DIR/*.pid for stop.sh. Needs root and the Debian
# packages munge, slurmctld, slurmd and slurm-client (installed here if missing).
set -euo pipefail
DIR=${1:-$(mktemp -d /tmp/einfo-slurm.XXXXXX)}
mkdir -p "$DIR/state" "$DIR/spool"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm: installing munge slurmctld slurmd slurm-client" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client >&2
fi

# munge: a key readable only by the munge user, its socket directory, the daemon.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
mkdir -p "$DIR/munge" && chown munge:munge "$DIR/munge" && chmod 755 "$DIR"
SOCKET="$DIR/munge/munge.socket"
runuser -u munge -- /usr/sbin/munged --socket="$SOCKET" --pid-file="$DIR/munge/munged.pid" --force
for _ in $(seq 50); do [ -s "$DIR/munge/munged.pid" ] && break; sleep 0.2; done
cp "$DIR/munge/munged.pid" "$DIR/munged.pid"

# The node as slurmd sees it (CPUs, sockets, memory), named localhost.
NODE=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/' -e 's/RealMemory=\([0-9]*\)/RealMemory=1000/')
cat > "$DIR/slurm.conf" <<CONF
ClusterName=einfo-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=5
$NODE State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF="$DIR/slurm.conf"
/usr/sbin/slurmctld -i -f "$SLURM_CONF"
/usr/sbin/slurmd -N localhost -f "$SLURM_CONF"

# Up when the node reports idle (about 25 s at most here).
for i in $(seq 120); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "slurm: the node did not come up in 60 s; logs in $DIR" >&2
tail -5 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
exit 1
