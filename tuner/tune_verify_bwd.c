/*
** tune_verify_bwd.c -- `fa-tune verify` for backward variants.
**
** Each backward variant runs its signature's shapes (tune_shapes.c) after
** fa's forward: dQ, dK and dV against the fp64 reference, each within twice
** the error of an unfused backward in the same precision on the same GPU
** (templates/unfused_bwd.cu) plus a tiny absolute term. Gradients are
** poisoned (NaN) first; NaN or an unwritten element fails; rows that see no
** key must give zero gradients (the reference's zeros). Both modes run: the
** default (atomic dQ) and the deterministic one, which must also be bitwise
** identical across two runs.
*/
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "fa_ctx.h"
#include "fa_gen.h"
#include "fa_nvrtc.h"
#include "fa_plan.h"
#include "tune.h"
#include "tune_shapes.h"

#define ABS_TERM 1e-5
#define MAX_SHAPES 16

typedef struct grads {
  double *dq, *dk, *dv;
} grads;

typedef struct gerr {
  double e[3]; /* dq, dk, dv: max abs error */
  long bad;    /* NaN or unwritten */
} gerr;

typedef struct bcase {
  tune_shape shape;
  tune_data data;
  double *dout;          /* host dO */
  grads ref;             /* fp64 reference */
  gerr base;             /* the unfused baseline's errors */
  CUdeviceptr g_dout, g_dq, g_dk, g_dv, ws;
  size_t ws_bytes;
} bcase;

/* ---- the reference, in threads over (batch, kv head) ---- */

typedef struct ref_job {
  const bcase *c;
  int next, total;
  pthread_mutex_t lock;
} ref_job;

static void *ref_worker(void *arg) {
  ref_job *j = arg;
  const bcase *c = j->c;
  const fa_problem *p = &c->shape.p;
  const int grp = p->heads_q / p->heads_kv;
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int w = j->next++;
    pthread_mutex_unlock(&j->lock);
    if (w >= j->total) break;
    const int b = w / p->heads_kv, kvh = w % p->heads_kv;
    fa_problem sub = *p;
    sub.batch = 1;
    sub.heads_q = grp;
    sub.heads_kv = 1;
    fa_ref_masks m = c->data.masks;
    if (m.q_pos) m.q_pos += (size_t)b * p->seqlen_q, m.k_pos += (size_t)b * p->seqlen_k;
    if (m.q_seg) m.q_seg += (size_t)b * p->seqlen_q, m.k_seg += (size_t)b * p->seqlen_k;
    if (m.seqlens_q) m.seqlens_q += b, m.seqlens_k += b;
    const size_t hq0 = (size_t)kvh * grp;
    const size_t oq = b * p->q_stride[0] + hq0 * p->q_stride[2], ok = b * p->k_stride[0] + kvh * p->k_stride[2];
    const size_t ov = b * p->v_stride[0] + kvh * p->v_stride[2], oo = b * p->o_stride[0] + hq0 * p->o_stride[2];
    fa_ref_backward(&sub, &m, c->data.q + oq, c->data.k + ok, c->data.v + ov, c->dout + oo, c->ref.dq + oq,
                    c->ref.dk + ok, c->ref.dv + ov);
  }
  return NULL;
}

static void reference(bcase *c) {
  ref_job j = {c, 0, c->shape.p.batch * c->shape.p.heads_kv, PTHREAD_MUTEX_INITIALIZER};
  pthread_t th[32];
  int n = 0;
  for (; n < 32; ++n)
    if (pthread_create(&th[n], NULL, ref_worker, &j)) break;
  for (int i = 0; i < n; ++i) pthread_join(th[i], NULL);
}

static gerr compare(const bcase *c, const grads *g) {
  gerr e = {{0, 0, 0}, 0};
  const size_t n[3] = {c->data.nq, c->data.nk, c->data.nv};
  const double *a[3] = {g->dq, g->dk, g->dv}, *r[3] = {c->ref.dq, c->ref.dk, c->ref.dv};
  for (int t = 0; t < 3; ++t)
    for (size_t i = 0; i < n[t]; ++i) {
      if (isnan(a[t][i])) { e.bad++; continue; }
      e.e[t] = fmax(e.e[t], fabs(a[t][i] - r[t][i]));
    }
  return e;
}

static int download(const bcase *c, grads *g) {
  const fa_dtype t = c->shape.p.dtype;
  return tune_download16(c->g_dq, c->data.nq, t, g->dq) || tune_download16(c->g_dk, c->data.nk, t, g->dk) ||
         tune_download16(c->g_dv, c->data.nv, t, g->dv);
}

static int poison(const bcase *c) {
  return tune_cu->cuMemsetD8(c->g_dq, 0xff, c->data.nq * 2) || tune_cu->cuMemsetD8(c->g_dk, 0xff, c->data.nk * 2) ||
         tune_cu->cuMemsetD8(c->g_dv, 0xff, c->data.nv * 2);
}

/* ---- the unfused baseline ---- */

static CUfunction ub_q[2], ub_kv[2];

static int unfused_load(fa_gen *gen, const fa_nvrtc *nv, int arch, int bf16) {
  if (ub_q[bf16]) return 0;
  char *src = NULL;
  if (fa_gen_emit_tool(NULL, gen, bf16 ? "unfusedbwd_bf16" : "unfusedbwd_fp16", &src) != FA_OK) {
    fprintf(stderr, "%s\n", fa_errmsg(NULL));
    return -1;
  }
  void *cubin;
  size_t size;
  fa_status s = fa_nvrtc_compile(NULL, nv, "unfused_bwd", src, arch, NULL, &cubin, &size, NULL);
  free(src);
  if (s != FA_OK) { fprintf(stderr, "%s\n", fa_errmsg(NULL)); return -1; }
  CUmodule mod;
  int r = tune_cu->cuModuleLoadData(&mod, cubin) || tune_cu->cuModuleGetFunction(&ub_q[bf16], mod, "fa_unfused_bwd_q") ||
          tune_cu->cuModuleGetFunction(&ub_kv[bf16], mod, "fa_unfused_bwd_kv") ||
          tune_cu->cuFuncSetAttribute(ub_q[bf16], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 200 * 1024);
  free(cubin);
  if (r) fprintf(stderr, "loading the unfused backward kernel failed\n");
  return r ? -1 : 0;
}

/* Runs the unfused baseline on case c: its own forward is implicit in the q kernel. */
static int unfused_run(bcase *c) {
  const tune_data *d = &c->data;
  const fa_problem *p = &c->shape.p;
  fa_fwd_kparams kp;
  fa_kparams_fill(&kp, p);
  kp.q = d->dq; kp.k = d->dk; kp.v = d->dv; kp.o = d->do_; kp.lse = d->dlse;
  kp.q_pos = d->dq_pos; kp.k_pos = d->dk_pos; kp.q_seg = d->dq_seg; kp.k_seg = d->dk_seg;
  kp.seqlens_q = d->dseqlens_q; kp.seqlens_k = d->dseqlens_k;
  struct { uint64_t dout, dq, dk, dv, P, dS; } ua = {c->g_dout, c->g_dq, c->g_dk, c->g_dv, 0, 0};
  const size_t sc = (size_t)p->batch * p->heads_q * p->seqlen_q * p->seqlen_k * 4;
  CUdeviceptr P, dS;
  if (tune_cu->cuMemAlloc(&P, sc) || tune_cu->cuMemAlloc(&dS, sc)) return -1;
  tune_cu->cuMemsetD8(P, 0, sc);
  tune_cu->cuMemsetD8(dS, 0, sc);
  ua.P = P; ua.dS = dS;
  const int hd = p->head_dim;
  void *args[] = {&kp, &ua, (void *)&hd};
  const int bf = p->dtype == FA_DTYPE_BF16;
  int r = tune_cu->cuLaunchKernel(ub_q[bf], p->seqlen_q, p->heads_q, p->batch, 128, 1, 1, p->seqlen_k * 8, NULL, args,
                                  NULL) ||
          tune_cu->cuLaunchKernel(ub_kv[bf], p->seqlen_k, p->heads_kv, p->batch, 128, 1, 1, 0, NULL, args, NULL) ||
          tune_cu->cuCtxSynchronize();
  tune_cu->cuMemFree(P);
  tune_cu->cuMemFree(dS);
  return r ? -1 : 0;
}

/* ---- fa ---- */

/* Forward (heuristic forward variant, unsplit) then backward variant key in
** mode det; gradients into g. one_cta: one CTA per kv head group (the
** direct-write epilogue; the verify shapes are small enough that the plan
** would split the groups). */
static int run_fa(fa_context *ctx, const char *key, int det, int one_cta, bcase *c, grads *g, char *err, size_t n) {
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant_bwd = key;
  po.deterministic = det;
  po.kv_splits = 1;
  fa_plan *plan;
  if (fa_plan_create(ctx, &c->shape.p, &po, &plan) != FA_OK) {
    snprintf(err, n, "%s", fa_errmsg(ctx));
    return -1;
  }
  if (one_cta) plan->hsplit = 1; /* its workspace layout is the split one's prefix */
  fa_bwd_args a;
  fa_bwd_args_init(&a);
  tune_data_args(&c->data, &a.fwd);
  tune_bwd_workspace(plan, &c->ws, &c->ws_bytes, &a);
  a.dout = (const void *)(uintptr_t)c->g_dout;
  a.dq = (void *)(uintptr_t)c->g_dq;
  a.dk = (void *)(uintptr_t)c->g_dk;
  a.dv = (void *)(uintptr_t)c->g_dv;
  fa_fwd_args fa = a.fwd;
  fa.workspace = NULL;
  fa.workspace_bytes = 0;
  fa_status s = fa_forward(plan, &fa);
  if (s == FA_OK && poison(c)) s = FA_ERR_CUDA;
  if (s == FA_OK) s = fa_backward(plan, &a);
  if (s == FA_OK && tune_cu->cuCtxSynchronize()) s = FA_ERR_CUDA;
  if (s != FA_OK) snprintf(err, n, "%s", s == FA_ERR_CUDA ? "a CUDA call failed (kernel fault?)" : fa_errmsg(ctx));
  fa_plan_destroy(plan);
  if (s != FA_OK) return -1;
  if (download(c, g)) { snprintf(err, n, "download failed"); return -1; }
  return 0;
}

static int grads_alloc(grads *g, const tune_data *d) {
  g->dq = calloc(d->nq, sizeof(double));
  g->dk = calloc(d->nk, sizeof(double));
  g->dv = calloc(d->nv, sizeof(double));
  return g->dq && g->dk && g->dv ? 0 : -1;
}
static void grads_free(grads *g) { free(g->dq); free(g->dk); free(g->dv); }
static int grads_equal(const grads *a, const grads *b, const tune_data *d) {
  return !memcmp(a->dq, b->dq, d->nq * 8) && !memcmp(a->dk, b->dk, d->nk * 8) && !memcmp(a->dv, b->dv, d->nv * 8);
}

static int case_make(bcase *c, const tune_shape *s, uint64_t seed, int with_ref) {
  memset(c, 0, sizeof *c);
  c->shape = *s;
  if (tune_data_make(&c->data, &c->shape, seed, 1)) return -1;
  tune_data *d = &c->data;
  const fa_dtype t = s->p.dtype;
  c->dout = malloc(d->no * sizeof(double));
  if (!c->dout || grads_alloc(&c->ref, d)) return -1;
  uint64_t st = seed * 7919 + 1;
  for (size_t i = 0; i < d->no; ++i) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    const double u = (double)(st >> 11) / 9007199254740992.0 * 2.0 - 1.0; /* uniform in [-1, 1) */
    c->dout[i] = tune_bits_to_double(tune_double_to_bits(u, t), t);
  }
  if (tune_upload16(&c->g_dout, c->dout, d->no, t) || tune_cu->cuMemAlloc(&c->g_dq, d->nq * 2) ||
      tune_cu->cuMemAlloc(&c->g_dk, d->nk * 2) || tune_cu->cuMemAlloc(&c->g_dv, d->nv * 2))
    return -1;
  if (with_ref) reference(c);
  return 0;
}

static void case_free(bcase *c) {
  tune_data_free(&c->data);
  grads_free(&c->ref);
  free(c->dout);
  CUdeviceptr ps[] = {c->g_dout, c->g_dq, c->g_dk, c->g_dv, c->ws};
  for (int i = 0; i < 5; ++i)
    if (ps[i]) tune_cu->cuMemFree(ps[i]);
}

int tune_verify_bwd(fa_context *ctx, fa_gen *gen, const fa_nvrtc *nv, char **keys, const fa_launch_info *info,
                    int nkeys, int quiet, int *runs, int *ok_out, int *bad_out) {
  int *done = calloc((size_t)nkeys, sizeof *done);
  printf("%-52s %-26s %-5s %9s %9s %9s %9s %s\n", "variant", "shape", "mode", "err_dq", "err_dk", "err_dv",
         "max_ratio", "result");
  for (int i = 0; i < nkeys; ++i) {
    if (done[i] || !info[i].bwd) continue;
    tune_sig sig;
    memset(&sig, 0, sizeof sig);
    sig.d = info[i].d; sig.bf16 = !strcmp(info[i].dtype, "bf16"); sig.g = 1;
    sig.pos = info[i].pos; sig.seg = info[i].seg; sig.softcap = info[i].softcap; sig.bwd = 1;
    tune_shape shapes[MAX_SHAPES];
    bcase *cases = calloc(MAX_SHAPES, sizeof *cases);
    const int nc = tune_verify_shapes(&sig, shapes, MAX_SHAPES);
    if (!cases || unfused_load(gen, nv, ctx->arch, sig.bf16)) return -1;
    for (int c = 0; c < nc; ++c) {
      grads g;
      if (case_make(&cases[c], &shapes[c], 2000 + c, 1) || grads_alloc(&g, &cases[c].data)) {
        fprintf(stderr, "out of memory\n");
        return -1;
      }
      if (poison(&cases[c]) || unfused_run(&cases[c]) || download(&cases[c], &g)) {
        fprintf(stderr, "unfused backward baseline failed\n");
        return -1;
      }
      cases[c].base = compare(&cases[c], &g);
      grads_free(&g);
    }
    for (int k = i; k < nkeys; ++k) {
      if (done[k] || !info[k].bwd || info[k].d != info[i].d || strcmp(info[k].dtype, info[i].dtype) ||
          info[k].pos != info[i].pos || info[k].seg != info[i].seg || info[k].softcap != info[i].softcap)
        continue;
      done[k] = 1;
      int ok = 1;
      for (int c = 0; c < nc; ++c)
        for (int mode = 0; mode < 3; ++mode) {  /* atomic dQ, deterministic, atomic with whole groups */
          const int det = mode == 1, one = mode == 2;
          bcase *bc = &cases[c];
          grads g, g2;
          grads_alloc(&g, &bc->data);
          grads_alloc(&g2, &bc->data);
          char why[512] = "";
          const char *verdict = "ok";
          gerr e = {{0, 0, 0}, 0};
          double ratio = 0;
          int r = run_fa(ctx, keys[k], det, one, bc, &g, why, sizeof why) ||
                  (det && run_fa(ctx, keys[k], det, one, bc, &g2, why, sizeof why));
          if (r) verdict = why;
          else {
            e = compare(bc, &g);
            for (int t = 0; t < 3; ++t) {
              const double lim = 2 * bc->base.e[t] + ABS_TERM;
              ratio = fmax(ratio, e.e[t] / lim);
            }
            if (e.bad) verdict = "FAIL: NaN or unwritten gradient elements";
            else if (ratio > 1.0) verdict = "FAIL: gradient error over 2x the unfused baseline";
            else if (det && !grads_equal(&g, &g2, &bc->data)) verdict = "FAIL: deterministic runs differ";
          }
          (*runs)++;
          if (strcmp(verdict, "ok")) ok = 0;
          if (!quiet || strcmp(verdict, "ok"))
            printf("%-52s %-26s %-5s %9.2e %9.2e %9.2e %9.2f %s\n", keys[k], bc->shape.name, (const char *[]){"atom", "det", "atom1"}[mode],
                   e.e[0], e.e[1], e.e[2], ratio, verdict);
          if (e.bad) printf("    (%ld bad elements)\n", e.bad);
          grads_free(&g);
          grads_free(&g2);
        }
      if (ok) (*ok_out)++; else (*bad_out)++;
      fflush(stdout);
    }
    for (int c = 0; c < nc; ++c) case_free(&cases[c]);
    free(cases);
  }
  free(done);
  return 0;
}

/* ---- the tuner's check: a candidate against the unfused backward ---- */

struct tune_bwd_case {
  bcase c;
  grads unfused;
};

tune_bwd_case *tune_bwd_case_new(fa_gen *gen, const fa_nvrtc *nv, int arch, const tune_shape *s, uint64_t seed) {
  tune_bwd_case *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  if (unfused_load(gen, nv, arch, s->p.dtype == FA_DTYPE_BF16) || case_make(&t->c, s, seed, 0) ||
      grads_alloc(&t->unfused, &t->c.data) || poison(&t->c) || unfused_run(&t->c) || download(&t->c, &t->unfused)) {
    tune_bwd_case_free(t);
    return NULL;
  }
  return t;
}

double tune_bwd_case_check(tune_bwd_case *t, fa_context *ctx, const char *key) {
  grads g;
  char why[512];
  if (grads_alloc(&g, &t->c.data) || run_fa(ctx, key, 0, 0, &t->c, &g, why, sizeof why)) {
    grads_free(&g);
    return INFINITY;
  }
  const size_t n[3] = {t->c.data.nq, t->c.data.nk, t->c.data.nv};
  const double *a[3] = {g.dq, g.dk, g.dv}, *r[3] = {t->unfused.dq, t->unfused.dk, t->unfused.dv};
  double worst = 0;
  for (int k = 0; k < 3; ++k) {
    double scale = 0;
    for (size_t i = 0; i < n[k]; ++i) scale = fmax(scale, fabs(r[k][i]));
    for (size_t i = 0; i < n[k]; ++i) {
      const double e = isnan(a[k][i]) ? INFINITY : fabs(a[k][i] - r[k][i]) / (1.0 + scale);
      if (e > worst) worst = e;
    }
  }
  grads_free(&g);
  return worst;
}

void tune_bwd_case_free(tune_bwd_case *t) {
  if (!t) return;
  case_free(&t->c);
  grads_free(&t->unfused);
  free(t);
}
