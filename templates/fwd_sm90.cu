// Template: flash-attention forward for Hopper (the "sm90" family, sm_90a).
// One producer warpgroup issues TMA copies of Q, K and V tiles (128-byte
// swizzle) that complete on mbarriers; NC consumer warpgroups, 64 query rows
// each, run S = Q K^T and O += P V as wgmma (Q, K, V from shared memory, P
// from registers), the online softmax in exp2 in between. Registers move from
// the producer to the consumers (setmaxnreg). Masks, tile skipping and split-KV
// follow fwd_sm80.cu; O leaves through the Q buffer by TMA stores (TMA_STORE)
// or 16-byte stores. Slots are filled by gen/fa_gen.lua.
// With PERSIST a grid of one CTA per SM slot walks the work items in the
// plain grid's order: the producer loads the next item's Q, K and V while the
// consumers finish this one. The Q buffer then already holds the next item's
// rows, so O leaves through a buffer of its own (TMA_STORE: the store runs on
// under the next item) or from registers straight to global memory. On the
// H200 (2026-12-02, d128 m128n128, ten shapes, same call) that buffer made it
// 1.011-1.072x faster than from registers; a second Q buffer, for the next
// item's Q, gave back 0.8% of it.

constexpr int D = ${D};            // head_dim
constexpr int BM = ${BM};          // query rows per CTA (after GQA packing), 64 per consumer warpgroup
constexpr int BN = ${BN};          // keys per tile
constexpr int WARPS = ${WARPS};    // 4 producer warps + 4 per consumer warpgroup
constexpr int STAGES = ${STAGES};  // K/V buffers in shared memory
constexpr int G = ${G};            // query heads packed into one tile's rows
constexpr bool HAS_POS = ${HAS_POS};
constexpr bool HAS_SEG = ${HAS_SEG};
constexpr bool HAS_SOFTCAP = ${HAS_SOFTCAP};
constexpr int TABLE_MAX = ${TABLE_MAX};
constexpr int REG_PRODUCER = ${REG_PRODUCER};  // setmaxnreg targets
constexpr int REG_CONSUMER = ${REG_CONSUMER};
constexpr bool PINGPONG = ${PINGPONG};  // consumer warpgroups take turns at the tensor cores
constexpr int CTAS_PER_SM = ${CTAS_PER_SM};  // the register cap at entry that setmaxnreg needs
constexpr bool PERSIST = ${PERSIST};  // persistent grid (the header says how)
constexpr bool TMA_STORE = ${TMA_STORE};  // O out of shared memory by TMA (else 16-byte stores)
constexpr bool SNAKE = ${SNAKE};  // the persistent walk reverses every other round
constexpr float MAX_SLACK = ${MAX_SLACK};  // how far (exp2 units) a tile's max may pass the running max unmoved
constexpr bool UNIFORM_WARP = ${UNIFORM_WARP};  // the warp index by a shuffle: descriptors in uniform registers

constexpr int NT = WARPS * 32;
constexpr int NC = WARPS / 4 - 1;
constexpr int DC = D / 8;               // 16-byte chunks per row
constexpr u32 QBYTES = BM * D * 2, KVBYTES = BN * D * 2;
constexpr bool O_BUF = PERSIST && TMA_STORE;  // O staged in its own buffer (else in Q's)
static_assert(BM == 64 * NC && BN % 16 == 0 && D % 64 == 0, "tile shape");
static_assert(!PINGPONG || NC == 2, "turns are built for two consumer warpgroups");
static_assert(!(PERSIST && (HAS_POS || HAS_SEG)), "the bounds tables are built once per CTA");

${WGMMA}

extern "C" __global__ void __launch_bounds__(NT, CTAS_PER_SM)
fa_fwd(const __grid_constant__ Params p, const __grid_constant__ TmaDesc tq, const __grid_constant__ TmaDesc tk,
       const __grid_constant__ TmaDesc tv, const __grid_constant__ TmaDesc to, float *ws) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // The swizzle pattern repeats every 1024 bytes: tiles start on that boundary.
  const u32 raw = smem_u32(smem_raw), sQ = (raw + 1023) & ~1023u;
  unsigned char *smem = smem_raw + (sQ - raw);
  const u32 sK = sQ + QBYTES, sV = sK + STAGES * KVBYTES, sO = O_BUF ? sV + STAGES * KVBYTES : sQ;
  const u32 bars = sV + STAGES * KVBYTES + (O_BUF ? QBYTES : 0);
  // Barriers: Q full, Q empty, then per stage K full, V full, K empty, V empty.
  const u32 barQ = bars, barQe = bars + 8;
  auto fullK = [&](int s) { return bars + 16 + 8 * s; };
  auto fullV = [&](int s) { return bars + 16 + 8 * (STAGES + s); };
  auto emptyK = [&](int s) { return bars + 16 + 8 * (2 * STAGES + s); };
  auto emptyV = [&](int s) { return bars + 16 + 8 * (3 * STAGES + s); };
  TileBounds *table = (TileBounds *)(smem + (bars - sQ) + 256);

  const int tid = threadIdx.x, lane = tid & 31;
  const int warp = UNIFORM_WARP ? __shfl_sync(0xffffffffu, tid >> 5, 0) : tid >> 5;
  const int group = p.Hq / p.Hkv;
  // Work items: (tile, split) fastest, heavy causal tiles first, then head
  // group, then batch. The plain grid has one per CTA.
  const int ntm = (p.Tq * G + BM - 1) / BM, X = ntm * p.nsplit, Hg = p.Hq / G;
  const int nitems = PERSIST ? X * Hg * p.B : 1;
  int split, tile, hg, b, kvh, Lq, Lk, off, R0, pmin, pmax, t_lo, t_hi;
  auto item = [&](int w) {
    int x = blockIdx.x, y = blockIdx.y, z = blockIdx.z;
    if (PERSIST) x = w % X, y = (w / X) % Hg, z = w / (X * Hg);
    split = x % p.nsplit;
    tile = ntm - 1 - x / p.nsplit;
    hg = y, b = z;
    kvh = hg * G / group;
    Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
    Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
    off = Lk - Lq;
    R0 = tile * BM;              // first packed row: pos = R / G, head = hg*G + R % G
    pmin = R0 / G;               // query positions covered by valid rows
    pmax = min(Lq - 1, (R0 + BM - 1) / G);
    fwd_key_tiles<BN>(p, Lk, off, pmin, pmax, split, t_lo, t_hi);
  };
  // The CTA's n-th item: in rounds of one item per CTA (SNAKE: every other
  // round in reverse, so that a CTA's causal tiles, heavy first within a head,
  // even out); a round stays a window of consecutive items, which share K and V.
  auto walk = [&](int n) {
    if (!PERSIST) return n;
    const int P = gridDim.x, i = blockIdx.x;
    return n * P + ((SNAKE && (n & 1)) ? P - 1 - i : i);
  };
  item(walk(0));

  if (tid == 0) {
    mbar_init(barQ, 1);
    mbar_init(barQe, NC * 4);  // one arrival per consumer warp
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(fullK(s), 1);
      mbar_init(fullV(s), 1);
      mbar_init(emptyK(s), NC * 4);
      mbar_init(emptyV(s), NC * 4);
    }
    fence_mbar_init();
  }

  // Tile bounds of positions and segments (fwd_tiles.cu): the producer and
  // the consumers walk the same visible tiles.
  if constexpr (HAS_POS || HAS_SEG)
    fwd_tile_bounds<BN, HAS_POS, HAS_SEG, TABLE_MAX>(p, b, Lk, pmin, pmax, t_lo, t_hi, table, warp, WARPS, lane);
  __syncthreads();  // barriers initialised, bounds tables written
  auto classify = [&](int t) {
    return fwd_tile_class<BN, HAS_POS, HAS_SEG, TABLE_MAX>(p, t, Lk, off, pmin, pmax, t_lo, table);
  };
  auto next_visible = [&](int t) {
    if constexpr (HAS_POS || HAS_SEG)
      while (t < t_hi && classify(t) == 0) ++t;
    return t;
  };

  if (warp < 4) {
    // Producer warpgroup: one thread issues every copy.
    setmaxnreg_dec<REG_PRODUCER>();
    if (tid == 0) {
      int it = 0;  // K/V tiles loaded, over all items: stage it % STAGES
      for (int n = 0, w = walk(0); w < nitems; w = walk(++n)) {
        if (n > 0) {
          item(w);
          mbar_wait(barQe, (n - 1) & 1);  // the consumers' last S of the previous item is done
        }
        mbar_expect_tx(barQ, QBYTES);
#pragma unroll
        for (int db = 0; db < D / 64; ++db) tma_load4(sQ + db * BM * 128, tq, db * 64, hg * G, R0 / G, b, barQ);
        for (int t = next_visible(t_lo); t < t_hi; t = next_visible(t + 1), ++it) {
          const int s = it % STAGES;
          const u32 ph = (it / STAGES) & 1;
          mbar_wait(emptyK(s), ph ^ 1);
          mbar_expect_tx(fullK(s), KVBYTES);
#pragma unroll
          for (int db = 0; db < D / 64; ++db)
            tma_load4(sK + s * KVBYTES + db * BN * 128, tk, db * 64, t * BN, kvh, b, fullK(s));
          mbar_wait(emptyV(s), ph ^ 1);
          mbar_expect_tx(fullV(s), KVBYTES);
#pragma unroll
          for (int db = 0; db < D / 64; ++db)
            tma_load4(sV + s * KVBYTES + db * BN * 128, tv, db * 64, t * BN, kvh, b, fullV(s));
        }
      }
    }
    return;
  }

  // Consumer warpgroups. Accumulator layout of wgmma m64nN: warp w of the
  // group holds rows 16w..16w+15, lane rows g and g+8, columns 8j + 2*t4 + {0,1}.
  setmaxnreg_inc<REG_CONSUMER>();
  const int cw = warp - 4, c = cw >> 2;
  const int wrow = cw * 16;  // = 64c + 16(w % 4)
  const int g = lane >> 2, t4 = lane & 3;
  int row_pos[2];
  float acc[D / 8][4];
  float row_max[2], row_sum[2];
  const float mul = HAS_SOFTCAP ? 1.0f : p.scale_log2;
  const u32 qbase = sQ + c * 64 * 128;

  // S = Q K^T for the tile in buffer kbuf: both operands K-major; a 16-wide
  // k step moves 32 bytes inside the swizzled rows. Issued, not waited for.
  const u32 qlo = sw128_lo(qbase, 16);
  auto issue_s = [&](float (&sc)[BN / 8][4], u32 kbuf) {
    const u32 klo = sw128_lo(kbuf, 16);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
      wgmma_s(sc, sw128_desc_lo(qlo + ((kk >> 2) * BM * 128 + (kk & 3) * 32) / 16, 1024),
              sw128_desc_lo(klo + ((kk >> 2) * BN * 128 + (kk & 3) * 32) / 16, 1024), kk > 0);
    wgmma_commit();
  };
  // Softcap, mask and the online softmax of tile t, in place: sc becomes P
  // (unnormalised, fp32); corr_v gets the factor O must be rescaled by.
  // Returns whether any lane of the warp needs that rescale.
  auto softmax = [&](float (&sc)[BN / 8][4], int t, float (&corr_v)[2]) -> bool {
    if constexpr (HAS_SOFTCAP) {
      const float k = -2.f * LOG2E * p.cap_inv;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) sc[j][e] = softcap_log2(sc[j][e], k, p.cap_log2);
    }
    const bool partial = classify(t) == 1;
    if (partial && !HAS_POS && !HAS_SEG) {
      // Causal, windows and the key length leave each row one range of keys,
      // [lo, hi]: two compares per element against column offsets known at
      // compile time. On the H200 (2026-12-02, against the general test
      // below, same call) causal d128 ran 1.4-5.6% faster, d256 0.8-3.8%.
      const int n0 = t * BN + 2 * t4;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const i64 i = row_pos[h] + off;
        i64 hi = Lk - 1, lo = 0;
        if (p.causal) hi = min(hi, i);
        if (p.window_right >= 0) hi = min(hi, i + p.window_right);
        if (p.window_left >= 0) lo = max(lo, i - p.window_left);
        // clamped to [-1, Lk] first, so that the int offsets cannot overflow
        const int a = (int)max(min(lo, (i64)Lk), (i64)-1) - n0, z = (int)max(min(hi, (i64)Lk), (i64)-1) - n0;
#pragma unroll
        for (int j = 0; j < BN / 8; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (j * 8 + e < a || j * 8 + e > z) sc[j][h * 2 + e] = NEG_INF;
      }
    } else if (partial) {
      const int n0 = t * BN;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int n = n0 + j * 8 + 2 * t4 + e;
          int kp = 0, ks = 0;
          if (HAS_POS && n < Lk) kp = p.k_pos[b * p.Tk + n];
          if (HAS_SEG && n < Lk) ks = p.k_seg[b * p.Tk + n];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int qi = row_pos[h], i = qi + off;
            bool vis = n < Lk && (!p.causal || n <= i) && (p.window_left < 0 || n >= i - p.window_left) &&
                       (p.window_right < 0 || n <= i + p.window_right);
            if (HAS_POS) vis = vis && qi < Lq && kp <= p.q_pos[b * p.Tq + qi];
            if (HAS_SEG) vis = vis && qi < Lq && ks >= 0 && ks == p.q_seg[b * p.Tq + qi];
            if (!vis) sc[j][h * 2 + e] = NEG_INF;
          }
        }
    }
    // Rows g and g+8 live in the 4 lanes of a quad.
    bool rescale = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = row_max[h];
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) mx = fmaxf(mx, fmaxf(sc[j][h * 2], sc[j][h * 2 + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // The running max moves only when this tile's passes it by more than
      // MAX_SLACK (both -inf: NaN, no move): P stays below 2^MAX_SLACK, and O is
      // rescaled (D/2 multiplies per thread) only on such a move.
      const float old = row_max[h];
      const bool move = (mx - old) * mul > MAX_SLACK;
      if (move) row_max[h] = mx;
      const float base = row_max[h] == NEG_INF ? 0.f : row_max[h] * mul;
      const float corr = move ? fast_exp2(old * mul - base) : 1.f;
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) {
        const float e0 = fast_exp2(sc[j][h * 2] * mul - base), e1 = fast_exp2(sc[j][h * 2 + 1] * mul - base);
        sc[j][h * 2] = e0;
        sc[j][h * 2 + 1] = e1;
        sum += e0 + e1;
      }
      row_sum[h] = row_sum[h] * corr + sum;
      corr_v[h] = corr;
      rescale |= corr != 1.f;
    }
    return __any_sync(0xffffffffu, rescale);
  };
  // P as wgmma's register A operand: the accumulator layout of two n8 blocks
  // is the A fragment of one k16 step.
  auto pack = [&](const float (&sc)[BN / 8][4], u32 (&pa)[BN / 16][4]) {
#pragma unroll
    for (int kt = 0; kt < BN / 16; ++kt) {
      pa[kt][0] = pack2(sc[2 * kt][0], sc[2 * kt][1]);
      pa[kt][1] = pack2(sc[2 * kt][2], sc[2 * kt][3]);
      pa[kt][2] = pack2(sc[2 * kt + 1][0], sc[2 * kt + 1][1]);
      pa[kt][3] = pack2(sc[2 * kt + 1][2], sc[2 * kt + 1][3]);
    }
  };
  auto release = [&](u32 bar) {
    __syncwarp();
    if (lane == 0) mbar_arrive(bar);
  };

  // With PINGPONG the two consumer warpgroups take turns issuing their matrix
  // products (barriers 3 and 4, 256 threads), so one's softmax runs while the
  // other's products occupy the tensor cores. Warpgroup 1 lets 0 go first and
  // 0 takes 1's last pass after the last item, so every arrival is matched;
  // both take the same turns per item, so the turns run on across items (a
  // hand-over per item could let 1's two arrivals complete barrier 3 alone).
  auto turn_wait = [&]() { if constexpr (PINGPONG) named_sync(3 + c, 256); };
  auto turn_pass = [&]() { if constexpr (PINGPONG) named_arrive(3 + (c ^ 1), 256); };
  // Software pipeline within the warpgroup: S of the next tile is issued
  // before P V of this one, so the softmax of the next tile runs while the
  // tensor cores do P V; O is rescaled once that product has landed.
  float sc[BN / 8][4];
  u32 pa[BN / 16][4];
  int it = 0;  // K/V tiles consumed, over all items: tile t is in stage it % STAGES
  // Waits for V of tile t in stage s. Keys in [Lk, Tk) hold the caller's
  // padding, perhaps NaN, and P = 0 there does not cancel NaN: zero those V
  // rows (TMA already zeroes rows past Tk).
  auto wait_v = [&](int t, int s) {
    const u32 vbuf = sV + s * KVBYTES;
    mbar_wait(fullV(s), (it / STAGES) & 1);
    if (p.seqlens_k && (t + 1) * BN > Lk && Lk < p.Tk) {
      const int r0 = max(Lk - t * BN, 0), r1 = min(BN, p.Tk - t * BN);
      for (int idx = (tid & 127) + r0 * DC; idx < r1 * DC; idx += 128)
        *(uint4 *)(smem + (vbuf - sQ) + sw128(BN, idx / DC, idx % DC)) = make_uint4(0, 0, 0, 0);
      fence_proxy_async();
      named_sync(1 + c, 128);
    }
  };
  // O += P V from stage s: V is [keys][D], so B is N-major (transposed), its
  // lbo stepping 64-column blocks. Issued, not waited for.
  auto issue_pv = [&](int s) {
    const u32 vlo = sw128_lo(sV + s * KVBYTES, BN * 128);
    wgmma_fence();
#pragma unroll
    for (int kt = 0; kt < BN / 16; ++kt) wgmma_o(acc, pa[kt], sw128_desc_lo(vlo + kt * 16 * 128 / 16, 1024), 1);
    wgmma_commit();
  };
  if (PINGPONG && c == 1) named_arrive(3, 256);
  for (int n = 0, w = walk(0); w < nitems; w = walk(++n)) {
    if (n > 0) item(w);
#pragma unroll
    for (int h = 0; h < 2; ++h) row_pos[h] = (R0 + wrow + g + h * 8) / G;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
    row_max[0] = row_max[1] = NEG_INF, row_sum[0] = row_sum[1] = 0.f;
    mbar_wait(barQ, n & 1);
    int t = next_visible(t_lo);
    if (t < t_hi) {
      mbar_wait(fullK(it % STAGES), (it / STAGES) & 1);
      turn_wait();
      issue_s(sc, sK + (it % STAGES) * KVBYTES);
      turn_pass();
      wgmma_wait<0>();
      reg_fence(sc);
      release(emptyK(it % STAGES));
      float corr_v[2];
      softmax(sc, t, corr_v);  // O is still zero: nothing to rescale
      pack(sc, pa);
    }
    // Every tile but the last: the wgmma issues and waits are unconditional in
    // the loop body, so ptxas can pipeline them (a conditional issue made it
    // serialise every wgmma, warning C7514).
    for (;;) {
      const int tn = t < t_hi ? next_visible(t + 1) : t_hi;
      if (tn >= t_hi) break;
      const int s = it % STAGES, sn = (it + 1) % STAGES;
      mbar_wait(fullK(sn), ((it + 1) / STAGES) & 1);
      wait_v(t, s);
      turn_wait();
      issue_s(sc, sK + sn * KVBYTES);
      issue_pv(s);
      turn_pass();
      wgmma_wait<1>();  // S of tile tn; P V may still run
      reg_fence(sc);
      release(emptyK(sn));
      float corr_v[2];
      const bool rescale = softmax(sc, tn, corr_v);
      // P V's wait sits behind the branch on the softmax's vote: in one basic
      // block with the softmax, ptxas scheduled it first, so the softmax
      // never ran under the warpgroup's own P V.
      if (rescale) {
        wgmma_wait<0>();
        reg_fence(acc);
#pragma unroll
        for (int j = 0; j < D / 8; ++j) {
          acc[j][0] *= corr_v[0], acc[j][1] *= corr_v[0];
          acc[j][2] *= corr_v[1], acc[j][3] *= corr_v[1];
        }
      } else {
        wgmma_wait<0>();
        reg_fence(acc);
      }
      release(emptyV(s));
      pack(sc, pa);
      t = tn;
      ++it;
    }
    // Q's last reader is done: the producer may load the next item's.
    if (PERSIST) release(barQe);
    if (t < t_hi) {  // the last tile's P V
      wait_v(t, it % STAGES);
      turn_wait();
      issue_pv(it % STAGES);
      turn_pass();
      wgmma_wait<0>();
      reg_fence(acc);
      release(emptyV(it % STAGES));
      ++it;
    }

    // Epilogue: normalise; O out through this warpgroup's rows of the O buffer
    // (Q's, or its own with O_BUF; PERSIST without TMA_STORE: straight from
    // registers, 4 bytes per lane), or (split) fp32 partials to ws for
    // fa_combine, laid out as in fwd_sm80.cu. Rows with no visible key give
    // O = 0 and LSE = -inf.
    const bool split_out = p.nsplit > 1;
    if (PERSIST) {  // the item's indices again, rather than live through the loop (d256 spilled)
      int w2 = w;
      asm volatile("" : "+r"(w2));
      item(w2);
    } else {
      fence_proxy_async();
    }
    // inv is 0 on rows past Lq and rows with no visible key: their O is 0.
    u16 *ob = p.o + b * p.o_sb;
    float inv[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float sum = row_sum[h];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int R = R0 + wrow + g + h * 8, pos = R / G, hq = hg * G + R % G;
      const bool live = sum > 0.f && pos < Lq;
      inv[h] = live ? 1.f / sum : 0.f;
      const i64 row = ((i64)b * p.Hq + hq) * p.Tq + pos;
      float *wo = ws + (row * p.nsplit + split) * D;
      u16 *orow = ob + pos * p.o_ss + hq * p.o_sh;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const float x0 = acc[j][h * 2] * inv[h], x1 = acc[j][h * 2 + 1] * inv[h];
        if (split_out) {
          if (pos < p.Tq) *(float2 *)(wo + j * 8 + 2 * t4) = make_float2(x0, x1);
        } else if (PERSIST && !TMA_STORE) {
          if (pos < p.Tq) *(u32 *)(orow + j * 8 + 2 * t4) = pack2(x0, x1);
        }
      }
      if (t4 == 0 && pos < p.Tq) {
        const float l = live ? (row_max[h] * mul + __log2f(sum)) * LN2 : NEG_INF;
        if (split_out) ws[(i64)p.B * p.Hq * p.Tq * p.nsplit * D + row * p.nsplit + split] = l;
        else if (p.lse) p.lse[row] = l;
      }
    }
    if (split_out || (PERSIST && !TMA_STORE)) continue;
    if constexpr (O_BUF) {  // the previous item's store has read this warpgroup's rows
      if ((tid & 127) == 0) bulk_wait_read();
      named_sync(1 + c, 128);
    }
    // Into this warpgroup's rows, four 8x8 blocks per stmatrix: lanes 8m..8m+7
    // address rows 8(m & 1).. of column chunk j + (m >> 1).
    const int m = lane >> 3, rr = wrow + (m & 1) * 8 + (lane & 7);
#pragma unroll
    for (int j = 0; j < D / 8; j += 2)
      stmatrix4(sO + sw128(BM, rr, j + (m >> 1)), pack2(acc[j][0] * inv[0], acc[j][1] * inv[0]),
                pack2(acc[j][2] * inv[1], acc[j][3] * inv[1]), pack2(acc[j + 1][0] * inv[0], acc[j + 1][1] * inv[0]),
                pack2(acc[j + 1][2] * inv[1], acc[j + 1][3] * inv[1]));
    if constexpr (TMA_STORE) {  // the warpgroup's 64 rows, one box per 64 columns; TMA drops rows past Tq
      fence_proxy_async();
      named_sync(1 + c, 128);
      if ((tid & 127) == 0) {
#pragma unroll
        for (int db = 0; db < D / 64; ++db)
          tma_store4(to, db * 64, hg * G, (R0 + c * 64) / G, b, sO + c * 64 * 128 + db * BM * 128);
        bulk_commit();
        if constexpr (!O_BUF) bulk_wait_read();  // else the next item's epilogue waits
      }
      continue;
    }
    named_sync(1 + c, 128);
    for (int idx = tid & 127; idx < 64 * DC; idx += 128) {
      const int r = c * 64 + idx / DC, cc = idx % DC;
      const int R = R0 + r, pos = R / G, hq = hg * G + R % G;
      if (pos >= p.Tq) continue;
      *(uint4 *)(ob + pos * p.o_ss + hq * p.o_sh + cc * 8) = *(const uint4 *)(smem + sw128(BM, r, cc));
    }
  }  // work items
  if (O_BUF && (tid & 127) == 0) bulk_wait_read();  // the shared memory outlives the last store's reads
  if (PINGPONG && c == 0) named_sync(3, 256);
}
