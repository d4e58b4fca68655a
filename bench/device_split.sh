#!/usr/bin/env bash
# One device call: the sweep (unsplit and split-KV), the API test, fa-bench's Gemma grid.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
timeout 280 ./build/fa-tune verify > "$FINAL/verify.txt" 2>&1; echo "verify rc=$?"
grep -v " ok$" "$FINAL/verify.txt" | tail -5; grep -c "/kv" "$FINAL/verify.txt"
./build/tests/test_api gpu 2>&1 | tail -3
timeout 250 ./build/bench/fa-bench --grid gemma --reps 20 --out /tmp/fb-gemma > "$FINAL/fabench_gemma.txt" 2>&1; echo "fa-bench rc=$?"
cp /tmp/fb-gemma/fa-bench.csv "$FINAL/gemma.csv"; cp /tmp/fb-gemma/fa-bench.md "$FINAL/gemma.md"
grep -E "^\| (pi0|gemma3_4b|pi0fast)" /tmp/fb-gemma/fa-bench.md | cut -c1-200
