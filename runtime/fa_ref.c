/*
** fa_ref.c -- the fp64 CPU reference of attention (see fa_ref.h).
** Plain loops over batch, query and head, one score row of length Tk at a
** time: not fast, but plainly right, which is its job. The mask follows fa.h's
** rules word for word. The backward recomputes P from q and k rather than
** trusting a saved LSE, so it checks the kernels' forward and backward
** independently.
*/
#include "fa_ref.h"

#include <math.h>
#include <stdlib.h>

#define FA_REF_MASK_FEATURES_ (FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS)

/* Every declared mask feature has its data; without it nothing is visible. */
static int masks_present(const fa_problem *p, const fa_ref_masks *m)
{
  uint32_t f = p->features;
  if (!(f & FA_REF_MASK_FEATURES_))
    return 1;
  if (!m)
    return 0;
  if ((f & FA_FEAT_POSITIONS) && (!m->q_pos || !m->k_pos))
    return 0;
  if ((f & FA_FEAT_SEGMENTS) && (!m->q_seg || !m->k_seg))
    return 0;
  if ((f & FA_FEAT_SEQLENS) && (!m->seqlens_q || !m->seqlens_k))
    return 0;
  return 1;
}

static int problem_ok(const fa_problem *p, const fa_ref_masks *m)
{
  if (!p)
    return 0;
  if (p->batch <= 0 || p->seqlen_q <= 0 || p->seqlen_k <= 0 || p->heads_q <= 0 ||
      p->heads_kv <= 0 || p->head_dim <= 0 || p->heads_q % p->heads_kv != 0)
    return 0;
  return masks_present(p, m);
}

/* seqlens beyond the buffers are clamped so we never index past them. */
static int64_t clamp_len(int32_t len, int32_t extent)
{
  if (len < 0)
    return 0;
  return len > extent ? extent : len;
}

int fa_ref_visible(const fa_problem *p, const fa_ref_masks *m, int b, int i, int j)
{
  if (!p || !masks_present(p, m))
    return 0;
  if (b < 0 || b >= p->batch || i < 0 || i >= p->seqlen_q || j < 0 || j >= p->seqlen_k)
    return 0;

  uint32_t f = p->features;
  int64_t tq = p->seqlen_q, tk = p->seqlen_k;
  int64_t lq = tq, lk = tk;
  if (f & FA_FEAT_SEQLENS) {
    lq = clamp_len(m->seqlens_q[b], p->seqlen_q);
    lk = clamp_len(m->seqlens_k[b], p->seqlen_k);
  }
  if (i >= lq || j >= lk)
    return 0;

  /* The key aligned with query i (bottom-right, as FlashAttention). */
  int64_t diag = (int64_t)i + (lk - lq);
  if (p->causal && j > diag)
    return 0;
  if (p->window_left >= 0 && j < diag - p->window_left)
    return 0;
  if (p->window_right >= 0 && j > diag + p->window_right)
    return 0;

  if ((f & FA_FEAT_POSITIONS) && m->k_pos[b * tk + j] > m->q_pos[b * tq + i])
    return 0;
  if (f & FA_FEAT_SEGMENTS) {
    int32_t seg = m->q_seg[b * tq + i];
    if (seg < 0 || m->k_seg[b * tk + j] != seg)
      return 0;
  }
  return 1;
}

int64_t fa_ref_visible_pairs(const fa_problem *p, const fa_ref_masks *m)
{
  if (!problem_ok(p, m))
    return 0;
  int64_t n = 0;
  for (int b = 0; b < p->batch; b++)
    for (int i = 0; i < p->seqlen_q; i++)
      for (int j = 0; j < p->seqlen_k; j++)
        n += fa_ref_visible(p, m, b, i, j);
  return n;
}

/* Element offset of (b, s, h, 0) under strides st. */
static int64_t at(const int64_t st[3], int64_t b, int64_t s, int64_t h)
{
  return b * st[0] + s * st[1] + h * st[2];
}

/* Zeroes only the elements valid indices address: padding between rows or
** heads may belong to someone else. */
static void zero_tensor(double *t, const fa_problem *p, const int64_t st[3], int32_t seqlen,
                        int32_t heads)
{
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t s = 0; s < seqlen; s++)
      for (int64_t h = 0; h < heads; h++) {
        double *row = t + at(st, b, s, h);
        for (int x = 0; x < p->head_dim; x++)
          row[x] = 0.0;
      }
}

static void visible_row(const fa_problem *p, const fa_ref_masks *m, int b, int i, char *vis)
{
  for (int j = 0; j < p->seqlen_k; j++)
    vis[j] = (char)fa_ref_visible(p, m, b, i, j);
}

/* Softmax weights of one query row: P[j] over visible keys (0 elsewhere) and
** dcap[j] = d(capped score)/d(raw score) for the backward. kb points at
** (b, 0, kv head). Returns the row's LSE, or -INFINITY if it sees no key. */
static double row_probs(const fa_problem *p, const double *qrow, const double *kb,
                        const char *vis, double *P, double *dcap)
{
  const int d = p->head_dim;
  const double scale = p->scale, cap = p->softcap;
  double mx = -INFINITY;
  for (int j = 0; j < p->seqlen_k; j++) {
    P[j] = 0.0;
    dcap[j] = 0.0;
    if (!vis[j])
      continue;
    const double *krow = kb + (int64_t)j * p->k_stride[1];
    double dot = 0.0;
    for (int x = 0; x < d; x++)
      dot += qrow[x] * krow[x];
    double s = scale * dot;
    dcap[j] = 1.0;
    if (cap > 0.0) {
      double t = tanh(s / cap);
      s = cap * t;
      dcap[j] = 1.0 - t * t;
    }
    P[j] = s;
    if (s > mx)
      mx = s;
  }
  if (mx == -INFINITY)
    return -INFINITY;

  /* Stable softmax: subtract the row max before exponentiating. */
  double sum = 0.0;
  for (int j = 0; j < p->seqlen_k; j++)
    if (vis[j]) {
      P[j] = exp(P[j] - mx);
      sum += P[j];
    }
  for (int j = 0; j < p->seqlen_k; j++)
    P[j] /= sum;
  return mx + log(sum);
}

/* out[x] = sum_j P[j] * v[j][x]: the output row, also recomputed by the backward. */
static void row_output(const fa_problem *p, const double *vb, const char *vis, const double *P,
                       double *out)
{
  for (int x = 0; x < p->head_dim; x++)
    out[x] = 0.0;
  for (int j = 0; j < p->seqlen_k; j++) {
    if (!vis[j])
      continue;
    const double *vrow = vb + (int64_t)j * p->v_stride[1];
    for (int x = 0; x < p->head_dim; x++)
      out[x] += P[j] * vrow[x];
  }
}

typedef struct scratch {
  char *vis;
  double *P, *dcap, *orow;
} scratch;

static int scratch_alloc(scratch *s, const fa_problem *p)
{
  s->vis = malloc((size_t)p->seqlen_k);
  s->P = malloc(sizeof(double) * (size_t)p->seqlen_k);
  s->dcap = malloc(sizeof(double) * (size_t)p->seqlen_k);
  s->orow = malloc(sizeof(double) * (size_t)p->head_dim);
  return s->vis && s->P && s->dcap && s->orow;
}

static void scratch_free(scratch *s)
{
  free(s->vis);
  free(s->P);
  free(s->dcap);
  free(s->orow);
}

int fa_ref_forward(const fa_problem *p, const fa_ref_masks *m, const double *q,
                   const double *k, const double *v, double *o, double *lse)
{
  if (!problem_ok(p, m) || !q || !k || !v || !o)
    return -1;
  scratch s;
  if (!scratch_alloc(&s, p)) {
    scratch_free(&s);
    return -1;
  }
  const int group = p->heads_q / p->heads_kv;

  for (int b = 0; b < p->batch; b++)
    for (int i = 0; i < p->seqlen_q; i++) {
      visible_row(p, m, b, i, s.vis);
      for (int h = 0; h < p->heads_q; h++) {
        const int hk = h / group;
        const double *qrow = q + at(p->q_stride, b, i, h);
        double l = row_probs(p, qrow, k + at(p->k_stride, b, 0, hk), s.vis, s.P, s.dcap);
        /* Computed into scratch first, in case o overlaps q. */
        row_output(p, v + at(p->v_stride, b, 0, hk), s.vis, s.P, s.orow);
        double *orow = o + at(p->o_stride, b, i, h);
        for (int x = 0; x < p->head_dim; x++)
          orow[x] = s.orow[x];
        if (lse)
          lse[((int64_t)b * p->heads_q + h) * p->seqlen_q + i] = l;
      }
    }
  scratch_free(&s);
  return 0;
}

int fa_ref_backward(const fa_problem *p, const fa_ref_masks *m, const double *q,
                    const double *k, const double *v, const double *dout,
                    double *dq, double *dk, double *dv)
{
  if (!problem_ok(p, m) || !q || !k || !v || !dout || !dq || !dk || !dv)
    return -1;
  scratch s;
  if (!scratch_alloc(&s, p)) {
    scratch_free(&s);
    return -1;
  }
  const int group = p->heads_q / p->heads_kv;
  const int d = p->head_dim;

  /* dk and dv accumulate over query heads and rows, so start from zero. */
  zero_tensor(dq, p, p->q_stride, p->seqlen_q, p->heads_q);
  zero_tensor(dk, p, p->k_stride, p->seqlen_k, p->heads_kv);
  zero_tensor(dv, p, p->v_stride, p->seqlen_k, p->heads_kv);

  for (int b = 0; b < p->batch; b++)
    for (int i = 0; i < p->seqlen_q; i++) {
      visible_row(p, m, b, i, s.vis);
      for (int h = 0; h < p->heads_q; h++) {
        const int hk = h / group;
        const double *qrow = q + at(p->q_stride, b, i, h);
        const double *kb = k + at(p->k_stride, b, 0, hk);
        const double *vb = v + at(p->v_stride, b, 0, hk);
        const double *dorow = dout + at(p->o_stride, b, i, h);
        double *dqrow = dq + at(p->q_stride, b, i, h);

        if (row_probs(p, qrow, kb, s.vis, s.P, s.dcap) == -INFINITY)
          continue; /* sees no key: contributes nothing */
        row_output(p, vb, s.vis, s.P, s.orow);
        double D = 0.0;
        for (int x = 0; x < d; x++)
          D += dorow[x] * s.orow[x];

        for (int j = 0; j < p->seqlen_k; j++) {
          if (!s.vis[j])
            continue;
          const double *krow = kb + (int64_t)j * p->k_stride[1];
          const double *vrow = vb + (int64_t)j * p->v_stride[1];
          double *dkrow = dk + at(p->k_stride, b, j, hk);
          double *dvrow = dv + at(p->v_stride, b, j, hk);
          double dp = 0.0;
          for (int x = 0; x < d; x++)
            dp += dorow[x] * vrow[x];
          /* Softmax, then the softcap's chain rule, then the scale. */
          double ds = s.P[j] * (dp - D) * s.dcap[j] * p->scale;
          for (int x = 0; x < d; x++) {
            dqrow[x] += ds * krow[x];
            dkrow[x] += ds * qrow[x];
            dvrow[x] += s.P[j] * dorow[x];
          }
        }
      }
    }
  scratch_free(&s);
  return 0;
}
