#!/usr/bin/env bash
# One device call: tune the default grid into a database and ship a compact
# copy; export the winners and run them with NVRTC made unavailable; the API
# test and the host cost per call.
# usage: OUT=dir bash bench/device_tune.sh MINUTES
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
db=/tmp/fa-user.db
./build/fa-tune --gpu auto --db $db --ship "$FINAL/tuning.db" --budget "${1:-8}" > "$FINAL/tune.txt" 2>&1
grep -v "^\[" "$FINAL/tune.txt" | tail -25
{
  ./build/fa-tune export --out /tmp/fa-export --db $db
  echo "--- without NVRTC, from the export directory:"
  FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
    ./build/fa-tune bench --grid gemma --tuned --reps 10
  echo "--- tuned selection from the shipped database (no user database):"
  cp "$FINAL/tuning.db" tuning.db
  FA_TUNING_DB=/nonexistent ./build/fa-tune bench --grid seed4 --tuned --reps 10 | grep -E "^\||tuned:" | head -12
  ./build/tests/test_api gpu
  ./build/fa-tune bench --grid seed4 --host
} > "$FINAL/checks.txt" 2>&1
tail -45 "$FINAL/checks.txt"
