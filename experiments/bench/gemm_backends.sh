#!/usr/bin/env bash
# The elastic training step on each GEMM backend this machine has — the system BLAS,
# einfo's own f32 kernel (`rust`: what a machine without a BLAS gets) and the `gemm`
# crate (the pure-Rust path before it) — interleaved over ROUNDS rounds, so that a host
# whose speed drifts (shared cores, steal time) slows every backend of a round alike.
# Prints each round, the median images/s of each backend and the median of the per-round
# ratios against the gemm crate and against BLAS. Pause other work while it runs.
#
#   experiments/bench/gemm_backends.sh [ROUNDS] [STEPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-7}
STEPS=${2:-10}
THREADS=${3:-$(nproc)}
cargo build --release -q -p einfo-cli
export RAYON_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
backends=(rust gemm)
if EINFO_GEMM=blas target/release/einfo bench step --steps 1 --warmup 0 >/dev/null 2>&1; then backends=(blas rust gemm); fi
for b in "${backends[@]}"; do
    echo "$b: $(EINFO_GEMM=$b target/release/einfo bench step --steps 1 --warmup 0 | sed -n 's/GEMM backend: //p')"
done
bench() { EINFO_GEMM=$1 target/release/einfo bench step --preset elastic --steps "$STEPS" | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p'; }
declare -A all
for r in $(seq "$ROUNDS"); do
    line="round $r:"
    for b in "${backends[@]}"; do
        v=$(bench "$b"); all[$b]+="$v "; line+=" $b $v"
    done
    echo "$line img/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratios() { paste -d' ' <(printf '%s\n' ${all[$1]}) <(printf '%s\n' ${all[$2]}) | awk '{printf "%.3f\n", $1 / $2}'; }
for b in "${backends[@]}"; do echo "median $b: $(median ${all[$b]}) img/s"; done
echo "rust / gemm per round: $(ratios rust gemm | xargs); median $(median $(ratios rust gemm))"
if [ -n "${all[blas]:-}" ]; then
    echo "rust / blas per round: $(ratios rust blas | xargs); median $(median $(ratios rust blas))"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $THREADS threads; $STEPS steps of batch 64 per run after warm-up; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '-dirty')"
