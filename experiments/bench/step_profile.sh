#!/usr/bin/env bash
# Where the elastic training step's time goes, op by op (`einfo bench profile`): every
# GEMM by shape with its GFLOP/s, im2col / col2im, BatchNorm, activations, augmentation,
# Adam, and the rest of the step. Run with every other job on the machine paused.
#
#   experiments/bench/step_profile.sh [THREADS] [STEPS]
#
# Profiles the system BLAS backend (when one is installed), then the pure-Rust `gemm`
# backend; prints the machine and both tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-2}
STEPS=${2:-20}
cargo build --release -q -p einfo-cli
export RAYON_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '-dirty')"
echo
target/release/einfo bench profile --preset elastic --steps "$STEPS"
echo
EINFO_GEMM=gemm target/release/einfo bench profile --preset elastic --steps "$STEPS"
