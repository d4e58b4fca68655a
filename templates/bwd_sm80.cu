// Template: flash-attention backward for sm_80 and later (the "sm80" family).
// FlashAttention-2's scheme. fa_bwd_dkdv: a CTA owns BN keys of one kv head
// and walks the query tiles of the query heads in its group, recomputing P
// from the forward's LSE; dK and dV accumulate in registers (summed over the
// group: GQA needs no expanded K, V); P and dS pass through shared memory so
// that each product has its own warp layout. dQ either goes to an fp32
// accumulator by atomic adds (default mode) or is left to fa_bwd_dq, which
// walks the keys per query tile with no atomics (deterministic mode).
// Slots, written as a dollar sign and a name in braces, are filled by gen/fa_gen.lua.

constexpr int BM = ${BM};          // query rows per step
constexpr int BN = ${BN};          // keys per CTA
constexpr int WARPS = ${WARPS};
constexpr int STAGES = ${STAGES};  // Q/dO buffers in shared memory (1 or 2)

constexpr int NT = WARPS * 32;
constexpr u32 PROWB = BM * 2;      // bytes per row of the P^T and dS^T tiles
// Warp layouts. Phase 1 (S^T and dP^T, BN x BM): WN1 x WM1 warps of 16 x CW1.
// Phase 2 (dK and dV, BN x D): WN1 x WD2 warps of 16 x DW2.
// Phase 3 (dQ, BM x D): WM3 x WD3 warps of 16 x DW3, in column chunks of QCW.
constexpr int WN1 = BN / 16, WM1 = WARPS / WN1, CW1 = BM / WM1;
constexpr int WD2 = WARPS / WN1, DW2 = D / WD2;
constexpr int WM3 = BM / 16, WD3 = WARPS / WM3, DW3 = D / WD3;
constexpr int QCW = DW3 < 64 ? DW3 : 64;
constexpr int P1W = ${P1W};  // phase 1 columns per chunk (gen/fa_space.lua: bwd_p1w)
static_assert(CW1 % P1W == 0 && P1W % 16 == 0, "phase 1 chunks");
static_assert(BN % 16 == 0 && BN / 16 <= WARPS && WARPS % WN1 == 0, "BN/16 warps must divide the warps");
static_assert(BM % 64 == 0 && BM / 16 <= WARPS && WARPS % WM3 == 0, "BM: 64 or 128, BM/16 warps must divide the warps");
static_assert(CW1 % 16 == 0 && DW2 % 16 == 0 && DW3 % 16 == 0 && DW3 % QCW == 0, "warp tiles");
static_assert(NT % DC == 0 && (BN * DC) % NT == 0 && (BM * DC) % NT == 0 && NT >= 2 * BM && (NT / DC) % 4 == 0,
              "copy shapes");

// Params, masks and the other backward kernels come from templates/bwd_common.cu.

extern "C" __global__ void __launch_bounds__(NT, 1) fa_bwd_dkdv(const Params p, const BwdParams bp) {
  extern __shared__ __align__(128) unsigned char smem[];
  const u32 sK = smem_u32(smem);
  const u32 sV = sK + BN * ROWB;
  const u32 sQ = sV + BN * ROWB;
  const u32 sO = sQ + STAGES * BM * ROWB;  // dO
  const u32 sP = sO + STAGES * BM * ROWB;  // P^T [BN][BM]
  const u32 sS = sP + BN * PROWB;          // dS^T [BN][BM]
  float *sL = (float *)(smem + (sS - sK) + BN * PROWB);  // [STAGES][BM] lse2
  float *sD = sL + STAGES * BM;                          // [STAGES][BM] dsum
  int *sTok = (int *)(sD + STAGES * BM);                  // [STAGES][2][BM] q_pos, q_seg
  int *sKtok = sTok + (HAS_TOK ? STAGES * 2 * BM : 0);   // [2][BN] k_pos, k_seg
  u32 *vmask = (u32 *)(sKtok + (HAS_TOK ? 2 * BN : 0));  // [BN][BM/32] visibility bits of a partial tile
  TileBounds *qtab = (TileBounds *)(vmask + (HAS_TOK ? BN * BM / 32 : 0));  // query tiles' bounds

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t4 = lane & 3, sw = lane & 7;
  constexpr u32 K2V = BN * ROWB, Q2O = STAGES * BM * ROWB, P2S = BN * PROWB;
  // Key blocks in x: this family ignores BwdParams::kb_slow (reading it cost
  // d256 tiles 4-20 bytes of spills); the runtime keeps it 0 here.
  const int nb = blockIdx.x, kvh = blockIdx.y / bp.hsplit, hs = blockIdx.y % bp.hsplit, b = blockIdx.z;
  int h_lo, h_hi;
  bwd_heads(p, bp, kvh, hs, h_lo, h_hi);
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const int n0 = nb * BN, n1 = min(n0 + BN, Lk) - 1;  // valid keys of this CTA

  int mt_lo, nmt;
  bwd_query_tiles<BM>(p, Lq, off, n0, n1, mt_lo, nmt);
  TileBounds *kb_own = qtab + TABLE_MAX;  // this CTA's key block (smem: registers are scarce)
  if constexpr (HAS_TOK) {
    bwd_tok_tables<BM, BN, WARPS>(p, b, n0, n1, Lq, Lk, mt_lo, nmt, sKtok, qtab, kb_own, tid, warp, lane);
    __syncthreads();
  }
  auto classify = [&](int mt) { return bwd_tile_class<BM, BN>(p, mt, mt_lo, n0, Lq, Lk, off, qtab, kb_own); };
  // Work items: (query head, query tile), hidden tiles skipped.
  const int nitems = (h_hi - h_lo) * nmt;
  auto next_item = [&](int it) {
    if constexpr (HAS_TOK)
      while (it < nitems && classify(mt_lo + it % nmt) == 0) ++it;
    return it;
  };

  // K and V of this CTA, once.
  constexpr int LROWS = NT / DC;
  const int lrow = tid / DC, lcol = tid % DC;
  {
    const u16 *kb = p.k + b * p.k_sb + kvh * p.k_sh, *vb = p.v + b * p.v_sb + kvh * p.v_sh;
#pragma unroll
    for (int k = 0; k < BN / LROWS; ++k) {
      const int r = lrow + k * LROWS, n = n0 + r;
      const bool ok = n < Lk;
      cp_async16(sK + swz<DC>(r, lcol), ok ? kb + n * p.k_ss + lcol * 8 : kb, ok ? 16 : 0);
      cp_async16(sV + swz<DC>(r, lcol), ok ? vb + n * p.v_ss + lcol * 8 : vb, ok ? 16 : 0);
    }
  }
  auto load_item = [&](int it, int st) {
    const int h = h_lo + it / nmt, m0 = (mt_lo + it % nmt) * BM;
    const u16 *qb = p.q + b * p.q_sb + h * p.q_sh, *ob = bp.dout + b * p.o_sb + h * p.o_sh;
    // One running pointer per tensor (64-bit address arithmetic once per item).
    const u16 *qs = qb + (m0 + lrow) * p.q_ss + lcol * 8, *os = ob + (m0 + lrow) * p.o_ss + lcol * 8;
    const u32 dq0 = sQ + st * BM * ROWB + swz<DC>(lrow, lcol);
    // Rows lrow + k*LROWS keep lrow's swizzle where LROWS is a multiple of 8.
    // d256 with 4 warps copies 4 rows per pass: odd passes have the swizzle of
    // row lrow + 4 (two bases; a swizzle per row spilled 56 bytes).
    const u32 dq1 = LROWS % 8 == 0 ? dq0 : sQ + st * BM * ROWB + swz<DC>(lrow + LROWS, lcol) - LROWS * ROWB;
#pragma unroll
    for (int k = 0; k < BM / LROWS; ++k) {
      const bool ok = m0 + lrow + k * LROWS < Lq;
      u32 dst;
      if constexpr (LROWS % 8 == 0) dst = dq0 + k * LROWS * ROWB;
      else dst = (k & 1 ? dq1 : dq0) + k * LROWS * ROWB;
      cp_async16(dst, ok ? qs : qb, ok ? 16 : 0);
      cp_async16(dst + Q2O, ok ? os : ob, ok ? 16 : 0);
      qs += LROWS * p.q_ss;
      os += LROWS * p.o_ss;
    }
    bwd_load_rowdata<BM, NT>(p, bp, b, h, m0, Lq, sL + st * BM, sD + st * BM, sTok + st * 2 * BM, tid);
  };

  // Phase layouts of this warp.
  const int wn = warp % WN1, wm = warp / WN1;  // phases 1 and 2: key rows wn*16
  const int wm3 = warp % WM3, wd3 = warp / WM3;
  // V, dO and dS^T tiles sit at fixed distances from K, Q and P^T: one
  // address table serves each pair (registers are the scarce resource).
  u32 kA[4], qB[4], pA[4], qT[4], kT[4];
  lane_addrs(kA, sK, wn * 16 + (lane & 15), ROWB, 0, lane >> 4, sw);
  lane_addrs(qB, sQ, wm * CW1 + ((lane >> 4) & 1) * 8 + (lane & 7), ROWB, 0, (lane >> 3) & 1, sw);
  lane_addrs(pA, sP, wn * 16 + (lane & 15), PROWB, 0, lane >> 4, sw);
  lane_addrs(qT, sQ, lane & 15, ROWB, wm * DW2 / 8, lane >> 4, sw);
  lane_addrs(kT, sK, lane & 15, ROWB, wd3 * DW3 / 8, lane >> 4, sw);
  const u32 sT = sS + ((lane & 7) + 8 * (lane >> 4)) * PROWB + ((2 * wm3 + ((lane >> 3) & 1)) ^ sw) * 16;

  // Phase 1 mask data: this thread's two key rows.
  const int nr0 = n0 + wn * 16 + g;

  float dk[DW2 / 8][4], dv[DW2 / 8][4];
#pragma unroll
  for (int j = 0; j < DW2 / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.f;

  int it = next_item(0), st = 0;
  if (it < nitems) load_item(it, 0);
  cp_commit();
  while (it < nitems) {
    const int nxt = next_item(it + 1);
    if (STAGES == 2 && nxt < nitems) load_item(nxt, st ^ 1);
    cp_commit();
    if (STAGES == 2) cp_wait<1>(); else cp_wait<0>();
    __syncthreads();  // Q, dO, lse2, dsum of this item landed

    const int h = h_lo + it / nmt, mt = mt_lo + it % nmt, m0 = mt * BM;
    const u32 so = st * BM * ROWB;
    // Phase 1: S^T = K Q^T and dP^T = V dO^T for 16 keys x CW1 queries, in
    // chunks of P1W columns (fewer live accumulators beside dK and dV).
    const bool partial = classify(mt) == 1;
    if (HAS_TOK && partial) {
      // The tile's visibility as bits, [BN][BM/32] words, built by whole warps
      // (a ballot per 32 queries of one key): phase 1 then tests one bit per
      // element, and the mask's live values stay out of its registers.
      bwd_vmask<BM, BN, WARPS>(p, m0, n0, Lq, Lk, off, sTok + st * 2 * BM, sKtok, vmask, warp, lane);
      __syncthreads();
    }
#pragma unroll 1
    for (int c0 = 0; c0 < CW1; c0 += P1W) {
      float s[P1W / 8][4], dp[P1W / 8][4];
#pragma unroll
      for (int j = 0; j < P1W / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[j][e] = dp[j][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        u32 a[4], av[4];
        ldsm_x4(kA[kk % 4] + (kk / 4) * 128, a[0], a[1], a[2], a[3]);
        ldsm_x4(kA[kk % 4] + K2V + (kk / 4) * 128, av[0], av[1], av[2], av[3]);
#pragma unroll
        for (int jp = 0; jp < P1W / 16; ++jp) {
          u32 b0, b1, b2, b3;
          const u32 ad = qB[kk % 4] + so + (c0 + jp * 16) * ROWB + (kk / 4) * 128;
          ldsm_x4(ad, b0, b1, b2, b3);
          mma(s[2 * jp], a, b0, b1);
          mma(s[2 * jp + 1], a, b2, b3);
          ldsm_x4(ad + Q2O, b0, b1, b2, b3);
          mma(dp[2 * jp], av, b0, b1);
          mma(dp[2 * jp + 1], av, b2, b3);
        }
      }
#pragma unroll
      for (int j = 0; j < P1W / 8; ++j) {
        const int ml = wm * CW1 + c0 + j * 8 + 2 * t4;  // local query column of e = 0
        float P[4], ds[4];
        const float2 l2 = *(const float2 *)(sL + st * BM + ml), d2 = *(const float2 *)(sD + st * BM + ml);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int mlc = ml + (e & 1);
          p_ds(p, s[j][e], dp[j][e], e & 1 ? l2.y : l2.x, e & 1 ? d2.y : d2.x, P[e], ds[e]);
          if (HAS_TOK && partial) {
            const int nl = wn * 16 + g + (e >> 1) * 8;
            if (!((vmask[nl * (BM / 32) + (mlc >> 5)] >> (mlc & 31)) & 1u)) P[e] = ds[e] = 0.f;
          } else if (partial && !index_visible(p, m0 + mlc, nr0 + (e >> 1) * 8, Lq, Lk, off)) {
            P[e] = ds[e] = 0.f;
          }
        }
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
          const int row = wn * 16 + g + hh * 8;
          const u32 o = row * PROWB + (((ml >> 3) ^ (row & 7)) * 16) + t4 * 4;
          asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(sP + o), "r"(pack2(P[2 * hh], P[2 * hh + 1])));
          asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(sS + o), "r"(pack2(ds[2 * hh], ds[2 * hh + 1])));
        }
      }
    }
    __syncthreads();  // P^T and dS^T complete

    // Phase 2: dV += P^T dO, dK += dS^T Q.
#pragma unroll
    for (int kt = 0; kt < BM / 16; ++kt) {
      u32 ap[4], ad[4];
      ldsm_x4(pA[kt % 4] + (kt / 4) * 128, ap[0], ap[1], ap[2], ap[3]);
      ldsm_x4(pA[kt % 4] + P2S + (kt / 4) * 128, ad[0], ad[1], ad[2], ad[3]);
#pragma unroll
      for (int dq = 0; dq < DW2 / 16; ++dq) {
        u32 b0, b1, b2, b3;
        ldsm_x4_t(qT[dq % 4] + Q2O + so + kt * 16 * ROWB + (dq / 4) * 128, b0, b1, b2, b3);
        mma(dv[2 * dq], ap, b0, b1);
        mma(dv[2 * dq + 1], ap, b2, b3);
        ldsm_x4_t(qT[dq % 4] + so + kt * 16 * ROWB + (dq / 4) * 128, b0, b1, b2, b3);
        mma(dk[2 * dq], ad, b0, b1);
        mma(dk[2 * dq + 1], ad, b2, b3);
      }
    }

    // Phase 3 (default mode): dQ += dS K into the fp32 accumulator.
    if (bp.dqacc) {
      float *qrow = bp.dqacc + (((i64)b * p.Hq + h) * p.Tq + m0 + wm3 * 16 + g) * D + wd3 * DW3 + 2 * t4;
      const bool ok0 = m0 + wm3 * 16 + g < Lq, ok1 = m0 + wm3 * 16 + g + 8 < Lq;
      // d256 on 4 warps has 4 chunks: one at a time (unrolled, 12 bytes of spills).
#pragma unroll (DW3 / QCW > 2 ? 1 : DW3 / QCW)
      for (int cc = 0; cc < DW3 / QCW; ++cc) {
        float acc[QCW / 8][4];
#pragma unroll
        for (int j = 0; j < QCW / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
#pragma unroll
        for (int kt = 0; kt < BN / 16; ++kt) {
          u32 a[4];
          ldsm_x4_t(sT + kt * 16 * PROWB, a[0], a[1], a[2], a[3]);
#pragma unroll
          for (int dq = 0; dq < QCW / 16; ++dq) {
            const int dg = cc * (QCW / 16) + dq;
            u32 b0, b1, b2, b3;
            ldsm_x4_t(kT[dg % 4] + kt * 16 * ROWB + (dg / 4) * 128, b0, b1, b2, b3);
            mma(acc[2 * dq], a, b0, b1);
            mma(acc[2 * dq + 1], a, b2, b3);
          }
        }
#pragma unroll
        for (int j = 0; j < QCW / 8; ++j) {
          float *dst = qrow + cc * QCW + j * 8;
          // 8-byte reductions: 16-byte ones from lane pairs that swap halves
          // ran fwd+bwd 10% slower (H100, d128 S=8192: 214 against 237 TFLOP/s).
          if (ok0) red_add2(dst, acc[j][0], acc[j][1]);
          if (ok1) red_add2(dst + 8 * D, acc[j][2], acc[j][3]);
        }
      }
    }
    __syncthreads();  // every warp is past P^T, dS^T and this Q/dO buffer
    if (STAGES == 1 && nxt < nitems) load_item(nxt, 0);
    if (STAGES == 1) cp_commit();
    it = nxt;
    st = STAGES == 2 ? st ^ 1 : 0;
  }
  cp_wait<0>();

  const int col0 = (warp / WN1) * DW2 + 2 * t4;
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int n = n0 + wn * 16 + g + hh * 8;
    if (n < p.Tk) bwd_store_row<DW2 / 8>(p, bp, b, kvh, hs, n, col0, dk, dv, hh);
  }
}
