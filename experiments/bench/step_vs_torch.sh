#!/usr/bin/env bash
# einfo's training step against the PyTorch reference of the same step, interleaved in one
# session on the same machine (2 threads, batch 64): ROUNDS rounds of
# `torch_step.py --steps STEPS` then `einfo bench step --preset elastic --steps STEPS`;
# prints every round and the median of the rounds' images/s for each, and their ratio.
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
torch=() ; ours=()
for r in $(seq "$ROUNDS"); do
    t=$("$PY" "$REF" --threads 2 --steps "$STEPS" 2>/dev/null | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p')
    e=$(target/release/einfo bench step --preset elastic --steps "$STEPS" | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p')
    echo "round $r: torch $t img/s, einfo $e img/s"
    torch+=("$t"); ours+=("$e")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mt=$(median "${torch[@]}"); me=$(median "${ours[@]}")
echo "median of $ROUNDS rounds: torch $mt img/s, einfo $me img/s, ratio $(awk -v a="$me" -v b="$mt" 'BEGIN {printf "%.2f", a/b}')x"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), BLAS backend: $(ldconfig -p | grep -q libopenblas.so.0 && echo OpenBLAS || echo 'none (gemm crate)')"
