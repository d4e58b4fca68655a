#!/usr/bin/env bash
# Device calls for tuning: tune the default grid (forward and backward) into
# .tune/user.db (carried back and forth, so a second call resumes where the
# first stopped), then ship a compact copy, export the winners and run them
# with NVRTC made unavailable, the API test and the host cost per call.
# usage: OUT=dir bash bench/device_tune.sh tune MINUTES | checks
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL" .tune
export FA_CACHE_DIR=/tmp/fa-cache
db=.tune/user.db
case ${1:-tune} in
  tune)
    ./build/fa-tune --gpu auto --db $db --budget "${2:-8}" > "$FINAL/tune.txt" 2>&1
    grep -v "^\[" "$FINAL/tune.txt" | tail -30
    cp $db "$FINAL/user.db" ;;
  checks)
    ./build/fa-tune --gpu auto --db $db --ship "$FINAL/tuning.db" > "$FINAL/tune_ship.txt" 2>&1
    grep -v "^\[" "$FINAL/tune_ship.txt" | tail -30
    {
      ./build/fa-tune export --out /tmp/fa-export --db $db
      echo "--- without NVRTC, from the export directory (forward, then forward+backward):"
      for m in fwd fwdbwd; do
        FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
          ./build/fa-tune bench --grid gemma --tuned --mode $m --reps 5
      done
      echo "--- tuned selection from the shipped database (no user database):"
      cp "$FINAL/tuning.db" tuning.db
      FA_TUNING_DB=/nonexistent ./build/fa-tune bench --grid seed4 --tuned --mode fwdbwd --reps 5 | grep -E "^\||tuned" | head -12
      ./build/fa-tune bench --grid seed4 --host
    } > "$FINAL/checks.txt" 2>&1
    tail -40 "$FINAL/checks.txt" ;;
esac
