// Fragment: position/segment bounds, shared by the forward (fwd_tiles.cu) and
// backward (bwd_common.cu) families. gen/fa_gen.lua puts it after
// sm80_common.cu.

struct TileBounds { int pos_min, pos_max, seg_min, seg_max; };

// Bounds of pos[lo, hi) and seg[lo, hi) by one warp (lane-strided loads, then
// a butterfly reduction); an empty range gives the empty bounds.
template <bool HAS_POS, bool HAS_SEG>
__device__ __forceinline__ TileBounds warp_bounds(const int *pos, const int *seg, int lo, int hi, int lane) {
  int a = 0x7fffffff, z = -0x7fffffff - 1, sa = 0x7fffffff, sz = -0x7fffffff - 1;
  for (int n = lo + lane; n < hi; n += 32) {
    if (HAS_POS) { int v = pos[n]; a = min(a, v); z = max(z, v); }
    if (HAS_SEG) { int v = seg[n]; sa = min(sa, v); sz = max(sz, v); }
  }
#pragma unroll
  for (int o = 16; o; o >>= 1) {
    a = min(a, __shfl_xor_sync(0xffffffffu, a, o));
    z = max(z, __shfl_xor_sync(0xffffffffu, z, o));
    sa = min(sa, __shfl_xor_sync(0xffffffffu, sa, o));
    sz = max(sz, __shfl_xor_sync(0xffffffffu, sz, o));
  }
  return TileBounds{a, z, sa, sz};
}
