/*
** fa_ref.h -- the fp64 CPU reference of attention, forward and backward.
** Built as the small library fa-ref beside libfa-runtime; the tests, fa-tune's
** correctness sweeps and the benchmark use it. It follows fa.h's mask rules
** exactly (see fa_problem in fa.h and docs/masks.md).
*/
#ifndef FA_REF_H
#define FA_REF_H

#include <stdint.h>
#include "fa.h"

/* Host copies of the per-token mask data; a pointer is read only when the
** problem declares its feature (FA_FEAT_POSITIONS, _SEGMENTS, _SEQLENS). */
typedef struct fa_ref_masks {
  const int32_t *q_pos, *k_pos; /* [B, Tq], [B, Tk] */
  const int32_t *q_seg, *k_seg; /* [B, Tq], [B, Tk] */
  const int32_t *seqlens_q, *seqlens_k; /* [B] */
} fa_ref_masks;

/* 1 if key j is visible to query i of batch row b, else 0. */
int fa_ref_visible(const fa_problem *p, const fa_ref_masks *m, int b, int i, int j);

/* Visible (q, k) pairs summed over the batch, for one head. */
int64_t fa_ref_visible_pairs(const fa_problem *p, const fa_ref_masks *m);

/* Forward. q, k, v, o are laid out with p's strides (elements). lse is
** [B, Hq, Tq] contiguous, natural log, -inf for a row that sees no key; it may
** be NULL. Every element of o (within the strides' footprint of valid indices)
** and lse is written: rows with no visible key, or past seqlens_q, get 0 / -inf.
** Returns 0, or -1 if p is NULL or malformed (the caller validates first). */
int fa_ref_forward(const fa_problem *p, const fa_ref_masks *m, const double *q,
                   const double *k, const double *v, double *o, double *lse);

/* Backward from dout (o strides): dq, dk, dv with q, k, v strides. dk and dv
** are summed over each kv head's query group (GQA). Rows that see no key
** contribute nothing. Returns 0 or -1 as fa_ref_forward. */
int fa_ref_backward(const fa_problem *p, const fa_ref_masks *m, const double *q,
                    const double *k, const double *v, const double *dout,
                    double *dq, double *dk, double *dv);

#endif
