/*
** tune_dev.c -- fa-tune's device helpers: the driver, random inputs, uploads.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fa_ctx.h"
#include "fa_gen.h"
#include "fa_int.h"
#include "tune.h"

const fa_cu *tune_cu;
static CUcontext tune_ctx;

int tune_dev_open(int device, char *name, size_t n) {
  char why[512];
  tune_cu = fa_cu_load(why, sizeof why);
  if (!tune_cu) { snprintf(name, n, "%s", why); return -1; }
  CUdevice dev;
  if (tune_cu->cuDeviceGet(&dev, device) || tune_cu->cuDevicePrimaryCtxRetain(&tune_ctx, dev) ||
      tune_cu->cuCtxSetCurrent(tune_ctx)) {
    snprintf(name, n, "device %d cannot be opened", device);
    return -1;
  }
  tune_cu->cuDeviceGetName(name, (int)n, dev);
  return 0;
}

double tune_bits_to_double(uint16_t x, fa_dtype t) {
  if (t == FA_DTYPE_BF16) {
    uint32_t u = (uint32_t)x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  int e = (x >> 10) & 31, m = x & 1023, sgn = x >> 15;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
  return sgn ? -v : v;
}

uint16_t tune_double_to_bits(double x, fa_dtype t) {
  if (t == FA_DTYPE_BF16) {
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
  }
  /* fp16 for the small normal values fa-tune draws (|x| < 8). */
  double a = fabs(x);
  uint16_t sgn = x < 0 ? 0x8000 : 0;
  if (a < ldexp(1, -14)) return sgn | (uint16_t)lrint(a * ldexp(1, 24));
  int e;
  double m = frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
  long mm = lrint(m * 2048) - 1024;
  if (mm == 1024) { mm = 0; e++; }
  return sgn | (uint16_t)((e + 14) << 10) | (uint16_t)mm;
}

static uint64_t rng_next(uint64_t *s) {
  *s += 0x9e3779b97f4a7c15ull;
  uint64_t z = *s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double rng_normal(uint64_t *s) {
  double u1 = ((rng_next(s) >> 11) + 1.0) / 9007199254740993.0;
  double u2 = (rng_next(s) >> 11) / 9007199254740992.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int upload(CUdeviceptr *dst, const void *src, size_t bytes) {
  if (tune_cu->cuMemAlloc(dst, bytes ? bytes : 16)) return -1;
  return src && bytes ? (tune_cu->cuMemcpyHtoD(*dst, src, bytes) ? -1 : 0) : 0;
}

int tune_upload16(CUdeviceptr *dst, const double *src, size_t n, fa_dtype t) {
  uint16_t *h = malloc(n * 2);
  if (!h) return -1;
  for (size_t i = 0; i < n; ++i) h[i] = tune_double_to_bits(src[i], t);
  int r = upload(dst, h, n * 2);
  free(h);
  return r;
}

#define FILL_BLOCK (1u << 20) /* elements of normals drawn once per tensor */
/* Timing inputs: one block of normals, each chunk of it with a fresh random
** sign per element, so no two rows repeat. (A repeated block, with dO read
** from the Q buffer, ran the MQA d256 backward 5-9% faster than independent
** inputs do on the H200: docs/PERF.md §H.1.) */
static int fill_random(CUdeviceptr *dst, size_t n, fa_dtype t, uint64_t seed) {
  uint16_t *h = malloc(FILL_BLOCK * 2), *c = malloc(FILL_BLOCK * 2);
  if (!h || !c || tune_cu->cuMemAlloc(dst, n * 2)) { free(h); free(c); return -1; }
  uint64_t st = seed;
  for (size_t i = 0; i < FILL_BLOCK; ++i) h[i] = tune_double_to_bits(rng_normal(&st), t);
  int r = 0;
  for (size_t at = 0; at < n && !r; at += FILL_BLOCK) {
    const size_t m = n - at < FILL_BLOCK ? n - at : FILL_BLOCK;
    for (size_t i = 0; i < m; i += 64) {
      const uint64_t bits = rng_next(&st);
      for (size_t e = 0; e < 64 && i + e < m; ++e) c[i + e] = h[i + e] ^ (uint16_t)(((bits >> e) & 1) << 15);
    }
    r = tune_cu->cuMemcpyHtoD(*dst + at * 2, c, m * 2) ? -1 : 0;
  }
  free(h);
  free(c);
  return r;
}

int tune_download16(CUdeviceptr src, size_t n, fa_dtype t, double *out) {
  uint16_t *h = malloc(n * 2);
  if (!h) return -1;
  int r = tune_cu->cuMemcpyDtoH(h, src, n * 2) ? -1 : 0;
  for (size_t i = 0; r == 0 && i < n; ++i) out[i] = tune_bits_to_double(h[i], t);
  free(h);
  return r;
}

int64_t tune_visible_pairs(const tune_shape *s) {
  const fa_problem *p = &s->p;
  if (!(p->features & (FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS))) {
    /* Index rules only: count each row's key interval. */
    int64_t n = 0;
    const int64_t off = p->seqlen_k - p->seqlen_q;
    for (int64_t i = 0; i < p->seqlen_q; ++i) {
      int64_t lo = 0, hi = p->seqlen_k - 1;
      if (p->causal && i + off < hi) hi = i + off;
      if (p->window_right >= 0 && i + off + p->window_right < hi) hi = i + off + p->window_right;
      if (p->window_left >= 0 && i + off - p->window_left > lo) lo = i + off - p->window_left;
      if (hi >= lo) n += hi - lo + 1;
    }
    return n * p->batch;
  }
  tune_data d;
  if (tune_data_make(&d, s, 1, 0)) return 0;
  int64_t n = fa_ref_visible_pairs(&s->p, &d.masks);
  tune_data_free(&d);
  return n;
}

int tune_data_make(tune_data *d, const tune_shape *s, uint64_t seed, int upload_it) {
  memset(d, 0, sizeof *d);
  d->shape = s;
  const fa_problem *p = &s->p;
  const int B = p->batch, Tq = p->seqlen_q, Tk = p->seqlen_k;
  d->nq = (size_t)fa_tensor_extent(p->q_stride, B, Tq, p->heads_q, p->head_dim);
  d->nk = (size_t)fa_tensor_extent(p->k_stride, B, Tk, p->heads_kv, p->head_dim);
  d->nv = (size_t)fa_tensor_extent(p->v_stride, B, Tk, p->heads_kv, p->head_dim);
  d->no = (size_t)fa_tensor_extent(p->o_stride, B, Tq, p->heads_q, p->head_dim);
  d->nlse = (size_t)B * p->heads_q * Tq;
  if (upload_it == 1) {
    d->q = malloc(d->nq * 8); d->k = malloc(d->nk * 8); d->v = malloc(d->nv * 8);
    if (!d->q || !d->k || !d->v) return -1;
    uint64_t st = seed;
    /* Inputs are exactly representable, so the reference sees what the GPU sees. */
    for (size_t i = 0; i < d->nq; ++i) d->q[i] = tune_bits_to_double(tune_double_to_bits(rng_normal(&st), p->dtype), p->dtype);
    for (size_t i = 0; i < d->nk; ++i) d->k[i] = tune_bits_to_double(tune_double_to_bits(rng_normal(&st), p->dtype), p->dtype);
    for (size_t i = 0; i < d->nv; ++i) d->v[i] = tune_bits_to_double(tune_double_to_bits(rng_normal(&st), p->dtype), p->dtype);
  }
  if (p->features & FA_FEAT_POSITIONS) {
    d->q_pos = malloc((size_t)B * Tq * 4); d->k_pos = malloc((size_t)B * Tk * 4);
    /* Block-causal like openpi: block index of each key; queries are the last Tq tokens, and
    ** where there are more queries than keys the first ones come before every key (-1). */
    for (int b = 0; b < B; ++b) {
      for (int i = 0; i < Tq; ++i) d->q_pos[(size_t)b * Tq + i] = -1;
      for (int j = 0; j < Tk; ++j) {
        int blk = 0, acc = 0;
        for (int i = 0; i < s->nblocks; ++i) { acc += s->blocks[i]; if (j >= acc) blk = i + 1; }
        if (s->nblocks == 0) blk = j;
        d->k_pos[(size_t)b * Tk + j] = blk;
        int qi = j - (Tk - Tq);
        if (qi >= 0) d->q_pos[(size_t)b * Tq + qi] = blk;
      }
    }
  }
  if (p->features & FA_FEAT_SEGMENTS) {
    d->q_seg = malloc((size_t)B * Tq * 4); d->k_seg = malloc((size_t)B * Tk * 4);
    for (int b = 0; b < B; ++b) {
      for (int j = 0; j < Tk; ++j) d->k_seg[(size_t)b * Tk + j] = (j >= s->hole_lo && j < s->hole_hi) ? -1 : 0;
      for (int i = 0; i < Tq; ++i) d->q_seg[(size_t)b * Tq + i] = (i >= s->qhole_lo && i < s->qhole_hi) ? -1 : 0;
    }
  }
  if (p->features & FA_FEAT_SEQLENS) {
    d->seqlens_q = malloc((size_t)B * 4); d->seqlens_k = malloc((size_t)B * 4);
    for (int b = 0; b < B; ++b) {
      d->seqlens_q[b] = s->seqlen_q[b % 4] ? s->seqlen_q[b % 4] : Tq;
      d->seqlens_k[b] = s->seqlen_k[b % 4] ? s->seqlen_k[b % 4] : Tk;
    }
  }
  d->masks = (fa_ref_masks){d->q_pos, d->k_pos, d->q_seg, d->k_seg, d->seqlens_q, d->seqlens_k};
  if (!upload_it) return 0;
  size_t e = fa_dtype_size(p->dtype);
  if (upload_it == 2) {
    /* Timing only: no host copy (normals cost seconds at 8K); dO too, for the backward. */
    if (fill_random(&d->dq, d->nq, p->dtype, seed) || fill_random(&d->dk, d->nk, p->dtype, seed + 1) ||
        fill_random(&d->dv, d->nv, p->dtype, seed + 2) || fill_random(&d->ddout, d->no, p->dtype, seed + 3))
      return -1;
  } else if (tune_upload16(&d->dq, d->q, d->nq, p->dtype) || tune_upload16(&d->dk, d->k, d->nk, p->dtype) ||
             tune_upload16(&d->dv, d->v, d->nv, p->dtype))
    return -1;
  if (upload(&d->do_, NULL, d->no * e) || upload(&d->dlse, NULL, d->nlse * 4)) return -1;
  if (d->q_pos && (upload(&d->dq_pos, d->q_pos, (size_t)B * Tq * 4) || upload(&d->dk_pos, d->k_pos, (size_t)B * Tk * 4)))
    return -1;
  if (d->q_seg && (upload(&d->dq_seg, d->q_seg, (size_t)B * Tq * 4) || upload(&d->dk_seg, d->k_seg, (size_t)B * Tk * 4)))
    return -1;
  if (d->seqlens_q && (upload(&d->dseqlens_q, d->seqlens_q, (size_t)B * 4) || upload(&d->dseqlens_k, d->seqlens_k, (size_t)B * 4)))
    return -1;
  return 0;
}

void tune_data_free(tune_data *d) {
  free(d->q); free(d->k); free(d->v);
  free(d->q_pos); free(d->k_pos); free(d->q_seg); free(d->k_seg); free(d->seqlens_q); free(d->seqlens_k);
  CUdeviceptr *ptrs[] = {&d->dq, &d->dk, &d->dv, &d->do_, &d->ddout, &d->dlse, &d->dq_pos, &d->dk_pos,
                         &d->dq_seg, &d->dk_seg, &d->dseqlens_q, &d->dseqlens_k};
  for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; ++i)
    if (*ptrs[i] && tune_cu) tune_cu->cuMemFree(*ptrs[i]);
  memset(d, 0, sizeof *d);
}

void tune_data_args(const tune_data *d, fa_fwd_args *a) {
  fa_fwd_args_init(a);
  a->q = (const void *)d->dq; a->k = (const void *)d->dk; a->v = (const void *)d->dv;
  a->o = (void *)d->do_; a->lse = (float *)d->dlse;
  a->q_pos = (const int32_t *)d->dq_pos; a->k_pos = (const int32_t *)d->dk_pos;
  a->q_seg = (const int32_t *)d->dq_seg; a->k_seg = (const int32_t *)d->dk_seg;
  a->seqlens_q = (const int32_t *)d->dseqlens_q; a->seqlens_k = (const int32_t *)d->dseqlens_k;
}

void tune_bwd_workspace(const fa_plan *plan, CUdeviceptr *ws, size_t *bytes, fa_bwd_args *b) {
  size_t need = 0;
  fa_plan_workspace(plan, NULL, &need);
  if (need > *bytes) {
    if (*ws) tune_cu->cuMemFree(*ws);
    *ws = 0;
    *bytes = tune_cu->cuMemAlloc(ws, need) ? 0 : need;
  }
  b->fwd.workspace = (void *)(uintptr_t)*ws;
  b->fwd.workspace_bytes = *bytes;
}

fa_status tune_gen_open(fa_context *ctx, struct fa_gen **gen) {
  fa_status s = fa_gen_open(NULL, gen);
  if (s == FA_OK) fa_gen_set_smem_limit(*gen, ctx->arch, ctx->smem_optin);
  return s;
}
