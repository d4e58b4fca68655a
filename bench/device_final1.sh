#!/usr/bin/env bash
# Final call 1: the whole correctness sweep (forward and backward variants) and the API tests on the GPU.
set -u
export FA_CACHE_DIR=/tmp/fa-cache
OUT=${OUT:-/tmp/fa-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$OUT/gpu_final.txt"
./build/tests/test_api gpu > "$OUT/api_gpu.txt" 2>&1; tail -1 "$OUT/api_gpu.txt"
/usr/bin/time -f "verify wall %e s" ./build/fa-tune verify > "$OUT/verify_all.txt" 2>"$OUT/verify_time.txt"
echo "verify rc=$?"; cat "$OUT/verify_time.txt"; tail -3 "$OUT/verify_all.txt"
