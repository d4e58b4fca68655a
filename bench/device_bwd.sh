#!/usr/bin/env bash
# One device call for the backward: its correctness sweep, fa's forward+backward
# benchmark and the peers' (peer_bench.py --modes fwdbwd), same card.
# usage (GPU machine, repository root, build/ and .peers/ carried):
#   OUT=dir bash bench/device_bwd.sh [verify] [seed] [d256] [peers]
set -u
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
OUT=${OUT:-/tmp/fa-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$OUT/gpu_bwd.txt"
for s in ${*:-verify seed}; do
  case $s in
    verify) timeout 300 ./build/fa-tune verify --filter bwd > "$OUT/verify_bwd.txt" 2>&1
            grep -v " ok$" "$OUT/verify_bwd.txt" ;;
    seed) timeout 300 ./build/fa-tune bench --grid seed4 --mode fwdbwd --all --reps 10 \
            --json "$OUT/fa_bwd_seed4.jsonl" > "$OUT/fa_bwd_seed4.txt" 2>&1; grep "^|" "$OUT/fa_bwd_seed4.txt" ;;
    d256) timeout 300 ./build/fa-tune bench --grid d256 --mode fwdbwd --all --reps 10 \
            --json "$OUT/fa_bwd_d256.jsonl" > "$OUT/fa_bwd_d256.txt" 2>&1; grep "^|" "$OUT/fa_bwd_d256.txt" ;;
    peers) timeout 400 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes fwdbwd \
             --peers flash,cudnn --json "$OUT/peers_bwd_seed.jsonl" > "$OUT/peers_bwd_seed.txt" 2>&1
           cat "$OUT"/fa_bwd_seed4.jsonl "$OUT"/fa_bwd_d256.jsonl > "$OUT/fa_bwd_seed.jsonl" 2>/dev/null
           python3 bench/compare.py "$OUT/fa_bwd_seed.jsonl" "$OUT/peers_bwd_seed.jsonl" --mode fwdbwd \
             | tee "$OUT/compare_bwd_seed.md" ;;
  esac
done
