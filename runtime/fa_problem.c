/*
** fa_problem.c -- the problem descriptor: defaults, packed strides, validation;
** and the *_init functions of the other public structs.
**
** fa_problem_check() needs no GPU. It checks in a fixed order and reports the
** first failure, one status per class of mistake, with a message that names
** the field and its value.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "fa_int.h"

/* Limits of fa_problem_check(). */
#define FA_MAX_SEQLEN (INT64_C(1) << 26)
#define FA_MAX_BATCH (INT64_C(1) << 20)
#define FA_MAX_HEADS (INT64_C(1) << 16)
#define FA_MAX_WINDOW (INT64_C(1) << 30)     /* windows must be < this */
#define FA_MAX_BYTES (INT64_C(1) << 62)      /* a tensor must span < this many bytes */
#define FA_MAX_LSE_ROWS (INT64_C(1) << 31)   /* B*Hq*Tq: LSE rows are int32-indexed */
#define FA_STRIDE_ALIGN 8                    /* elements: 16 bytes of bf16/fp16 */

/* ---- Helpers (fa_int.h) ---------------------------------------------------- */

int fa_problem_group(const fa_problem *p) {
  if (!p || p->heads_kv <= 0) return 0;
  return p->heads_q / p->heads_kv;
}

size_t fa_dtype_size(fa_dtype t) {
  switch (t) {
    case FA_DTYPE_BF16:
    case FA_DTYPE_FP16: return 2;
  }
  return 0;
}

const char *fa_dtype_name(fa_dtype t) {
  switch (t) {
    case FA_DTYPE_BF16: return "bf16";
    case FA_DTYPE_FP16: return "fp16";
  }
  return "?";
}

/* Highest element offset + 1 of a [b, s, h, d] tensor with these strides
** (d contiguous). 0 if any extent is <= 0; -1 if a stride of a dimension with
** extent > 1 is negative, or the arithmetic overflows int64. */
int64_t fa_tensor_extent(const int64_t stride[3], int64_t b, int64_t s, int64_t h, int64_t d) {
  if (!stride) return -1;
  if (b <= 0 || s <= 0 || h <= 0 || d <= 0) return 0;
  const int64_t ext[3] = {b, s, h};
  int64_t off = d; /* (d - 1) + 1 */
  for (int i = 0; i < 3; i++) {
    if (ext[i] == 1) continue; /* the stride is never used */
    if (stride[i] < 0) return -1;
    int64_t t;
    if (__builtin_mul_overflow(ext[i] - 1, stride[i], &t)) return -1;
    if (__builtin_add_overflow(off, t, &off)) return -1;
  }
  return off;
}

/* ---- *_init ---------------------------------------------------------------- */

void fa_context_options_init(fa_context_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->struct_size = sizeof *opt;
  opt->device = 0;
  opt->arch = 80;
}

void fa_plan_options_init(fa_plan_options *opt) {
  if (!opt) return;
  memset(opt, 0, sizeof *opt);
  opt->struct_size = sizeof *opt;
}

void fa_fwd_args_init(fa_fwd_args *a) {
  if (!a) return;
  memset(a, 0, sizeof *a);
  a->struct_size = sizeof *a;
}

void fa_bwd_args_init(fa_bwd_args *a) {
  if (!a) return;
  memset(a, 0, sizeof *a);
  a->struct_size = sizeof *a;
  fa_fwd_args_init(&a->fwd);
}

/* x*y*z, saturating at INT64_MAX (fa_problem_check rejects such sizes before
** it looks at strides, so a saturated stride is never judged). */
static int64_t mul3_sat(int64_t x, int64_t y, int64_t z) {
  int64_t t;
  if (__builtin_mul_overflow(x, y, &t) || __builtin_mul_overflow(t, z, &t)) return INT64_MAX;
  return t;
}

static void packed_strides(int64_t st[3], fa_layout layout, int64_t s, int64_t h, int64_t d) {
  if (layout == FA_LAYOUT_BSHD) {
    st[0] = mul3_sat(s, h, d);
    st[1] = mul3_sat(h, d, 1);
    st[2] = d;
  } else { /* FA_LAYOUT_BHSD */
    st[0] = mul3_sat(h, s, d);
    st[1] = d;
    st[2] = mul3_sat(s, d, 1);
  }
}

fa_status fa_problem_init(fa_problem *p, fa_dtype dtype, fa_layout layout,
                          int32_t batch, int32_t seqlen_q, int32_t seqlen_k,
                          int32_t heads_q, int32_t heads_kv, int32_t head_dim) {
  if (!p) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_problem_init: p is NULL");
  memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->dtype = dtype;
  p->batch = batch;
  p->seqlen_q = seqlen_q;
  p->seqlen_k = seqlen_k;
  p->heads_q = heads_q;
  p->heads_kv = heads_kv;
  p->head_dim = head_dim;
  p->scale = head_dim > 0 ? (float)(1.0 / sqrt((double)head_dim)) : 0.0f;
  p->softcap = 0.0f;
  p->causal = 0;
  p->window_left = -1;
  p->window_right = -1;
  p->features = 0;
  if (layout != FA_LAYOUT_BSHD && layout != FA_LAYOUT_BHSD) {
    /* Strides stay 0, so fa_problem_check() fails too if the caller goes on. */
    return fa_err(NULL, FA_ERR_STRIDE,
                  "layout (%d) is neither FA_LAYOUT_BSHD (0) nor FA_LAYOUT_BHSD (1)",
                  (int)layout);
  }
  packed_strides(p->q_stride, layout, seqlen_q, heads_q, head_dim);
  packed_strides(p->o_stride, layout, seqlen_q, heads_q, head_dim);
  packed_strides(p->k_stride, layout, seqlen_k, heads_kv, head_dim);
  packed_strides(p->v_stride, layout, seqlen_k, heads_kv, head_dim);
  return FA_OK;
}

/* ---- fa_problem_check ------------------------------------------------------ */

static const char *const dim_name[3] = {"batch", "seq", "head"};

static fa_status check_size(fa_context *ctx, const char *field, int32_t v, int64_t max) {
  if (v <= 0) return fa_err(ctx, FA_ERR_SIZE, "%s (%d) must be positive", field, (int)v);
  if ((int64_t)v > max)
    return fa_err(ctx, FA_ERR_SIZE, "%s (%d) exceeds the maximum %lld", field, (int)v,
                  (long long)max);
  return FA_OK;
}

/* Strides of one tensor [b, s, h, d] with d contiguous:
**  - every stride positive (FA_ERR_STRIDE);
**  - the stride of every dimension with extent > 1 a multiple of 8 elements, so
**    rows that start 16-byte aligned stay aligned (FA_ERR_ALIGNMENT);
**  - no two index tuples share an element: sorted by stride, each dimension's
**    stride is >= the span of the ones inside it, starting from head_dim
**    (FA_ERR_STRIDE).
** A dimension of extent 1 is never stepped over, so its stride may be any
** positive value: it is skipped by the alignment and overlap checks. */
static fa_status check_strides(fa_context *ctx, const char *t, const int64_t st[3],
                               const int64_t ext[3], const char *const ext_name[3],
                               int64_t d) {
  for (int i = 0; i < 3; i++)
    if (st[i] <= 0)
      return fa_err(ctx, FA_ERR_STRIDE, "%s_stride[%d] (%s stride, %lld) must be positive", t,
                    i, dim_name[i], (long long)st[i]);
  for (int i = 0; i < 3; i++)
    if (ext[i] > 1 && st[i] % FA_STRIDE_ALIGN != 0)
      return fa_err(ctx, FA_ERR_ALIGNMENT,
                    "%s_stride[%d] (%s stride, %lld) is not a multiple of %d elements "
                    "(16 bytes)", t, i, dim_name[i], (long long)st[i], FA_STRIDE_ALIGN);
  int order[3] = {0, 1, 2}; /* by stride, then by index: a stable insertion sort */
  for (int i = 1; i < 3; i++)
    for (int j = i; j > 0 && st[order[j - 1]] > st[order[j]]; j--) {
      int x = order[j]; order[j] = order[j - 1]; order[j - 1] = x;
    }
  int64_t span = d;   /* elements covered by the dimensions inside */
  int inner = -1;     /* the dimension that set span; -1: head_dim */
  for (int k = 0; k < 3; k++) {
    int i = order[k];
    if (ext[i] == 1) continue;
    if (st[i] < span) {
      if (inner < 0)
        return fa_err(ctx, FA_ERR_STRIDE,
                      "%s_stride[%d] (%s stride, %lld) is smaller than head_dim (%lld): "
                      "rows overlap", t, i, dim_name[i], (long long)st[i], (long long)d);
      return fa_err(ctx, FA_ERR_STRIDE,
                    "%s_stride[%d] (%s stride, %lld) overlaps %s_stride[%d] (%lld) x %s (%lld) "
                    "= %lld elements", t, i, dim_name[i], (long long)st[i], t, inner,
                    (long long)st[inner], ext_name[inner], (long long)ext[inner],
                    (long long)span);
    }
    /* Saturating: a later stride (an int64) below a span past INT64_MAX is a
    ** genuine overlap; the total is checked for overflow afterwards. */
    if (__builtin_mul_overflow(st[i], ext[i], &span)) span = INT64_MAX;
    inner = i;
  }
  return FA_OK;
}

fa_status fa_problem_check(fa_context *ctx, const fa_problem *p) {
  fa_status s;
  if (!p) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "problem is NULL");
  /* Only this exact size for now. When fa_problem grows, sizes of earlier
  ** versions will be accepted too, with the missing trailing fields taking
  ** their fa_problem_init() defaults (docs/ABI.md). */
  if (p->struct_size != sizeof(fa_problem))
    return fa_err(ctx, FA_ERR_STRUCT_SIZE,
                  "struct_size (%zu) is not sizeof(fa_problem) (%zu); fill it with "
                  "fa_problem_init()", p->struct_size, sizeof(fa_problem));

  if (p->dtype != FA_DTYPE_BF16 && p->dtype != FA_DTYPE_FP16)
    return fa_err(ctx, FA_ERR_DTYPE, "dtype (%d) is neither FA_DTYPE_BF16 (%d) nor "
                  "FA_DTYPE_FP16 (%d)", (int)p->dtype, (int)FA_DTYPE_BF16, (int)FA_DTYPE_FP16);

  if ((s = check_size(ctx, "batch", p->batch, FA_MAX_BATCH)) ||
      (s = check_size(ctx, "seqlen_q", p->seqlen_q, FA_MAX_SEQLEN)) ||
      (s = check_size(ctx, "seqlen_k", p->seqlen_k, FA_MAX_SEQLEN)) ||
      (s = check_size(ctx, "heads_q", p->heads_q, FA_MAX_HEADS)) ||
      (s = check_size(ctx, "heads_kv", p->heads_kv, FA_MAX_HEADS)))
    return s;

  if (p->heads_q % p->heads_kv != 0)
    return fa_err(ctx, FA_ERR_HEADS, "heads_q (%d) is not a multiple of heads_kv (%d)",
                  (int)p->heads_q, (int)p->heads_kv);

  if (p->head_dim != 64 && p->head_dim != 128 && p->head_dim != 256)
    return fa_err(ctx, FA_ERR_HEAD_DIM,
                  "head_dim (%d) is not supported; supported values: 64, 128, 256",
                  (int)p->head_dim);

  const int64_t B = p->batch, Tq = p->seqlen_q, Tk = p->seqlen_k;
  const int64_t Hq = p->heads_q, Hkv = p->heads_kv, d = p->head_dim;
  const int64_t ext_q[3] = {B, Tq, Hq}, ext_k[3] = {B, Tk, Hkv};
  static const char *const names_q[3] = {"batch", "seqlen_q", "heads_q"};
  static const char *const names_k[3] = {"batch", "seqlen_k", "heads_kv"};
  struct { const char *name; const int64_t *st, *ext; const char *const *en; } t[4] = {
      {"q", p->q_stride, ext_q, names_q},
      {"k", p->k_stride, ext_k, names_k},
      {"v", p->v_stride, ext_k, names_k},
      {"o", p->o_stride, ext_q, names_q},
  };
  for (int i = 0; i < 4; i++)
    if ((s = check_strides(ctx, t[i].name, t[i].st, t[i].ext, t[i].en, d))) return s;

  const int64_t esize = (int64_t)fa_dtype_size(p->dtype);
  for (int i = 0; i < 4; i++) {
    int64_t n = fa_tensor_extent(t[i].st, t[i].ext[0], t[i].ext[1], t[i].ext[2], d), bytes;
    if (n < 0 || __builtin_mul_overflow(n, esize, &bytes) || bytes >= FA_MAX_BYTES)
      return fa_err(ctx, FA_ERR_OVERFLOW,
                    "%s_stride {%lld, %lld, %lld} with extents {%lld, %lld, %lld, %lld} span "
                    "2^62 bytes or more", t[i].name, (long long)t[i].st[0],
                    (long long)t[i].st[1], (long long)t[i].st[2], (long long)t[i].ext[0],
                    (long long)t[i].ext[1], (long long)t[i].ext[2], (long long)d);
  }
  int64_t rows;
  if (__builtin_mul_overflow(B, Hq, &rows) || __builtin_mul_overflow(rows, Tq, &rows) ||
      rows >= FA_MAX_LSE_ROWS)
    return fa_err(ctx, FA_ERR_OVERFLOW,
                  "batch*heads_q*seqlen_q (%lld*%lld*%lld) must be < 2^31 (LSE rows are "
                  "indexed with int32)", (long long)B, (long long)Hq, (long long)Tq);

  const struct { const char *name; int32_t v; } w[2] = {
      {"window_left", p->window_left}, {"window_right", p->window_right}};
  for (int i = 0; i < 2; i++) {
    if (w[i].v < -1)
      return fa_err(ctx, FA_ERR_WINDOW, "%s (%d) must be -1 (unbounded) or >= 0", w[i].name,
                    (int)w[i].v);
    if ((int64_t)w[i].v >= FA_MAX_WINDOW)
      return fa_err(ctx, FA_ERR_WINDOW, "%s (%d) must be < 2^30", w[i].name, (int)w[i].v);
  }

  if (!isfinite(p->scale) || !(p->scale > 0.0f))
    return fa_err(ctx, FA_ERR_SCALE, "scale (%g) must be finite and > 0", (double)p->scale);
  if (!isfinite(p->softcap) || !(p->softcap >= 0.0f))
    return fa_err(ctx, FA_ERR_SCALE, "softcap (%g) must be finite and >= 0 (0 = off)",
                  (double)p->softcap);

  if (p->causal != 0 && p->causal != 1)
    return fa_err(ctx, FA_ERR_FEATURE, "causal (%d) must be 0 or 1", (int)p->causal);
  if (p->features & ~FA_FEAT_ALL_)
    return fa_err(ctx, FA_ERR_FEATURE, "features (0x%x) has unknown bits 0x%x; known: 0x%x",
                  (unsigned)p->features, (unsigned)(p->features & ~FA_FEAT_ALL_),
                  (unsigned)FA_FEAT_ALL_);
  return FA_OK;
}
