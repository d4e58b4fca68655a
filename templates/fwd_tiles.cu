// Fragment: which key tiles a forward query tile visits, shared by
// fwd_sm80.cu and fwd_sm90.cu (gen/fa_gen.lua puts it before them). The index
// rules (causal, windows, seqlens, split-KV) give a range of key tiles; with
// positions or segments, per-tile bounds (built once per CTA into shared
// memory) skip the tiles the mask hides and spare fully visible tiles the
// per-element test. TileBounds comes from tile_bounds.cu.

// The key tiles [t_lo, t_hi) of BN keys that the index rules (causal,
// windows) and this CTA's split-KV slice allow for query positions
// [pmin, pmax] (pmin > pmax: no valid row, an empty range).
template <int BN>
__device__ __forceinline__ void fwd_key_tiles(const Params &p, int Lk, int off, int pmin, int pmax, int split,
                                              int &t_lo, int &t_hi) {
  int n_lo = 0, n_hi = Lk;
  if (p.causal) n_hi = min(n_hi, pmax + off + 1);
  if (p.window_right >= 0) n_hi = min(n_hi, pmax + off + p.window_right + 1);
  if (p.window_left >= 0) n_lo = max(n_lo, pmin + off - p.window_left);
  t_lo = n_lo / BN;
  t_hi = (pmin > pmax || n_hi <= n_lo) ? t_lo : (n_hi + BN - 1) / BN;
  if (p.nsplit > 1) {  // this CTA's slice of the key tiles
    const int per = (t_hi - t_lo + p.nsplit - 1) / p.nsplit;
    t_lo = min(t_hi, t_lo + split * per);
    t_hi = min(t_hi, t_lo + per);
  }
}

// Position/segment bounds: the query tile's by one warp reduction into
// tab[TABLE_MAX], each key tile's from t_lo by a warp into tab[0..TABLE_MAX).
// Every warp of the CTA calls it; the caller synchronises after. (Its
// reductions are warp_bounds's, written out: with warp_bounds the forward's
// SASS changed, and it has not been re-verified on an H100 that way.)
template <int BN, bool HAS_POS, bool HAS_SEG, int TABLE_MAX>
__device__ __forceinline__ void fwd_tile_bounds(const Params &p, int b, int Lk, int pmin, int pmax, int t_lo, int t_hi,
                                                TileBounds *tab, int warp, int warps, int lane) {
  int qp_min = 0x7fffffff, qp_max = -0x7fffffff - 1, qs_min = 0x7fffffff, qs_max = -0x7fffffff - 1;
  for (int pos = pmin + lane; pos <= pmax; pos += 32) {
    if (HAS_POS) { int v = p.q_pos[b * p.Tq + pos]; qp_min = min(qp_min, v); qp_max = max(qp_max, v); }
    if (HAS_SEG) { int v = p.q_seg[b * p.Tq + pos]; qs_min = min(qs_min, v); qs_max = max(qs_max, v); }
  }
#pragma unroll
  for (int o = 16; o; o >>= 1) {
    qp_min = min(qp_min, __shfl_xor_sync(0xffffffffu, qp_min, o));
    qp_max = max(qp_max, __shfl_xor_sync(0xffffffffu, qp_max, o));
    qs_min = min(qs_min, __shfl_xor_sync(0xffffffffu, qs_min, o));
    qs_max = max(qs_max, __shfl_xor_sync(0xffffffffu, qs_max, o));
  }
  const int ntab = min(t_hi - t_lo, TABLE_MAX);
  for (int tt = warp; tt < ntab; tt += warps) {
    int a = 0x7fffffff, z = -0x7fffffff - 1, sa = 0x7fffffff, sz = -0x7fffffff - 1;
    for (int n = (t_lo + tt) * BN + lane; n < min((t_lo + tt + 1) * BN, Lk); n += 32) {
      if (HAS_POS) { int v = p.k_pos[b * p.Tk + n]; a = min(a, v); z = max(z, v); }
      if (HAS_SEG) { int v = p.k_seg[b * p.Tk + n]; sa = min(sa, v); sz = max(sz, v); }
    }
#pragma unroll
    for (int o = 16; o; o >>= 1) {
      a = min(a, __shfl_xor_sync(0xffffffffu, a, o));
      z = max(z, __shfl_xor_sync(0xffffffffu, z, o));
      sa = min(sa, __shfl_xor_sync(0xffffffffu, sa, o));
      sz = max(sz, __shfl_xor_sync(0xffffffffu, sz, o));
    }
    if (lane == 0) tab[tt] = TileBounds{a, z, sa, sz};
  }
  if (warp == 0 && lane == 0) tab[TABLE_MAX] = TileBounds{qp_min, qp_max, qs_min, qs_max};
}

// Key tile t for query positions [pmin, pmax]: 0 hidden, 1 partly visible
// (mask per element), 2 fully visible. tab: fwd_tile_bounds's table.
template <int BN, bool HAS_POS, bool HAS_SEG, int TABLE_MAX>
__device__ __forceinline__ int fwd_tile_class(const Params &p, int t, int Lk, int off, int pmin, int pmax, int t_lo,
                                              const TileBounds *tab) {
  const int n0 = t * BN, n1 = n0 + BN - 1;
  bool full = n1 < Lk && (!p.causal || n1 <= pmin + off) &&
              (p.window_right < 0 || n1 <= pmin + off + p.window_right) &&
              (p.window_left < 0 || n0 >= pmax + off - p.window_left);
  if constexpr (HAS_POS || HAS_SEG) {
    if (t - t_lo >= TABLE_MAX) return 1;
    const TileBounds tb = tab[t - t_lo], qt = tab[TABLE_MAX];
    if (HAS_POS && tb.pos_min > qt.pos_max) return 0;
    if (HAS_SEG && (tb.seg_max < qt.seg_min || tb.seg_min > qt.seg_max || qt.seg_max < 0)) return 0;
    if (HAS_POS && tb.pos_max > qt.pos_min) full = false;
    if (HAS_SEG && !(qt.seg_min == qt.seg_max && tb.seg_min == qt.seg_min && tb.seg_max == qt.seg_min &&
                     qt.seg_min >= 0))
      full = false;
  }
  return full ? 2 : 1;
}
