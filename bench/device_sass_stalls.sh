set -u
FINAL=${OUT:-/tmp/fa-out}; export FA_CACHE_DIR=/tmp/fa-cache
ncu --clock-control none --section SourceCounters --section WarpStateStats --page source --print-source sass --csv -k fa_fwd -s 3 -c 1 ./build/fa-tune bench --shape 4,8192,8192,32,32,128 --filter d128_bf16_m128n48_w4_s2_g1 --reps 1 > $FINAL/src.csv 2>&1
head -3 $FINAL/src.csv | cut -c1-600
wc -l $FINAL/src.csv
