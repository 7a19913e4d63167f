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
# and run again. Uses `einfo` from `cargo build --release -p einfo-cli`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${EINFO_LEVERS_ROOT:-runs/levers}
cargo build --release -q -p einfo-cli -p xtask
BUDGET=(--set data.split=1 --set train.seed=0 --set train.epochs=5 --set eval.every_epochs=1)
lever() { # name, then --set overrides
    local name=$1; shift
    target/release/einfo cell --preset elastic --out "$ROOT/$name/split1/seed0" --quiet "${BUDGET[@]}" --set "method=\"$name\"" "$@"
}
lever elastic-prior-lr-3e-3 --set prior.lr=0.003
lever elastic-prior-lr-3e-2 --set prior.lr=0.03
lever elastic-straight-through --set prior.straight_through=true
lever elastic-tau-1-to-0.1 --set prior.tau=1.0 --set prior.tau_final=0.1 --set prior.tau_anneal_steps=3340
# The faithful cell itself, from the matrix (same budget), if it is there.
if [ -f runs/ablations/elastic/split1/seed0/metrics.json ] && [ ! -e "$ROOT/elastic/split1/seed0" ]; then
    mkdir -p "$ROOT/elastic/split1"
    ln -s "$PWD/runs/ablations/elastic/split1/seed0" "$ROOT/elastic/split1/seed0"
fi
cargo xtask aggregate --root "$ROOT" --name prior-levers
