#!/usr/bin/env bash
# Stop the daemons start.sh started in DIR, by PID (TERM, then KILL after 10 s).
DIR=${1:?usage: stop.sh DIR}
for d in slurmd slurmctld munged; do
    f="$DIR/$d.pid"
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
done
exit 0
