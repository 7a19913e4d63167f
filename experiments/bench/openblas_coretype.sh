#!/usr/bin/env bash
# Which OpenBLAS kernels einfo's training step runs on, and what that costs: ROUNDS
# interleaved rounds of `einfo bench step --preset elastic --steps STEPS` with
# OPENBLAS_CORETYPE unset (einfo names the family the CPU's features support, see
# einfo_tensor::tune_threads), and forced to Prescott (what Debian 12's OpenBLAS 0.3.21
# detects on a CPU newer than itself), Haswell (AVX2) and SkylakeX (AVX-512).
#
#   experiments/bench/openblas_coretype.sh [ROUNDS] [STEPS]
#
# Stop other work on the machine while it runs. Needs libopenblas0.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
STEPS=${2:-20}
cargo build --release -q -p einfo-cli
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "OpenBLAS: $(ls -l /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null | sed 's/.*-> //')"
for r in $(seq "$ROUNDS"); do
    for core in unset Prescott Haswell SkylakeX; do
        if [ "$core" = unset ]; then
            out=$(env -u OPENBLAS_CORETYPE target/release/einfo bench step --preset elastic --steps "$STEPS")
        else
            out=$(OPENBLAS_CORETYPE=$core target/release/einfo bench step --preset elastic --steps "$STEPS")
        fi
        echo "round $r coretype=$core $(echo "$out" | sed -n 's/GEMM backend: //p') $(echo "$out" | sed -n 's/.*\(imgs_per_s=[0-9.]*\).*/\1/p')"
    done
done
