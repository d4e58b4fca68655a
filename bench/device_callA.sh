#!/usr/bin/env bash
# One device call: the API tests on the GPU, fa's forward+backward benchmark (seed4, d256),
# and Nsight Compute on the chosen backward kernel (occupancy, limits).
set -u
export FA_CACHE_DIR=/tmp/fa-cache
./build/tests/test_api gpu 2>&1 | tail -4
OUT=$OUT bash bench/device_bwd.sh seed d256 2>&1 | grep -v "^name\|^NVIDIA"
ncu --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats -k regex:fa_bwd_dkdv -c 1 ./build/fa-tune bench --shape 4,4096,4096,32,32,128 --mode fwdbwd --reps 1 > $OUT/ncu_w4.txt 2>&1
grep -E "Duration|Achieved Occupancy|Theoretical Occ|Block Limit Shared|Block Limit Reg|Compute \(SM\)|Registers Per" $OUT/ncu_w4.txt
