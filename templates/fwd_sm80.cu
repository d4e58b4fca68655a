// Template: flash-attention forward for sm_80 and later (the "sm80" family).
// mma.sync m16n8k16 with fp32 accumulation, ldmatrix, a two-stage cp.async
// K/V pipeline, online softmax in exp2 with the scale folded in.
// Slots, written as a dollar sign and a name in braces, are filled by gen/fa_gen.lua;
// the logic stays there, the CUDA text stays here. Needs no CUDA headers.

constexpr int D = ${D};            // head_dim
constexpr int BM = ${BM};          // query rows per CTA (after GQA packing)
constexpr int BN = ${BN};          // keys per tile
constexpr int WARPS = ${WARPS};
constexpr int STAGES = ${STAGES};  // K/V buffers in shared memory
constexpr int G = ${G};            // query heads packed into one tile's rows
constexpr bool HAS_POS = ${HAS_POS};
constexpr bool HAS_SEG = ${HAS_SEG};
constexpr bool HAS_SOFTCAP = ${HAS_SOFTCAP};
constexpr int TABLE_MAX = ${TABLE_MAX}; // key tiles whose pos/seg bounds are kept in smem

constexpr int NT = WARPS * 32;
constexpr int MR = BM / (WARPS * 16);  // 16-row mma blocks per warp
constexpr int DC = D / 8;              // 16-byte chunks per row
constexpr bool HAS_TOK = HAS_POS || HAS_SEG;
static_assert(BM % (WARPS * 16) == 0, "rows per warp must be a multiple of 16");
static_assert(BN % 16 == 0 && D % 16 == 0 && DC >= 8, "tile shape");

// Params and the integer types come from templates/fwd_params.cu; cp.async,
// ldmatrix, mma, pack2, exp2 and tanh from templates/sm80_common.cu.

// Shared-memory tiles are [rows][D] with 16-byte chunks XOR-swizzled by row,
// so ldmatrix and cp.async touch 8 distinct bank groups.
__device__ __forceinline__ u32 swz(int row, int chunk) {
  return (u32)((row * DC + (chunk ^ (row & 7))) * 16);
}

// With p.nsplit > 1, CTA (tile, split) covers one slice of the key tiles and
// writes its normalised partial O and LSE (fp32) to ws; fa_combine merges them.
extern "C" __global__ void __launch_bounds__(NT, 1) fa_fwd(const Params p, float *ws) {
  extern __shared__ __align__(128) unsigned char smem[];
  const u32 sQ = smem_u32(smem);
  const u32 sK = sQ + BM * D * 2;
  const u32 sV = sK + STAGES * BN * D * 2;
  TileBounds *table = (TileBounds *)(smem + BM * D * 2 + 2 * STAGES * BN * D * 2);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int split = blockIdx.x % p.nsplit;
  const int tile = gridDim.x / p.nsplit - 1 - blockIdx.x / p.nsplit;  // heavy causal tiles first
  const int hg = blockIdx.y, b = blockIdx.z;
  const int group = p.Hq / p.Hkv;
  const int kvh = hg * G / group;
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const int R0 = tile * BM;              // first packed row: pos = R / G, head = hg*G + R % G
  const int pmin = R0 / G;               // query positions covered by valid rows
  const int pmax = min(Lq - 1, (R0 + BM - 1) / G);
  int t_lo, t_hi;
  fwd_key_tiles<BN>(p, Lk, off, pmin, pmax, split, t_lo, t_hi);

  // Q tile -> shared memory (zeros for rows past Lq).
  const u16 *qb = p.q + b * p.q_sb;
  for (int idx = tid; idx < BM * DC; idx += NT) {
    int r = idx / DC, c = idx % DC;
    int R = R0 + r, pos = R / G, h = hg * G + R % G;
    bool ok = pos < Lq;
    const u16 *src = ok ? qb + pos * p.q_ss + h * p.q_sh + c * 8 : p.q;
    cp_async16(sQ + swz(r, c), src, ok ? 16 : 0);
  }
  cp_commit();

  const u16 *kb = p.k + b * p.k_sb + kvh * p.k_sh;
  const u16 *vb = p.v + b * p.v_sb + kvh * p.v_sh;
  // Each thread copies one 16-byte column chunk of every LROWS-th row: one
  // running pointer per tile, so no per-chunk addresses stay live (they
  // spilled when the compiler hoisted them out of the main loop).
  constexpr int LROWS = NT / DC;
  static_assert(NT % DC == 0 && (BN * DC) % NT == 0, "tile copy shape");
  const int lrow = tid / DC, lcol = tid % DC;
  auto load_tile = [&](const u16 *base, i64 ss, u32 dst, int t) {
    const int n0 = t * BN + lrow;
    const u16 *src = base + n0 * ss + lcol * 8;
#pragma unroll
    for (int k = 0; k < BN / LROWS; ++k) {
      const bool ok = n0 + k * LROWS < Lk;
      cp_async16(dst + swz(lrow + k * LROWS, lcol), ok ? src : base, ok ? 16 : 0);
      src += LROWS * ss;
    }
  };

  // Per-row data of this thread: rows g and g+8 of each 16-row block.
  const int g = lane >> 2, t4 = lane & 3;
  int row_pos[MR][2];
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int h = 0; h < 2; ++h) row_pos[mr][h] = (R0 + warp * MR * 16 + mr * 16 + g + h * 8) / G;

  // Tile-level bounds of positions and segments (fwd_tiles.cu), once per
  // CTA, so hidden tiles are skipped and fully visible ones skip the
  // per-element mask. They live in shared memory: registers are scarce.
  if constexpr (HAS_POS || HAS_SEG)
    fwd_tile_bounds<BN, HAS_POS, HAS_SEG, TABLE_MAX>(p, b, Lk, pmin, pmax, t_lo, t_hi, table, warp, WARPS, lane);
  if constexpr (HAS_TOK) __syncthreads();
  auto classify = [&](int t) {
    return fwd_tile_class<BN, HAS_POS, HAS_SEG, TABLE_MAX>(p, t, Lk, off, pmin, pmax, t_lo, table);
  };
  auto next_visible = [&](int t) {
    if constexpr (HAS_POS || HAS_SEG)
      while (t < t_hi && classify(t) == 0) ++t;
    return t;
  };

  float acc[MR][D / 8][4];
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int j = 0; j < D / 8; ++j) acc[mr][j][0] = acc[mr][j][1] = acc[mr][j][2] = acc[mr][j][3] = 0.f;
  float row_max[MR][2], row_sum[MR][2];
#pragma unroll
  for (int mr = 0; mr < MR; ++mr) row_max[mr][0] = row_max[mr][1] = NEG_INF, row_sum[mr][0] = row_sum[mr][1] = 0.f;

  // With softcap the transformed scores are already in log2 units.
  const float mul = HAS_SOFTCAP ? 1.0f : p.scale_log2;

  // Per-lane ldmatrix addresses. Step k of a 16-wide loop reads chunks 2k and
  // 2k+1, swizzled to (2k + col) ^ (lane & 7) = 8*(k/4) + ((2*(k%4) + col) ^ (lane & 7))
  // (row & 7 == lane & 7 for all three operands): four lane addresses per
  // operand, everything else an immediate, so the inner loops do no address
  // arithmetic.
  const int wrow = warp * MR * 16;
  const int qrow = wrow + (lane & 15), qcol = lane >> 4;
  const int krow = ((lane >> 4) & 1) * 8 + (lane & 7), kcol = (lane >> 3) & 1;
  const int vrow = lane & 15, vcol = lane >> 4;
  const int sw = lane & 7;
  constexpr u32 ROWB = D * 2, KVBUF = BN * D * 2;
  u32 qa[4], ka[4], va[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    qa[r] = sQ + qrow * ROWB + ((2 * r + qcol) ^ sw) * 16;
    ka[r] = sK + krow * ROWB + ((2 * r + kcol) ^ sw) * 16;
    va[r] = sV + vrow * ROWB + ((2 * r + vcol) ^ sw) * 16;
  }

  int t_cur = next_visible(t_lo);
  int buf = 0;
  if (t_cur < t_hi) { load_tile(kb, p.k_ss, sK, t_cur); }
  cp_commit();
  if (t_cur < t_hi) { load_tile(vb, p.v_ss, sV, t_cur); }
  cp_commit();
  int t_nxt = t_cur < t_hi ? next_visible(t_cur + 1) : t_hi;

  while (t_cur < t_hi) {
    const u32 bufo = buf * KVBUF;
    if (t_nxt < t_hi) load_tile(kb, p.k_ss, sK + (buf ^ 1) * BN * D * 2, t_nxt);
    cp_commit();
    cp_wait<2>();
    __syncthreads();  // A: K(t_cur) landed; every warp is past the last P V

    // S = Q K^T for this warp's rows.
    float s[MR][BN / 8][4];
#pragma unroll
    for (int mr = 0; mr < MR; ++mr)
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) s[mr][j][0] = s[mr][j][1] = s[mr][j][2] = s[mr][j][3] = 0.f;
    // Fully unrolled with one row block per warp. With two, full unrolling
    // hoists loads into registers it does not have (spills); by 4 fits.
#pragma unroll (MR == 1 ? D / 64 : 1)
    for (int m = 0; m < D / 64; ++m)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        u32 a[MR][4];
#pragma unroll
        for (int mr = 0; mr < MR; ++mr)
          ldsm_x4(qa[r] + mr * 16 * ROWB + m * 128, a[mr][0], a[mr][1], a[mr][2], a[mr][3]);
#pragma unroll
        for (int jp = 0; jp < BN / 16; ++jp) {
          u32 b0, b1, b2, b3;
          ldsm_x4(ka[r] + bufo + jp * 16 * ROWB + m * 128, b0, b1, b2, b3);
#pragma unroll
          for (int mr = 0; mr < MR; ++mr) {
            mma(s[mr][2 * jp], a[mr], b0, b1);
            mma(s[mr][2 * jp + 1], a[mr], b2, b3);
          }
        }
      }

    if constexpr (HAS_SOFTCAP) {
#pragma unroll
      for (int mr = 0; mr < MR; ++mr)
#pragma unroll
        for (int j = 0; j < BN / 8; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mr][j][e] = p.cap_log2 * tanh_acc(s[mr][j][e] * p.cap_inv);
    }

    if (classify(t_cur) == 1) {
      const int n0 = t_cur * BN;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j)
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int n = n0 + j * 8 + 2 * t4 + c;
          int kp = 0, ks = 0;
          if (HAS_POS && n < Lk) kp = p.k_pos[b * p.Tk + n];
          if (HAS_SEG && n < Lk) ks = p.k_seg[b * p.Tk + n];
#pragma unroll
          for (int mr = 0; mr < MR; ++mr)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              const int qi = row_pos[mr][h], i = qi + off;
              bool vis = n < Lk && (!p.causal || n <= i) &&
                         (p.window_left < 0 || n >= i - p.window_left) &&
                         (p.window_right < 0 || n <= i + p.window_right);
              // Query data is re-read here (L1 hits) rather than held in registers.
              if (HAS_POS) vis = vis && qi < Lq && kp <= p.q_pos[b * p.Tq + qi];
              if (HAS_SEG) vis = vis && qi < Lq && ks >= 0 && ks == p.q_seg[b * p.Tq + qi];
              if (!vis) s[mr][j][h * 2 + c] = NEG_INF;
            }
        }
    }

    // Online softmax: rows g and g+8 live in the 4 lanes of a quad.
    u32 pa[MR][BN / 16][4];
    float corr_v[MR][2];
    bool rescale = false;
#pragma unroll
    for (int mr = 0; mr < MR; ++mr)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float mx = row_max[mr][h];
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) mx = fmaxf(mx, fmaxf(s[mr][j][h * 2], s[mr][j][h * 2 + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float base = mx == NEG_INF ? 0.f : mx * mul;
        const float corr = mx == NEG_INF ? 1.f : fast_exp2(row_max[mr][h] * mul - base);
        row_max[mr][h] = mx;
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) {
          float e0 = fast_exp2(s[mr][j][h * 2] * mul - base);
          float e1 = fast_exp2(s[mr][j][h * 2 + 1] * mul - base);
          s[mr][j][h * 2] = e0;
          s[mr][j][h * 2 + 1] = e1;
          sum += e0 + e1;
        }
        row_sum[mr][h] = row_sum[mr][h] * corr + sum;
        corr_v[mr][h] = corr;
        rescale |= corr != 1.f;
      }
    // Once the row maxima settle, corr is exactly 1 (exp2(0)): skip the O
    // rescale (D/2 multiplies per row block) unless a lane of the warp needs it.
    if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
      for (int mr = 0; mr < MR; ++mr)
#pragma unroll
        for (int j = 0; j < D / 8; ++j) {
          acc[mr][j][0] *= corr_v[mr][0], acc[mr][j][1] *= corr_v[mr][0];
          acc[mr][j][2] *= corr_v[mr][1], acc[mr][j][3] *= corr_v[mr][1];
        }
    }
#pragma unroll
    for (int mr = 0; mr < MR; ++mr)
#pragma unroll
      for (int kt = 0; kt < BN / 16; ++kt) {
        pa[mr][kt][0] = pack2(s[mr][2 * kt][0], s[mr][2 * kt][1]);
        pa[mr][kt][1] = pack2(s[mr][2 * kt][2], s[mr][2 * kt][3]);
        pa[mr][kt][2] = pack2(s[mr][2 * kt + 1][0], s[mr][2 * kt + 1][1]);
        pa[mr][kt][3] = pack2(s[mr][2 * kt + 1][2], s[mr][2 * kt + 1][3]);
      }

    if (t_nxt < t_hi) load_tile(vb, p.v_ss, sV + (buf ^ 1) * BN * D * 2, t_nxt);
    cp_commit();
    cp_wait<2>();
    __syncthreads();  // B: V(t_cur) landed; every warp is past S

    // O += P V.
#pragma unroll
    for (int kt = 0; kt < BN / 16; ++kt)
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        u32 b0, b1, b2, b3;
        ldsm_x4_t(va[dp % 4] + bufo + kt * 16 * ROWB + (dp / 4) * 128, b0, b1, b2, b3);
#pragma unroll
        for (int mr = 0; mr < MR; ++mr) {
          mma(acc[mr][2 * dp], pa[mr][kt], b0, b1);
          mma(acc[mr][2 * dp + 1], pa[mr][kt], b2, b3);
        }
      }
    // No barrier here: the next refill of this K buffer waits for barrier B
    // (every warp is past S), and of this V buffer for barrier A.
    t_cur = t_nxt;
    t_nxt = t_cur < t_hi ? next_visible(t_cur + 1) : t_hi;
    buf ^= 1;
  }
  cp_wait<0>();
  __syncthreads();

  // Epilogue: normalise. Unsplit, O goes through this warp's own Q rows and
  // out in 16-byte chunks; split, this slice's O and LSE go to ws in fp32 for
  // fa_combine (row r = (b*Hq + hq)*Tq + pos: O at ws[(r*nsplit + split)*D],
  // LSE at ws[rows*nsplit*D + r*nsplit + split]). Rows with no visible key
  // (sum 0) give O = 0 and LSE = -inf.
  unsigned char *sQp = smem;
  const bool split_out = p.nsplit > 1;
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float sum = row_sum[mr][h];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = sum > 0.f ? 1.f / sum : 0.f;
      const int r = wrow + mr * 16 + g + h * 8;
      const int R = R0 + r, pos = R / G, hq = hg * G + R % G;
      const i64 row = ((i64)b * p.Hq + hq) * p.Tq + pos;
      float *wo = ws + (row * p.nsplit + split) * D;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const float x0 = acc[mr][j][h * 2] * inv, x1 = acc[mr][j][h * 2 + 1] * inv;
        if (split_out) {
          if (pos < p.Tq) *(float2 *)(wo + j * 8 + 2 * t4) = make_float2(x0, x1);
        } else {
          *(u32 *)(sQp + swz(r, j) + t4 * 4) = pack2(x0, x1);
        }
      }
      if (t4 == 0 && pos < p.Tq) {
        const float l = sum > 0.f && pos < Lq ? (row_max[mr][h] * mul + __log2f(sum)) * LN2 : NEG_INF;
        if (split_out) ws[(i64)p.B * p.Hq * p.Tq * p.nsplit * D + row * p.nsplit + split] = l;
        else if (p.lse) p.lse[row] = l;
      }
    }
  if (split_out) return;
  __syncwarp();
  u16 *ob = p.o + b * p.o_sb;
  for (int idx = lane; idx < MR * 16 * DC; idx += 32) {
    const int r = wrow + idx / DC, c = idx % DC;
    const int R = R0 + r, pos = R / G, hq = hg * G + R % G;
    if (pos >= p.Tq) continue;
    uint4 v = pos < Lq ? *(const uint4 *)(sQp + swz(r, c)) : make_uint4(0, 0, 0, 0);
    *(uint4 *)(ob + pos * p.o_ss + hq * p.o_sh + c * 8) = v;
  }
}
