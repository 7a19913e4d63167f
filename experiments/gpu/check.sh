#!/usr/bin/env bash
# The GPU check, sized for ~8 minutes on one H200: einfo's training step on CUDA against a
# PyTorch CUDA step of the same network on the same GPU (batch 64 and 256), the smoke
# matrix on CUDA, one full 1-epoch elastic cell evaluated, and the aggregate throughput of
# N cells sharing the GPU (N = 1, 2, 4, 8), with the time the 7 × 3 × 3 matrix at 10 epochs
# would take. Every figure goes to one file.
#
#   experiments/gpu/check.sh [--device cuda|cpu] [--quick]
#
# Expects, relative to the repository root (build them here, carry them there):
#   target/cuda/dist/einfo-cuda[.xz]  (cargo xtask build-cuda; for --device cpu: target/release/einfo)
#   target/release/xtask              (cargo build --release -p xtask)
#   data/mnist/                       (einfo data fetch; the GPU machine has no network)
# and python3 with torch for the PyTorch step (or PYTHON=…) (the GPU machine has one; its NVIDIA wheels
# also provide the CUDA 13 libraries einfo loads). Output: $OUT/gpu-check.txt when OUT is
# set (the device tool), else experiments/gpu/results/check-<date>.txt. --quick (the CPU
# rehearsal) shrinks every part.
set -uo pipefail
cd "$(dirname "$0")/../.."
DEVICE=cuda
QUICK=0
for a in "$@"; do
    case "$a" in
        --device=*) DEVICE=${a#--device=} ;;
        cpu|cuda) DEVICE=$a ;;
        --quick) QUICK=1 ;;
        --device) ;;
        *) echo "check.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done
if [ -n "${OUT:-}" ]; then RES=$OUT/gpu-check.txt; else mkdir -p experiments/gpu/results; RES=experiments/gpu/results/check-$(date +%Y%m%d-%H%M).txt; fi
log() { echo "$@" | tee -a "$RES"; }
: > "$RES"
T0=$(date +%s)

# The binary.
if [ "$DEVICE" = cuda ]; then
    BIN=target/cuda/dist/einfo-cuda
    [ -x "$BIN" ] || { [ -f "$BIN.xz" ] && xz -dkf "$BIN.xz" && chmod +x "$BIN"; }
    # CUDA 13 libraries: the NVIDIA wheels of the local PyTorch, else the build cache.
    LIBS=$(${PYTHON:-python3} - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True)})
print(":".join(dirs))
PY
)
    export LD_LIBRARY_PATH=${LIBS}:${HOME}/.cache/einfo/cuda-13.0/pkgs/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}
else
    BIN=target/release/einfo
fi
[ -x "$BIN" ] || { log "check: no einfo binary at $BIN (see the header)"; exit 1; }
XTASK=target/release/xtask
PY=${PYTHON:-python3}
export EINFO_CACHE=${EINFO_CACHE:-$PWD/data}
log "# einfo GPU check, $(date -u +%FT%TZ), device $DEVICE, binary $BIN"
log "machine: $(nproc) cores; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
log "torch: $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1)"

STEPS=30; [ $QUICK = 1 ] && STEPS=5
log ""
log "## 1. One training step (elastic: D step + G/Q/prior step with L_trans and L_ent), images/s"
for B in 64 256; do
    e=$("$BIN" bench step --preset elastic --device "$DEVICE" --batch "$B" --steps "$STEPS" 2>&1 | tail -1)
    t=$("$PY" experiments/bench/torch_step.py --device "$DEVICE" --batch "$B" --steps "$STEPS" 2>&1 | tail -1)
    log "batch $B einfo: $e"
    log "batch $B torch: $t"
    ei=$(echo "$e" | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p'); ti=$(echo "$t" | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p')
    [ -n "$ei" ] && [ -n "$ti" ] && log "batch $B einfo / torch = $(awk -v a="$ei" -v b="$ti" 'BEGIN {printf "%.2f", a/b}')x"
done

log ""
log "## 2. The smoke matrix on $DEVICE (7 methods, 3 steps each, evaluated)"
SMOKE=$(mktemp -d)
s0=$(date +%s)
"$XTASK" run-ablations --profile smoke --device "$DEVICE" --einfo "$BIN" --commit "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" --root "$SMOKE/ablations" --jobs 4 2>&1 | tail -3 | tee -a "$RES"
log "smoke matrix: $(( $(date +%s) - s0 )) s"

log ""
log "## 3. One full 1-epoch elastic cell (split 1, seed 0), evaluated"
CELL=$(mktemp -d)/elastic
c0=$(date +%s)
EPOCH_SET="train.epochs=1"; [ $QUICK = 1 ] && EPOCH_SET="train.max_steps=20"
"$BIN" cell --preset elastic --out "$CELL" --quiet --set "$EPOCH_SET" --set "train.device=\"$DEVICE\"" 2>&1 | tail -2 | tee -a "$RES"
log "1-epoch cell: $(( $(date +%s) - c0 )) s (training, the evaluation after the epoch, and the final one)"
log "its last log row (img_per_s is the 12th column after the terms): $(tail -1 "$CELL/log.csv" | cut -c1-200)"

log ""
log "## 4. N cells at once on one device: aggregate training images/s (N copies of bench step, batch 64)"
BEST=0; BESTN=1
for N in 1 2 4 8; do
    [ $QUICK = 1 ] && [ $N -gt 2 ] && break
    tmp=$(mktemp -d)
    for i in $(seq "$N"); do
        RAYON_NUM_THREADS=$(( $(nproc) / N > 0 ? $(nproc) / N : 1 )) "$BIN" bench step --preset elastic --device "$DEVICE" --steps $(( STEPS * 2 )) > "$tmp/$i.txt" 2>&1 &
    done
    wait
    agg=$(cat "$tmp"/*.txt | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p' | awk '{s+=$1} END {printf "%.1f", s}')
    log "N=$N: aggregate $agg images/s ($(cat "$tmp"/*.txt | sed -n 's/.*imgs_per_s=\([0-9.]*\).*/\1/p' | tr '\n' ' '))"
    if awk -v a="$agg" -v b="$BEST" 'BEGIN {exit !(a > b)}'; then BEST=$agg; BESTN=$N; fi
done

log ""
log "## 5. The 7 × 3 × 3 matrix at 10 epochs (7 methods, splits 1–3, seeds 0–2)"
# Images to train: 10 epochs of each split (drop-last batches of 64) × 7 methods × 3 seeds.
IMGS=$(awk -F, 'NR>1 && $1<=3 {s += int($12/64)*64} END {print s * 10 * 7 * 3}' datasets/mnist_imbalance_50.csv)
log "images to train: $IMGS; best aggregate rate $BEST images/s at N=$BESTN"
log "estimated training time: $(awk -v i="$IMGS" -v r="$BEST" 'BEGIN {if (r > 0) printf "%.1f minutes", i / r / 60; else print "n/a"}') (plus ~11 evaluations per cell; the 1-epoch cell above shows their cost)"
log ""
log "total check time: $(( $(date +%s) - T0 )) s"
