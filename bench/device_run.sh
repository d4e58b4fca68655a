#!/usr/bin/env bash
# One device call: correctness sweep, fa's benchmark and the peers, same card.
# usage (on the GPU machine, from the repository root, build/ carried):
#   OUT=dir bash bench/device_run.sh [verify] [seed] [gemma]
set -u
# Results go to a work folder, packed into $OUT/results.tgz at exit (the
# device tool returns at most 8 files).
FINAL=${OUT:-/tmp/fa-out}; OUT=/tmp/fa-work; mkdir -p "$OUT" "$FINAL"
trap 'tar czf "$FINAL/results.tgz" -C "$OUT" . ; cp "$OUT"/compare_*.md "$FINAL"/ 2>/dev/null' EXIT
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
steps=${*:-verify seed}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
ldd build/fa-tune | grep -E "not found|sqlite|lua" | tee -a "$OUT/gpu.txt"
for s in $steps; do
  case $s in
    verify) timeout 300 ./build/fa-tune verify 2>&1 | tee "$OUT/verify.txt" | grep -v " ok$"
            ./build/tests/test_api gpu 2>&1 | tee "$OUT/api_gpu.txt" ;;
    seed)
      timeout 240 ./build/fa-tune bench --grid seed4 --json "$OUT/fa_seed4.jsonl" --all > "$OUT/fa_seed4.txt" 2>&1
      timeout 200 ./build/fa-tune bench --grid d256 --json "$OUT/fa_d256.jsonl" --all > "$OUT/fa_d256.txt" 2>&1
      timeout 200 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes fwd --peers flash,cudnn \
        --json "$OUT/peers_seed.jsonl" > "$OUT/peers_seed.txt" 2>&1
      cat "$OUT/fa_seed4.jsonl" "$OUT/fa_d256.jsonl" > "$OUT/fa_seed.jsonl"
      python3 bench/compare.py "$OUT/fa_seed.jsonl" "$OUT/peers_seed.jsonl" | tee "$OUT/compare_seed.md" ;;
    gemma)
      timeout 240 ./build/fa-tune bench --grid gemma --json "$OUT/fa_gemma.jsonl" --all > "$OUT/fa_gemma.txt" 2>&1
      timeout 300 python3 .peers/peer_bench.py --grid gemma --modes fwd --peers flex,cudnn \
        --json "$OUT/peers_gemma.jsonl" > "$OUT/peers_gemma.txt" 2>&1
      python3 bench/compare.py "$OUT/fa_gemma.jsonl" "$OUT/peers_gemma.jsonl" | tee "$OUT/compare_gemma.md" ;;
  esac
done
