#!/usr/bin/env bash
# One device call: Nsight Compute on fa's backward kernels and FlashAttention-2's, one shape,
# and fa's forward+backward in both dQ modes.
set -u
FINAL=${OUT:-/tmp/fa-out}; mkdir -p "$FINAL"
export FA_CACHE_DIR=/tmp/fa-cache
SHAPE=${SHAPE:-4,4096,4096,32,32,128}
for det in "" --deterministic; do
  ./build/fa-tune bench --shape $SHAPE --mode fwdbwd --all --reps 10 $det 2>&1 | grep "^#  "
done
NCU="ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis --section LaunchStats --section InstructionStats --section Occupancy"
$NCU -k regex:fa_bwd -c 4 ./build/fa-tune bench --shape $SHAPE --mode fwdbwd --reps 1 > "$FINAL/ncu_fa_bwd.txt" 2>&1
cat > /tmp/fa2b.py <<'P'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
q = torch.randn(4, 32, 4096, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True); k = torch.randn_like(q, requires_grad=True); v = torch.randn_like(q, requires_grad=True)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    for _ in range(3):
        o = F.scaled_dot_product_attention(q, k, v); o.backward(torch.randn_like(o))
torch.cuda.synchronize()
P
$NCU -k regex:flash_bwd -c 3 python3 /tmp/fa2b.py > "$FINAL/ncu_fa2_bwd.txt" 2>&1
for f in ncu_fa_bwd ncu_fa2_bwd; do
  echo "----- $f"
  grep -E "^  [a-z_A-Z].*\(|Duration|Compute \(SM\) Throughput|Memory Throughput|Executed Ipc Active|Issue Slots Busy|No Eligible|Registers Per|Achieved Occupancy|Executed Instructions |L2 Hit|DRAM Throughput|L1/TEX Hit|Mem Busy|Max Bandwidth|Block Size|Grid Size" "$FINAL/$f.txt" | head -80
done
