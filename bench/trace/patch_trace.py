#!/usr/bin/env python3
"""Patches a copy of templates/fwd_sm90.cu with SM-0 timestamps (clock64, low
32 bits) per work item and consumer warpgroup, printed by the warpgroup's first
lane: a diagnostic twin only (bench/trace/build.sh), never the shipped kernel.
Line: TRACE globaltimer-at-entry blk c item t_entry t_q t_s0 t_loopend t_lastpv t_end."""
import sys
p = sys.argv[1]
s = open(p).read()
def rep(old, new):
    global s
    assert s.count(old) == 1, old
    s = s.replace(old, new)
rep('''  extern __shared__ __align__(1024) unsigned char smem_raw[];''', '''  extern __shared__ __align__(1024) unsigned char smem_raw[];
  u32 tr_sm; asm volatile("mov.u32 %0, %%smid;" : "=r"(tr_sm));
  auto tr_clk = [] { u32 c; asm volatile("mov.u32 %0, %%clock;" : "=r"(c)); return c; };
  const u32 tr_t0 = tr_clk();
  u64 tr_g; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(tr_g));
  u32 tr_q = 0, tr_s0 = 0, tr_le = 0, tr_pv = 0;''')
rep('''    mbar_wait(barQ, n & 1);''', '''    if (n > 0 && tr_sm == 0 && (threadIdx.x & 127) == 0)
      printf("TRACE %llu %d,%d,%d %d %d %u %u %u %u %u %u\\n", tr_g, blockIdx.x, blockIdx.y, blockIdx.z, (int)((threadIdx.x >> 7) - 1), n - 1, tr_t0, tr_q, tr_s0, tr_le, tr_pv, tr_clk());
    mbar_wait(barQ, n & 1);
    tr_q = tr_clk();''')
rep('''      softmax(sc, t, corr_v);  // O is still zero: nothing to rescale''', '''      tr_s0 = tr_clk();
      softmax(sc, t, corr_v);  // O is still zero: nothing to rescale''')
rep('''    if (t < t_hi) {  // the last tile's P V''', '''    tr_le = tr_clk();
    if (t < t_hi) {  // the last tile's P V''')
rep('''    const bool split_out = p.nsplit > 1;''', '''    tr_pv = tr_clk();
    const bool split_out = p.nsplit > 1;''')
rep('''  }  // work items''', '''  }  // work items
  if (tr_sm == 0 && (threadIdx.x & 127) == 0)
    printf("TRACE %llu %d,%d,%d %d %d %u %u %u %u %u %u\\n", tr_g, blockIdx.x, blockIdx.y, blockIdx.z, (int)((threadIdx.x >> 7) - 1), nitems, tr_t0, tr_q, tr_s0, tr_le, tr_pv, tr_clk());''')
open(p, "w").write(s)
