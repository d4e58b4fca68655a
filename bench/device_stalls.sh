set -u
FINAL=${OUT:-/tmp/fa-out}; export FA_CACHE_DIR=/tmp/fa-cache
M="smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio,smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_wait_per_issue_active.ratio,smsp__average_warps_issue_stalled_not_selected_per_issue_active.ratio,smsp__average_warps_issue_stalled_selected_per_issue_active.ratio,smsp__average_warps_issue_stalled_dispatch_stall_per_issue_active.ratio,smsp__average_warps_issue_stalled_lg_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_tex_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_no_instruction_per_issue_active.ratio,smsp__average_warps_issue_stalled_branch_resolving_per_issue_active.ratio,smsp__average_warps_issue_stalled_membar_per_issue_active.ratio,smsp__average_warps_issue_stalled_sleeping_per_issue_active.ratio,smsp__average_warps_issue_stalled_drain_per_issue_active.ratio,smsp__average_warps_issue_stalled_misc_per_issue_active.ratio,smsp__inst_executed_pipe_tensor_op_hmma.sum,smsp__inst_executed_op_ldsm.sum,smsp__inst_executed_pipe_fma.sum,smsp__inst_executed_pipe_alu.sum,smsp__inst_executed_pipe_xu.sum,smsp__inst_executed.sum"
ncu --clock-control none --metrics $M -k fa_fwd -s 3 -c 1 ./build/fa-tune bench --shape 4,8192,8192,32,32,128 --filter d128_bf16_m128n48_w4_s2_g1 --reps 1 2>&1 | grep -E "smsp__" > $FINAL/m_fa.txt
cat > /tmp/fa2.py <<'P'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
q = torch.randn(4, 32, 8192, 128, device="cuda", dtype=torch.bfloat16); k = torch.randn_like(q); v = torch.randn_like(q)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    for _ in range(5): F.scaled_dot_product_attention(q, k, v)
torch.cuda.synchronize()
P
ncu --clock-control none --metrics $M -k regex:flash -s 3 -c 1 python3 /tmp/fa2.py 2>&1 | grep -E "smsp__" > $FINAL/m_fa2.txt
paste <(awk '{print $1, $NF}' $FINAL/m_fa.txt) <(awk '{print $NF}' $FINAL/m_fa2.txt) | sed 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//'
