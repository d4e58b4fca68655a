#!/usr/bin/env bash
# Device call: A/B the sm90 forward against build/ab/ binaries, verify every
# sm90 variant, then tune the default grid's forward buckets with both
# families into .tune/user.db (backward rows kept from the shipped database).
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
MODE=fwd timeout 120 bash bench/device_ab.sh fwd_sm90 4,8192,8192,32,32,128 4,8192,8192,32,32,128,causal \
  4,4096,4096,16,16,256 4,2048,2048,32,8,128,causal 4,2048,2048,32,32,128 2>&1 | tee "$FINAL/ab.txt"
timeout 150 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$FINAL/verify_sm90.txt" 2>&1
echo "verify sm90 rc=$?"; tail -2 "$FINAL/verify_sm90.txt"
./build/fa-tune --gpu auto --db .tune/user.db --no-bwd --budget ${TUNE_MIN:-5} > "$FINAL/tune.txt" 2>&1
echo "tune rc=$?"; grep -v "^\[" "$FINAL/tune.txt" | tail -12
cp .tune/user.db "$FINAL/user.db"
