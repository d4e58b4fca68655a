#!/usr/bin/env bash
# A/B timing of fa-tune binaries built from different commits (build/ab/fa-tune-*), interleaved, one card.
# usage: [MODE=fwd] bash bench/device_ab.sh FILTER SHAPE...
set -u
export FA_CACHE_DIR=/tmp/fa-cache
f=$1; shift
for round in 1 2; do
  for s in "$@"; do
    for b in build/ab/fa-tune-* build/fa-tune; do
      printf "%-22s %-32s " "$(basename $b)" "$s"
      $b bench --shape $s --mode ${MODE:-fwdbwd} --filter "$f" --reps 20 2>&1 | grep "^| shape_" | awk -F'|' '{print $10, $11}'
    done
  done
done
