#!/usr/bin/env bash
# Device call for the Hopper backward (bwd_sm90): verify every sm90 backward
# variant, then forward+backward of every backward variant per shape (sm80 and
# sm90, the forward the built-in choice) beside FlashAttention-2, same call.
# usage: bash bench/device_bwd_sm90.sh [PEERS]   (PEERS: flash or flash,cudnn)
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tail -1 | tee "$FINAL/gpu.txt"
timeout 120 ./build/fa-tune verify --filter bwd_sm90 --quiet > "$FINAL/verify_bwd_sm90.txt" 2>&1
echo "verify rc=$?"; tail -2 "$FINAL/verify_bwd_sm90.txt"
for g in seed4 d256; do
  timeout 150 ./build/fa-tune bench --grid $g --mode fwdbwd --all --reps 10 --json "$FINAL/fa_fwdbwd_$g.jsonl" \
    > "$FINAL/fa_fwdbwd_$g.txt" 2>&1
  echo "bench $g rc=$?"
done
cat "$FINAL/fa_fwdbwd_seed4.jsonl" "$FINAL/fa_fwdbwd_d256.jsonl" > "$FINAL/fa_fwdbwd.jsonl"
timeout 200 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes fwdbwd --peers ${1:-flash} \
  --json "$FINAL/peers_fwdbwd.jsonl" > "$FINAL/peers_fwdbwd.txt" 2>&1
echo "peers rc=$?"
python3 bench/compare.py "$FINAL/fa_fwdbwd.jsonl" "$FINAL/peers_fwdbwd.jsonl" --mode fwdbwd | tee "$FINAL/compare_fwdbwd.md"
cd "$FINAL" && tar czf logs.tgz *.txt *.jsonl && rm -f *.jsonl fa_fwdbwd_*.txt peers_fwdbwd.txt
