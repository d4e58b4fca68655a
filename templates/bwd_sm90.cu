// Template: flash-attention backward for Hopper (the "sm90" family, sm_90a).
// fa_bwd_dkdv as in bwd_sm80.cu (a CTA owns BN keys of one kv head and walks
// the query tiles of the heads in its group, recomputing P from the LSE), with
// the products as wgmma on two warpgroups: per step of BM = 64 queries,
//   1. S^T = K Q^T and dP^T = V dO^T, each warpgroup 64 keys x BM/QW queries
//      in chunks of P1; then P and dS;
//   2. dV += P^T dO and dK += dS^T Q, each warpgroup 64 keys x D/QW columns
//      in registers: P^T, dS^T from registers per chunk when the warpgroup
//      owns its keys (QW = 1), else through shared memory;
//   3. (default mode) dQ = dS K from dS^T in shared memory, each warpgroup
//      D/2 columns (d64: half the keys), added to the fp32 accumulator:
//      with DQ_TILED by a bulk reduction per warpgroup and 64 columns from a
//      16 KB buffer of its own, else by vector reductions of every thread.
// Tiles are 128-byte swizzled as wgmma reads them. With PRODUCER (12 warps)
// warpgroup 0 loads them by TMA and the step's lse2 and dsum by its first
// warp's lanes, completing on mbarriers, and the two consumer warpgroups wait
// on those and on each other only (named barrier 5); with positions or
// segments it also names each step's item in a slot of the stage (SLOTS).
// Else every thread loads by cp.async behind CTA barriers. The other
// backward kernels come from bwd_common.cu. Slots are filled by gen/fa_gen.lua.

constexpr int BM = ${BM};          // query rows per step (64)
constexpr int BN = ${BN};          // keys per CTA (64 or 128)
constexpr int WARPS = ${WARPS};    // two warpgroups
constexpr int STAGES = ${STAGES};  // Q/dO buffers in shared memory (1 or 2)
constexpr bool PINGPONG = ${PINGPONG};  // the warpgroups take turns issuing their products
constexpr bool LAZY_DKV = ${LAZY_DKV};  // a chunk's dK, dV products waited for by the next chunk's S^T wait
constexpr bool DQ_TURN = ${DQ_TURN};    // with PINGPONG, dQ's product takes a turn too
constexpr bool PRODUCER = ${PRODUCER};  // warpgroup 0 loads by TMA (12 warps)
constexpr bool DQ_STAGE = ${DQ_STAGE};  // DQ_TILED's buffers are the warpgroup's halves of the step's dO and Q

constexpr int NT = WARPS * 32;
constexpr int NC = PRODUCER ? NT - 128 : NT;  // consumer threads
constexpr int NWG = NC / 128;
constexpr int KW = BN / 64;              // 64-key groups
constexpr int QW = NWG / KW;             // warpgroups sharing a key group
constexpr int N1 = BM / QW;              // S^T, dP^T queries per warpgroup
constexpr int P1 = ${P1W};               // ... in chunks of P1 (fewer live registers beside dK, dV)
constexpr int N2 = D / QW;               // dK, dV columns per warpgroup
constexpr bool RS2 = QW == 1;            // dK, dV with P^T, dS^T from registers (a warpgroup's own keys)
constexpr bool DQ_COLS = D / NWG >= 64;  // dQ split by columns, else by keys
constexpr int N3 = DQ_COLS ? D / NWG : D;
constexpr int K3 = DQ_COLS ? BN : BN / NWG;
constexpr u32 QBYTES = BM * D * 2, KBYTES = BN * D * 2, PBYTES = BN * BM * 2;
// Token data in shared memory: query positions and segments per stage (read by
// the consumers' vmask build), with PRODUCER then each stage's slot (the
// item's query head, first row and class) and the query tiles' classes.
constexpr bool SLOTS = PRODUCER && HAS_TOK;  // the producer names each step's item (tokens skip tiles)
constexpr int TOKQ = HAS_TOK ? STAGES * 2 * BM + (SLOTS ? STAGES * 4 + TABLE_MAX / 4 : 0) : 0;
static_assert(TABLE_MAX % 16 == 0, "the class bytes end on a 16-byte boundary (the tile bounds follow)");
// Shared memory, in bytes from the first 1024-byte boundary (the swizzle
// pattern repeats every 1024 bytes: tiles start on one): K, V; Q, dO per
// stage; P^T, dS^T ([BN][BM]); DQ_TILED's buffers where not DQ_STAGE ([2
// warpgroups][64][64] fp32); PRODUCER's mbarriers; lse2, dsum per stage; the
// token data. The launch gives SMEM bytes (gen/fa_space.lua: S.bwd_smem),
// 1024 of them for the alignment.
constexpr u32 O_V = KBYTES, O_Q = 2 * KBYTES, O_O = O_Q + STAGES * QBYTES, O_P = O_O + STAGES * QBYTES;
constexpr u32 O_S = O_P + PBYTES, O_DQ = O_S + PBYTES, O_BARS = O_DQ + (DQ_TILED && !DQ_STAGE ? 2 * 16384 : 0);
constexpr u32 O_L = O_BARS + (PRODUCER ? 64 : 0), O_D = O_L + STAGES * BM * 4, O_TOK = O_D + STAGES * BM * 4;
constexpr u32 O_KTOK = O_TOK + TOKQ * 4, O_VMASK = O_KTOK + (HAS_TOK ? 2 * BN * 4 : 0);
constexpr u32 O_QTAB = O_VMASK + (HAS_TOK ? BN * BM / 8 : 0), O_END = O_QTAB + (HAS_TOK ? (TABLE_MAX + 1) * 16 : 0);
static_assert(1024 + O_END <= ${SMEM}, "the layout fits the launch's shared memory");
static_assert(BM == 64 && BN % 64 == 0 && NWG % KW == 0, "tile shape");
static_assert(N1 % P1 == 0 && P1 % 16 == 0 && N2 % 64 == 0 && N3 % 64 == 0 && K3 % 16 == 0, "warpgroup shares");
static_assert(NC % DC == 0 && (BM * DC) % NC == 0 && (BN * DC) % NC == 0 && (NC / DC) % 8 == 0, "copy shapes");
static_assert(NWG == 2, "two consumer warpgroups");
static_assert(!DQ_STAGE || (PRODUCER && DQ_TILED && !RS2 && D / NWG == 128),
              "dQ's two chunks per warpgroup go where its phase 2 read dO and Q: its own 128 columns");

${WGMMA}

// Rows [r0, r0 + ROWS) of a [*][D] tensor (row stride ss) into a swizzled
// tile at dst; rows at or past `valid` read zeros.
template <int ROWS>
__device__ __forceinline__ void load_rows(u32 dst, const u16 *src, i64 ss, int r0, int valid, int tid) {
  constexpr int LR = NC / DC;
  const int lrow = tid / DC, lcol = tid % DC;
  const u16 *s = src + (r0 + lrow) * ss + lcol * 8;
#pragma unroll
  for (int k = 0; k < ROWS / LR; ++k) {
    const bool ok = r0 + lrow + k * LR < valid;
    cp_async16(dst + sw128(ROWS, lrow + k * LR, lcol), ok ? s : src, ok ? 16 : 0);
    s += LR * ss;
  }
}

// fa_bwd_dkdv's block: key block, kv head x split, batch row. Key blocks vary
// fastest where CTAs running together then share a head's Q and dO in L2, and
// slowest where few heads and a causal mask or a window make blocks uneven:
// the heaviest of every head then start first (fa_plan.c: fa_bwd_kb_slow; the sm80
// family keeps key blocks in x).
__device__ __forceinline__ void bwd_block(const BwdParams &bp, int &nb, int &hx, int &b) {
  nb = bp.kb_slow ? blockIdx.z : blockIdx.x;
  hx = bp.kb_slow ? blockIdx.x : blockIdx.y;
  b = bp.kb_slow ? blockIdx.y : blockIdx.z;
}

// Zeroes rows [r_lo, r_hi) of a swizzled [ROWS][D] tile: rows that TMA read
// from memory past a sequence's length, which the caller may leave as NaN.
template <int ROWS>
__device__ __forceinline__ void zero_rows(u32 dst, int r_lo, int r_hi, int tid) {
  for (int i = r_lo * DC + tid; i < r_hi * DC; i += NC)
    asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(dst + sw128(ROWS, i / DC, i % DC)), "r"(0));
}

// The tensor maps (fa_run.c) are read with PRODUCER only; the other variants
// take them unread, so that every sm90 backward launches alike.
extern "C" __global__ void __launch_bounds__(NT, 1)
fa_bwd_dkdv(const Params p, const BwdParams bp, const __grid_constant__ TmaDesc tq, const __grid_constant__ TmaDesc tk,
            const __grid_constant__ TmaDesc tv, const __grid_constant__ TmaDesc tdo) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // The swizzle pattern repeats every 1024 bytes: tiles start on that boundary.
  const u32 raw = smem_u32(smem_raw), sK = (raw + 1023) & ~1023u;
  unsigned char *smem = smem_raw + (sK - raw);
  const u32 sV = sK + O_V, sQ = sK + O_Q, sO = sK + O_O, sP = sK + O_P, sS = sK + O_S, sDQ = sK + O_DQ;
  // PRODUCER's mbarriers: K and V full, then Q/dO (and lse2, dsum) full and empty per stage.
  const u32 bars = sK + O_BARS, barKV = bars;
  auto full = [&](int s) { return bars + 8 + 8 * s; };
  auto empty = [&](int s) { return bars + 8 + 8 * (STAGES + s); };
  float *sL = (float *)(smem + O_L);                     // [STAGES][BM] lse2
  float *sD = (float *)(smem + O_D);                     // [STAGES][BM] dsum
  int *sTok = (int *)(smem + O_TOK);                     // [STAGES][2][BM] q_pos, q_seg
  int *slot = sTok + STAGES * 2 * BM;                    // SLOTS: [STAGES][4] h, m0, class
  unsigned char *tcls = (unsigned char *)(slot + STAGES * 4);  // SLOTS: [TABLE_MAX] the query tiles' classes
  int *sKtok = (int *)(smem + O_KTOK);                   // [2][BN] k_pos, k_seg
  u32 *vmask = (u32 *)(smem + O_VMASK);                  // [BN][BM/32]
  TileBounds *qtab = (TileBounds *)(smem + O_QTAB);
  TileBounds *kb_own = qtab + TABLE_MAX;

  const int tid = threadIdx.x, lane = tid & 31;
  int nb, hx, b;
  bwd_block(bp, nb, hx, b);
  const int kvh = hx / bp.hsplit, hs = hx % bp.hsplit;
  int h_lo, h_hi;
  bwd_heads(p, bp, kvh, hs, h_lo, h_hi);
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const int n0 = nb * BN, n1 = min(n0 + BN, Lk) - 1;  // valid keys of this CTA
  int mt_lo, nmt;
  bwd_query_tiles<BM>(p, Lq, off, n0, n1, mt_lo, nmt);
  if constexpr (HAS_TOK) {
    bwd_tok_tables<BM, BN, WARPS>(p, b, n0, n1, Lq, Lk, mt_lo, nmt, sKtok, qtab, kb_own, tid, tid >> 5, lane);
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

  if constexpr (PRODUCER) {
    if (tid == 0) {
      mbar_init(barKV, 1);
      for (int s = 0; s < STAGES; ++s) {
        mbar_init(full(s), 33);        // the copies' thread (with their bytes; the end slot: without) and 32 lanes
        mbar_init(empty(s), NC / 32);  // every consumer warp
      }
      fence_mbar_init();
    }
    if constexpr (SLOTS)  // the classes once, for the producer's 24 registers
      for (int t = tid; t < min(nmt, TABLE_MAX); t += NT) tcls[t] = (unsigned char)classify(mt_lo + t);
    __syncthreads();  // the last CTA barrier: the warpgroups part here
    if (tid < 128) {
      // Producer: its first warp loads K, V once, then per item Q and dO by
      // TMA (rows past Tq read zeros) and lse2, dsum by its lanes, into the
      // stage the consumers last released; with tokens also the queries'
      // positions and segments, and the item's slot.
      setmaxnreg_dec<24>();
      if (tid >= 32) return;
      if (lane == 0) {
        mbar_expect_tx(barKV, 2 * KBYTES);
#pragma unroll
        for (int c = 0; c < D / 64; ++c) {
          tma_load4(sK + c * BN * 128, tk, c * 64, n0, kvh, b, barKV);
          tma_load4(sV + c * BN * 128, tv, c * 64, n0, kvh, b, barKV);
        }
      }
      // Item n: query head h, tile mt of class cls into stage n % STAGES.
      auto produce = [&](int n, int h, int mt, int cls) {
        const int s = n % STAGES, m0 = mt * BM;
        const i64 row = ((i64)b * p.Hq + h) * p.Tq + m0;
        float l2[BM / 32], ds[BM / 32];  // loaded before the wait, stored after it
        int qp[HAS_TOK ? BM / 32 : 1], qg[HAS_TOK ? BM / 32 : 1];
#pragma unroll
        for (int k = 0; k < BM / 32; ++k) {
          const bool in = m0 + lane + 32 * k < p.Tq;
          l2[k] = in ? bp.lse2[row + lane + 32 * k] : 0.f;
          ds[k] = in ? bp.dsum[row + lane + 32 * k] : 0.f;
          if constexpr (HAS_TOK) {
            const int m = b * p.Tq + min(m0 + lane + 32 * k, Lq - 1);
            qp[k] = HAS_POS ? p.q_pos[m] : 0;
            qg[k] = HAS_SEG ? p.q_seg[m] : 0;
          }
        }
        mbar_wait(empty(s), ((n / STAGES) & 1) ^ 1);
        if (lane == 0) {
          if constexpr (SLOTS) slot[4 * s] = h, slot[4 * s + 1] = m0, slot[4 * s + 2] = cls;
          mbar_expect_tx(full(s), 2 * QBYTES);
#pragma unroll
          for (int c = 0; c < D / 64; ++c) {
            tma_load4(sQ + s * QBYTES + c * BM * 128, tq, c * 64, h, m0, b, full(s));
            tma_load4(sO + s * QBYTES + c * BM * 128, tdo, c * 64, h, m0, b, full(s));
          }
        }
#pragma unroll
        for (int k = 0; k < BM / 32; ++k) {
          sL[s * BM + lane + 32 * k] = l2[k];
          sD[s * BM + lane + 32 * k] = ds[k];
          if constexpr (HAS_TOK) sTok[s * 2 * BM + lane + 32 * k] = qp[k], sTok[s * 2 * BM + BM + lane + 32 * k] = qg[k];
        }
        mbar_arrive(full(s));
      };
      if constexpr (SLOTS) {
        // Hidden tiles skipped by nested loops (24 registers: no room for
        // divisions), then a slot with no item ends the consumers' walk. With
        // DQ_STAGE it goes to the stage of item N - 2, which the consumers
        // release at step N - 1; the last item's stage is never released.
        int n = 0;
        for (int h = h_lo; h < h_hi; ++h)
          for (int mt = mt_lo; mt < mt_lo + nmt; ++mt)
            if (const int cls = mt - mt_lo < TABLE_MAX ? tcls[mt - mt_lo] : 1) produce(n++, h, mt, cls);
        const int s = n % STAGES;
        mbar_wait(empty(s), ((n / STAGES) & 1) ^ 1);
        if (lane == 0) {
          slot[4 * s + 1] = -1;
          mbar_arrive(full(s));
        }
        mbar_arrive(full(s));
      } else {
        for (int it = 0; it < nitems; ++it) produce(it, h_lo + it / nmt, mt_lo + it % nmt, 2);
      }
      return;
    }
    setmaxnreg_inc<240>();
  }
  // Consumers (every thread without PRODUCER); csync is their barrier.
  const int ctid = PRODUCER ? tid - 128 : tid, warp = ctid >> 5;
  auto csync = [&]() { if constexpr (PRODUCER) named_sync(5, NC); else __syncthreads(); };

  // K and V of this CTA, once.
  if constexpr (PRODUCER) {
    mbar_wait(barKV, 0);
    if (n0 + BN > Lk && Lk < p.Tk) {
      zero_rows<BN>(sK, max(Lk - n0, 0), min(BN, p.Tk - n0), ctid);  // a block past Lk: all of it
      zero_rows<BN>(sV, max(Lk - n0, 0), min(BN, p.Tk - n0), ctid);
      fence_proxy_async();
      csync();
    }
  } else {
    load_rows<BN>(sK, p.k + b * p.k_sb + kvh * p.k_sh, p.k_ss, n0, Lk, tid);
    load_rows<BN>(sV, p.v + b * p.v_sb + kvh * p.v_sh, p.v_ss, n0, Lk, tid);
  }
  auto load_item = [&](int it, int st) {
    if constexpr (!PRODUCER) {
      const int h = h_lo + it / nmt, m0 = (mt_lo + it % nmt) * BM;
      load_rows<BM>(sQ + st * QBYTES, p.q + b * p.q_sb + h * p.q_sh, p.q_ss, m0, Lq, tid);
      load_rows<BM>(sO + st * QBYTES, bp.dout + b * p.o_sb + h * p.o_sh, p.o_ss, m0, Lq, tid);
      bwd_load_rowdata<BM, NT>(p, bp, b, h, m0, Lq, sL + st * BM, sD + st * BM, sTok + st * 2 * BM, tid);
    }
  };

  // This thread's place in the accumulators of wgmma m64nN: warp wl of the
  // warpgroup holds rows 16wl + g and + 8, columns 8j + 2t4 + {0, 1}.
  const int wg = warp >> 2, wl = warp & 3, g = lane >> 2, t4 = lane & 3;
  const int wk = wg % KW, wq = wg / KW;
  const int kr = wk * 64 + wl * 16 + g;  // this thread's first key row (of BN); the second is kr + 8
  const u32 kA = sK + wk * 64 * 128, vA = sV + wk * 64 * 128;

  // With PINGPONG the warpgroups take turns issuing each product (barriers 3
  // and 4, 256 threads; 1 lets 0 go first, 0 takes 1's last pass at the end),
  // so that one's exp2 and dS run while the other's products occupy the
  // tensor cores; both take the same turns per step.
  auto turn_wait = [&]() { if constexpr (PINGPONG) named_sync(3 + wg, 256); };
  auto turn_pass = [&]() { if constexpr (PINGPONG) named_arrive(3 + (wg ^ 1), 256); };
  if (PINGPONG && wg == 1) named_arrive(3, 256);

  float dk[N2 / 8][4], dv[N2 / 8][4];
#pragma unroll
  for (int j = 0; j < N2 / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.f;

  // With SLOTS the stage's slot names the item (it stays 0) and one with no
  // item ends the walk.
  int it = SLOTS ? 0 : next_item(0), st = 0, n = 0;  // n: steps done
  if (it < nitems) load_item(it, 0);
  if (!PRODUCER) cp_commit();
  while (SLOTS || it < nitems) {
    if constexpr (SLOTS) {
      mbar_wait(full(st), (n / STAGES) & 1);
      if (slot[4 * st + 1] < 0) break;
    }
    const int nxt = SLOTS ? 0 : next_item(it + 1);
    const int h = SLOTS ? slot[4 * st] : h_lo + it / nmt, mt = mt_lo + it % nmt;
    const int m0 = SLOTS ? slot[4 * st + 1] : mt * BM;
    const u32 qs = sQ + st * QBYTES, os = sO + st * QBYTES;
    if constexpr (PRODUCER) {
      if (!SLOTS) mbar_wait(full(st), (n / STAGES) & 1);
      if (m0 + BM > Lq && Lq < p.Tq) {  // varlen: rows in [Lq, Tq) are the caller's
        zero_rows<BM>(qs, max(Lq - m0, 0), min(BM, p.Tq - m0), ctid);
        zero_rows<BM>(os, max(Lq - m0, 0), min(BM, p.Tq - m0), ctid);
        fence_proxy_async();
        csync();
      }
    } else {
      if (STAGES == 2 && nxt < nitems) load_item(nxt, st ^ 1);
      cp_commit();
      if (STAGES == 2) cp_wait<1>(); else cp_wait<0>();
      fence_proxy_async();  // cp.async wrote through the generic proxy; wgmma reads through the async one
      __syncthreads();      // Q, dO, lse2, dsum of this item landed
    }
    const int cls = SLOTS ? slot[4 * st + 2] : classify(mt);

    // 1. S^T and dP^T: A = K, V rows of this key group, B = Q, dO rows of
    // this warpgroup's queries, both K-major (a 16-wide k step moves 32 bytes
    // inside the swizzled rows); in chunks of P1 queries, one at a time where
    // the chunk's dK, dV products take registers (RS2: unrolled, they spilled
    // 204 bytes at d128).
    if (HAS_TOK && cls == 1) {
      bwd_vmask<BM, BN, NC / 32>(p, m0, n0, Lq, Lk, off, sTok + st * 2 * BM, sKtok, vmask, warp, lane);
      csync();
    }
#pragma unroll(RS2 ? 1 : N1 / P1)
    for (int ci = 0; ci < N1 / P1; ++ci) {
      const int c1 = wq * N1 + ci * P1;
      float s[P1 / 8][4], dp[P1 / 8][4];
      turn_wait();
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        wgmma_1(s, sw128_desc(kA + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024),
                sw128_desc(qs + (kk >> 2) * BM * 128 + c1 * 128 + (kk & 3) * 32, 16, 1024), kk > 0);
      wgmma_commit();
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        wgmma_1(dp, sw128_desc(vA + (kk >> 2) * BN * 128 + (kk & 3) * 32, 16, 1024),
                sw128_desc(os + (kk >> 2) * BM * 128 + c1 * 128 + (kk & 3) * 32, 16, 1024), kk > 0);
      wgmma_commit();
      turn_pass();
      // P (or, with softcap, tanh of the scaled score) while dP^T runs; d256
      // waits for both and does it below (beside its 128 dK, dV registers the
      // overlap spilled 4 bytes).
      if constexpr (D >= 256) wgmma_wait<0>(); else wgmma_wait<1>();
      reg_fence(s);
#pragma unroll
      for (int j = 0; j < (D >= 256 ? 0 : P1 / 8); ++j) {
        const float2 l2 = *(const float2 *)(sL + st * BM + c1 + j * 8 + 2 * t4);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if constexpr (HAS_SOFTCAP) s[j][e] = tanh_acc(s[j][e] * p.cap_inv);
          else s[j][e] = fast_exp2(fmaf(s[j][e], p.scale_log2, -(e & 1 ? l2.y : l2.x)));  // lse2 = +inf gives 0
        }
      }
      wgmma_wait<0>();
      reg_fence(dp);
      // dS = P (dP - dsum) (times softcap's 1 - t^2), masked; P^T (SS path)
      // and dS^T (bf16) into their swizzled [BN][BM] tiles.
#pragma unroll
      for (int j = 0; j < P1 / 8; ++j) {
        const int ql = c1 + j * 8 + 2 * t4;  // local query column of e = 0
        const float2 l2 = *(const float2 *)(sL + st * BM + ql), d2 = *(const float2 *)(sD + st * BM + ql);
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
          const int nl = kr + hh * 8;
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float &P = s[j][hh * 2 + e], &ds = dp[j][hh * 2 + e];
            float f = 1.f;
            if constexpr (D >= 256) {  // s still holds the score
              if constexpr (HAS_SOFTCAP) P = tanh_acc(P * p.cap_inv);
              else P = fast_exp2(fmaf(P, p.scale_log2, -(e ? l2.y : l2.x)));
            }
            if constexpr (HAS_SOFTCAP) {
              f = 1.f - P * P;
              P = fast_exp2(p.cap_log2 * P - (e ? l2.y : l2.x));
            }
            bool vis = true;
            if (HAS_TOK && cls == 1) {
              const int ml = ql + e;
              vis = (vmask[nl * (BM / 32) + (ml >> 5)] >> (ml & 31)) & 1u;
            } else if (cls == 1) {
              vis = index_visible(p, m0 + ql + e, n0 + nl, Lq, Lk, off);
            }
            if (!vis) P = 0.f;
            ds = P * (ds - (e ? d2.y : d2.x)) * f;
          }
          const u32 o = nl * 128 + (((ql >> 3) ^ (nl & 7)) << 4) + t4 * 4;
          if constexpr (!RS2)
            asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(sP + o), "r"(pack2(s[j][hh * 2], s[j][hh * 2 + 1])));
          asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(sS + o), "r"(pack2(dp[j][hh * 2], dp[j][hh * 2 + 1])));
        }
      }
      if constexpr (RS2) {
        // 2 (this warpgroup's keys are all its own): dV += P^T dO and
        // dK += dS^T Q for this chunk's queries, P^T and dS^T from registers
        // (the accumulator layout of two n8 blocks is the A fragment of one
        // k16 step), dO and Q N-major. Waited for before the next chunk
        // reuses these registers (overlapping them with it spilled).
        u32 pa[P1 / 16][4], pd[P1 / 16][4];
#pragma unroll
        for (int kt = 0; kt < P1 / 16; ++kt) {
          pa[kt][0] = pack2(s[2 * kt][0], s[2 * kt][1]);
          pa[kt][1] = pack2(s[2 * kt][2], s[2 * kt][3]);
          pa[kt][2] = pack2(s[2 * kt + 1][0], s[2 * kt + 1][1]);
          pa[kt][3] = pack2(s[2 * kt + 1][2], s[2 * kt + 1][3]);
          pd[kt][0] = pack2(dp[2 * kt][0], dp[2 * kt][1]);
          pd[kt][1] = pack2(dp[2 * kt][2], dp[2 * kt][3]);
          pd[kt][2] = pack2(dp[2 * kt + 1][0], dp[2 * kt + 1][1]);
          pd[kt][3] = pack2(dp[2 * kt + 1][2], dp[2 * kt + 1][3]);
        }
        turn_wait();
        wgmma_fence();
#pragma unroll
        for (int kt = 0; kt < P1 / 16; ++kt)
          wgmma_2r(dv, pa[kt], sw128_desc(os + (c1 + kt * 16) * 128, BM * 128, 1024), 1);
#pragma unroll
        for (int kt = 0; kt < P1 / 16; ++kt)
          wgmma_2r(dk, pd[kt], sw128_desc(qs + (c1 + kt * 16) * 128, BM * 128, 1024), 1);
        wgmma_commit();
        turn_pass();
        // LAZY_DKV: the next chunk's S^T, dP^T are issued behind these, and
        // its wait for S^T (groups complete in order) covers them.
        if constexpr (!LAZY_DKV) wgmma_wait<0>();
      }
    }
    fence_proxy_async();
    csync();  // dS^T (and P^T) complete
    if (DQ_STAGE && bp.dqacc && n > 0 && (ctid & 127) == 0) {
      // The last step's reductions have read its stage (a step's slack): its warp releases it.
      bulk_wait_read();
      mbar_arrive(empty(st ^ 1));
    }

    if constexpr (!RS2) {
      // 2 (warpgroups share a key group): dV += P^T dO and dK += dS^T Q, A =
      // P^T, dS^T rows of this key group (K-major), B = dO, Q (N-major: lbo
      // steps 64-column blocks).
      turn_wait();
      wgmma_fence();
#pragma unroll
      for (int kq = 0; kq < BM / 16; ++kq)
        wgmma_2(dv, sw128_desc(sP + wk * 64 * 128 + kq * 32, 16, 1024),
                sw128_desc(os + kq * 16 * 128 + wq * (N2 / 64) * BM * 128, BM * 128, 1024), 1);
#pragma unroll
      for (int kq = 0; kq < BM / 16; ++kq)
        wgmma_2(dk, sw128_desc(sS + wk * 64 * 128 + kq * 32, 16, 1024),
                sw128_desc(qs + kq * 16 * 128 + wq * (N2 / 64) * BM * 128, BM * 128, 1024), 1);
      wgmma_commit();
      turn_pass();
    }

    // 3. dQ = dS K into the fp32 accumulator: A = dS^T read M-major, B = K
    // rows (N-major), both from shared memory.
    if (bp.dqacc) {
      const int k3 = DQ_COLS ? 0 : wg * K3, c3 = DQ_COLS ? wg * N3 : 0;
      const int r = m0 + wl * 16 + g;
      float *qrow = bp.dqacc + (((i64)b * p.Hq + h) * p.Tq + r) * D + c3 + 2 * t4;
      const u32 dqs = sDQ + wg * 16384;
      static_assert(!DQ_STAGE || STAGES == 2, "the stage released a step late");
#pragma unroll
      for (int cc = 0; cc < N3 / 64; ++cc) {  // 64-column chunks: fewer live registers
        float dq[8][4];
        if (DQ_TURN) turn_wait();
        wgmma_fence();
#pragma unroll
        for (int kt = 0; kt < K3 / 16; ++kt)
          wgmma_3(dq, sw128_desc(sS + (k3 + kt * 16) * 128, BN * 128, 1024),
                  sw128_desc(sK + (k3 + kt * 16) * 128 + (c3 / 64 + cc) * BN * 128, BN * 128, 1024), kt > 0);
        wgmma_commit();
        if (DQ_TURN) turn_pass();
        wgmma_wait<0>();
        reg_fence(dq);
        if constexpr (DQ_TILED) {
          // The buffer's last reduction has read it (issued a step ago), then
          // this chunk goes in as dq_at lays it out and one thread adds it.
          // With DQ_STAGE the buffer is the stage's, which the producer refills
          // only after the release below: the barrier says the warpgroup's
          // phase 2 has read it.
          const u32 buf = DQ_STAGE ? (cc ? qs : os) + wg * 16384 : dqs;
          if (!DQ_STAGE && (ctid & 127) == 0) bulk_wait_read();
          named_sync(1 + wg, 128);
          const int rl = wl * 16 + g;
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            const u32 o0 = (rl * 64 + ((j * 8 + 2 * t4) ^ ((rl & 7) << 3))) * 4;
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(buf + o0), "f"(dq[j][0]), "f"(dq[j][1]));
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(buf + o0 + 8 * 64 * 4), "f"(dq[j][2]), "f"(dq[j][3]));
          }
          fence_proxy_async();
          named_sync(1 + wg, 128);
          if ((ctid & 127) == 0) {
            bulk_reduce_add(bp.dqacc + dq_at(p, b, h, m0, c3 + cc * 64), buf, 16384);
            bulk_commit();
          }
        } else {
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            if (r < Lq) red_add2(qrow + cc * 64 + j * 8, dq[j][0], dq[j][1]);
            if (r + 8 < Lq) red_add2(qrow + 8 * D + cc * 64 + j * 8, dq[j][2], dq[j][3]);
          }
        }
      }
    } else {
      wgmma_wait<0>();
    }
    reg_fence(dk);
    reg_fence(dv);
    if constexpr (PRODUCER) {
      // This warp's products and loads have read the stage (with DQ_STAGE the
      // reductions' warp releases it in the next step).
      __syncwarp();
      if (lane == 0 && !(DQ_STAGE && bp.dqacc && (warp & 3) == 0)) mbar_arrive(empty(st));
    }
    csync();  // every warpgroup is past P^T, dS^T and this Q/dO buffer
    if (STAGES == 1 && nxt < nitems) load_item(nxt, 0);
    if (STAGES == 1 && !PRODUCER) cp_commit();
    it = nxt;
    st = STAGES == 2 ? st ^ 1 : 0;
    ++n;
  }
  if (!PRODUCER) cp_wait<0>();
  if (PINGPONG && wg == 0) named_sync(3, 256);
  // The reductions complete before the CTA exits: waiting only for their
  // reads failed verify wherever query heads were split (H200, 2026-12-02).
  if (DQ_TILED && (ctid & 127) == 0) bulk_wait();

  const int col0 = wq * N2 + 2 * t4;
#pragma unroll
  for (int hh = 0; hh < 2; ++hh) {
    const int n = n0 + kr + hh * 8;
    if (n < p.Tk) bwd_store_row<N2 / 8>(p, bp, b, kvh, hs, n, col0, dk, dv, hh);
  }
}
