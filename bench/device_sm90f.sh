#!/usr/bin/env bash
# Device call: verify every sm90 variant, time every d128 sm90 variant on a few
# shapes (one table per shape, same call), then re-tune the forward buckets with
# the whole space into .tune/user.db.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
timeout 150 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$FINAL/verify_sm90.txt" 2>&1
echo "verify sm90 rc=$?"; tail -1 "$FINAL/verify_sm90.txt"
for s in 4,2048,2048,32,32,128 4,2048,2048,32,32,128,causal 4,2048,2048,32,8,128,causal 4,1024,1024,32,32,128 \
         4,8192,8192,32,32,128,causal 4,4096,4096,32,8,128; do
  ./build/fa-tune bench --shape $s --mode fwd --filter fwd_sm90_d128_bf16 --all --reps 20 2>&1 | grep "^#   " | sort -k6 -g -r | head -5
done | tee "$FINAL/variants.txt"
./build/fa-tune --gpu auto --db .tune/user.db --no-bwd --budget 5 > "$FINAL/tune.txt" 2>&1
echo "tune rc=$?"; grep -v "^\[" "$FINAL/tune.txt" | tail -14
cp .tune/user.db "$FINAL/user.db"
