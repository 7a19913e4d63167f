#!/usr/bin/env bash
# Matrix throughput on this machine: training images/s of the elastic step run as one job
# with all cores' threads, against as many single-threaded jobs side by side (what
# `xtask run-ablations --jobs J --threads T` does), interleaved over ROUNDS rounds; prints
# each round and the medians, and cells per hour of a 5-epoch `cpu` cell of split 1
# (3,340 steps of 64 images; evaluation not counted). Pause other work while it runs.
#
#   experiments/bench/jobs_threads.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
STEPS=${2:-20}
CORES=$(nproc)
CELL_IMAGES=$((3340 * 64))
cargo build --release -q -p einfo-cli
bench() { RAYON_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 target/release/einfo bench step --preset elastic --steps "$STEPS" | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p'; }
one=(); many=()
for r in $(seq "$ROUNDS"); do
    a=$(bench "$CORES")
    dir=$(mktemp -d)
    for j in $(seq "$CORES"); do bench 1 > "$dir/$j" & done
    wait
    b=$(cat "$dir"/* | awk '{s += $1} END {printf "%.1f", s}')
    rm -r "$dir"
    echo "round $r: 1 job x $CORES threads $a img/s; $CORES jobs x 1 thread $b img/s in all"
    one+=("$a"); many+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m1=$(median "${one[@]}"); m2=$(median "${many[@]}")
cph() { awk -v s="$1" -v n="$CELL_IMAGES" 'BEGIN {printf "%.2f", s * 3600 / n}'; }
echo "median: 1 job x $CORES threads $m1 img/s ($(cph "$m1") cells/h); $CORES jobs x 1 thread $m2 img/s ($(cph "$m2") cells/h)"
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); GEMM backend: $(target/release/einfo bench step --steps 1 --warmup 0 | sed -n 's/GEMM backend: //p'); commit $(git rev-parse --short HEAD)"
