# plots.gp -- written by fa-bench from its CSV; run `gnuplot plots.gp` in this directory.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 960,600 noenhanced
} else {
  set terminal png size 960,600 noenhanced
}
set datafile missing "?"
set key outside right top
set grid
set logscale x 2
set xlabel "sequence length (Tq = Tk)"

set output "seed_32x32_d128_causal_time.png"
set title "seed grid, H/K 32/32, d 128, causal: time"
set ylabel "ms (median)"
set logscale y
plot \
  "data/seed_32x32_d128_causal_fa_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_causal_std_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_causal_fa_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_causal_std_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_causal_fa_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_causal_std_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_causal_fa_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_causal_std_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x32_d128_causal_tflops.png"
set title "seed grid, H/K 32/32, d 128, causal: tflops"
set ylabel "TFLOP/s (useful work)"
unset logscale y
plot \
  "data/seed_32x32_d128_causal_fa_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_causal_std_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_causal_fa_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_causal_std_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_causal_fa_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_causal_std_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_causal_fa_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_causal_std_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x32_d128_causal_memory.png"
set title "seed grid, H/K 32/32, d 128, causal: memory"
set ylabel "peak device memory (MiB)"
set logscale y
plot \
  "data/seed_32x32_d128_causal_fa_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_causal_std_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_causal_fa_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_causal_std_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_causal_fa_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_causal_std_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_causal_fa_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_causal_std_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x32_d128_full_time.png"
set title "seed grid, H/K 32/32, d 128, full: time"
set ylabel "ms (median)"
set logscale y
plot \
  "data/seed_32x32_d128_full_fa_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_full_std_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_full_fa_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_full_std_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_full_fa_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_full_std_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_full_fa_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_full_std_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x32_d128_full_tflops.png"
set title "seed grid, H/K 32/32, d 128, full: tflops"
set ylabel "TFLOP/s (useful work)"
unset logscale y
plot \
  "data/seed_32x32_d128_full_fa_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_full_std_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_full_fa_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_full_std_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_full_fa_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_full_std_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_full_fa_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_full_std_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x32_d128_full_memory.png"
set title "seed grid, H/K 32/32, d 128, full: memory"
set ylabel "peak device memory (MiB)"
set logscale y
plot \
  "data/seed_32x32_d128_full_fa_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x32_d128_full_std_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x32_d128_full_fa_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x32_d128_full_std_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x32_d128_full_fa_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x32_d128_full_std_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x32_d128_full_fa_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x32_d128_full_std_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_causal_time.png"
set title "seed grid, H/K 32/8, d 128, causal: time"
set ylabel "ms (median)"
set logscale y
plot \
  "data/seed_32x8_d128_causal_fa_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_causal_std_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_causal_fa_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_causal_std_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_causal_fa_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_causal_std_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_causal_fa_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_causal_std_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_causal_tflops.png"
set title "seed grid, H/K 32/8, d 128, causal: tflops"
set ylabel "TFLOP/s (useful work)"
unset logscale y
plot \
  "data/seed_32x8_d128_causal_fa_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_causal_std_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_causal_fa_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_causal_std_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_causal_fa_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_causal_std_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_causal_fa_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_causal_std_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_causal_memory.png"
set title "seed grid, H/K 32/8, d 128, causal: memory"
set ylabel "peak device memory (MiB)"
set logscale y
plot \
  "data/seed_32x8_d128_causal_fa_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_causal_std_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_causal_fa_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_causal_std_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_causal_fa_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_causal_std_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_causal_fa_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_causal_std_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_full_time.png"
set title "seed grid, H/K 32/8, d 128, full: time"
set ylabel "ms (median)"
set logscale y
plot \
  "data/seed_32x8_d128_full_fa_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_full_std_B1.dat" using 1:2 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_full_fa_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_full_std_B4.dat" using 1:2 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_full_fa_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_full_std_B8.dat" using 1:2 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_full_fa_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_full_std_B16.dat" using 1:2 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_full_tflops.png"
set title "seed grid, H/K 32/8, d 128, full: tflops"
set ylabel "TFLOP/s (useful work)"
unset logscale y
plot \
  "data/seed_32x8_d128_full_fa_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_full_std_B1.dat" using 1:3 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_full_fa_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_full_std_B4.dat" using 1:3 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_full_fa_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_full_std_B8.dat" using 1:3 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_full_fa_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_full_std_B16.dat" using 1:3 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"

set output "seed_32x8_d128_full_memory.png"
set title "seed grid, H/K 32/8, d 128, full: memory"
set ylabel "peak device memory (MiB)"
set logscale y
plot \
  "data/seed_32x8_d128_full_fa_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 1 pt 7 title "fa B=1", \
  "data/seed_32x8_d128_full_std_B1.dat" using 1:4 with linespoints lw 2 lc 1 dt 2 pt 6 title "std B=1", \
  "data/seed_32x8_d128_full_fa_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 1 pt 7 title "fa B=4", \
  "data/seed_32x8_d128_full_std_B4.dat" using 1:4 with linespoints lw 2 lc 2 dt 2 pt 6 title "std B=4", \
  "data/seed_32x8_d128_full_fa_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 1 pt 7 title "fa B=8", \
  "data/seed_32x8_d128_full_std_B8.dat" using 1:4 with linespoints lw 2 lc 3 dt 2 pt 6 title "std B=8", \
  "data/seed_32x8_d128_full_fa_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 1 pt 7 title "fa B=16", \
  "data/seed_32x8_d128_full_std_B16.dat" using 1:4 with linespoints lw 2 lc 4 dt 2 pt 6 title "std B=16"
