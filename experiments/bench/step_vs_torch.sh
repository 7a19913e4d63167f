#!/usr/bin/env bash
# einfo's training step against the PyTorch reference of the same step, interleaved in one
# session on the same machine (2 threads, batch 64): ROUNDS rounds, each running
# `torch_step.py --steps STEPS`, `einfo bench step --preset elastic --steps STEPS` on the
# system BLAS (when one is installed) and the same on the pure-Rust `gemm` crate
# (EINFO_GEMM=gemm), the contenders' order rotating from round to round. Prints every round,
# each contender's median images/s and the median of the per-round ratios to PyTorch (a
# host whose speed drifts slows a round's contenders alike; the ratios carry the comparison).
#
#   experiments/bench/step_vs_torch.sh [PYTHON] [ROUNDS] [STEPS]
#
# PYTHON: an interpreter with torch (setup: python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch),
# default /tmp/tv/bin/python. Builds einfo in release mode first. Stop other work on the
# machine while it runs (a background training run halves both numbers).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-/tmp/tv/bin/python}
ROUNDS=${2:-5}
STEPS=${3:-30}
REF=${EINFO_TORCH_BENCH:-experiments/bench/torch_step.py}
[ -f "$REF" ] || { echo "step_vs_torch: $REF not found (set EINFO_TORCH_BENCH)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "step_vs_torch: $PY has no torch (see the setup line above)" >&2; exit 1; }
cargo build --release -q -p einfo-cli
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
names=(torch gemm)
if EINFO_GEMM=blas target/release/einfo bench step --steps 1 --warmup 0 >/dev/null 2>&1; then names=(torch blas gemm); fi
run() {
    case $1 in
        torch) "$PY" "$REF" --threads 2 --steps "$STEPS" 2>/dev/null ;;
        *) EINFO_GEMM=$1 target/release/einfo bench step --preset elastic --steps "$STEPS" ;;
    esac | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p'
}
declare -A got
n=${#names[@]}
for r in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
        c=${names[$(((i + r) % n))]}
        got[$c,$r]=$(run "$c")
    done
    line="round $r:"
    for c in "${names[@]}"; do line+=" $c ${got[$c,$r]}"; done
    echo "$line img/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for c in "${names[@]}"; do
    v=(); for r in $(seq "$ROUNDS"); do v+=("${got[$c,$r]}"); done
    echo "median $c: $(median "${v[@]}") img/s"
done
for c in "${names[@]:1}"; do
    q=(); for r in $(seq "$ROUNDS"); do q+=("$(awk -v a="${got[$c,$r]}" -v b="${got[torch,$r]}" 'BEGIN {printf "%.3f", a/b}')"); done
    echo "einfo ($c) / torch per round: ${q[*]}; median $(median "${q[@]}")x"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); torch $("$PY" -c 'import torch; print(torch.__version__)'); blas = $(EINFO_GEMM=blas target/release/einfo bench step --steps 1 --warmup 0 2>/dev/null | sed -n 's/GEMM backend: //p' || echo none); gemm = the pure-Rust gemm crate; commit $(git rev-parse --short HEAD)"
