#!/usr/bin/env bash
# Device call for the Hopper family (sm90): a quick verify of one variant per
# head_dim, then (if they pass) every sm90 variant, then the forward against
# the peers (bench/device_peers_bwd.sh fwd: fa's best variant of both families
# per shape, FA2 and cuDNN through peer_bench.py, same call).
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tail -1
quick="fwd_sm90_d128_bf16_m128n128_w12_s2_g1"
timeout 120 ./build/fa-tune verify --filter "$quick" > "$FINAL/verify_quick.txt" 2>&1
rc=$?
tail -25 "$FINAL/verify_quick.txt"
echo "quick verify rc=$rc"
[ $rc -eq 0 ] || exit 1
timeout ${VERIFY_S:-200} ./build/fa-tune verify --filter fwd_sm90 --quiet > "$FINAL/verify_sm90.txt" 2>&1
echo "verify sm90 rc=$?"; tail -8 "$FINAL/verify_sm90.txt"
bash bench/device_peers_bwd.sh fwd
