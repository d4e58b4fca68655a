// Fragment: the Hopper primitives of the sm90 family (mbarriers, TMA tensor
// copies, wgmma, register reallocation, named barriers). sm_90a only.
// gen/fa_gen.lua puts it after sm80_common.cu and before fwd_sm90.cu; the
// wgmma wrappers, whose operand lists depend on N, come from the generator.

// A CUtensorMap as the driver encodes it (cuTensorMapEncodeTiled), passed by
// value as a __grid_constant__ kernel parameter.
struct __align__(64) TmaDesc { u64 raw[16]; };

__device__ __forceinline__ void mbar_init(u32 bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
// Arms the barrier for `bytes` of TMA traffic and counts this thread's arrival.
__device__ __forceinline__ void mbar_expect_tx(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the phase of parity `parity` has completed.
__device__ __forceinline__ void mbar_wait(u32 bar, u32 parity) {
  u32 done;
  do {
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done) : "r"(bar), "r"(parity) : "memory");
  } while (!done);
}

// One box of a 4-d tensor map into shared memory, completing on bar. Out-of-
// range coordinates read zeros (and still count toward the transaction bytes).
__device__ __forceinline__ void tma_load4(u32 dst, const TmaDesc &map, int c0, int c1, int c2, int c3, u32 bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];\n"
      ::"r"(dst), "l"((u64)&map), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar) : "memory");
}

// One box of shared memory out to a 4-d tensor map (rows past the map's
// extent are not written), as a bulk group: bulk_wait_read then says when
// the shared memory may be reused or the CTA may exit.
__device__ __forceinline__ void tma_store4(const TmaDesc &map, int c0, int c1, int c2, int c3, u32 src) {
  asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%1, %2, %3, %4}], [%5];\n"
               ::"l"((u64)&map), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(src) : "memory");
}
// Adds `bytes` of fp32 from shared memory to global memory (element-wise
// atomic adds done at L2), as a bulk group.
__device__ __forceinline__ void bulk_reduce_add(float *dst, u32 src, u32 bytes) {
  asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n"
               ::"l"(dst), "r"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
// Every bulk group of this thread complete, writes included.
__device__ __forceinline__ void bulk_wait() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }

// Four 8x8 16-bit blocks from the mma accumulator layout into shared memory:
// lane 8i + r gives the address of row r of block i, register i holds block
// i's pair at (lane / 4, 2 (lane % 4)).
__device__ __forceinline__ void stmatrix4(u32 addr, u32 r0, u32 r1, u32 r2, u32 r3) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n"
               ::"r"(addr), "r"(r0), "r"(r1), "r"(r2), "r"(r3) : "memory");
}

// Byte offset of 16-byte chunk c of row r in a [rows][cols] tile stored as cols/64
// column blocks of [rows][64], 128-byte swizzled (TMA's and wgmma's layout).
__device__ __forceinline__ u32 sw128(int rows, int r, int c) {
  return (u32)((c >> 3) * rows * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accesses of accumulators across a wgmma's
// issue or wait (the hardware writes them asynchronously in between).
template <int R> __device__ __forceinline__ void reg_fence(float (&a)[R][4]) {
#pragma unroll
  for (int i = 0; i < R; ++i)
    asm volatile("" : "+f"(a[i][0]), "+f"(a[i][1]), "+f"(a[i][2]), "+f"(a[i][3])::"memory");
}

// Shared-memory matrix descriptor, 128-byte swizzle: the tile is [rows][64]
// 16-bit elements per 1024-byte-aligned block of 8 rows. lbo: bytes between
// 64-element column blocks (MN-major operands only); sbo: bytes between
// 8-row groups.
__device__ __forceinline__ u64 sw128_desc(u32 addr, u32 lbo, u32 sbo) {
  return (u64)((addr & 0x3ffff) >> 4) | ((u64)(lbo >> 4) << 16) | ((u64)(sbo >> 4) << 32) | (1ull << 62);
}

// The same descriptor as two words: the low one (start address, lbo) per
// tile, the high one (sbo, swizzle) a constant; the descriptor of addr + off is
// lo + off / 16 while addresses stay below 256 KB (all of shared memory). One
// add per wgmma instead of rebuilding it (about 12 instructions each, in the
// turn that issues the products).
__device__ __forceinline__ u32 sw128_lo(u32 addr, u32 lbo) { return ((addr & 0x3ffff) >> 4) | ((lbo >> 4) << 16); }
__device__ __forceinline__ u64 sw128_desc_lo(u32 lo, u32 sbo) { return (u64)lo | ((u64)((sbo >> 4) | (1u << 30)) << 32); }

template <int N> __device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N> __device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
// Barrier among `threads` threads (a warpgroup) under id (1..15; 0 is __syncthreads).
__device__ __forceinline__ void named_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
// Arrives at barrier id without waiting (the other side calls named_sync).
__device__ __forceinline__ void named_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
// Orders this thread's ordinary shared-memory writes before later reads by
// the async proxy (wgmma, TMA).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void fence_mbar_init() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// cap * tanh(s / cap) in log2 units (c2 = cap * log2 e, k = -2 log2 e / cap):
// with e = 2^(k |s|) in (0, 1], tanh |s/cap| = 2 / (1 + e) - 1. The accuracy
// of tanh_acc in two fewer instructions. (Three MUFU results per logit, but
// d128 softcap is not MUFU-bound: on the H200, 2026-12-02, moving the
// softmax's exp2 to f16 pairs or part of this exp2 to the FMA pipe ran 1-9%
// slower, docs/PERF.md J.)
__device__ __forceinline__ float softcap_log2(float s, float k, float c2) {
  return copysignf(fmaf(fast_rcp(1.f + fast_exp2(fabsf(s) * k)), 2.f * c2, -c2), s);
}
