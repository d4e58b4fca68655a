#!/usr/bin/env bash
# Device calls for the backward's comparison, fa and the peers in the same call:
#   seed   fa-tune bench --mode fwdbwd (best backward variant per shape; SEL=--tuned: the tuned selection) and peer_bench.py
#          --modes fwdbwd (FA2, cuDNN) on the original grid and the Gemma d=256 shapes.
#   fwd    the same for the forward alone (issue #3's table, refreshed).
#   gemma  bench/peers.py on the Gemma grid, forward and forward+backward, every peer
#          (FlexAttention included), and the peak extra memory at S = 8192.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tail -1 | tee "$FINAL/gpu_$1.txt"
case $1 in
  seed|fwd)
    m=$([ $1 = seed ] && echo fwdbwd || echo fwd)
    for g in seed4 d256; do
      timeout 200 ./build/fa-tune bench --grid $g --mode $m ${SEL:---all} --reps 10 --json "$FINAL/fa_${m}_$g.jsonl" > "$FINAL/fa_${m}_$g.txt" 2>&1
    done
    cat "$FINAL/fa_${m}_seed4.jsonl" "$FINAL/fa_${m}_d256.jsonl" > "$FINAL/fa_$m.jsonl"
    timeout 330 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes $m --peers flash,cudnn \
      --json "$FINAL/peers_$m.jsonl" > "$FINAL/peers_$m.txt" 2>&1
    python3 bench/compare.py "$FINAL/fa_$m.jsonl" "$FINAL/peers_$m.jsonl" --mode $m | tee "$FINAL/compare_$m.md" ;;
  gemma)
    timeout 360 python3 bench/peers.py --grid gemma --modes fwd,fwdbwd --rep 50 --csv "$FINAL/peers_gemma.csv" \
      --md "$FINAL/peers_gemma.md" --json "$FINAL/peers_gemma.jsonl" > "$FINAL/peers_gemma_log.txt" 2>&1
    echo "gemma rc=$?"
    timeout 150 python3 bench/peers.py --shapes bench/shapes_mem.jsonl --modes fwdbwd --peers flash,cudnn --rep 20 \
      --csv "$FINAL/peers_mem.csv" --md "$FINAL/peers_mem.md" > "$FINAL/peers_mem_log.txt" 2>&1
    echo "mem rc=$?"
    cat "$FINAL/peers_gemma.md" "$FINAL/peers_mem.md" ;;
esac
