/*
** tune_shapes.c -- the shape sets: the correctness sweep's odd-sized
** problems for a variant, and the benchmark grids of shared/workloads.md.
*/
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "tune.h"
#include "tune_shapes.h"

static tune_shape mk(const char *name, fa_dtype t, fa_layout lay, int B, int Tq, int Tk, int Hq, int Hkv, int d) {
  tune_shape s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  fa_problem_init(&s.p, t, lay, B, Tq, Tk, Hq, Hkv, d);
  s.p.features = FA_FEAT_LSE;
  return s;
}

int tune_verify_shapes(const tune_sig *g, tune_shape *out, int max) {
  int n = 0;
  const fa_dtype t = g->bf16 ? FA_DTYPE_BF16 : FA_DTYPE_FP16;
  const int grp = g->g > 1 ? g->g * 2 : 2;  /* two packs per kv head when packing */
  const int Hkv = 2, Hq = Hkv * grp, d = g->d;
  unsigned feat = (g->pos ? FA_FEAT_POSITIONS : 0) | (g->seg ? FA_FEAT_SEGMENTS : 0);
  tune_shape s;
#define ADD(x) do { if (n < max) { x.p.features |= feat; if (g->softcap) { x.p.softcap = 30.f; x.p.scale *= 4.f; } out[n++] = x; } } while (0)
  s = mk("plain_197", t, FA_LAYOUT_BSHD, 2, 197, 197, Hq, Hkv, d); ADD(s);
  /* Several key tiles per item and, on verify's small persistent grids, several items per CTA. */
  s = mk("plain_300x650", t, FA_LAYOUT_BSHD, 1, 300, 650, Hq, Hkv, d); ADD(s);
  s = mk("causal_77x301", t, FA_LAYOUT_BSHD, 1, 77, 301, Hq, Hkv, d); s.p.causal = 1; ADD(s);
  s = mk("window_seqlens_333", t, FA_LAYOUT_BSHD, 2, 333, 333, Hq, Hkv, d);
  s.p.causal = 1; s.p.window_left = 63; s.p.features |= FA_FEAT_SEQLENS;
  s.seqlen_q[0] = 333; s.seqlen_k[0] = 333; s.seqlen_q[1] = 250; s.seqlen_k[1] = 301; ADD(s);
  s = mk("decode_1x259", t, FA_LAYOUT_BSHD, 2, 1, 259, Hq, Hkv, d); s.p.causal = 1; ADD(s);
  s = mk("causal_130x64_empty_rows", t, FA_LAYOUT_BSHD, 1, 130, 64, Hq, Hkv, d); s.p.causal = 1; ADD(s);
  s = mk("window2_150", t, FA_LAYOUT_BSHD, 1, 150, 150, Hq, Hkv, d); s.p.window_left = 20; s.p.window_right = 5; ADD(s);
  s = mk("bhsd_129", t, FA_LAYOUT_BHSD, 2, 129, 129, Hq, Hkv, d); s.p.causal = 1; ADD(s);
  if (g->pos || g->seg) {
    /* openpi-like: [prefix | 1 | suffix] blocks, a key hole, query rows that see nothing. */
    s = mk("blocks_173", t, FA_LAYOUT_BSHD, 2, 173, 173, Hq, Hkv, d);
    s.nblocks = 3; s.blocks[0] = 120; s.blocks[1] = 1; s.blocks[2] = 52;
    s.hole_lo = 40; s.hole_hi = 97; s.qhole_lo = 3; s.qhole_hi = 9; ADD(s);
    s = mk("denoise_51x259", t, FA_LAYOUT_BSHD, 1, 51, 259, Hq, Hkv, d);
    s.nblocks = 3; s.blocks[0] = 207; s.blocks[1] = 1; s.blocks[2] = 51;
    s.hole_lo = 64; s.hole_hi = 129; s.qhole_lo = s.qhole_hi = 0; ADD(s);
    s = mk("tokcausal_300", t, FA_LAYOUT_BSHD, 1, 300, 300, Hq, Hkv, d); /* positions = index */
    s.hole_lo = 290; s.hole_hi = 300; ADD(s);
    /* More key tiles than the bounds tables hold (gen/fa_space.lua: fwd_table, dq_table):
    ** the forward's 256 tiles of 32 or 48 keys and 191 of 64, fa_bwd_dq's 192 of 64 or 16.
    ** Past them, tiles take the per-element mask; a key hole lies there. */
    s = mk("tokkeys_17x12500", t, FA_LAYOUT_BSHD, 1, 17, 12500, Hq, Hkv, d);
    s.hole_lo = 9000; s.hole_hi = 9100; ADD(s);
    if (g->bwd) {
      /* More query tiles than a key block keeps bounds for (TABLE_MAX = 256 of 64 rows): the
      ** 257th takes the per-element mask. With positions the first 16384 queries come before
      ** every key and see nothing; the last 64 are block-causal against the 64 keys. */
      s = mk("tokmany_16448x64", t, FA_LAYOUT_BSHD, 1, 16448, 64, Hq, Hkv, d); ADD(s);
    }
  }
#undef ADD
  return n;
}

static tune_shape gemma(const char *name, int B, int Tq, int Tk, int H, int K, int d, int causal) {
  tune_shape s = mk(name, FA_DTYPE_BF16, FA_LAYOUT_BSHD, B, Tq, Tk, H, K, d);
  s.p.features = 0;
  s.p.causal = causal;
  return s;
}

int tune_grid(const char *name, tune_shape *out, int max) {
  int n = 0;
  tune_shape s;
#define PUT(x) do { if (n < max) out[n++] = x; } while (0)
  if (!strcmp(name, "seed") || !strcmp(name, "seed4")) {
    static const int hk[2][2] = {{32, 32}, {32, 8}};
    static const int Bs[4] = {1, 4, 8, 16};
    for (int h = 0; h < 2; ++h)
      for (int bi = 0; bi < 4; ++bi) {
        if (!strcmp(name, "seed4") && Bs[bi] != 4) continue;
        for (int S = 512; S <= 8192; S *= 2)
          for (int c = 1; c >= 0; --c) {
            char nm[64];
            snprintf(nm, sizeof nm, "seed_%dx%d", hk[h][0], hk[h][1]);
            s = gemma(nm, Bs[bi], S, S, hk[h][0], hk[h][1], 128, c);
            PUT(s);
          }
      }
  } else if (!strcmp(name, "d256")) {
    /* The anchors' d=256 rows: MQA 8/1 and MHA 16/16, batch 4. */
    static const int hk[2][2] = {{8, 1}, {16, 16}};
    for (int h = 0; h < 2; ++h)
      for (int S = 512; S <= 8192; S *= 2)
        for (int c = 1; c >= 0; --c) {
          char nm[64];
          snprintf(nm, sizeof nm, "d256_%dx%d", hk[h][0], hk[h][1]);
          s = gemma(nm, 4, S, S, hk[h][0], hk[h][1], 256, c);
          PUT(s);
        }
  } else if (!strcmp(name, "gemma")) {
    /* shared/workloads.md, as peer_bench.py --grid gemma states them. */
    s = gemma("pi0_train", 32, 867, 867, 8, 1, 256, 0); s.p.scale = 1.f / 16;
    s.p.features = FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS;
    s.nblocks = 3; s.blocks[0] = 816; s.blocks[1] = 1; s.blocks[2] = 50; s.hole_lo = 512; s.hole_hi = 768; PUT(s);
    s = gemma("pi05_train", 32, 1018, 1018, 8, 1, 256, 0); s.p.features = FA_FEAT_POSITIONS;
    s.nblocks = 2; s.blocks[0] = 968; s.blocks[1] = 50; PUT(s);
    s = gemma("pi0_prefill", 1, 816, 816, 8, 1, 256, 0); s.p.features = FA_FEAT_SEGMENTS;
    s.hole_lo = 512; s.hole_hi = 768; PUT(s);
    s = gemma("pi0_denoise", 1, 51, 867, 8, 1, 256, 0); s.p.features = FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS;
    s.nblocks = 3; s.blocks[0] = 816; s.blocks[1] = 1; s.blocks[2] = 50; s.hole_lo = 512; s.hole_hi = 768; PUT(s);
    s = gemma("paligemma_896", 8, 4160, 4160, 8, 1, 256, 0); s.p.features = FA_FEAT_POSITIONS;
    s.nblocks = 2; s.blocks[0] = 4096; s.blocks[1] = 64; PUT(s);
    s = gemma("gemma2_2b_global", 4, 8192, 8192, 8, 4, 256, 1); s.p.softcap = 50.f; PUT(s);
    s = gemma("gemma2_2b_local", 4, 8192, 8192, 8, 4, 256, 1); s.p.softcap = 50.f; s.p.window_left = 4095; PUT(s);
    s = gemma("gemma2_27b", 2, 8192, 8192, 32, 16, 128, 1); s.p.softcap = 50.f; s.p.scale = 1.f / 12; PUT(s);
    s = gemma("gemma3_12b_local", 1, 32768, 32768, 16, 8, 256, 1); s.p.window_left = 1023; PUT(s);
    s = gemma("gemma_7b", 8, 4096, 4096, 16, 16, 256, 1); PUT(s);
    s = gemma("recurrentgemma", 1, 8192, 8192, 10, 1, 256, 1); s.p.window_left = 2047; PUT(s);
    for (int i = 0; i < n; ++i) if (out[i].p.head_dim == 256) out[i].p.scale = 1.f / 16;
  }
#undef PUT
  return n;
}

void tune_shard(const tune_shape *s, int n, int parts, int *owner) {
  if (parts < 1) parts = 1;
  if (parts > 64) parts = 64;
  double *cost = malloc(((size_t)n + 1) * sizeof *cost);
  char *done = calloc((size_t)n + 1, 1);
  if (!cost || !done) {  /* no memory: round robin, still complete and disjoint */
    for (int i = 0; i < n; ++i) owner[i] = i % parts;
    free(cost);
    free(done);
    return;
  }
  /* Once per shape: with positions or segments the pair count walks every (q, k). */
  for (int i = 0; i < n; ++i) cost[i] = (double)tune_visible_pairs(&s[i]) * s[i].p.heads_q * s[i].p.head_dim;
  double load[64] = {0};
  for (int k = 0; k < n; ++k) {
    int pick = -1;
    for (int i = 0; i < n; ++i)  /* the costliest shape not yet given out */
      if (!done[i] && (pick < 0 || cost[i] > cost[pick])) pick = i;
    int w = 0;
    for (int j = 1; j < parts; ++j)
      if (load[j] < load[w]) w = j;
    owner[pick] = w;
    load[w] += cost[pick];
    done[pick] = 1;
  }
  free(cost);
  free(done);
}

void tune_group_problem(const fa_problem *p, int tq, int tk, fa_problem *out) {
  fa_problem_init(out, p->dtype, FA_LAYOUT_BSHD, 1, tq, tk, p->heads_q / p->heads_kv, 1, p->head_dim);
  out->scale = p->scale;
  out->softcap = p->softcap;
  out->causal = p->causal;
  out->window_left = p->window_left;
  out->window_right = p->window_right;
  out->features = p->features;
}
