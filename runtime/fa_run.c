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
  const unsigned f = p->features;
  fa_fwd_kparams kp = plan->kp;
  kp.q = dptr(a->q); kp.k = dptr(a->k); kp.v = dptr(a->v); kp.o = dptr(a->o);
  kp.lse = (f & FA_FEAT_LSE) ? dptr(a->lse) : 0;
  if (f & FA_FEAT_POSITIONS) kp.q_pos = dptr(a->q_pos), kp.k_pos = dptr(a->k_pos);
  if (f & FA_FEAT_SEGMENTS) kp.q_seg = dptr(a->q_seg), kp.k_seg = dptr(a->k_seg);
  if (f & FA_FEAT_SEQLENS) kp.seqlens_q = dptr(a->seqlens_q), kp.seqlens_k = dptr(a->seqlens_k);
  if ((s = fa_ctx_bind(ctx)) != FA_OK) return s;
  CUdeviceptr ws = 0;
  if (plan->nsplit > 1) {
    kp.nsplit = plan->nsplit;
    ws = a->workspace ? (CUdeviceptr)(uintptr_t)a->workspace : plan->scratch;
  }
  void *params[] = { &kp, &ws };
  const fa_launch_info *li = &plan->fwd->info;
  CUresult r = ctx->cu->cuLaunchKernel(plan->fwd->fn, (unsigned)(plan->grid[0] * plan->nsplit),
                                       (unsigned)plan->grid[1], (unsigned)plan->grid[2], (unsigned)li->threads, 1, 1,
                                       (unsigned)li->smem, (CUstream)a->stream, params, NULL);
  if (r == CUDA_SUCCESS && plan->nsplit > 1) {
    const uint64_t rows = (uint64_t)p->batch * p->heads_q * p->seqlen_q;
    r = ctx->cu->cuLaunchKernel(plan->fwd->combine, (unsigned)((rows + 3) / 4), 1, 1, 128, 1, 1, 0,
                                (CUstream)a->stream, params, NULL);
  }
  return r == CUDA_SUCCESS ? FA_OK : fa_cu_fail(ctx, r, "cuLaunchKernel");
}

fa_status fa_backward(fa_plan *plan, const fa_bwd_args *a) {
  if (!plan) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_backward: plan is NULL");
  if (!a) return fa_err(plan->ctx, FA_ERR_NULL_ARGUMENT, "fa_backward: args is NULL");
  return fa_err(plan->ctx, FA_ERR_UNSUPPORTED, "the backward kernels are not built yet (issue: backward pass)");
}
