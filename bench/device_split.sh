#!/usr/bin/env bash
# One device call: the sweep (unsplit and split-KV), the API test, a fresh
# tuning of the default grid (shipped as tuning.db), fa-bench's Gemma grid.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
timeout 200 ./build/fa-tune verify > "$FINAL/verify.txt" 2>&1; echo "verify rc=$?"
grep -v " ok$" "$FINAL/verify.txt" | tail -4; echo "split-KV runs: $(grep -c '/kv' "$FINAL/verify.txt")"
./build/tests/test_api gpu 2>&1 | tail -2
rm -f /tmp/fa-user.db
timeout 200 ./build/fa-tune --gpu auto --db /tmp/fa-user.db --ship "$FINAL/tuning.db" --budget 3 > "$FINAL/tune.txt" 2>&1; echo "tune rc=$?"
grep -E "shapes tuned|geometric|REJECTED" "$FINAL/tune.txt" | head -5
cp "$FINAL/tuning.db" tuning.db
timeout 150 ./build/bench/fa-bench --grid gemma --reps 10 --out /tmp/fb-gemma > "$FINAL/fabench_gemma.txt" 2>&1; echo "fa-bench rc=$?"
cp /tmp/fb-gemma/fa-bench.csv "$FINAL/gemma.csv"; cp /tmp/fb-gemma/fa-bench.md "$FINAL/gemma.md"
grep -E "^\| (pi0|gemma3_4b|pi0fast|gemma2_27b)" /tmp/fb-gemma/fa-bench.md | cut -d'|' -f2-11
