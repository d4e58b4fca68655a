#!/usr/bin/env bash
# One device call: Nsight Compute on fa's d128 kernel and FlashAttention-2's, same shape.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
NCU="ncu --clock-control none --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats --section InstructionStats"
$NCU -k fa_fwd -s 3 -c 1 ./build/fa-tune bench --shape 4,8192,8192,32,32,128 --filter d128_bf16_m128n48_w4_s2_g1 --reps 1 > "$FINAL/ncu_fa.txt" 2>&1
cat > /tmp/fa2.py <<'P'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
q = torch.randn(4, 32, 8192, 128, device="cuda", dtype=torch.bfloat16); k = torch.randn_like(q); v = torch.randn_like(q)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    for _ in range(5): F.scaled_dot_product_attention(q, k, v)
torch.cuda.synchronize()
P
$NCU -k regex:flash -s 3 -c 1 python3 /tmp/fa2.py > "$FINAL/ncu_fa2.txt" 2>&1
grep -E "Duration|Compute \(SM\) Throughput|Executed Ipc Active|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Registers Per|Achieved Occupancy|Executed Instructions |Shared Memory Configuration|Block Size|Stall|One or More" "$FINAL/ncu_fa.txt" | head -30
echo ----- FA2
grep -E "Duration|Compute \(SM\) Throughput|Executed Ipc Active|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Registers Per|Achieved Occupancy|Executed Instructions |Shared Memory Configuration|Block Size|Stall|One or More" "$FINAL/ncu_fa2.txt" | head -30
