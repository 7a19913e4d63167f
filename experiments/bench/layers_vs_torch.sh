#!/usr/bin/env bash
# einfo's per-layer forward + backward against PyTorch's and candle's stock ops, interleaved
# in one session on the same machine (2 threads, batch 64). Each of ROUNDS rounds runs
#   1. `torch_step.py --layers` (median of 30 forward + backward per layer),
#   2. the criterion bench `layers` for the einfo rows (as the `einfo` binary runs),
#   3. the same bench for candle's stock rows, with candle's default threading
#      (CANDLE_NUM_THREADS=2), from EINFO_STOCK_BENCH if set: a `layers` bench binary built
#      without the vendored candle-core patch, so the stock rows are candle as released
#      (build one: a worktree with the `[patch.crates-io]` section removed from Cargo.toml,
#      `cargo bench -p einfo-tensor --bench layers --no-run`),
# then prints a table of the medians over rounds (ms per forward + backward) and the ratios.
#
#   experiments/bench/layers_vs_torch.sh [PYTHON] [ROUNDS]
#
# PYTHON: an interpreter with torch (setup: python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch),
# default /tmp/tv/bin/python. Stop other work on the machine while it runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-/tmp/tv/bin/python}
ROUNDS=${2:-3}
REF=${EINFO_TORCH_BENCH:-experiments/bench/torch_step.py}
[ -f "$REF" ] || { echo "layers_vs_torch: $REF not found (set EINFO_TORCH_BENCH)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "layers_vs_torch: $PY has no torch (see the setup line above)" >&2; exit 1; }
cargo bench -q -p einfo-tensor --bench layers --no-run 2>/dev/null
BENCH=$(ls -t target/release/deps/layers-* | grep -v '\.d$' | head -1)
STOCK=${EINFO_STOCK_BENCH:-$BENCH}
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
OUT=$(mktemp -d)
CRIT="--warm-up-time 1 --measurement-time 3"
for r in $(seq "$ROUNDS"); do
    "$PY" "$REF" --threads 2 --layers --steps 30 2>/dev/null > "$OUT/torch-$r.txt"
    "$BENCH" --bench ' einfo' $CRIT > "$OUT/einfo-$r.txt" 2>&1
    CANDLE_NUM_THREADS=2 "$STOCK" --bench ' candle' $CRIT > "$OUT/candle-$r.txt" 2>&1
    echo "round $r of $ROUNDS done" >&2
done
python3 - "$OUT" "$ROUNDS" <<'EOF'
import re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
# (our bench name, the PyTorch script's name)
LAYERS = [("G linear 1024→6272", "G linear 1024->6272"), ("G convT 128→64", "G convT 128->64 7->14"),
          ("G convT 64→1", "G convT 64->1 14->28"), ("trunk conv 1→64", "FE conv 1->64 28->14"),
          ("trunk conv 64→128", "FE conv 64->128 14->7"), ("trunk linear 6272→1024", "FE linear 6272->1024")]
UNIT = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
def criterion(path):
    times, name = {}, None
    for line in open(path):
        m = re.search(r"/(.+) (einfo|candle)\s*$", line)
        if m:
            name = (m.group(1).strip(), m.group(2))
        m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
        if m and name:
            times[name] = float(m.group(1)) * UNIT[m.group(2)]
            name = None
    return times
def torch(path):
    t = {}
    for line in open(path):
        m = re.match(r"LAYER (.+?)\s+fwd_ms=\s*([\d.]+) bwd_ms=\s*([\d.]+)", line)
        if m:
            t[m.group(1).strip()] = float(m.group(2)) + float(m.group(3))
    return t
med = statistics.median
runs = [(torch(f"{out}/torch-{r}.txt"), criterion(f"{out}/einfo-{r}.txt"), criterion(f"{out}/candle-{r}.txt")) for r in range(1, rounds + 1)]
print(f"medians of {rounds} rounds, ms per forward + backward (batch 64, 2 threads)\n")
print("| layer | einfo | PyTorch | PyTorch / einfo | candle stock | stock / einfo |")
print("|---|---|---|---|---|---|")
for ours, theirs in LAYERS:
    e = med([c[(ours, "einfo")] for _, c, _ in runs])
    t = med([tr[theirs] for tr, _, _ in runs])
    s = med([c[(ours, "candle")] for _, _, c in runs])
    print(f"| {ours} | {e:.1f} | {t:.1f} | {t / e:.2f}× | {s:.1f} | {s / e:.1f}× |")
print("\nper round (einfo / PyTorch):", "; ".join(
    ", ".join(f"{c[(o, 'einfo')]:.1f}/{tr[t]:.1f}" for o, t in LAYERS) for tr, c, _ in runs))
EOF
echo "stock rows from: $STOCK"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); GEMM backend: $(grep -m1 -o 'layers \[[^]]*\]' "$OUT/einfo-1.txt")"
