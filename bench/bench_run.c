/*
** bench_run.c -- one shape on the GPU: fa and standard attention timed the
** same way (CUDA events, L2 flush, median and spread), their peak device
** memory measured (cuMemGetInfo), and their precision against the fp64
** reference on the shape's check problem (bench_check_shape_of).
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench.h"
#include "fa_ctx.h"

#define REF_CACHE 16
#define MIB (1024.0 * 1024.0)

typedef struct ref_entry {
  char key[512];
  double *o;
} ref_entry;

struct bench_env {
  fa_context *ctx;
  bench_std *std;
  char std_why[512];
  CUdeviceptr flush;
  int reps, no_std, no_check, check_cap;
  ref_entry refs[REF_CACHE];
  int ref_next;
  char describe[8192];
};

/* ---- timing and memory ---- */

static size_t free_now(void) {
  size_t f = 0, t = 0;
  tune_cu->cuCtxSynchronize();
  tune_cu->cuMemGetInfo(&f, &t);
  return f;
}

/* tune_time_fn's method (tuner/tune_time.c), with the spread. */
static int time_it(tune_enqueue fn, void *arg, CUdeviceptr flush, int reps, bench_row *r) {
  tune_times t;
  if (tune_time_fn(fn, arg, flush, &(tune_timing){reps, 0, 0}, &t)) return -1;
  r->ms_median = t.median;
  r->ms_min = t.min;
  r->ms_max = t.max;
  return 0;
}

typedef struct fa_call { fa_plan *plan; fa_fwd_args a; } fa_call;
static int run_fa(void *arg) {
  fa_call *c = arg;
  return fa_forward(c->plan, &c->a) == FA_OK ? 0 : -1;
}

typedef struct std_call { bench_std *st; const tune_data *d; bench_std_bufs *b; } std_call;
static int run_std(void *arg) {
  std_call *c = arg;
  return bench_std_run(c->st, c->d, c->b);
}

/* ---- the environment ---- */

int bench_env_open(bench_env **out, const bench_opts *o, char *why, size_t n) {
  *out = NULL;
  char name[256];
  if (tune_dev_open(o->device, name, sizeof name)) { snprintf(why, n, "%s", name); return 77; }
  bench_env *e = calloc(1, sizeof *e);
  if (!e) { snprintf(why, n, "out of memory"); return 1; }
  e->reps = o->reps; e->no_std = o->no_std; e->no_check = o->no_check; e->check_cap = o->check_cap;
  fa_context_options co;
  fa_context_options_init(&co);
  co.device = o->device;
  if (o->tuned < 0) co.flags |= FA_CTX_NO_TUNING_DB;
  if (fa_context_create(&co, &e->ctx) != FA_OK) {
    snprintf(why, n, "fa_context_create: %s", fa_errmsg(NULL));
    free(e);
    return 1;
  }
  if (tune_cu->cuMemAlloc(&e->flush, TUNE_FLUSH_BYTES)) {
    snprintf(why, n, "cannot allocate the %u MiB L2 flush buffer", TUNE_FLUSH_BYTES >> 20);
    bench_env_close(e);
    return 1;
  }
  if (o->no_std) snprintf(e->std_why, sizeof e->std_why, "skipped (--no-std)");
  else if (bench_std_open(&e->std, e->ctx->arch, e->std_why, sizeof e->std_why))
    e->std = NULL;
  snprintf(e->describe, sizeof e->describe, "fa: %s\nstandard attention: %s", fa_context_describe(e->ctx),
           e->std ? bench_std_describe(e->std) : e->std_why);
  *out = e;
  return 0;
}

void bench_env_close(bench_env *e) {
  if (!e) return;
  bench_std_close(e->std);
  if (e->flush) tune_cu->cuMemFree(e->flush);
  for (int i = 0; i < REF_CACHE; ++i) free(e->refs[i].o);
  fa_context_destroy(e->ctx);
  free(e);
}

const char *bench_env_describe(const bench_env *e) { return e->describe; }

/* ---- precision ---- */

typedef struct ref_job {
  const tune_data *d;
  double *o;
  int next;
  pthread_mutex_t lock;
} ref_job;

/* One query head of the check problem (one kv head) per step. */
static void *ref_worker(void *arg) {
  ref_job *j = arg;
  const fa_problem *p = &j->d->shape->p;
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int h = j->next++;
    pthread_mutex_unlock(&j->lock);
    if (h >= p->heads_q) break;
    fa_problem sub = *p;
    sub.heads_q = sub.heads_kv = 1;
    fa_ref_forward(&sub, &j->d->masks, j->d->q + h * p->q_stride[2], j->d->k, j->d->v, j->o + h * p->o_stride[2], NULL);
  }
  return NULL;
}

static void check_key(const tune_shape *c, char *key, size_t n) {
  const fa_problem *p = &c->p;
  snprintf(key, n, "%d %d %d %d %d %d %d %a %a %d %d %d %u | %d:%d,%d,%d,%d | %d %d %d %d | %d,%d,%d,%d %d,%d,%d,%d",
           (int)p->dtype, p->batch, p->seqlen_q, p->seqlen_k, p->heads_q, p->heads_kv, p->head_dim, (double)p->scale,
           (double)p->softcap, p->causal, p->window_left, p->window_right, p->features, c->nblocks, c->blocks[0],
           c->blocks[1], c->blocks[2], c->blocks[3], c->hole_lo, c->hole_hi, c->qhole_lo, c->qhole_hi, c->seqlen_q[0],
           c->seqlen_q[1], c->seqlen_q[2], c->seqlen_q[3], c->seqlen_k[0], c->seqlen_k[1], c->seqlen_k[2],
           c->seqlen_k[3]);
}

static const double *reference(bench_env *e, const tune_shape *c, const tune_data *d) {
  char key[512];
  check_key(c, key, sizeof key);
  for (int i = 0; i < REF_CACHE; ++i)
    if (e->refs[i].o && !strcmp(e->refs[i].key, key)) return e->refs[i].o;
  ref_entry *r = &e->refs[e->ref_next++ % REF_CACHE];
  free(r->o);
  r->o = calloc(d->no, sizeof *r->o);
  if (!r->o) return NULL;
  snprintf(r->key, sizeof r->key, "%s", key);
  ref_job j = {d, r->o, 0, PTHREAD_MUTEX_INITIALIZER};
  pthread_t th[64];
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int nt = 0, want = c->p.heads_q < ncpu ? c->p.heads_q : (int)ncpu;
  for (; nt < want && nt < 64; ++nt)
    if (pthread_create(&th[nt], NULL, ref_worker, &j)) break;
  if (!nt) ref_worker(&j);
  for (int i = 0; i < nt; ++i) pthread_join(th[i], NULL);
  return r->o;
}

static void errors(const tune_data *d, const double *ref, bench_row *r) {
  double *o = malloc(d->no * sizeof *o);
  if (!o || tune_download16(d->do_, d->no, d->shape->p.dtype, o)) { free(o); return; }
  double mx = 0, sum = 0;
  for (size_t i = 0; i < d->no; ++i) {
    double a = fabs(o[i] - ref[i]);
    if (isnan(a)) a = INFINITY;
    if (a > mx) mx = a;
    sum += a;
  }
  r->err_max = mx;
  r->err_mean = sum / (double)d->no;
  free(o);
}

static void check(bench_env *e, const tune_shape *s, const char *variant, bench_row *fa, bench_row *st) {
  tune_shape cs;
  tune_data cd;
  bench_check_shape_of(s, e->check_cap, &cs);
  if (tune_data_make(&cd, &cs, 4242, 1)) { tune_data_free(&cd); return; }
  const double *ref = reference(e, &cs, &cd);
  const size_t obytes = cd.no * fa_dtype_size(cs.p.dtype);
  if (ref && !strcmp(fa->status, "ok") && variant[0]) {
    fa_plan_options po;
    fa_plan_options_init(&po);
    po.variant = variant; /* the kernel that was timed */
    fa_plan *plan;
    if (fa_plan_create(e->ctx, &cs.p, &po, &plan) == FA_OK) {
      fa_fwd_args a;
      tune_data_args(&cd, &a);
      a.lse = NULL;
      if (!tune_cu->cuMemsetD8(cd.do_, 0xff, obytes) && fa_forward(plan, &a) == FA_OK && !tune_cu->cuCtxSynchronize())
        errors(&cd, ref, fa);
      fa_plan_destroy(plan);
    }
  }
  if (ref && e->std && !strcmp(st->status, "ok")) {
    bench_std_bufs b;
    char why[128];
    if (bench_std_alloc(e->std, &cd, &b, why, sizeof why) == 0) {
      if (!tune_cu->cuMemsetD8(cd.do_, 0xff, obytes) && !bench_std_run(e->std, &cd, &b) && !tune_cu->cuCtxSynchronize())
        errors(&cd, ref, st);
      bench_std_free(&b);
    }
  }
  tune_data_free(&cd);
}

/* ---- one case ---- */

static void cuda_status(bench_row *r, const char *what) {
  CUresult c = tune_cu->cuCtxSynchronize();
  const char *name = NULL;
  if (c) tune_cu->cuGetErrorName(c, &name);
  bench_status_set(r, "error: %s failed%s%s", what, name ? ": " : "", name ? name : "");
}

void bench_run_case(bench_env *e, const bench_case *c, bench_row *fa, bench_row *st) {
  const tune_shape *s = &c->shape;
  bench_row_init(fa, c->grid, s, "fa");
  bench_row_init(st, c->grid, s, "std");
  const double work = bench_work(s);
  /* The plan first: loading its kernel is not the shape's memory. */
  fa_plan *plan = NULL;
  char variant[160] = "";
  if (fa_plan_create(e->ctx, &s->p, NULL, &plan) != FA_OK) {
    bench_status_set(fa, "error: %s", fa_errmsg(e->ctx));
    plan = NULL;
  } else snprintf(variant, sizeof variant, "%s", fa_plan_variant(plan));
  const size_t free0 = free_now();
  tune_data d;
  if (tune_data_make(&d, s, 7, 2)) {
    tune_data_free(&d);
    if (plan) bench_status_set(fa, "oom: the inputs do not fit");
    bench_status_set(st, "oom: the inputs do not fit");
    fa_plan_destroy(plan);
    return;
  }
  if (d.dlse) { tune_cu->cuMemFree(d.dlse); d.dlse = 0; } /* no LSE: a model's forward */

  if (plan) {
    size_t ws = 0;
    CUdeviceptr wsp = 0;
    fa_plan_workspace(plan, &ws, NULL);
    if (ws && tune_cu->cuMemAlloc(&wsp, ws)) {
      bench_status_set(fa, "oom: workspace of %zu bytes", ws);
      wsp = 0;
    } else {
      fa_call call = {plan, {0}};
      tune_data_args(&d, &call.a);
      call.a.lse = NULL;
      call.a.workspace = (void *)(uintptr_t)wsp;
      call.a.workspace_bytes = ws;
      size_t lo = free_now();
      if (time_it(run_fa, &call, e->flush, e->reps, fa)) cuda_status(fa, "fa_forward");
      else {
        size_t after = free_now();
        lo = after < lo ? after : lo;
        fa->peak_mib = (double)(free0 - lo) / MIB;
        fa->tflops = work / fa->ms_median / 1e9;
        bench_status_set(fa, "ok");
      }
    }
    if (wsp) tune_cu->cuMemFree(wsp);
  }

  if (e->no_std) bench_status_set(st, "skipped");
  else if (!e->std) bench_status_set(st, "error: %s", e->std_why);
  else {
    bench_std_bufs b;
    char why[256];
    int r = bench_std_alloc(e->std, &d, &b, why, sizeof why);
    if (r == 1) bench_status_set(st, "oom: scores and P need %.2f GiB", 2 * bench_std_score_bytes(&s->p) / (MIB * 1024));
    else if (r < 0) bench_status_set(st, "error: %s", why);
    else {
      std_call call = {e->std, &d, &b};
      size_t lo = free_now();
      if (time_it(run_std, &call, e->flush, e->reps, st)) cuda_status(st, "standard attention");
      else {
        size_t after = free_now();
        lo = after < lo ? after : lo;
        st->peak_mib = (double)(free0 - lo) / MIB;
        st->tflops = work / st->ms_median / 1e9;
        st->speedup = 1.0;
        bench_status_set(st, "ok");
      }
      bench_std_free(&b);
    }
  }
  tune_data_free(&d);
  if (!strcmp(fa->status, "ok") && !strcmp(st->status, "ok")) fa->speedup = st->ms_median / fa->ms_median;
  if (!e->no_check) check(e, s, variant, fa, st);
  fa_plan_destroy(plan);
}
