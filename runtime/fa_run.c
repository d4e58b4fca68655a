/*
** fa_run.c -- fa_forward and fa_backward: check the call's pointers, fill the
** kernel parameters, launch. Nothing here allocates or synchronises.
*/
#include <math.h>
#include <string.h>
#include "fa_kparams.h"
#include "fa_plan.h"

static fa_status check_ptr(fa_context *ctx, const void *ptr, const char *name, int required) {
  if (!ptr) return required ? fa_err(ctx, FA_ERR_NULL_POINTER, "%s is NULL", name) : FA_OK;
  if ((uintptr_t)ptr % 16 != 0)
    return fa_err(ctx, FA_ERR_ALIGNMENT, "%s (%p) is not 16-byte aligned", name, ptr);
  return FA_OK;
}

static fa_status check_args(fa_context *ctx, const fa_problem *p, const fa_fwd_args *a) {
  if (a->struct_size != sizeof *a)
    return fa_err(ctx, FA_ERR_STRUCT_SIZE, "fa_fwd_args.struct_size is %zu, expected %zu", a->struct_size,
                  sizeof *a);
  fa_status s;
  if ((s = check_ptr(ctx, a->q, "q", 1)) || (s = check_ptr(ctx, a->k, "k", 1)) ||
      (s = check_ptr(ctx, a->v, "v", 1)) || (s = check_ptr(ctx, a->o, "o", 1)))
    return s;
  const unsigned f = p->features;
  if ((f & FA_FEAT_LSE) && !a->lse) return fa_err(ctx, FA_ERR_NULL_POINTER, "lse is NULL but FA_FEAT_LSE is set");
  if ((f & FA_FEAT_POSITIONS) && (!a->q_pos || !a->k_pos))
    return fa_err(ctx, FA_ERR_NULL_POINTER, "q_pos/k_pos is NULL but FA_FEAT_POSITIONS is set");
  if ((f & FA_FEAT_SEGMENTS) && (!a->q_seg || !a->k_seg))
    return fa_err(ctx, FA_ERR_NULL_POINTER, "q_seg/k_seg is NULL but FA_FEAT_SEGMENTS is set");
  if ((f & FA_FEAT_SEQLENS) && (!a->seqlens_q || !a->seqlens_k))
    return fa_err(ctx, FA_ERR_NULL_POINTER, "seqlens_q/seqlens_k is NULL but FA_FEAT_SEQLENS is set");
  if (((uintptr_t)a->lse | (uintptr_t)a->q_pos | (uintptr_t)a->k_pos | (uintptr_t)a->q_seg |
       (uintptr_t)a->k_seg | (uintptr_t)a->seqlens_q | (uintptr_t)a->seqlens_k) % 4 != 0)
    return fa_err(ctx, FA_ERR_ALIGNMENT, "an lse, position, segment or seqlens pointer is not 4-byte aligned");
  return FA_OK;
}

static uint64_t dptr(const void *p) { return (uint64_t)(uintptr_t)p; }

void fa_kparams_fill(fa_fwd_kparams *kp, const fa_problem *p) {
  memset(kp, 0, sizeof *kp);
  kp->q_sb = p->q_stride[0]; kp->q_ss = p->q_stride[1]; kp->q_sh = p->q_stride[2];
  kp->k_sb = p->k_stride[0]; kp->k_ss = p->k_stride[1]; kp->k_sh = p->k_stride[2];
  kp->v_sb = p->v_stride[0]; kp->v_ss = p->v_stride[1]; kp->v_sh = p->v_stride[2];
  kp->o_sb = p->o_stride[0]; kp->o_ss = p->o_stride[1]; kp->o_sh = p->o_stride[2];
  kp->B = p->batch; kp->Tq = p->seqlen_q; kp->Tk = p->seqlen_k; kp->Hq = p->heads_q; kp->Hkv = p->heads_kv;
  kp->causal = p->causal; kp->window_left = p->window_left; kp->window_right = p->window_right;
  kp->nsplit = 1;
  const float log2e = 1.4426950408889634f;
  kp->scale_log2 = p->scale * log2e;
  if (p->softcap > 0.f) {
    kp->cap_inv = p->scale / p->softcap;
    kp->cap_log2 = p->softcap * log2e;
  }
}

void fa_kparams_call(const fa_plan *plan, const fa_fwd_args *a, fa_fwd_kparams *kp) {
  const unsigned f = plan->problem.features;
  *kp = plan->kp;
  kp->q = dptr(a->q); kp->k = dptr(a->k); kp->v = dptr(a->v); kp->o = dptr(a->o);
  kp->lse = (f & FA_FEAT_LSE) ? dptr(a->lse) : 0;
  if (f & FA_FEAT_POSITIONS) kp->q_pos = dptr(a->q_pos), kp->k_pos = dptr(a->k_pos);
  if (f & FA_FEAT_SEGMENTS) kp->q_seg = dptr(a->q_seg), kp->k_seg = dptr(a->k_seg);
  if (f & FA_FEAT_SEQLENS) kp->seqlens_q = dptr(a->seqlens_q), kp->seqlens_k = dptr(a->seqlens_k);
}

/* A 4-d tiled tensor map over a 16-bit tensor, 128-byte swizzle: dims[0] is
** head_dim (contiguous), stride[i] the element stride of dims[i + 1]. A
** dimension of extent 1 is never stepped over, so its stride, which the caller
** may leave at any value, becomes one TMA accepts. */
static CUresult tma_map(const fa_cu *cu, CUtensorMap *map, const void *ptr, int bf16, const uint64_t dims[4],
                        const int64_t stride[3], const uint32_t box[4]) {
  cuuint64_t gdim[4], gstride[3];
  cuuint64_t span = dims[0] * 2;
  for (int i = 0; i < 3; ++i)
    if (dims[i + 1] > 1 && (cuuint64_t)stride[i] * 2 * dims[i + 1] > span) span = (cuuint64_t)stride[i] * 2 * dims[i + 1];
  span = (span + 15) & ~(cuuint64_t)15;
  for (int i = 0; i < 4; ++i) gdim[i] = dims[i];
  for (int i = 0; i < 3; ++i) gstride[i] = dims[i + 1] > 1 ? (cuuint64_t)stride[i] * 2 : span;
  const cuuint32_t ones[4] = { 1, 1, 1, 1 };
  cuuint32_t bx[4] = { box[0], box[1], box[2], box[3] };
  return cu->cuTensorMapEncodeTiled(map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
                                    (void *)ptr, gdim, gstride, bx, ones, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                    CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

/* The sm90 family's tensor maps of a call, over ptr = q, k, v and o (the
** forward) or dO (the backward): Q as [B][Tq][Hq][D] boxes of (64, G heads,
** BM/G positions), so packed rows come out position-major; K and V as
** [B][Hkv][Tk][D] boxes of (64, BN keys); O or dO as Q, in boxes of 64 rows,
** where with_o says the kernel reads that map (an encode costs host time:
** not made where the kernel does not read it). */
static CUresult tma_maps(const fa_context *ctx, const fa_problem *p, const fa_launch_info *li, const void *const ptr[4],
                         int with_o, CUtensorMap m[4]) {
  const int bf16 = p->dtype == FA_DTYPE_BF16;
  const uint64_t d = (uint64_t)p->head_dim;
  const uint64_t qd[4] = { d, (uint64_t)p->heads_q, (uint64_t)p->seqlen_q, (uint64_t)p->batch };
  const int64_t qs[3] = { p->q_stride[2], p->q_stride[1], p->q_stride[0] };
  const uint32_t qb[4] = { 64, (uint32_t)li->g, (uint32_t)(li->bm / li->g), 1 };
  const uint64_t kd[4] = { d, (uint64_t)p->seqlen_k, (uint64_t)p->heads_kv, (uint64_t)p->batch };
  const int64_t ks[3] = { p->k_stride[1], p->k_stride[2], p->k_stride[0] };
  const int64_t vs[3] = { p->v_stride[1], p->v_stride[2], p->v_stride[0] };
  const uint32_t kb[4] = { 64, (uint32_t)li->bn, 1, 1 };
  CUresult r = tma_map(ctx->cu, &m[0], ptr[0], bf16, qd, qs, qb);
  if (r == CUDA_SUCCESS) r = tma_map(ctx->cu, &m[1], ptr[1], bf16, kd, ks, kb);
  if (r == CUDA_SUCCESS) r = tma_map(ctx->cu, &m[2], ptr[2], bf16, kd, vs, kb);
  if (r == CUDA_SUCCESS && with_o) {
    const int64_t os[3] = { p->o_stride[2], p->o_stride[1], p->o_stride[0] };
    const uint32_t ob[4] = { 64, (uint32_t)li->g, (uint32_t)(64 / li->g), 1 };
    r = tma_map(ctx->cu, &m[3], ptr[3], bf16, qd, os, ob);
  } else {
    memset(&m[3], 0, sizeof m[3]);  /* unread, but passed: no uninitialised bytes to the driver */
  }
  return r;
}

/* The call's maps from the plan's copy of the last call's when q, k, v and o
** are where they were (the maps hold nothing else that a call changes), else
** encoded and kept. The launch copies the maps, so the lock is held only for
** the copy. */
static CUresult cached_maps(const fa_context *ctx, fa_plan *plan, const fa_fwd_args *a, CUtensorMap m[4]) {
  const void *ptr[4] = { a->q, a->k, a->v, a->o };
  pthread_mutex_lock(&plan->map_lock);
  const int hit = memcmp(ptr, plan->map_ptr, sizeof ptr) == 0;
  if (hit) memcpy(m, plan->maps, sizeof plan->maps);
  pthread_mutex_unlock(&plan->map_lock);
  if (hit) return CUDA_SUCCESS;
  const fa_launch_info *li = &plan->fwd->info;
  const CUresult r = tma_maps(ctx, &plan->problem, li, ptr, li->tma_store, m);
  if (r != CUDA_SUCCESS) return r;
  pthread_mutex_lock(&plan->map_lock);
  memcpy(plan->map_ptr, ptr, sizeof ptr);
  memcpy(plan->maps, m, sizeof plan->maps);
  pthread_mutex_unlock(&plan->map_lock);
  return CUDA_SUCCESS;
}

fa_status fa_forward(fa_plan *plan, const fa_fwd_args *a) {
  if (!plan) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_forward: plan is NULL");
  fa_context *ctx = plan->ctx;
  if (!a) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_forward: args is NULL");
  const fa_problem *p = &plan->problem;
  fa_status s = check_args(ctx, p, a);
  if (s != FA_OK) return s;
  if (a->workspace && plan->ws_bytes) {
    if (a->workspace_bytes < plan->ws_bytes)
      return fa_err(ctx, FA_ERR_WORKSPACE, "workspace_bytes is %zu; this plan needs %zu (fa_plan_workspace)",
                    a->workspace_bytes, plan->ws_bytes);
    if ((uintptr_t)a->workspace % 16 != 0)
      return fa_err(ctx, FA_ERR_ALIGNMENT, "workspace (%p) is not 16-byte aligned", a->workspace);
  }
  if (!plan->fwd->fn)
    return fa_err(ctx, FA_ERR_NO_DEVICE, "the plan's context has no device; it can compile but not run");
  /* The problem's part was filled once, at plan creation: only pointers here. */
  fa_fwd_kparams kp;
  fa_kparams_call(plan, a, &kp);
  if ((s = fa_ctx_bind(ctx)) != FA_OK) return s;
  CUdeviceptr ws = 0;
  if (plan->nsplit > 1) {
    kp.nsplit = plan->nsplit;
    ws = a->workspace ? (CUdeviceptr)(uintptr_t)a->workspace : plan->scratch;
  }
  void *params[] = { &kp, &ws };
  const fa_launch_info *li = &plan->fwd->info;
  CUtensorMap maps[4];
  void *params_tma[] = { &kp, &maps[0], &maps[1], &maps[2], &maps[3], &ws };
  CUresult r = li->tma ? cached_maps(ctx, plan, a, maps) : CUDA_SUCCESS;
  if (r != CUDA_SUCCESS) return fa_cu_fail(ctx, r, "cuTensorMapEncodeTiled");
  r = ctx->cu->cuLaunchKernel(plan->fwd->fn, plan->launch[0], plan->launch[1], plan->launch[2], (unsigned)li->threads,
                              1, 1, (unsigned)li->smem, (CUstream)a->stream, li->tma ? params_tma : params, NULL);
  if (r == CUDA_SUCCESS && plan->nsplit > 1) {
    const uint64_t rows = (uint64_t)p->batch * p->heads_q * p->seqlen_q;
    r = ctx->cu->cuLaunchKernel(plan->fwd->aux[FA_AUX_COMBINE], (unsigned)((rows + 3) / 4), 1, 1, 128, 1, 1, 0,
                                (CUstream)a->stream, params, NULL);
  }
  return r == CUDA_SUCCESS ? FA_OK : fa_cu_fail(ctx, r, "cuLaunchKernel");
}

fa_status fa_backward(fa_plan *plan, const fa_bwd_args *a) {
  if (!plan) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_backward: plan is NULL");
  fa_context *ctx = plan->ctx;
  if (!a) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_backward: args is NULL");
  if (a->struct_size != sizeof *a)
    return fa_err(ctx, FA_ERR_STRUCT_SIZE, "fa_bwd_args.struct_size is %zu, expected %zu", a->struct_size, sizeof *a);
  const fa_problem *p = &plan->problem;
  if (!plan->bwd && plan->bwd_why[0])
    return fa_err(ctx, FA_ERR_UNSUPPORTED, "no backward kernel for this problem here: %s", plan->bwd_why);
  if (!plan->bwd)
    return fa_err(ctx, FA_ERR_FEATURE, "fa_backward needs a plan whose problem has FA_FEAT_LSE (the forward's LSE)");
  fa_status s = check_args(ctx, p, &a->fwd);
  if (s != FA_OK) return s;
  if ((s = check_ptr(ctx, a->dout, "dout", 1)) || (s = check_ptr(ctx, a->dq, "dq", 1)) ||
      (s = check_ptr(ctx, a->dk, "dk", 1)) || (s = check_ptr(ctx, a->dv, "dv", 1)))
    return s;
  if (!a->fwd.workspace)
    return fa_err(ctx, FA_ERR_WORKSPACE, "fa_backward needs fwd.workspace of %zu bytes (fa_plan_workspace)",
                  plan->bwd_bytes);
  if (a->fwd.workspace_bytes < plan->bwd_bytes)
    return fa_err(ctx, FA_ERR_WORKSPACE, "workspace_bytes is %zu; this plan's backward needs %zu (fa_plan_workspace)",
                  a->fwd.workspace_bytes, plan->bwd_bytes);
  if ((uintptr_t)a->fwd.workspace % 256 != 0)
    return fa_err(ctx, FA_ERR_ALIGNMENT, "the backward's workspace (%p) is not 256-byte aligned", a->fwd.workspace);
  if (!plan->bwd->fn)
    return fa_err(ctx, FA_ERR_NO_DEVICE, "the plan's context has no device; it can compile but not run");
  fa_fwd_kparams kp;
  fa_kparams_call(plan, &a->fwd, &kp);
  const uint64_t ws = dptr(a->fwd.workspace);
  fa_bwd_kparams bp = {
    .dout = dptr(a->dout), .dq = dptr(a->dq), .dk = dptr(a->dk), .dv = dptr(a->dv),
    .lse2 = ws + plan->bwd_off[0], .dsum = ws + plan->bwd_off[1],
    .dqacc = plan->deterministic ? 0 : ws + plan->bwd_off[2],
    .dkvacc = plan->hsplit > 1 ? ws + plan->bwd_off[3] : 0,
    .scale = p->scale, .hsplit = plan->hsplit, .kb_slow = plan->kb_slow,
  };
  if ((s = fa_ctx_bind(ctx)) != FA_OK) return s;
  void *params[] = { &kp, &bp };
  const fa_kernel *k = plan->bwd;
  const fa_launch_info *li = &k->info;
  /* fa_bwd_dkdv: the sm90 family's takes four tensor maps after the two
  ** structs, read where li->tma (a producer warpgroup), zeros otherwise; the
  ** driver reads as many entries as a kernel has parameters, so the sm80
  ** family's takes the same list. Encoded per call: the backward's own time
  ** dwarfs the encodes'. */
  CUtensorMap maps[4];
  void *params_dkdv[] = { &kp, &bp, &maps[0], &maps[1], &maps[2], &maps[3] };
  if (li->tma) {
    const void *ptr[4] = { a->fwd.q, a->fwd.k, a->fwd.v, a->dout };
    const CUresult e = tma_maps(ctx, p, li, ptr, 1, maps);
    if (e != CUDA_SUCCESS) return fa_cu_fail(ctx, e, "cuTensorMapEncodeTiled (backward)");
  } else {
    memset(maps, 0, sizeof maps);
  }
  CUstream st = (CUstream)a->fwd.stream;
  const CUfunction *aux = k->aux;
  const unsigned qrows = (unsigned)(((uint64_t)p->batch * p->heads_q * p->seqlen_q + 3) / 4);
  const PFN_cuLaunchKernel_v4000 launch = ctx->cu->cuLaunchKernel;
  CUresult r = launch(aux[FA_AUX_PRE], qrows, 1, 1, 128, 1, 1, 0, st, params, NULL);
  if (r == CUDA_SUCCESS) {
    const unsigned nb = (unsigned)((p->seqlen_k + li->bn - 1) / li->bn), hx = (unsigned)(p->heads_kv * plan->hsplit);
    if (plan->kb_slow)
      r = launch(k->fn, hx, (unsigned)p->batch, nb, (unsigned)li->threads, 1, 1, (unsigned)li->smem, st, params_dkdv,
                 NULL);
    else
      r = launch(k->fn, nb, hx, (unsigned)p->batch, (unsigned)li->threads, 1, 1, (unsigned)li->smem, st, params_dkdv,
                 NULL);
  }
  if (r == CUDA_SUCCESS && plan->deterministic)
    r = launch(aux[FA_AUX_DQ], (unsigned)((p->seqlen_q + 63) / 64), (unsigned)p->heads_q, (unsigned)p->batch, 128, 1,
               1, (unsigned)li->smem2, st, params, NULL);
  if (r == CUDA_SUCCESS && !plan->deterministic)
    r = launch(aux[FA_AUX_CONVERT], qrows, 1, 1, 128, 1, 1, 0, st, params, NULL);
  if (r == CUDA_SUCCESS && plan->hsplit > 1)
    r = launch(aux[FA_AUX_REDUCE], (unsigned)(((uint64_t)p->batch * p->heads_kv * p->seqlen_k + 3) / 4), 1, 1, 128,
               1, 1, 0, st, params, NULL);
  return r == CUDA_SUCCESS ? FA_OK : fa_cu_fail(ctx, r, "cuLaunchKernel (backward)");
}
