#!/usr/bin/env bash
# Device call: the forward beside the peers with both families in the space:
# fa-tune bench (best variant per shape) and peer_bench.py (FA2, cuDNN) on the
# original grid and the Gemma d=256 shapes; then bench/peers.py on the Gemma
# grid (FlexAttention too), forward and forward+backward, fa from tuning.db.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
OUT=$FINAL/seed bash bench/device_peers_bwd.sh fwd > "$FINAL/seed_log.txt" 2>&1
cat "$FINAL/seed/compare_fwd.md"
timeout 330 python3 bench/peers.py --grid gemma --modes fwd,fwdbwd --rep 50 --csv "$FINAL/peers_gemma.csv" \
  --md "$FINAL/peers_gemma.md" --json "$FINAL/peers_gemma.jsonl" > "$FINAL/peers_gemma_log.txt" 2>&1
echo "gemma rc=$?"
cat "$FINAL/peers_gemma.md"
cd "$FINAL" && tar czf seed.tgz seed && rm -rf seed
