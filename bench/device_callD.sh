#!/usr/bin/env bash
# Re-tune the backward buckets whose candidates changed (token masks), ship the database, and
# run bench/peers.py on the Gemma grid (forward+backward) with it, in one call.
set -u
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
./build/fa-tune --gpu auto --db .tune/user.db --ship "$OUT/tuning.db" > "$OUT/tune_tok.txt" 2>&1
grep -E "shapes tuned|geometric" "$OUT/tune_tok.txt"
cp "$OUT/tuning.db" tuning.db
timeout 300 python3 bench/peers.py --grid gemma --modes fwdbwd --rep 50 --csv "$OUT/peers_gemma_fwdbwd.csv" \
  --md "$OUT/peers_gemma_fwdbwd.md" > "$OUT/peers_gemma_fwdbwd_log.txt" 2>&1
echo "gemma rc=$?"; grep "^| [a-z]" "$OUT/peers_gemma_fwdbwd.md" | cut -d'|' -f2,8,9,17,18,19
