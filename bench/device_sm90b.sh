#!/usr/bin/env bash
# Device call: verify every sm90 variant, A/B the forward against the binaries in
# build/ab/ (other commits, same card, interleaved), then fa against the peers.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
timeout ${VERIFY_S:-200} ./build/fa-tune verify --filter fwd_sm90 --quiet > "$FINAL/verify_sm90.txt" 2>&1
echo "verify sm90 rc=$?"; tail -4 "$FINAL/verify_sm90.txt"
MODE=fwd timeout 150 bash bench/device_ab.sh fwd_sm90 4,8192,8192,32,32,128 4,8192,8192,32,32,128,causal \
  4,4096,4096,16,16,256 4,4096,4096,16,16,256,causal 4,2048,2048,32,8,128,causal 2>&1 | tee "$FINAL/ab.txt"
bash bench/device_peers_bwd.sh fwd
