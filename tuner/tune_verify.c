/*
** tune_verify.c -- `fa-tune verify`: the correctness sweep on the GPU.
**
** Every variant the library may serve on this GPU (fa_gen_list_served) runs
** the shapes of its signature (tune_shapes.c) on random inputs. Its error
** against the fp64 reference must be at most twice that of an unfused
** attention in the same precision on the same GPU, plus a tiny absolute term
** (FlashAttention's rule). Outputs are poisoned (NaN) first, so an element
** never written fails; NaN never passes; a second run must be bitwise
** identical. Each shape runs unsplit and with fa's split-KV choice,
** and a persistent variant also on grids of 3 and 5 CTAs, so that its walk
** over several rounds per CTA is checked too.
*/
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "fa_ctx.h"
#include "fa_plan.h"
#include "fa_gen.h"
#include "fa_kparams.h"
#include "fa_nvrtc.h"
#include "fa_int.h"
#include "tune.h"
#include "tune_shapes.h"

#define ABS_TERM 1e-5
#define MAX_SHAPES 16

/* ---- the reference, in threads over (batch, kv head) ---- */

typedef struct ref_job {
  const tune_data *d;
  double *o, *lse;
  int next, total;
  pthread_mutex_t lock;
} ref_job;

static void *ref_worker(void *arg) {
  ref_job *j = arg;
  const fa_problem *p = &j->d->shape->p;
  const int grp = p->heads_q / p->heads_kv, Tq = p->seqlen_q, Tk = p->seqlen_k;
  double *lse = malloc((size_t)grp * Tq * sizeof *lse);
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int w = j->next++;
    pthread_mutex_unlock(&j->lock);
    if (w >= j->total || !lse) break;
    int b = w / p->heads_kv, kvh = w % p->heads_kv;
    fa_problem sub = *p;
    sub.batch = 1;
    sub.heads_q = grp;
    sub.heads_kv = 1;
    const tune_data *d = j->d;
    fa_ref_masks m = d->masks;
    if (m.q_pos) m.q_pos += (size_t)b * Tq, m.k_pos += (size_t)b * Tk;
    if (m.q_seg) m.q_seg += (size_t)b * Tq, m.k_seg += (size_t)b * Tk;
    if (m.seqlens_q) m.seqlens_q += b, m.seqlens_k += b;
    const size_t hq0 = (size_t)kvh * grp;
    fa_ref_forward(&sub, &m, d->q + b * p->q_stride[0] + hq0 * p->q_stride[2],
                   d->k + b * p->k_stride[0] + kvh * p->k_stride[2],
                   d->v + b * p->v_stride[0] + kvh * p->v_stride[2],
                   j->o + b * p->o_stride[0] + hq0 * p->o_stride[2], lse);
    memcpy(j->lse + ((size_t)b * p->heads_q + hq0) * Tq, lse, (size_t)grp * Tq * sizeof *lse);
  }
  free(lse);
  return NULL;
}

static void reference(const tune_data *d, double *o, double *lse) {
  ref_job j = {d, o, lse, 0, d->shape->p.batch * d->shape->p.heads_kv, PTHREAD_MUTEX_INITIALIZER};
  pthread_t th[32];
  int n = 0;
  for (; n < 32; ++n)
    if (pthread_create(&th[n], NULL, ref_worker, &j)) break;
  for (int i = 0; i < n; ++i) pthread_join(th[i], NULL);
}

/* ---- comparing ---- */

typedef struct errs {
  double o_max, lse_max;
  long bad;  /* NaN, unwritten, or a row that should see nothing and did */
} errs;

/* Errors of a GPU result against the reference over valid elements. */
static errs compare(const tune_data *d, const double *o, const float *lse, const double *ro, const double *rlse) {
  const fa_problem *p = &d->shape->p;
  errs e = {0, 0, 0};
  for (int b = 0; b < p->batch; ++b)
    for (int i = 0; i < p->seqlen_q; ++i)
      for (int h = 0; h < p->heads_q; ++h) {
        size_t base = b * p->o_stride[0] + i * p->o_stride[1] + h * p->o_stride[2];
        for (int x = 0; x < p->head_dim; ++x) {
          double a = o[base + x], r = ro[base + x];
          if (isnan(a)) { e.bad++; continue; }
          e.o_max = fmax(e.o_max, fabs(a - r));
        }
        size_t li = ((size_t)b * p->heads_q + h) * p->seqlen_q + i;
        double a = lse[li], r = rlse[li];
        if (isnan(a) || (isinf(r) != isinf(a))) { e.bad++; continue; }
        if (!isinf(r)) e.lse_max = fmax(e.lse_max, fabs(a - r));
      }
  return e;
}

/* ---- the unfused baseline kernel ---- */

static CUfunction unfused_fn[2];


int tune_unfused_load(fa_gen *gen, const fa_nvrtc *nv, int arch, int bf16, char *err, size_t n) {
  if (unfused_fn[bf16]) return 0;
  char *src = NULL;
  if (fa_gen_emit_tool(NULL, gen, bf16 ? "unfused_bf16" : "unfused_fp16", &src) != FA_OK) {
    snprintf(err, n, "%s", fa_errmsg(NULL));
    return -1;
  }
  void *cubin;
  size_t size;
  fa_status s = fa_nvrtc_compile(NULL, nv, "unfused", src, arch, NULL, &cubin, &size, NULL);
  free(src);
  if (s != FA_OK) { snprintf(err, n, "%s", fa_errmsg(NULL)); return -1; }
  CUmodule mod;
  int r = tune_cu->cuModuleLoadData(&mod, cubin) || tune_cu->cuModuleGetFunction(&unfused_fn[bf16], mod, "fa_unfused") ||
          tune_cu->cuFuncSetAttribute(unfused_fn[bf16], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 200 * 1024);
  free(cubin);
  if (r) snprintf(err, n, "loading the unfused kernel failed");
  return r ? -1 : 0;
}

int tune_unfused_run(const tune_data *d) {
  const fa_problem *p = &d->shape->p;
  fa_fwd_kparams kp;
  fa_kparams_fill(&kp, p);
  kp.q = d->dq; kp.k = d->dk; kp.v = d->dv; kp.o = d->do_; kp.lse = d->dlse;
  kp.q_pos = d->dq_pos; kp.k_pos = d->dk_pos; kp.q_seg = d->dq_seg; kp.k_seg = d->dk_seg;
  kp.seqlens_q = d->dseqlens_q; kp.seqlens_k = d->dseqlens_k;
  const int hd = p->head_dim;
  void *args[] = {&kp, (void *)&hd};
  return tune_cu->cuLaunchKernel(unfused_fn[p->dtype == FA_DTYPE_BF16], p->seqlen_q, p->heads_q, p->batch,
                                 128, 1, 1, p->seqlen_k * 4, NULL, args, NULL) ||
         tune_cu->cuCtxSynchronize();
}

/* ---- one signature's shapes, computed once and shared by its variants ---- */

typedef struct sig_case {
  tune_shape shape;
  tune_data data;
  double *ro, *rlse;   /* reference */
  errs base;           /* the unfused baseline's errors */
} sig_case;

static void sig_of(const fa_launch_info *li, tune_sig *g) {
  memset(g, 0, sizeof *g);
  g->d = li->d; g->bf16 = !strcmp(li->dtype, "bf16"); g->g = li->g;
  g->pos = li->pos; g->seg = li->seg; g->softcap = li->softcap;
}

/* Runs variant key on case c; splits: fa_plan_options.kv_splits (0 = fa's choice);
** ctas > 0: a persistent variant's grid of that many CTAs (several rounds each).
** *nsplit gets the split count the plan used. */
static int run_fa(fa_context *ctx, const char *key, int splits, unsigned ctas, sig_case *c, double *o, float *lse,
                  int *nsplit, char *err, size_t n) {
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = key;
  po.kv_splits = splits;
  fa_plan *plan;
  if (fa_plan_create(ctx, &c->shape.p, &po, &plan) != FA_OK) {
    snprintf(err, n, "%s", fa_errmsg(ctx));
    return -1;
  }
  *nsplit = plan->nsplit;
  if (ctas && fa_plan_launch(plan, ctas) != FA_OK) {
    snprintf(err, n, "%s", fa_errmsg(ctx));
    fa_plan_destroy(plan);
    return -1;
  }
  const tune_data *d = &c->data;
  fa_fwd_args a;
  tune_data_args(d, &a);
  size_t e = fa_dtype_size(c->shape.p.dtype);
  int r = tune_cu->cuMemsetD8(d->do_, 0xff, d->no * e) || tune_cu->cuMemsetD8(d->dlse, 0xff, d->nlse * 4);
  fa_status s = r ? FA_ERR_CUDA : fa_forward(plan, &a);
  if (s == FA_OK && tune_cu->cuCtxSynchronize()) s = FA_ERR_CUDA;
  if (s != FA_OK) {
    snprintf(err, n, "%s", s == FA_ERR_CUDA ? "a CUDA call failed (kernel fault?)" : fa_errmsg(ctx));
    fa_plan_destroy(plan);
    return -1;
  }
  fa_plan_destroy(plan);
  if (tune_download16(d->do_, d->no, c->shape.p.dtype, o) || tune_cu->cuMemcpyDtoH(lse, d->dlse, d->nlse * 4)) {
    snprintf(err, n, "download failed");
    return -1;
  }
  return 0;
}

int tune_cmd_verify(int argc, char **argv) {
  const char *filter = "";
  int device = 0, quiet = 0, as = 0, space = 0;
  for (int i = 0; i < argc; ++i) {
    if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
      if (tune_arg_arch("verify", "--as", argv[++i], &as)) return 2;
    }
    else if (!strcmp(argv[i], "--space")) space = 1;
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      if (tune_arg_int("verify", "--device", argv[++i], 0, 1023, &device)) return 2;
    }
    else if (!strcmp(argv[i], "--quiet")) quiet = 1;
    else { fprintf(stderr, "fa-tune verify: unknown argument '%s'\n", argv[i]); return 2; }
  }
  char name[256];
  if (tune_dev_open(device, name, sizeof name)) {
    printf("SKIPPED: fa-tune verify needs a GPU: %s\n", name);
    return 77;
  }
  fa_context_options co;
  fa_context_options_init(&co);
  co.device = device;
  co.flags = FA_CTX_NO_TUNING_DB;
  fa_context *ctx;
  if (fa_context_create(&co, &ctx) != FA_OK) { fprintf(stderr, "%s\n", fa_errmsg(NULL)); return 1; }
  printf("# %s\n", fa_context_describe(ctx));
  char nvwhy[256];
  const fa_nvrtc *nv = fa_nvrtc_load(nvwhy, sizeof nvwhy);
  if (!nv) { printf("SKIPPED: verify needs NVRTC for its baseline: %s\n", nvwhy); fa_context_destroy(ctx); return 77; }
  fa_gen *gen;
  if (tune_gen_open(ctx, &gen) != FA_OK) { fprintf(stderr, "%s\n", fa_errmsg(NULL)); return 1; }
  const int arch = ctx->arch;
  char **keys;
  int nkeys;
  /* What fa may serve on this GPU, or on another arch (--as: run here, where valid), or the
  ** default space alone (--space). */
  const int list_arch = as ? as : arch;
  if ((space ? fa_gen_list(NULL, gen, filter, list_arch, &keys, &nkeys)
             : fa_gen_list_served(NULL, gen, filter, list_arch, &keys, &nkeys)) != FA_OK) {
    fprintf(stderr, "%s\n", fa_errmsg(NULL));
    return 1;
  }
  if (as && as != arch) {
    int kept = 0;
    for (int i = 0; i < nkeys; ++i) {
      if (fa_gen_check_key(NULL, gen, keys[i], arch) == FA_OK) keys[kept++] = keys[i];
      else { printf("# skipped %s: not valid on this GPU's sm_%d\n", keys[i], arch); free(keys[i]); }
    }
    nkeys = kept;
  }
  /* Group by signature so each reference is computed once. */
  fa_launch_info *info = calloc((size_t)nkeys, sizeof *info);
  int *done = calloc((size_t)nkeys, sizeof *done);
  for (int i = 0; i < nkeys; ++i) fa_gen_launch(NULL, gen, keys[i], arch, &info[i]);
  /* The sweep walks the keys in list order, so the pool stays ahead of it. */
  tune_precompile *pc = tune_precompile_start(keys, nkeys, arch, ctx->cache_dir, tune_precompile_threads(1));

  int variants_ok = 0, variants_bad = 0, runs = 0;
  printf("%-52s %-26s %10s %10s %10s %s\n", "variant", "shape", "err_o", "2x_base", "err_lse", "result");
  for (int i = 0; i < nkeys; ++i) {
    if (done[i] || info[i].bwd) continue;
    tune_sig sig;
    sig_of(&info[i], &sig);
    sig_case cases[MAX_SHAPES];
    tune_shape shapes[MAX_SHAPES];
    int nc = tune_verify_shapes(&sig, shapes, MAX_SHAPES);
    char err[512] = "";
    if (tune_unfused_load(gen, nv, arch, sig.bf16, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    for (int c = 0; c < nc; ++c) {
      cases[c].shape = shapes[c];
      if (tune_data_make(&cases[c].data, &cases[c].shape, 1000 + c, 1)) { fprintf(stderr, "out of memory\n"); return 1; }
      tune_data *d = &cases[c].data;
      cases[c].ro = calloc(d->no, sizeof(double));
      cases[c].rlse = calloc(d->nlse, sizeof(double));
      reference(d, cases[c].ro, cases[c].rlse);
      double *o = calloc(d->no, sizeof *o);
      float *lse = calloc(d->nlse, sizeof *lse);
      tune_cu->cuMemsetD8(d->do_, 0xff, d->no * fa_dtype_size(d->shape->p.dtype));
      if (tune_unfused_run(d) || tune_download16(d->do_, d->no, d->shape->p.dtype, o) ||
          tune_cu->cuMemcpyDtoH(lse, d->dlse, d->nlse * 4)) { fprintf(stderr, "unfused baseline failed\n"); return 1; }
      cases[c].base = compare(d, o, lse, cases[c].ro, cases[c].rlse);
      free(o); free(lse);
    }
    for (int k = i; k < nkeys; ++k) {
      tune_sig other;
      sig_of(&info[k], &other);
      if (done[k] || info[k].bwd || memcmp(&sig, &other, sizeof sig)) continue;
      done[k] = 1;
      int ok = 1;
      /* Unsplit, fa's split-KV choice, and for a persistent variant small grids
      ** (on a full GPU the sweep's small shapes give each CTA one item at most). */
      static const unsigned grids[] = {3, 5};
      const int modes = info[k].persist ? 4 : 2;
      for (int c = 0; c < nc; ++c)
        for (int m = 0; m < modes; ++m) {
        const int splits = m == 1 ? 0 : 1;  /* kv_splits: 1 never, 0 fa's choice */
        const unsigned ctas = m >= 2 ? grids[m - 2] : 0;
        tune_data *d = &cases[c].data;
        double *o = calloc(d->no, sizeof *o), *o2 = calloc(d->no, sizeof *o2);
        float *lse = calloc(d->nlse, sizeof *lse), *lse2 = calloc(d->nlse, sizeof *lse2);
        char why[512] = "", name[96];
        int ns = 1, ns2 = 1;
        int r = run_fa(ctx, keys[k], splits, ctas, &cases[c], o, lse, &ns, why, sizeof why) ||
                run_fa(ctx, keys[k], splits, ctas, &cases[c], o2, lse2, &ns2, why, sizeof why);
        if (m == 1 && !r && ns == 1) { free(o); free(o2); free(lse); free(lse2); continue; }  /* same as unsplit */
        if (ctas) snprintf(name, sizeof name, "%.60s/p%u", cases[c].shape.name, ctas);
        else snprintf(name, sizeof name, ns > 1 ? "%.60s/kv%d" : "%.60s", cases[c].shape.name, ns);
        errs e = {0, 0, 0};
        const char *verdict = "ok";
        double lim = 2 * cases[c].base.o_max + ABS_TERM, llim = 2 * cases[c].base.lse_max + 1e-3;
        if (r) verdict = why;
        else {
          e = compare(d, o, lse, cases[c].ro, cases[c].rlse);
          if (e.bad) verdict = "FAIL: NaN, unwritten or wrongly empty rows";
          else if (e.o_max > lim) verdict = "FAIL: O error over 2x the unfused baseline";
          else if (e.lse_max > llim) verdict = "FAIL: LSE error";
          else if (memcmp(o, o2, d->no * sizeof *o) || memcmp(lse, lse2, d->nlse * sizeof *lse))
            verdict = "FAIL: two runs differ";
        }
        runs++;
        if (strcmp(verdict, "ok")) ok = 0;
        if (!quiet || strcmp(verdict, "ok"))
          printf("%-52s %-26s %10.2e %10.2e %10.2e %s\n", keys[k], name, e.o_max, lim, e.lse_max, verdict);
        if (e.bad) printf("    (%ld bad elements)\n", e.bad);
        free(o); free(o2); free(lse); free(lse2);
      }
      if (ok) variants_ok++; else variants_bad++;
      fflush(stdout);
    }
    for (int c = 0; c < nc; ++c) {
      tune_data_free(&cases[c].data);
      free(cases[c].ro); free(cases[c].rlse);
    }
  }
  int nbwd = 0;
  for (int i = 0; i < nkeys; ++i) nbwd += info[i].bwd;
  if (nbwd && tune_verify_bwd(ctx, gen, nv, keys, info, nkeys, quiet, &runs, &variants_ok, &variants_bad)) {
    tune_precompile_join(pc);
    return 1;
  }
  tune_precompile_join(pc);
  printf("verify: %d variants (%d forward, %d backward), %d shape runs; %d passed, %d failed\n", nkeys, nkeys - nbwd,
         nbwd, runs, variants_ok, variants_bad);
  free(info); free(done);
  fa_gen_free_list(keys, nkeys);
  fa_gen_close(gen);
  fa_context_destroy(ctx);
  return variants_bad ? 1 : 0;
}
