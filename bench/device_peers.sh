#!/usr/bin/env bash
# One device call: bench/peers.py over the original request's whole grid
# (fa, FlashAttention-2 and cuDNN through PyTorch) and the Gemma grid (all
# peers, FlexAttention included), on identical inputs in one process.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
timeout 330 python3 bench/peers.py --grid seed --peers flash,cudnn --rep 50 --csv "$FINAL/peers_seed.csv" --md "$FINAL/peers_seed.md" > "$FINAL/peers_log.txt" 2>&1
echo "seed rc=$?"
timeout 230 python3 bench/peers.py --grid gemma --csv "$FINAL/peers_gemma.csv" --md "$FINAL/peers_gemma.md" >> "$FINAL/peers_log.txt" 2>&1
echo "gemma rc=$?"
tail -5 "$FINAL/peers_log.txt"
cat "$FINAL/peers_gemma.md"
