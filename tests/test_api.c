/*
** test_api.c -- the public API end to end.
**   cpu: a machine without a driver (FA_NO_DRIVER=1): clear statuses and
**        messages, a compile-only context, nothing printed to stdout.
**   gpu: plans on the GPU against the fp64 reference, and bad calls.
**        Exits 77 (SKIPPED, with the reason) where there is no GPU.
**   gpu2: two GPUs driven from two threads, a context and plans each,
**        forward and backward against the reference. 77 below two GPUs.
*/
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fa.h"
#include "fa_cu.h"
#include "fa_nvrtc.h"
#include "fa_ref.h"
#include "fa_db.h"
#include "fa_plan.h"
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static int passed, failed;  /* atomic adds: the gpu2 test checks from two threads */
#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (cond) __atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED); \
    else { __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED); fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
  } while (0)

static int finish(void) {
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

typedef struct plan_job {
  fa_context *ctx;
  int d, ok;
  const char *variant;
} plan_job;

static void *plan_worker(void *arg) {
  plan_job *j = arg;
  j->ok = 1;
  for (int i = 0; i < 20; ++i) {
    fa_problem p;
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 300 + i, 300 + i, 4, 2, j->d);
    fa_plan *plan;
    if (fa_plan_create(j->ctx, &p, NULL, &plan) != FA_OK) { j->ok = 0; return NULL; }
    j->variant = fa_plan_variant(plan);
    fa_plan_destroy(plan);
  }
  return NULL;
}

/* One context, plans created from four threads at once (kernels compiled once). */
static void test_threads_cpu(fa_context *ctx) {
  pthread_t th[4];
  plan_job jobs[4];
  for (int i = 0; i < 4; ++i) {
    jobs[i] = (plan_job){ctx, i % 2 ? 64 : 128, 0, NULL};
    pthread_create(&th[i], NULL, plan_worker, &jobs[i]);
  }
  for (int i = 0; i < 4; ++i) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; ++i) CHECK(jobs[i].ok, "thread %d created its plans: %s", i, fa_errmsg(ctx));
}

/* An export directory round trip: its tuning.db is a tuning layer, its cubins
** are served, and a manifest of another fa version is ignored. */
static void test_export_dir(void) {
  char dir[] = "/tmp/fa_test_export_XXXXXX", path[256], why[512];
  if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
  const char *key = "fwd_sm80_d128_bf16_m128n64_w8_s2_g1";
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 1000, 1000, 8, 8, 128);
  p.causal = 1;
  fa_bucket b;
  fa_db_bucket_of(&p, &b);
  fa_db_gpu gpu = {"no device (compiling for sm_90)", 90, 0, 0, 0};
  snprintf(path, sizeof path, "%s/tuning.db", dir);
  fa_db *db = fa_db_open(path, 1, why, sizeof why);
  CHECK(db && fa_db_set_winner(db, &gpu, &b, key, 1.0, 100.0, NULL) == 0, "export db: %s", why);
  fa_db_close(db);
  snprintf(path, sizeof path, "%s/%s.sm_90a.cubin", dir, key);
  FILE *f = fopen(path, "wb");
  if (f) { fputs("not a real cubin: a compile-only context never loads it", f); fclose(f); }
  for (int good = 1; good >= 0; --good) {
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    f = fopen(path, "w");
    if (f) { fprintf(f, "# fa export\nfa_version %s\ngpu x\n", good ? fa_version_string() : "0.0.1"); fclose(f); }
    fa_context_options o;
    fa_context_options_init(&o);
    o.device = FA_DEVICE_NONE;
    o.arch = 90;
    o.flags = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_NVRTC;
    o.export_dir = dir;
    o.tuning_db = "/nonexistent/user.db";
    fa_context *ctx;
    CHECK(fa_context_create(&o, &ctx) == FA_OK, "context with export dir");
    fa_plan *plan;
    fa_status s = fa_plan_create(ctx, &p, NULL, &plan);
    if (good) {
      CHECK(s == FA_OK && !strcmp(fa_plan_variant(plan), key) && strstr(fa_plan_describe(plan), "tuned: exact") &&
                strstr(fa_plan_describe(plan), "kernel from export"),
            "export serves the tuned kernel without NVRTC: %s", s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
      if (s == FA_OK) fa_plan_destroy(plan);
    } else {
      CHECK(s == FA_ERR_NO_NVRTC && strstr(fa_context_describe(ctx), "export dir: none"),
            "a manifest of another fa version is ignored: %s", fa_context_describe(ctx));
    }
    fa_context_destroy(ctx);
  }
}

/* The backward's API on a compile-only context: its kernels load with the
** plan when the problem keeps the LSE, the workspace is the caller's and is
** checked, and every misuse has its status. */
static void test_backward_cpu(fa_context *ctx, const fa_problem *p0) {
  fa_problem p = *p0;
  fa_plan *plan = NULL;
  fa_plan_options po;
  fa_plan_options_init(&po);
  fa_bwd_args b;
  fa_bwd_args_init(&b);
  b.fwd.q = b.fwd.k = b.fwd.v = b.dout = (const void *)(uintptr_t)4096;
  b.fwd.o = b.dq = b.dk = b.dv = (void *)(uintptr_t)4096;
  b.fwd.lse = (float *)(uintptr_t)4096;
  /* Without LSE: no backward, and a forced backward key is refused. */
  fa_status s = fa_plan_create(ctx, &p, NULL, &plan);
  CHECK(s == FA_OK && fa_backward(plan, &b) == FA_ERR_FEATURE && strstr(fa_errmsg(ctx), "FA_FEAT_LSE"),
        "backward without LSE: %s", fa_errmsg(ctx));
  fa_plan_destroy(plan);
  po.variant_bwd = "bwd_sm80_d256_bf16_m64n64_w8_s2_g1";
  CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_VARIANT, "variant_bwd without LSE");
  p.features |= FA_FEAT_LSE;
  po.variant_bwd = "fwd_sm80_d256_bf16_m64n64_w4_s2_g1";
  CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_VARIANT && strstr(fa_errmsg(ctx), "bwd"),
        "forward key as variant_bwd: %s", fa_errmsg(ctx));
  for (int det = 0; det <= 1; ++det) {
    po.variant_bwd = NULL;
    po.deterministic = det;
    s = fa_plan_create(ctx, &p, &po, &plan);
    CHECK(s == FA_OK && strstr(fa_plan_describe(plan), "backward bwd_sm") && strstr(fa_plan_describe(plan), "_d256_"), "backward plan: %s",
          s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
    if (s != FA_OK) continue;
    CHECK(strstr(fa_plan_describe(plan), det ? "deterministic dQ" : "atomic dQ") != NULL, "mode: %s",
          fa_plan_describe(plan));
    size_t fwd = 1, bwd = 0;
    const size_t rows = (size_t)p.batch * p.heads_q * p.seqlen_q;
    CHECK(fa_plan_workspace(plan, &fwd, &bwd) == FA_OK && fwd == 0 && bwd >= rows * 8 + (det ? 0 : rows * 256 * 4),
          "backward workspace %zu (deterministic %d)", bwd, det);
    b.fwd.workspace = NULL;
    CHECK(fa_backward(plan, &b) == FA_ERR_WORKSPACE && strstr(fa_errmsg(ctx), "workspace"), "no workspace: %s",
          fa_errmsg(ctx));
    b.fwd.workspace = (void *)(uintptr_t)65536;
    b.fwd.workspace_bytes = bwd - 1;
    CHECK(fa_backward(plan, &b) == FA_ERR_WORKSPACE, "short workspace");
    b.fwd.workspace_bytes = bwd;
    b.fwd.workspace = (void *)(uintptr_t)(65536 + 16);
    CHECK(fa_backward(plan, &b) == FA_ERR_ALIGNMENT, "workspace not 256-byte aligned");
    b.fwd.workspace = (void *)(uintptr_t)65536;
    b.dk = NULL;
    CHECK(fa_backward(plan, &b) == FA_ERR_NULL_POINTER && strstr(fa_errmsg(ctx), "dk"), "NULL dk");
    b.dk = (void *)(uintptr_t)4104;
    CHECK(fa_backward(plan, &b) == FA_ERR_ALIGNMENT, "misaligned dk");
    b.dk = (void *)(uintptr_t)4096;
    b.fwd.lse = NULL;
    CHECK(fa_backward(plan, &b) == FA_ERR_NULL_POINTER, "NULL lse");
    b.fwd.lse = (float *)(uintptr_t)4096;
    b.struct_size = 8;
    CHECK(fa_backward(plan, &b) == FA_ERR_STRUCT_SIZE, "bad struct_size");
    b.struct_size = sizeof b;
    CHECK(fa_backward(plan, &b) == FA_ERR_NO_DEVICE, "backward without a device: %s", fa_errmsg(ctx));
    CHECK(fa_backward(plan, NULL) == FA_ERR_NULL_ARGUMENT && fa_backward(NULL, &b) == FA_ERR_NULL_ARGUMENT, "NULLs");
    fa_plan_destroy(plan);
  }
}

/* Where the choice has no backward variant (d=256 on sm_86's 99 KB of shared memory,
** whose one tile waits for a GPU run), a training plan still serves the forward and
** fa_backward says why. */
static void test_backward_unavailable(void) {
  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 86;
  o.flags = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB;
  fa_context *ctx;
  if (fa_context_create(&o, &ctx) != FA_OK) { CHECK(0, "sm_86 context: %s", fa_errmsg(NULL)); return; }
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 100, 100, 8, 1, 256);
  p.features |= FA_FEAT_LSE;
  fa_plan *plan;
  fa_status s = fa_plan_create(ctx, &p, NULL, &plan);
  CHECK(s == FA_OK && strstr(fa_plan_describe(plan), "no backward"), "sm_86 d256 training plan: %s",
        s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
  if (s == FA_OK) {
    fa_bwd_args b;
    fa_bwd_args_init(&b);
    b.fwd.q = b.fwd.k = b.fwd.v = b.dout = (const void *)(uintptr_t)4096;
    b.fwd.o = b.dq = b.dk = b.dv = (void *)(uintptr_t)4096;
    b.fwd.lse = (float *)(uintptr_t)4096;
    /* Until the 99 KB tile (m64n16) has run on a GPU (S.SM80_BWD_N16_FIRST) the choice skips it. */
    CHECK(fa_backward(plan, &b) == FA_ERR_UNSUPPORTED && strstr(fa_errmsg(ctx), "no backward variant fits head_dim 256") &&
              strstr(fa_errmsg(ctx), "m64n16"),
          "backward unavailable: %s", fa_errmsg(ctx));
    fa_plan_destroy(plan);
  }
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant_bwd = "bwd_sm80_d256_bf16_m64n64_w8_s1_g1";  /* forced: its failure is the plan's */
  CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_VARIANT, "forced backward that does not fit: %s",
        fa_errmsg(ctx));
  fa_context_destroy(ctx);
}

/* On a compile-only sm_90 context the heuristic takes the Hopper family, its
** kernel compiles, and running says there is no device; an sm_80 context
** refuses a forced Hopper variant with the reason. */
static void test_hopper_plan(void) {
  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 90;
  o.flags = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB;
  fa_context *ctx;
  if (fa_context_create(&o, &ctx) != FA_OK) { CHECK(0, "sm_90 context: %s", fa_errmsg(NULL)); return; }
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 333, 333, 8, 2, 128);
  fa_plan *plan;
  fa_status s = fa_plan_create(ctx, &p, NULL, &plan);
  CHECK(s == FA_OK && !strncmp(fa_plan_variant(plan), "fwd_sm90_", 9), "sm_90 plan takes the Hopper family: %s",
        s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
  if (s == FA_OK) {
    fa_fwd_args a;
    fa_fwd_args_init(&a);
    a.q = a.k = a.v = (const void *)(uintptr_t)4096;
    a.o = (void *)(uintptr_t)4096;
    CHECK(fa_forward(plan, &a) == FA_ERR_NO_DEVICE, "sm90 plan without a device: %s", fa_errmsg(ctx));
    fa_plan_destroy(plan);
  }
  fa_context_destroy(ctx);
  o.arch = 80;
  if (fa_context_create(&o, &ctx) != FA_OK) { CHECK(0, "sm_80 context: %s", fa_errmsg(NULL)); return; }
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = "fwd_sm90_d128_bf16_m128n128_w12_s2_g1";
  CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_VARIANT && strstr(fa_errmsg(ctx), "sm_90"),
        "forced Hopper variant on sm_80: %s", fa_errmsg(ctx));
  fa_context_destroy(ctx);
}

static void test_cpu(void) {
  setenv("FA_NO_DRIVER", "1", 1);
  fa_context *ctx = (fa_context *)1;
  fa_status s = fa_context_create(NULL, &ctx);
  CHECK(s == FA_ERR_NO_DEVICE && ctx == NULL, "no driver gives FA_ERR_NO_DEVICE, got %s", fa_status_name(s));
  CHECK(strstr(fa_errmsg(NULL), "FA_NO_DRIVER") != NULL, "message says why: %s", fa_errmsg(NULL));
  CHECK(fa_context_create(NULL, NULL) == FA_ERR_NULL_ARGUMENT, "NULL out");
  fa_context_options o;
  fa_context_options_init(&o);
  o.struct_size = 3;
  CHECK(fa_context_create(&o, &ctx) == FA_ERR_STRUCT_SIZE, "bad struct_size");
  /* Unknown flags, and a compile-only target fa cannot serve, are refused with a reason. */
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.flags = 0x100u;
  CHECK(fa_context_create(&o, &ctx) == FA_ERR_FEATURE && !ctx && strstr(fa_errmsg(NULL), "0x100"),
        "unknown flags: %s", fa_errmsg(NULL));
  o.flags = 0;
  const int bad_arch[] = {0, -1, 75, 1000};
  for (int i = 0; i < 4; ++i) {
    o.arch = bad_arch[i];
    CHECK(fa_context_create(&o, &ctx) == FA_ERR_UNSUPPORTED && !ctx && strstr(fa_errmsg(NULL), "sm_80 or newer"),
          "compile-only arch %d: %s", bad_arch[i], fa_errmsg(NULL));
  }
  fa_context_destroy(NULL);
  fa_plan_destroy(NULL);

  /* A compile-only context works with no driver. */
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 90;
  o.flags = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB;
  s = fa_context_create(&o, &ctx);
  CHECK(s == FA_OK && ctx, "compile-only context: %s", fa_errmsg(NULL));
  if (!ctx) return;
  CHECK(strstr(fa_context_describe(ctx), "no device") != NULL, "describe: %s", fa_context_describe(ctx));
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 100, 100, 8, 1, 256);
  fa_plan *plan = (fa_plan *)1;
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = "fwd_sm80_d128_bf16_m128n48_w4_s2_g1"; /* wrong head_dim */
  s = fa_plan_create(ctx, &p, &po, &plan);
  CHECK(s == FA_ERR_VARIANT && !plan && strstr(fa_errmsg(ctx), "head_dim"), "variant mismatch: %s", fa_errmsg(ctx));
  po.variant = "fwd_sm80_bogus";
  CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_VARIANT, "bogus key: %s", fa_errmsg(ctx));
  p.heads_kv = 3;
  CHECK(fa_plan_create(ctx, &p, NULL, &plan) == FA_ERR_HEADS, "invalid problem");
  p.heads_kv = 1;
  char why[256];
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (nv) {
    s = fa_plan_create(ctx, &p, NULL, &plan);
    CHECK(s == FA_OK, "plan compiles without a GPU: %s", fa_errmsg(ctx));
    if (s == FA_OK) {
      CHECK(strstr(fa_plan_describe(plan), "heuristic") != NULL, "describe: %s", fa_plan_describe(plan));
      fa_fwd_args a;
      fa_fwd_args_init(&a);
      a.q = a.k = a.v = (void *)(uintptr_t)4096;
      a.o = (void *)(uintptr_t)8192;
      CHECK(fa_forward(plan, &a) == FA_ERR_NO_DEVICE, "forward without a device: %s", fa_errmsg(ctx));
      a.o = (void *)(uintptr_t)8200;
      CHECK(fa_forward(plan, &a) == FA_ERR_ALIGNMENT, "misaligned o");
      a.o = NULL;
      CHECK(fa_forward(plan, &a) == FA_ERR_NULL_POINTER, "NULL o");
      CHECK(fa_forward(plan, NULL) == FA_ERR_NULL_ARGUMENT, "NULL args");
      fa_plan_destroy(plan);
    }
    /* Split-KV: a forced split needs scratch (capped at one slice per key
    ** tile: 100 keys are 2 tiles here); a short or misaligned one is refused. */
    po.variant = NULL;
    po.kv_splits = 4;
    s = fa_plan_create(ctx, &p, &po, &plan);
    CHECK(s == FA_OK && strstr(fa_plan_describe(plan), "split-KV 2"), "forced split: %s",
          s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
    if (s == FA_OK) {
      size_t fwd = 0, bwd = 1;
      CHECK(fa_plan_workspace(plan, &fwd, &bwd) == FA_OK && fwd == (size_t)2 * 8 * 100 * 2 * 257 * 4 && bwd == 0,
            "workspace size %zu", fwd);
      fa_fwd_args a;
      fa_fwd_args_init(&a);
      a.q = a.k = a.v = a.o = (void *)(uintptr_t)4096;
      a.workspace = (void *)(uintptr_t)8192;
      a.workspace_bytes = fwd - 1;
      CHECK(fa_forward(plan, &a) == FA_ERR_WORKSPACE && strstr(fa_errmsg(ctx), "workspace_bytes"), "short workspace: %s",
            fa_errmsg(ctx));
      a.workspace_bytes = fwd;
      a.workspace = (void *)(uintptr_t)8200;
      CHECK(fa_forward(plan, &a) == FA_ERR_ALIGNMENT, "misaligned workspace");
      fa_plan_destroy(plan);
    }
    po.kv_splits = -1;
    CHECK(fa_plan_create(ctx, &p, &po, &plan) == FA_ERR_SIZE && strstr(fa_errmsg(ctx), "kv_splits"), "bad kv_splits");
    po.kv_splits = 0;
    test_backward_cpu(ctx, &p);
    test_backward_unavailable();
    test_hopper_plan();
  } else {
    printf("(NVRTC absent here: %s; compile-only plan not checked)\n", why);
  }
  if (nv) test_threads_cpu(ctx);
  /* No NVRTC and no export: a plan says which is missing. */
  fa_context_destroy(ctx);
  o.flags |= FA_CTX_NO_NVRTC;
  CHECK(fa_context_create(&o, &ctx) == FA_OK, "context without NVRTC");
  s = fa_plan_create(ctx, &p, NULL, &plan);
  CHECK(s == FA_ERR_NO_NVRTC && strstr(fa_errmsg(ctx), "NVRTC"), "no NVRTC: %s", fa_errmsg(ctx));
  fa_context_destroy(ctx);
  test_export_dir();
  unsetenv("FA_NO_DRIVER");
}

/* ---- GPU ---- */

static const fa_cu *cu;

static uint16_t to_bf16(double x) {
  float f = (float)x;
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static double from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* One problem through the public API against the reference (loose bound:
** the sweep in fa-tune verify applies the exact 2x rule). */
static void gpu_case(fa_context *ctx, const char *name, fa_problem *p) {
  size_t nq = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
  size_t nk = (size_t)p->batch * p->seqlen_k * p->heads_kv * p->head_dim;
  uint16_t *hq = malloc(nq * 2), *hk = malloc(nk * 2), *hv = malloc(nk * 2), *ho = malloc(nq * 2);
  double *q = malloc(nq * 8), *k = malloc(nk * 8), *v = malloc(nk * 8), *ro = malloc(nq * 8);
  unsigned st = 12345;
  for (size_t i = 0; i < nq; ++i) { st = st * 1103515245u + 12345u; hq[i] = to_bf16(((st >> 8) % 2001) / 1000.0 - 1); q[i] = from_bf16(hq[i]); }
  for (size_t i = 0; i < nk; ++i) { st = st * 1103515245u + 12345u; hk[i] = to_bf16(((st >> 8) % 2001) / 1000.0 - 1); k[i] = from_bf16(hk[i]); }
  for (size_t i = 0; i < nk; ++i) { st = st * 1103515245u + 12345u; hv[i] = to_bf16(((st >> 8) % 2001) / 1000.0 - 1); v[i] = from_bf16(hv[i]); }
  fa_ref_forward(p, NULL, q, k, v, ro, NULL);
  CUdeviceptr dq, dk, dv, dout;
  cu->cuMemAlloc(&dq, nq * 2); cu->cuMemAlloc(&dk, nk * 2); cu->cuMemAlloc(&dv, nk * 2); cu->cuMemAlloc(&dout, nq * 2);
  cu->cuMemcpyHtoD(dq, hq, nq * 2); cu->cuMemcpyHtoD(dk, hk, nk * 2); cu->cuMemcpyHtoD(dv, hv, nk * 2);
  cu->cuMemsetD8(dout, 0xff, nq * 2);
  fa_plan *plan;
  fa_status s = fa_plan_create(ctx, p, NULL, &plan);
  CHECK(s == FA_OK, "%s: plan: %s", name, fa_errmsg(ctx));
  if (s == FA_OK) {
    fa_fwd_args a;
    fa_fwd_args_init(&a);
    a.q = (void *)dq; a.k = (void *)dk; a.v = (void *)dv; a.o = (void *)dout;
    s = fa_forward(plan, &a);
    CHECK(s == FA_OK && cu->cuCtxSynchronize() == CUDA_SUCCESS, "%s: forward: %s", name, fa_errmsg(ctx));
    cu->cuMemcpyDtoH(ho, dout, nq * 2);
    double err = 0;
    int nan = 0;
    for (size_t i = 0; i < nq; ++i) {
      double x = from_bf16(ho[i]);
      if (isnan(x)) nan++;
      else err = fmax(err, fabs(x - ro[i]));
    }
    CHECK(nan == 0 && err < 2e-2, "%s: max error %.3g, %d NaN/unwritten (%s)", name, err, nan, fa_plan_describe(plan));
    fa_plan_destroy(plan);
  }
  cu->cuMemFree(dq); cu->cuMemFree(dk); cu->cuMemFree(dv); cu->cuMemFree(dout);
  free(hq); free(hk); free(hv); free(ho); free(q); free(k); free(v); free(ro);
}

/* Forward then backward through the public API, as a training step would:
** gradients against the fp64 reference (loose bound; fa-tune verify applies
** the 2x rule), deterministic mode bitwise identical across two calls. */
static void gpu_bwd_case(fa_context *ctx, const char *name, fa_problem *p0) {
  fa_problem pp = *p0;
  fa_problem *p = &pp;
  p->features |= FA_FEAT_LSE;
  const size_t nq = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
  const size_t nk = (size_t)p->batch * p->seqlen_k * p->heads_kv * p->head_dim;
  const size_t n[4] = {nq, nk, nk, nq};  /* q, k, v, dO */
  uint16_t *h[4], *g[3][2];
  double *x[4], *r[3];
  unsigned st = 777;
  for (int t = 0; t < 4; ++t) {
    h[t] = malloc(n[t] * 2);
    x[t] = malloc(n[t] * 8);
    for (size_t i = 0; i < n[t]; ++i) {
      st = st * 1103515245u + 12345u;
      h[t][i] = to_bf16(((st >> 8) % 2001) / 1000.0 - 1);
      x[t][i] = from_bf16(h[t][i]);
    }
  }
  for (int t = 0; t < 3; ++t) {
    r[t] = calloc(n[t], 8);
    g[t][0] = malloc(n[t] * 2);
    g[t][1] = malloc(n[t] * 2);
  }
  fa_ref_backward(p, NULL, x[0], x[1], x[2], x[3], r[0], r[1], r[2]);
  CUdeviceptr d[4], dg[3], o, lse, ws = 0;
  for (int t = 0; t < 4; ++t) { cu->cuMemAlloc(&d[t], n[t] * 2); cu->cuMemcpyHtoD(d[t], h[t], n[t] * 2); }
  for (int t = 0; t < 3; ++t) cu->cuMemAlloc(&dg[t], n[t] * 2);
  cu->cuMemAlloc(&o, nq * 2);
  cu->cuMemAlloc(&lse, (size_t)p->batch * p->heads_q * p->seqlen_q * 4);
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.deterministic = 1;
  fa_plan *plan;
  fa_status s = fa_plan_create(ctx, p, &po, &plan);
  CHECK(s == FA_OK, "%s: backward plan: %s", name, fa_errmsg(ctx));
  if (s == FA_OK) {
    size_t need = 0;
    fa_plan_workspace(plan, NULL, &need);
    cu->cuMemAlloc(&ws, need);
    fa_bwd_args b;
    fa_bwd_args_init(&b);
    b.fwd.q = (void *)d[0]; b.fwd.k = (void *)d[1]; b.fwd.v = (void *)d[2];
    b.fwd.o = (void *)o; b.fwd.lse = (float *)lse;
    b.dout = (void *)d[3]; b.dq = (void *)dg[0]; b.dk = (void *)dg[1]; b.dv = (void *)dg[2];
    fa_fwd_args fa = b.fwd;
    b.fwd.workspace = (void *)ws;
    b.fwd.workspace_bytes = need;
    for (int run = 0; run < 2; ++run) {
      for (int t = 0; t < 3; ++t) cu->cuMemsetD8(dg[t], 0xff, n[t] * 2);
      s = fa_forward(plan, &fa);
      if (s == FA_OK) s = fa_backward(plan, &b);
      CHECK(s == FA_OK && cu->cuCtxSynchronize() == CUDA_SUCCESS, "%s: backward: %s", name, fa_errmsg(ctx));
      for (int t = 0; t < 3; ++t) cu->cuMemcpyDtoH(g[t][run], dg[t], n[t] * 2);
    }
    for (int t = 0; t < 3; ++t) {
      double err = 0, mx = 0;
      int nan = 0;
      for (size_t i = 0; i < n[t]; ++i) {
        const double v = from_bf16(g[t][0][i]);
        if (isnan(v)) nan++;
        else err = fmax(err, fabs(v - r[t][i]));
        mx = fmax(mx, fabs(r[t][i]));
      }
      CHECK(nan == 0 && err <= 3e-2 * (1 + mx), "%s: d%c max error %.3g (max %.3g), %d NaN/unwritten", name, "qkv"[t],
            err, mx, nan);
      CHECK(!memcmp(g[t][0], g[t][1], n[t] * 2), "%s: d%c differs between two deterministic runs", name, "qkv"[t]);
    }
    fa_plan_destroy(plan);
  }
  for (int t = 0; t < 4; ++t) { cu->cuMemFree(d[t]); free(h[t]); free(x[t]); }
  for (int t = 0; t < 3; ++t) { cu->cuMemFree(dg[t]); free(r[t]); free(g[t][0]); free(g[t][1]); }
  cu->cuMemFree(o); cu->cuMemFree(lse);
  if (ws) cu->cuMemFree(ws);
}

typedef struct run_job {
  fa_plan *plan;
  fa_fwd_args a;
  CUcontext cuctx;
  int ok;
} run_job;

static void *run_worker(void *arg) {
  run_job *j = arg;
  cu->cuCtxSetCurrent(j->cuctx);
  j->ok = 1;
  for (int i = 0; i < 50; ++i) j->ok &= fa_forward(j->plan, &j->a) == FA_OK;
  j->ok &= cu->cuCtxSynchronize() == CUDA_SUCCESS;
  return NULL;
}

/* One plan driven from four threads at once, each with its own output: all
** equal, bitwise. variant: forced, or NULL. With an sm90 variant that stores O
** by TMA, each call's O map differs from the plan's cached one (fa_run.c). */
static void gpu_threads(fa_context *ctx, const fa_problem *p, const char *variant) {
  size_t nq = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
  size_t nk = (size_t)p->batch * p->seqlen_k * p->heads_kv * p->head_dim;
  CUdeviceptr q, k, v, o[4];
  cu->cuMemAlloc(&q, nq * 2); cu->cuMemAlloc(&k, nk * 2); cu->cuMemAlloc(&v, nk * 2);
  cu->cuMemsetD32(q, 0x3f803c00u, nq / 2); cu->cuMemsetD32(k, 0x3e003f00u, nk / 2); cu->cuMemsetD32(v, 0x40003c80u, nk / 2);
  fa_plan *plan;
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = variant;
  if (fa_plan_create(ctx, p, &po, &plan) != FA_OK) { CHECK(0, "threads: plan: %s", fa_errmsg(ctx)); return; }
  CUcontext cur;
  cu->cuCtxGetCurrent(&cur);
  pthread_t th[4];
  run_job jobs[4];
  for (int i = 0; i < 4; ++i) {
    cu->cuMemAlloc(&o[i], nq * 2);
    cu->cuMemsetD8(o[i], 0xff, nq * 2);
    fa_fwd_args_init(&jobs[i].a);
    jobs[i].a.q = (void *)q; jobs[i].a.k = (void *)k; jobs[i].a.v = (void *)v; jobs[i].a.o = (void *)o[i];
    jobs[i].plan = plan;
    jobs[i].cuctx = cur;
    pthread_create(&th[i], NULL, run_worker, &jobs[i]);
  }
  for (int i = 0; i < 4; ++i) pthread_join(th[i], NULL);
  uint16_t *h0 = malloc(nq * 2), *h = malloc(nq * 2);
  cu->cuMemcpyDtoH(h0, o[0], nq * 2);
  for (int i = 0; i < 4; ++i) {
    cu->cuMemcpyDtoH(h, o[i], nq * 2);
    CHECK(jobs[i].ok && !memcmp(h, h0, nq * 2), "thread %d (%s): ran and matched thread 0", i, fa_plan_variant(plan));
    cu->cuMemFree(o[i]);
  }
  free(h0); free(h);
  cu->cuMemFree(q); cu->cuMemFree(k); cu->cuMemFree(v);
  fa_plan_destroy(plan);
}

static int test_gpu(void) {
  char why[512];
  cu = fa_cu_load(why, sizeof why);
  int n = 0;
  if (!cu || cu->cuDeviceGetCount(&n) != CUDA_SUCCESS || n == 0) {
    printf("SKIPPED: no GPU: %s\n", cu ? "no device" : why);
    return 77;
  }
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (!nv) { printf("SKIPPED: no NVRTC: %s\n", why); return 77; }
  fa_context *ctx;
  fa_status s = fa_context_create(NULL, &ctx);
  CHECK(s == FA_OK, "context: %s", fa_errmsg(NULL));
  if (s != FA_OK) return finish();
  printf("# %s\n", fa_context_describe(ctx));
  /* The application's own allocations need a current context, as with any
  ** driver-API code: use the device's primary context, which fa shares. */
  CUdevice dev;
  CUcontext pctx;
  cu->cuDeviceGet(&dev, 0);
  cu->cuDevicePrimaryCtxRetain(&pctx, dev);
  cu->cuCtxSetCurrent(pctx);
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 131, 131, 4, 2, 128);
  p.causal = 1;
  gpu_case(ctx, "gqa_causal_131", &p);
  gpu_threads(ctx, &p, NULL);
  int major = 0;
  cu->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  if (major == 9) gpu_threads(ctx, &p, "fwd_sm90_d128_bf16_m128n128_w12_s2_g2");
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BHSD, 1, 1, 257, 8, 1, 256);
  gpu_case(ctx, "decode_mqa_d256", &p);
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 77, 77, 2, 2, 64);
  p.softcap = 20.f;
  p.window_left = 10;
  gpu_case(ctx, "softcap_window_d64", &p);
  gpu_bwd_case(ctx, "bwd_softcap_window_d64", &p);
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 131, 131, 4, 2, 128);
  p.causal = 1;
  gpu_bwd_case(ctx, "bwd_gqa_causal_131", &p);
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BHSD, 1, 150, 203, 8, 1, 256);
  gpu_bwd_case(ctx, "bwd_mqa_d256_bhsd", &p);
  fa_context_destroy(ctx);
  cu->cuDevicePrimaryCtxRelease(dev);
  return finish();
}

/* One thread per GPU: its own context (fa_context_options.device) and plans;
** allocations in the device's primary context, current in this thread. */
typedef struct dev_job {
  int device;
  fa_context *ctx;
} dev_job;

static void *dev_worker(void *arg) {
  dev_job *j = arg;
  CUdevice dev;
  CUcontext pctx;
  if (cu->cuDeviceGet(&dev, j->device) || cu->cuDevicePrimaryCtxRetain(&pctx, dev) || cu->cuCtxSetCurrent(pctx)) {
    CHECK(0, "GPU %d: no primary context", j->device);
    return NULL;
  }
  char name[64];
  fa_problem p;
  for (int round = 0; round < 3; ++round) {  /* interleave with the other GPU's thread */
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 131, 131, 4, 2, 128);
    p.causal = 1;
    snprintf(name, sizeof name, "gpu%d_gqa_causal_131", j->device);
    gpu_case(j->ctx, name, &p);
    snprintf(name, sizeof name, "gpu%d_bwd_gqa_causal_131", j->device);
    gpu_bwd_case(j->ctx, name, &p);
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BHSD, 1, 150, 203, 8, 1, 256);
    snprintf(name, sizeof name, "gpu%d_bwd_mqa_d256", j->device);
    gpu_bwd_case(j->ctx, name, &p);
  }
  cu->cuDevicePrimaryCtxRelease(dev);
  return NULL;
}

static int test_gpu2(void) {
  char why[512];
  cu = fa_cu_load(why, sizeof why);
  int n = 0;
  if (!cu || cu->cuDeviceGetCount(&n) != CUDA_SUCCESS || n < 2) {
    printf("SKIPPED: needs two GPUs: %s\n", !cu ? why : n == 1 ? "one device" : "no device");
    return 77;
  }
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (!nv) { printf("SKIPPED: no NVRTC: %s\n", why); return 77; }
  dev_job jobs[2];
  pthread_t th[2];
  for (int i = 0; i < 2; ++i) {
    fa_context_options o;
    fa_context_options_init(&o);
    o.device = i;
    jobs[i].device = i;
    fa_status s = fa_context_create(&o, &jobs[i].ctx);
    CHECK(s == FA_OK, "context on GPU %d: %s", i, fa_errmsg(NULL));
    if (s != FA_OK) return finish();
    printf("# %s\n", fa_context_describe(jobs[i].ctx));
  }
  for (int i = 0; i < 2; ++i) pthread_create(&th[i], NULL, dev_worker, &jobs[i]);
  for (int i = 0; i < 2; ++i) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; ++i) fa_context_destroy(jobs[i].ctx);
  return finish();
}

/* After `fa-tune compile --arch sm_90a --cache DIR`: a compile-only sm_90
** context with that cache builds its forward and backward plans from it,
** without NVRTC compiling anything. */
static int test_cache(const char *dir) {
  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 90;
  o.flags = FA_CTX_NO_TUNING_DB;
  o.cache_dir = dir;
  fa_context *ctx;
  if (fa_context_create(&o, &ctx) != FA_OK) {
    printf("SKIPPED: no compile-only sm_90 context: %s\n", fa_errmsg(NULL));
    return 77;
  }
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 333, 333, 8, 2, 128);
  p.features |= FA_FEAT_LSE;
  fa_plan *plan;
  fa_status s = fa_plan_create(ctx, &p, NULL, &plan);
  CHECK(s == FA_OK, "plan: %s", fa_errmsg(ctx));
  if (s == FA_OK) {
    const char *d = fa_plan_describe(plan), *b = strstr(d, "; backward ");
    CHECK(strstr(d, "kernel from disk cache") && b && strstr(b, "kernel from disk cache"),
          "forward and backward from the disk cache: %s", d);
    fa_plan_destroy(plan);
  }
  /* A persistent variant's grid: one CTA per SM slot (none on a compile-only
  ** context: one), or as many as asked, never more than the work items. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 2048, 2048, 32, 8, 128);
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = "fwd_sm90_d128_bf16_m128n128_w12_s2_g1_persist";
  s = fa_plan_create(ctx, &p, &po, &plan);
  CHECK(s == FA_OK && plan->launch[0] == 1 && strstr(fa_plan_describe(plan), "walked by 1 persistent CTAs"),
        "persistent plan: %s", s == FA_OK ? fa_plan_describe(plan) : fa_errmsg(ctx));
  if (s == FA_OK) {
    CHECK(fa_plan_launch(plan, 132) == FA_OK && plan->launch[0] == 132 && plan->launch[1] == 1 && plan->launch[2] == 1,
          "132 CTAs: %u", plan->launch[0]);
    CHECK(fa_plan_launch(plan, 5000) == FA_OK && plan->launch[0] == 2048, "capped at the 2048 items: %u", plan->launch[0]);
    fa_plan_destroy(plan);
  }
  fa_context_destroy(ctx);
  return finish();
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "cache")) return test_cache(argv[2]);
  if (argc > 1 && !strcmp(argv[1], "gpu2")) return test_gpu2();
  if (argc > 1 && !strcmp(argv[1], "gpu")) return test_gpu();
  test_cpu();
  return finish();
}
