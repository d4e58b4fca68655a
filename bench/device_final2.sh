#!/usr/bin/env bash
# Last call: the backward sweep after the refactors, a forward slice (its baseline's template
# moved), and the API tests.
set -u
export FA_CACHE_DIR=/tmp/fa-cache
OUT=${OUT:-/tmp/fa-out}
./build/tests/test_api gpu > "$OUT/api_gpu2.txt" 2>&1; tail -1 "$OUT/api_gpu2.txt"
timeout 200 ./build/fa-tune verify --filter bwd > "$OUT/verify_bwd3.txt" 2>&1; echo "bwd rc=$?"; tail -1 "$OUT/verify_bwd3.txt"
timeout 60 ./build/fa-tune verify --filter fwd_sm80_d128_bf16_m128n48 > "$OUT/verify_fwd3.txt" 2>&1; echo "fwd rc=$?"; tail -1 "$OUT/verify_fwd3.txt"
grep -h "FAIL" "$OUT"/verify_*3.txt | head
