#!/usr/bin/env bash
# One device call: the backward sweep, then fa-tune bench --mode fwdbwd on the Gemma grid with an
# older build (build/ab/fa-tune-old) and the current one, for a same-card comparison.
set -u
export FA_CACHE_DIR=/tmp/fa-cache
timeout 280 ./build/fa-tune verify --filter bwd > $OUT/verify_bwd2.txt 2>&1; echo "verify rc=$?"; tail -1 $OUT/verify_bwd2.txt; grep -v " ok$" $OUT/verify_bwd2.txt | grep -v "^variant\|^#" | head
for b in build/ab/fa-tune-old build/fa-tune; do
  echo "== $b"; timeout 150 $b bench --grid gemma --mode fwdbwd --all --reps 5 2>&1 | grep "^| [a-z]" 
done
