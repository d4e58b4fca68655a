#!/usr/bin/env bash
# Device call: the whole correctness sweep (both forward families and the
# backward), the API tests on the GPU, the host time per call of a cached
# plan (the sm90 family encodes three TMA maps per call) and the card's bf16
# matrix throughput.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tail -1
./build/tests/test_api gpu > "$FINAL/api_gpu.txt" 2>&1; echo "api gpu rc=$?"; tail -1 "$FINAL/api_gpu.txt"
s=$(date +%s)
timeout ${VERIFY_S:-420} ./build/fa-tune verify --quiet > "$FINAL/verify_all.txt" 2>&1
echo "verify rc=$? in $(( $(date +%s) - s )) s"; tail -2 "$FINAL/verify_all.txt"
./build/fa-tune bench --grid seed4 --host 2>&1 | grep -i "host time" | tee "$FINAL/host.txt"
python3 bench/matmul_peak.py | tee "$FINAL/matmul_peak.txt"
