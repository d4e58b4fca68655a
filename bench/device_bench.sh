#!/usr/bin/env bash
# One device call: fa-bench on the seed and gemma grids (fa against standard
# attention: time, TFLOP/s, peak memory, precision), packed for the trip back.
# usage (on the GPU machine, from the repository root, build/ carried):
#   OUT=dir bash bench/device_bench.sh [REPS]
# Back home, draw the plots and rebuild the reports from the CSVs (gnuplot):
#   build/bench/fa-bench --report-from OUT/seed.csv --out results/seed
#   build/bench/fa-bench --report-from OUT/gemma.csv --out results/gemma
set -u
FINAL=${OUT:-/tmp/fa-out}; WORK=/tmp/fa-bench-work; mkdir -p "$FINAL" "$WORK"
export FA_CACHE_DIR=${FA_CACHE_DIR:-/tmp/fa-cache}
reps=${1:-20}
# The device tool returns at most 8 files, 2 folders down: the CSVs and
# reports flat, everything else (plot data, logs) in one archive.
trap 'tar czf "$FINAL/fa-bench.tgz" -C "$WORK" . ;
      for g in seed gemma; do cp "$WORK/$g/fa-bench.csv" "$FINAL/$g.csv" 2>/dev/null;
                              cp "$WORK/$g/fa-bench.md" "$FINAL/$g.md" 2>/dev/null; done' EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,memory.total --format=csv | tee "$WORK/gpu.txt"
for g in seed gemma; do
  timeout 500 ./build/bench/fa-bench --grid $g --reps "$reps" --out "$WORK/$g" > "$WORK/$g.txt" 2> "$WORK/$g.err"
  echo "fa-bench --grid $g: exit $?" | tee -a "$WORK/$g.txt"
  grep -E "=>|flash faster|SKIPPED" "$WORK/$g.txt" | head -30
done
