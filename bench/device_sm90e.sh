#!/usr/bin/env bash
# Device call: verify every sm90 variant, then A/B the forward against build/ab/.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
timeout 150 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$FINAL/verify_sm90.txt" 2>&1
echo "verify sm90 rc=$?"; tail -1 "$FINAL/verify_sm90.txt"
MODE=fwd timeout 200 bash bench/device_ab.sh fwd_sm90 4,2048,2048,32,32,128 4,2048,2048,32,8,128,causal \
  4,8192,8192,32,32,128 4,8192,8192,32,32,128,causal 4,1024,1024,32,32,128 4,4096,4096,32,8,128 2>&1 | tee "$FINAL/ab.txt"
