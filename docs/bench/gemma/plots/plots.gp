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
