// Fragment: what every backward family shares. Parameters, masks, the
// preprocessing (fa_bwd_pre), the deterministic dQ kernel (fa_bwd_dq, mma.sync),
// dQ's conversion and the reduction of split head groups. gen/fa_gen.lua puts
// it before the family's fa_bwd_dkdv (bwd_sm80.cu, bwd_sm90.cu).

constexpr int D = ${D};            // head_dim
constexpr bool HAS_POS = ${HAS_POS};
constexpr bool HAS_SEG = ${HAS_SEG};
constexpr bool HAS_SOFTCAP = ${HAS_SOFTCAP};
constexpr int TABLE_MAX = ${TABLE_MAX}; // tiles whose pos/seg bounds are kept in smem
constexpr int DQ_TABLE = ${DQ_TABLE};   // fa_bwd_dq's key tiles with bounds in smem (gen/fa_space.lua: dq_table)
constexpr int BNQ = ${BNQ};        // keys per tile of fa_bwd_dq
constexpr bool DQ_TILED = ${DQ_TILED};  // dQ accumulator tiled for bulk reductions (dq_at)

constexpr int DC = D / 8;          // 16-byte chunks per row of Q, K, V, dO
constexpr bool HAS_TOK = HAS_POS || HAS_SEG;
constexpr u32 ROWB = D * 2;        // bytes per row of Q, K, V, dO tiles

// Params and the integer types come from templates/fwd_params.cu; cp.async,
// ldmatrix, mma, pack2, exp2 and tanh from templates/sm80_common.cu.

// Mirrors struct fa_bwd_kparams in runtime/fa_kparams.h.
struct BwdParams {
  const u16 *dout;  // o strides
  u16 *dq, *dk, *dv;  // q, k, v strides
  float *lse2;      // [B*Hq*Tq] forward LSE in log2 units; +inf where a row sees no key
  float *dsum;      // [B*Hq*Tq] rowsum(dO * O)
  float *dqacc;     // fp32 dQ accumulator (dq_at; Tq rounded up to 64); NULL in deterministic mode
  float *dkvacc;    // [hsplit][B][Hkv][Tk][2D] fp32 dK, dV partials when hsplit > 1
  float scale;      // the softmax scale (folded into dQ and dK at the end)
  int hsplit;       // CTAs sharing one kv head's query heads
  int kb_slow;      // fa_bwd_dkdv's grid: key blocks in z (1) or in x (0)
  int pad;
};
static_assert(sizeof(BwdParams) == 80, "BwdParams must match fa_bwd_kparams");

// Where the dQ accumulator holds (batch b, head h, query i, column x): rows
// of D floats, or with DQ_TILED tiles of 64 query rows as D/64 blocks of
// [64][64] floats, 8-float groups XOR-swizzled by row & 7: each block is the
// image of the shared buffer a bulk reduction adds (bwd_sm90.cu). Pairs and
// quads of columns (x even, x % 4 == 0) stay adjacent.
__device__ __forceinline__ i64 dq_at(const Params &p, int b, int h, int i, int x) {
  if constexpr (DQ_TILED) {
    const i64 t = ((i64)b * p.Hq + h) * ((p.Tq + 63) / 64) + (i >> 6);
    return t * 64 * D + (x >> 6) * 4096 + (i & 63) * 64 + ((x & 63) ^ ((i & 7) << 3));
  } else {
    return (((i64)b * p.Hq + h) * p.Tq + i) * D + x;
  }
}

// Tiles are [rows][C chunks of 16 bytes], chunks XOR-swizzled by row & 7.
template <int C> __device__ __forceinline__ u32 swz(int row, int chunk) {
  return (u32)((row * C + (chunk ^ (row & 7))) * 16);
}

// ldmatrix lane addresses for steps of 16 columns across a swizzled tile
// (row & 7 == lane & 7): step k reads at a[k % 4] + (k / 4) * 128; only
// immediates are added in the loops.
__device__ __forceinline__ void lane_addrs(u32 *a, u32 base, int row, u32 rowb, int c0, int col, int sw) {
#pragma unroll
  for (int r = 0; r < 4; ++r) a[r] = base + row * rowb + ((c0 + 2 * r + col) ^ sw) * 16;
}

// Rows [r0, r0 + ROWS) of two tensors with row strides sa, sb into swizzled
// tiles at da, db (rows at or past `valid` zero-filled): each of THREADS
// threads copies one 16-byte column chunk of every (THREADS/DC)-th row, with
// running pointers (64-bit address arithmetic once). fa_bwd_dkdv keeps its
// own loops: this helper there cost d128 m64n64 w4 softcap 20-24 bytes of spills.
template <int ROWS, int THREADS>
__device__ __forceinline__ void copy_rows2(u32 da, u32 db, const u16 *a, i64 sa, const u16 *b, i64 sb, int r0,
                                           int valid, int tid) {
  constexpr int LR = THREADS / DC;
  static_assert(THREADS % DC == 0 && ROWS % LR == 0, "copy shape");
  const int lrow = tid / DC, lcol = tid % DC;
  const u16 *pa = a + (r0 + lrow) * sa + lcol * 8, *pb = b + (r0 + lrow) * sb + lcol * 8;
#pragma unroll
  for (int k = 0; k < ROWS / LR; ++k) {
    const bool ok = r0 + lrow + k * LR < valid;
    const u32 o = swz<DC>(lrow + k * LR, lcol);
    cp_async16(da + o, ok ? pa : a, ok ? 16 : 0);
    cp_async16(db + o, ok ? pb : b, ok ? 16 : 0);
    pa += LR * sa;
    pb += LR * sb;
  }
}

// p[0] += a, p[1] += b in global memory; one vector reduction on sm_90.
__device__ __forceinline__ void red_add2(float *p, float a, float b) {
#if __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(a), "f"(b) : "memory");
#else
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p), "f"(a) : "memory");
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p + 1), "f"(b) : "memory");
#endif
}

// Tile-level visibility from token bounds: 0 hidden, else whether it stays full.
__device__ __forceinline__ int tok_classify(const TileBounds &q, const TileBounds &k, bool full) {
  if (HAS_POS && k.pos_min > q.pos_max) return 0;
  if (HAS_SEG && (k.seg_max < q.seg_min || k.seg_min > q.seg_max || q.seg_max < 0 || k.seg_max < 0)) return 0;
  if (HAS_POS && k.pos_max > q.pos_min) full = false;
  if (HAS_SEG && !(q.seg_min == q.seg_max && k.seg_min == q.seg_min && k.seg_max == q.seg_min && q.seg_min >= 0))
    full = false;
  return full ? 2 : 1;
}

// The per-element rule of fa.h: index part (lengths, bottom-right causal, windows).
__device__ __forceinline__ bool index_visible(const Params &p, int m, int n, int Lq, int Lk, int off) {
  const int i = m + off;
  return m < Lq && n < Lk && (!p.causal || n <= i) && (p.window_left < 0 || n >= i - p.window_left) &&
         (p.window_right < 0 || n <= i + p.window_right);
}
// ... and with positions and segments read from global memory.
__device__ __forceinline__ bool visible(const Params &p, int b, int m, int n, int Lq, int Lk, int off) {
  bool vis = index_visible(p, m, n, Lq, Lk, off);
  if (HAS_POS) vis = vis && p.k_pos[b * p.Tk + n] <= p.q_pos[b * p.Tq + m];
  if (HAS_SEG) vis = vis && p.k_seg[b * p.Tk + n] >= 0 && p.k_seg[b * p.Tk + n] == p.q_seg[b * p.Tq + m];
  return vis;
}

// P (in log2 units against lse2) and dS of one score, softcap's derivative included.
__device__ __forceinline__ void p_ds(const Params &p, float s, float dp, float lse2, float dsum, float &P, float &ds) {
  float x, f = 1.f;
  if constexpr (HAS_SOFTCAP) {
    const float t = tanh_acc(s * p.cap_inv);
    x = p.cap_log2 * t;
    f = 1.f - t * t;
    P = fast_exp2(x - lse2);
  } else {
    P = fast_exp2(fmaf(s, p.scale_log2, -lse2));  // one FFMA; lse2 = +inf gives 0
  }
  ds = HAS_SOFTCAP ? P * (dp - dsum) * f : P * (dp - dsum);
}

// The query heads [h_lo, h_hi) of kv head kvh that split hs of hsplit walks.
__device__ __forceinline__ void bwd_heads(const Params &p, const BwdParams &bp, int kvh, int hs, int &h_lo, int &h_hi) {
  const int group = p.Hq / p.Hkv;
  const int hper = (group + bp.hsplit - 1) / bp.hsplit;
  h_lo = kvh * group + min(group, hs * hper);
  h_hi = kvh * group + min(group, (hs + 1) * hper);
}

// The query tiles [mt_lo, mt_lo + nmt) of BM rows that the index rules let
// see keys [n0, n1] (causal, windows; lengths).
template <int BM>
__device__ __forceinline__ void bwd_query_tiles(const Params &p, int Lq, int off, int n0, int n1, int &mt_lo, int &nmt) {
  int m_lo = 0, m_hi = n0 <= n1 ? Lq : 0;
  if (p.causal) m_lo = max(m_lo, n0 - off);
  if (p.window_right >= 0) m_lo = max(m_lo, n0 - off - p.window_right);
  if (p.window_left >= 0) m_hi = min(m_hi, n1 - off + p.window_left + 1);
  mt_lo = m_lo / BM;
  nmt = m_hi > m_lo ? (m_hi + BM - 1) / BM - mt_lo : 0;
}

// Query tile mt against keys [n0, n0 + BN): 0 hidden, 1 partial (a per-element
// mask), 2 full. qtab holds the bounds of tiles mt_lo.. (TABLE_MAX of them).
template <int BM, int BN>
__device__ __forceinline__ int bwd_tile_class(const Params &p, int mt, int mt_lo, int n0, int Lq, int Lk, int off,
                                              const TileBounds *qtab, const TileBounds *kb) {
  const int m0 = mt * BM, m1 = m0 + BM - 1;
  const bool full = m1 < Lq && n0 + BN <= Lk && (!p.causal || n0 + BN - 1 <= m0 + off) &&
                    (p.window_right < 0 || n0 + BN - 1 <= m0 + off + p.window_right) &&
                    (p.window_left < 0 || n0 >= m1 + off - p.window_left);
  if constexpr (HAS_TOK) {
    if (mt - mt_lo >= TABLE_MAX) return 1;
    return tok_classify(qtab[mt - mt_lo], *kb, full);
  }
  return full ? 2 : 1;
}

// Positions and segments of a CTA's keys: their bounds (kb), the values per
// key row (sKtok, [2][BN]) and the bounds of the query tiles it walks (qtab).
template <int BM, int BN, int WARPS>
__device__ void bwd_tok_tables(const Params &p, int b, int n0, int n1, int Lq, int Lk, int mt_lo, int nmt, int *sKtok,
                               TileBounds *qtab, TileBounds *kb, int tid, int warp, int lane) {
  if (warp == 0) {
    const TileBounds t = warp_bounds<HAS_POS, HAS_SEG>(p.k_pos + b * p.Tk, p.k_seg + b * p.Tk, n0, n1 + 1, lane);
    if (lane == 0) *kb = t;
  }
  for (int r = tid; r < BN; r += WARPS * 32) {
    const int n = min(n0 + r, Lk - 1);
    sKtok[r] = HAS_POS && n >= 0 ? p.k_pos[b * p.Tk + n] : 0;
    sKtok[BN + r] = HAS_SEG && n >= 0 ? p.k_seg[b * p.Tk + n] : 0;
  }
  for (int tt = warp; tt < min(nmt, TABLE_MAX); tt += WARPS) {
    const int m0 = (mt_lo + tt) * BM;
    TileBounds t = warp_bounds<HAS_POS, HAS_SEG>(p.q_pos + b * p.Tq, p.q_seg + b * p.Tq, m0, min(m0 + BM, Lq), lane);
    if (lane == 0) qtab[tt] = t;
  }
}

// One query tile's row data into shared memory by cp.async: lse2 and dsum
// ([BM] each), and with positions/segments their values (tok, [2][BM]).
template <int BM, int NT>
__device__ __forceinline__ void bwd_load_rowdata(const Params &p, const BwdParams &bp, int b, int h, int m0, int Lq,
                                                 float *sL, float *sD, int *tok, int tid) {
  if (tid < 2 * BM) {
    const int r = tid % BM, m = m0 + r;
    const float *src = (tid < BM ? bp.lse2 : bp.dsum) + ((i64)b * p.Hq + h) * p.Tq + m;
    float *dst = (tid < BM ? sL : sD) + r;
    cp_async4(smem_u32(dst), m < p.Tq ? src : bp.lse2, m < p.Tq ? 4 : 0);
  }
  if constexpr (HAS_TOK) {
    for (int idx = tid; idx < 2 * BM; idx += NT) {
      const int r = idx % BM, m = m0 + r;
      const int *src = idx < BM ? (HAS_POS ? p.q_pos : p.q_seg) : (HAS_SEG ? p.q_seg : p.q_pos);
      cp_async4(smem_u32(tok + (idx / BM) * BM + r), src + b * p.Tq + min(m, Lq - 1), m < Lq ? 4 : 0);
    }
  }
}

// A partial tile's visibility as bits, [BN][BM/32] words, built by whole warps
// (a ballot per 32 queries of one key), so the element loop tests one bit.
template <int BM, int BN, int WARPS>
__device__ __forceinline__ void bwd_vmask(const Params &p, int m0, int n0, int Lq, int Lk, int off, const int *tok,
                                          const int *sKtok, u32 *vmask, int warp, int lane) {
#pragma unroll 1
  for (int w = warp; w < BN * BM / 32; w += WARPS) {
    const int nl = w / (BM / 32), ml = (w % (BM / 32)) * 32 + lane;
    bool vis = index_visible(p, m0 + ml, n0 + nl, Lq, Lk, off);
    if (HAS_POS) vis = vis && sKtok[nl] <= tok[ml];
    if (HAS_SEG) vis = vis && sKtok[BN + nl] >= 0 && sKtok[BN + nl] == tok[BM + ml];
    const u32 bits = __ballot_sync(0xffffffffu, vis);
    if (lane == 0) vmask[w] = bits;
  }
}

// The epilogue of fa_bwd_dkdv for one key row n: dK (times the softmax
// scale) and dV at columns col0 + 8j + {0, 1}, j < NJ, from row half hh of
// the accumulators; rows past Lk get zeros (nothing reached them). Split head
// groups leave fp32 partials for fa_bwd_reduce instead.
template <int NJ>
__device__ __forceinline__ void bwd_store_row(const Params &p, const BwdParams &bp, int b, int kvh, int hs, int n,
                                              int col0, const float (&dk)[NJ][4], const float (&dv)[NJ][4], int hh) {
  if (bp.hsplit > 1) {
    float *dst = bp.dkvacc + ((((i64)hs * p.B + b) * p.Hkv + kvh) * p.Tk + n) * 2 * D + col0;
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      *(float2 *)(dst + j * 8) = make_float2(dk[j][2 * hh], dk[j][2 * hh + 1]);
      *(float2 *)(dst + D + j * 8) = make_float2(dv[j][2 * hh], dv[j][2 * hh + 1]);
    }
  } else {
    u16 *dkp = bp.dk + b * p.k_sb + n * p.k_ss + kvh * p.k_sh + col0;
    u16 *dvp = bp.dv + b * p.v_sb + n * p.v_ss + kvh * p.v_sh + col0;
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      *(u32 *)(dkp + j * 8) = pack2(dk[j][2 * hh] * bp.scale, dk[j][2 * hh + 1] * bp.scale);
      *(u32 *)(dvp + j * 8) = pack2(dv[j][2 * hh], dv[j][2 * hh + 1]);
    }
  }
}

// Preprocessing, one warp per (batch, head, query) row: dsum = rowsum(dO * O),
// lse2 = LSE * log2(e) (+inf for rows that see no key or lie past seqlens_q),
// and a zeroed dQ accumulator row in default mode.
extern "C" __global__ void __launch_bounds__(128) fa_bwd_pre(const Params p, const BwdParams bp) {
  const i64 rows = (i64)p.B * p.Hq * p.Tq;
  const i64 r = (i64)blockIdx.x * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const int i = (int)(r % p.Tq), h = (int)((r / p.Tq) % p.Hq), b = (int)(r / ((i64)p.Tq * p.Hq));
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  float acc = 0.f;
  if (i < Lq) {
    const u16 *o = p.o + b * p.o_sb + i * p.o_ss + h * p.o_sh;
    const u16 *g = bp.dout + b * p.o_sb + i * p.o_ss + h * p.o_sh;
    for (int x = lane * 2; x < D; x += 64) {
      const u32 ov = *(const u32 *)(o + x), gv = *(const u32 *)(g + x);
      acc += to_float(ov & 0xffff) * to_float(gv & 0xffff) + to_float(ov >> 16) * to_float(gv >> 16);
    }
  }
#pragma unroll
  for (int o = 16; o; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) {
    const float l = p.lse[r];
    bp.lse2[r] = i < Lq && l != NEG_INF ? l * LOG2E : POS_INF;
    bp.dsum[r] = acc;
  }
  if (bp.dqacc)
    for (int x = lane * 4; x < D; x += 128) *(float4 *)(bp.dqacc + dq_at(p, b, h, i, x)) = make_float4(0.f, 0.f, 0.f, 0.f);
}


// Deterministic dQ: a CTA of 4 warps owns 64 query rows of one head and walks
// the key tiles (like the forward), dQ = scale * sum dS K held in registers.
constexpr int BMQ = 64;
extern "C" __global__ void __launch_bounds__(128, 1) fa_bwd_dq(const Params p, const BwdParams bp) {
  extern __shared__ __align__(128) unsigned char smem[];
  const u32 sQ = smem_u32(smem);
  const u32 sO = sQ + BMQ * ROWB;
  const u32 sK = sO + BMQ * ROWB;          // [2][BNQ][D]
  const u32 sV = sK + 2 * BNQ * ROWB;      // [2][BNQ][D]
  TileBounds *ktab = (TileBounds *)(smem + 2 * BMQ * ROWB + 4 * BNQ * ROWB);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t4 = lane & 3, sw = lane & 7;
  const int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int kvh = h / (p.Hq / p.Hkv);
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const int m0 = qt * BMQ, pmin = m0, pmax = min(Lq - 1, m0 + BMQ - 1);

  int n_lo = 0, n_hi = Lk;
  if (p.causal) n_hi = min(n_hi, pmax + off + 1);
  if (p.window_right >= 0) n_hi = min(n_hi, pmax + off + p.window_right + 1);
  if (p.window_left >= 0) n_lo = max(n_lo, pmin + off - p.window_left);
  const int t_lo = max(n_lo, 0) / BNQ;
  const int t_hi = (pmin > pmax || n_hi <= n_lo) ? t_lo : (n_hi + BNQ - 1) / BNQ;

  TileBounds qb_own;
  if constexpr (HAS_TOK) {
    qb_own = warp_bounds<HAS_POS, HAS_SEG>(p.q_pos + b * p.Tq, p.q_seg + b * p.Tq, pmin, pmax + 1, lane);
    for (int tt = warp; tt < min(t_hi - t_lo, DQ_TABLE); tt += 4) {
      const int k0 = (t_lo + tt) * BNQ;
      TileBounds t = warp_bounds<HAS_POS, HAS_SEG>(p.k_pos + b * p.Tk, p.k_seg + b * p.Tk, k0, min(k0 + BNQ, Lk), lane);
      if (lane == 0) ktab[tt] = t;
    }
    __syncthreads();
  }
  auto classify = [&](int t) -> int {
    const int k0 = t * BNQ, k1 = k0 + BNQ - 1;
    const bool full = pmin + BMQ - 1 < Lq && k1 < Lk && (!p.causal || k1 <= pmin + off) &&
                      (p.window_right < 0 || k1 <= pmin + off + p.window_right) &&
                      (p.window_left < 0 || k0 >= pmax + off - p.window_left);
    if constexpr (HAS_TOK) {
      if (t - t_lo >= DQ_TABLE) return 1;
      return tok_classify(qb_own, ktab[t - t_lo], full);
    }
    return full ? 2 : 1;
  };
  auto next_visible = [&](int t) {
    if constexpr (HAS_TOK)
      while (t < t_hi && classify(t) == 0) ++t;
    return t;
  };

  copy_rows2<BMQ, 128>(sQ, sO, p.q + b * p.q_sb + h * p.q_sh, p.q_ss, bp.dout + b * p.o_sb + h * p.o_sh, p.o_ss, m0,
                       Lq, tid);
  const u16 *kb = p.k + b * p.k_sb + kvh * p.k_sh, *vb = p.v + b * p.v_sb + kvh * p.v_sh;
  auto load_kv = [&](int t, int buf) {
    copy_rows2<BNQ, 128>(sK + buf * BNQ * ROWB, sV + buf * BNQ * ROWB, kb, p.k_ss, vb, p.v_ss, t * BNQ, Lk, tid);
  };

  // This thread's rows: g and g+8 of the warp's 16.
  const int r0 = m0 + warp * 16 + g;
  float L[2], Ds[2];
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int m = r0 + hh * 8;
    const i64 row = ((i64)b * p.Hq + h) * p.Tq + m;
    L[hh] = m < p.Tq ? bp.lse2[row] : POS_INF;
    Ds[hh] = m < p.Tq ? bp.dsum[row] : 0.f;
  }
  u32 qA[4], oA[4], kB[4], vB[4], kT[4];
  lane_addrs(qA, sQ, warp * 16 + (lane & 15), ROWB, 0, lane >> 4, sw);
  lane_addrs(oA, sO, warp * 16 + (lane & 15), ROWB, 0, lane >> 4, sw);
  lane_addrs(kB, sK, ((lane >> 4) & 1) * 8 + (lane & 7), ROWB, 0, (lane >> 3) & 1, sw);
  lane_addrs(vB, sV, ((lane >> 4) & 1) * 8 + (lane & 7), ROWB, 0, (lane >> 3) & 1, sw);
  lane_addrs(kT, sK, lane & 15, ROWB, 0, lane >> 4, sw);

  float acc[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  int t = next_visible(t_lo), buf = 0;
  if (t < t_hi) load_kv(t, 0);
  cp_commit();
  while (t < t_hi) {
    const int tn = next_visible(t + 1);
    if (tn < t_hi) load_kv(tn, buf ^ 1);
    cp_commit();
    cp_wait<1>();
    __syncthreads();
    const u32 bo = buf * BNQ * ROWB;
    float s[BNQ / 8][4], dp[BNQ / 8][4];
#pragma unroll
    for (int j = 0; j < BNQ / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[j][e] = dp[j][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      u32 a[4], ao[4];
      ldsm_x4(qA[kk % 4] + (kk / 4) * 128, a[0], a[1], a[2], a[3]);
      ldsm_x4(oA[kk % 4] + (kk / 4) * 128, ao[0], ao[1], ao[2], ao[3]);
#pragma unroll
      for (int jp = 0; jp < BNQ / 16; ++jp) {
        u32 b0, b1, b2, b3;
        ldsm_x4(kB[kk % 4] + bo + jp * 16 * ROWB + (kk / 4) * 128, b0, b1, b2, b3);
        mma(s[2 * jp], a, b0, b1);
        mma(s[2 * jp + 1], a, b2, b3);
        ldsm_x4(vB[kk % 4] + bo + jp * 16 * ROWB + (kk / 4) * 128, b0, b1, b2, b3);
        mma(dp[2 * jp], ao, b0, b1);
        mma(dp[2 * jp + 1], ao, b2, b3);
      }
    }
    const bool partial = classify(t) == 1;
    u32 da[BNQ / 16][4];
#pragma unroll
    for (int j = 0; j < BNQ / 8; ++j) {
      float P[4], ds[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        p_ds(p, s[j][e], dp[j][e], L[e >> 1], Ds[e >> 1], P[e], ds[e]);
        if (partial && !visible(p, b, r0 + (e >> 1) * 8, t * BNQ + j * 8 + 2 * t4 + (e & 1), Lq, Lk, off)) ds[e] = 0.f;
      }
      da[j / 2][(j & 1) * 2] = pack2(ds[0], ds[1]);
      da[j / 2][(j & 1) * 2 + 1] = pack2(ds[2], ds[3]);
    }
    // dQ += dS K.
#pragma unroll
    for (int kt = 0; kt < BNQ / 16; ++kt)
#pragma unroll
      for (int dq = 0; dq < D / 16; ++dq) {
        u32 b0, b1, b2, b3;
        ldsm_x4_t(kT[dq % 4] + bo + kt * 16 * ROWB + (dq / 4) * 128, b0, b1, b2, b3);
        mma(acc[2 * dq], da[kt], b0, b1);
        mma(acc[2 * dq + 1], da[kt], b2, b3);
      }
    __syncthreads();  // every warp is past this K/V buffer
    t = tn;
    buf ^= 1;
  }
  cp_wait<0>();
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int m = r0 + hh * 8;
    if (m >= p.Tq) continue;
    u16 *dst = bp.dq + b * p.q_sb + m * p.q_ss + h * p.q_sh + 2 * t4;
#pragma unroll
    for (int j = 0; j < D / 8; ++j)
      *(u32 *)(dst + j * 8) = pack2(acc[j][2 * hh] * bp.scale, acc[j][2 * hh + 1] * bp.scale);
  }
}

// Default mode's last step: dQ = scale * accumulator, one warp per row.
extern "C" __global__ void __launch_bounds__(128) fa_bwd_convert(const Params p, const BwdParams bp) {
  const i64 rows = (i64)p.B * p.Hq * p.Tq;
  const i64 r = (i64)blockIdx.x * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const int i = (int)(r % p.Tq), h = (int)((r / p.Tq) % p.Hq), b = (int)(r / ((i64)p.Tq * p.Hq));
  u16 *dst = bp.dq + b * p.q_sb + i * p.q_ss + h * p.q_sh;
  for (int x = lane * 2; x < D; x += 64) {
    const float2 v = *(const float2 *)(bp.dqacc + dq_at(p, b, h, i, x));
    *(u32 *)(dst + x) = pack2(v.x * bp.scale, v.y * bp.scale);
  }
}

// Sums the hsplit partials of dK and dV in a fixed order, one warp per key row.
extern "C" __global__ void __launch_bounds__(128) fa_bwd_reduce(const Params p, const BwdParams bp) {
  const i64 rows = (i64)p.B * p.Hkv * p.Tk;
  const i64 r = (i64)blockIdx.x * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const int n = (int)(r % p.Tk), kvh = (int)((r / p.Tk) % p.Hkv), b = (int)(r / ((i64)p.Tk * p.Hkv));
  u16 *dk = bp.dk + b * p.k_sb + n * p.k_ss + kvh * p.k_sh;
  u16 *dv = bp.dv + b * p.v_sb + n * p.v_ss + kvh * p.v_sh;
  for (int x = lane * 2; x < D; x += 64) {
    float2 k = make_float2(0.f, 0.f), v = make_float2(0.f, 0.f);
    for (int s = 0; s < bp.hsplit; ++s) {
      const float *src = bp.dkvacc + ((i64)s * rows + r) * 2 * D;
      const float2 a = *(const float2 *)(src + x), c = *(const float2 *)(src + D + x);
      k.x += a.x; k.y += a.y; v.x += c.x; v.y += c.y;
    }
    *(u32 *)(dk + x) = pack2(k.x * bp.scale, k.y * bp.scale);
    *(u32 *)(dv + x) = pack2(v.x, v.y);
  }
}
