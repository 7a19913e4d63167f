#!/usr/bin/env bash
# The optimisation levers that keep the paper's objective (issue "the learned prior", part
# 2): the faithful `elastic` preset with θ's own learning rate, straight-through samples,
# or a temperature schedule — one cell each, split 1, seed 0, the matrix's budget (5 epochs,
# evaluated every epoch) — next to the matrix's own elastic cell of that split and seed,
# then one table:
#
#   experiments/prior/levers.sh            # → experiments/results/prior-levers.md
#
# Cells already finished are skipped (einfo cell is idempotent), so it can be stopped
# and run again. Uses `einfo` from `cargo build --release -p einfo-cli`. Two cells train
# side by side with one thread each (EINFO_LEVERS_JOBS, default 2), as run-ablations --jobs 2
# does on this project's 2-core machine; EINFO_LEVERS_THREADS sets the threads per cell,
# EINFO_LEVERS_ONLY="name …" runs only those levers (the table takes every finished cell).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${EINFO_LEVERS_ROOT:-runs/levers}
cargo build --release -q -p einfo-cli -p xtask
BUDGET=(--set data.split=1 --set train.seed=0 --set train.epochs=5 --set eval.every_epochs=1)
JOBS=${EINFO_LEVERS_JOBS:-2}
THREADS=${EINFO_LEVERS_THREADS:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
pids=()
lever() { # name, then --set overrides; runs in the background, JOBS at a time
    local name=$1; shift
    # EINFO_LEVERS_ONLY="a b": only the levers so named (e.g. to spread them over machines).
    if [ -n "${EINFO_LEVERS_ONLY:-}" ] && [[ " $EINFO_LEVERS_ONLY " != *" $name "* ]]; then return 0; fi
    mkdir -p "$ROOT/logs"
    RAYON_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS target/release/einfo cell --preset elastic \
        --out "$ROOT/$name/split1/seed0" --quiet "${BUDGET[@]}" --set "method=\"$name\"" "$@" >"$ROOT/logs/$name.log" 2>&1 &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$JOBS" ]; then drain; fi
}
drain() { # wait for every running cell; fail if one failed (its log says why)
    local failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    pids=()
    if [ "$failed" = 1 ]; then echo "levers: a cell failed, see $ROOT/logs/" >&2; exit 1; fi
}
lever elastic-prior-lr-3e-3 --set prior.lr=0.003
lever elastic-straight-through --set prior.straight_through=true
lever elastic-tau-1-to-0.1 --set prior.tau=1.0 --set prior.tau_final=0.1 --set prior.tau_anneal_steps=3340
lever elastic-prior-lr-3e-2 --set prior.lr=0.03
drain
# The faithful cell itself, from the matrix (same budget), if it is there.
if [ -f runs/ablations/elastic/split1/seed0/metrics.json ] && [ ! -e "$ROOT/elastic/split1/seed0" ]; then
    mkdir -p "$ROOT/elastic/split1"
    ln -s "$PWD/runs/ablations/elastic/split1/seed0" "$ROOT/elastic/split1/seed0"
fi
cargo xtask aggregate --root "$ROOT" --name prior-levers
