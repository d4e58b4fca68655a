/*
** test_fuzz.c -- random descriptors and arguments through the public API.
**
** Properties, for every input:
**  - fa_problem_check() returns one of its documented statuses, with a message
**    on failure; on FA_OK an independent 128-bit oracle agrees that the sizes,
**    strides and spans are in range;
**  - fa_plan_create() on a valid problem never fails in selection: without
**    NVRTC it reaches FA_ERR_NO_NVRTC (or FA_ERR_UNSUPPORTED for a documented
**    reason), never FA_ERR_GENERATOR or FA_ERR_INTERNAL; a forced key that is
**    garbage or serves another problem gives FA_ERR_VARIANT;
**  - with a disk cache of compiled sm_90a kernels (ctest compile_sm90a),
**    plans are made, and fa_plan_workspace(), fa_forward() and fa_backward()
**    answer bad arguments with their own statuses and good ones with
**    FA_ERR_NO_DEVICE (a compile-only context), never touching memory.
** Built and run under -fsanitize=address,undefined (README) this also finds
** overflow and out-of-bounds on these paths.
**
** Usage: test_fuzz [N [SEED]] [cache DIR]
*/
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fa.h"
#include "fa_gen.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1du;
}
static int below(int n) { return (int)(next() % (uint64_t)n); }
#define PICK(a) ((a)[below((int)(sizeof(a) / sizeof((a)[0])))])

static const int32_t edge32[] = {INT32_MIN, -65536, -2, -1, 0, 1, 2, 3, 7, 8, 63, 64, 65, 96, 127, 128,
                                 255, 256, 257, 1000, 4096, 65535, 65536, 65537, 1 << 20, (1 << 20) + 1,
                                 1 << 26, (1 << 26) + 1, INT32_MAX};
static const int64_t edge64[] = {INT64_MIN, -8, -1, 0, 1, 7, 8, 64, 128, 256, 264, 4096, INT64_C(1) << 31,
                                 INT64_C(1) << 40, INT64_C(1) << 59, INT64_C(1) << 62, INT64_MAX - 7, INT64_MAX};

static int32_t any32(void) { return below(3) ? PICK(edge32) : (int32_t)next(); }

static float anyf(void) {
  static const float f[] = {0.f, -0.f, 1.f, -1.f, 0.125f, 1e-30f, 1e30f, 50.f, 30.f};
  switch (below(6)) {
    case 0: return NAN;
    case 1: return below(2) ? INFINITY : -INFINITY;
    default: return PICK(f);
  }
}

/* A valid problem: Gemma- and openpi-like sizes, odd lengths, either layout,
** sometimes padded strides, random mask features. */
static fa_problem valid_problem(void) {
  static const int32_t dims[] = {64, 128, 256};
  static const int32_t lens[] = {1, 2, 17, 63, 64, 65, 127, 333, 1000, 2048, 4097};
  static const int32_t groups[] = {1, 2, 4, 8, 16};
  const int32_t hkv = 1 + below(8), d = PICK(dims);
  fa_problem p;
  fa_problem_init(&p, below(2) ? FA_DTYPE_BF16 : FA_DTYPE_FP16, below(2) ? FA_LAYOUT_BSHD : FA_LAYOUT_BHSD,
                  1 + below(4), PICK(lens), PICK(lens), hkv * PICK(groups), hkv, d);
  if (!below(4)) { /* padded rows, as a slice of a wider buffer: restride to BSHD with a pad */
    const int64_t pad = 8 * (1 + below(4));
    p.q_stride[2] = p.o_stride[2] = d + pad;
    p.q_stride[1] = p.o_stride[1] = p.heads_q * (d + pad);
    p.q_stride[0] = p.o_stride[0] = p.seqlen_q * p.q_stride[1];
    p.k_stride[2] = p.v_stride[2] = d + pad;
    p.k_stride[1] = p.v_stride[1] = p.heads_kv * (d + pad);
    p.k_stride[0] = p.v_stride[0] = p.seqlen_k * p.k_stride[1];
  }
  p.causal = below(2);
  if (!below(3)) p.window_left = below(2) ? below(600) : 0;
  if (!below(6)) p.window_right = below(3) ? below(100) : 0;
  if (!below(3)) p.softcap = below(2) ? 50.f : 30.f;
  p.features = (uint32_t)below(16);
  return p;
}

/* Random fields: a valid problem with some fields replaced by edge values. */
static fa_problem random_problem(void) {
  fa_problem p = valid_problem();
  const int n = below(4);
  for (int k = 0; k < n; k++) {
    switch (below(14)) {
      case 0: p.dtype = (fa_dtype)any32(); break;
      case 1: p.batch = any32(); break;
      case 2: p.seqlen_q = any32(); break;
      case 3: p.seqlen_k = any32(); break;
      case 4: p.heads_q = any32(); break;
      case 5: p.heads_kv = any32(); break;
      case 6: p.head_dim = any32(); break;
      case 7: {
        int64_t *st[4] = {p.q_stride, p.k_stride, p.v_stride, p.o_stride};
        st[below(4)][below(3)] = PICK(edge64);
        break;
      }
      case 8: p.scale = anyf(); break;
      case 9: p.softcap = anyf(); break;
      case 10: p.causal = any32(); break;
      case 11: p.window_left = any32(); break;
      case 12: p.window_right = any32(); break;
      default: p.features = (uint32_t)next(); break;
    }
  }
  if (!below(200)) p.struct_size = (size_t)below(512);
  return p;
}

static int cmp64(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The independent oracle: what fa.h promises of a problem fa_problem_check() accepts. */
static int oracle_ok(const fa_problem *p, char *why, size_t n) {
  typedef __int128 i128;
  if (p->dtype != FA_DTYPE_BF16 && p->dtype != FA_DTYPE_FP16) return snprintf(why, n, "dtype"), 0;
  if (p->batch <= 0 || p->seqlen_q <= 0 || p->seqlen_k <= 0 || p->heads_q <= 0 || p->heads_kv <= 0)
    return snprintf(why, n, "a size <= 0"), 0;
  /* fa.h's limits: batch 2^20, lengths 2^26, heads 2^16, windows below 2^30 */
  if (p->batch > (1 << 20) || p->seqlen_q > (1 << 26) || p->seqlen_k > (1 << 26) || p->heads_q > (1 << 16) ||
      p->heads_kv > (1 << 16) || p->window_left >= (1 << 30) || p->window_right >= (1 << 30))
    return snprintf(why, n, "a size past its limit"), 0;
  if (p->heads_q % p->heads_kv) return snprintf(why, n, "heads"), 0;
  if (p->head_dim != 64 && p->head_dim != 128 && p->head_dim != 256) return snprintf(why, n, "head_dim"), 0;
  if (!(p->scale > 0.f) || !isfinite(p->scale) || !(p->softcap >= 0.f) || !isfinite(p->softcap))
    return snprintf(why, n, "scale/softcap"), 0;
  if (p->window_left < -1 || p->window_right < -1 || (p->causal != 0 && p->causal != 1) ||
      (p->features & ~0xfu))
    return snprintf(why, n, "window/causal/features"), 0;
  if ((i128)p->batch * p->heads_q * p->seqlen_q >= ((i128)1 << 31)) return snprintf(why, n, "LSE rows"), 0;
  const int64_t *st[4] = {p->q_stride, p->k_stride, p->v_stride, p->o_stride};
  for (int t = 0; t < 4; t++) {
    const int64_t ext[3] = {p->batch, t == 0 || t == 3 ? p->seqlen_q : p->seqlen_k,
                            t == 0 || t == 3 ? p->heads_q : p->heads_kv};
    i128 span = p->head_dim; /* highest offset + 1 */
    for (int i = 0; i < 3; i++) {
      if (st[t][i] <= 0) return snprintf(why, n, "stride <= 0"), 0;
      if (ext[i] > 1 && st[t][i] % 8) return snprintf(why, n, "stride alignment"), 0;
      if (ext[i] > 1) span += (i128)(ext[i] - 1) * st[t][i];
    }
    if (span * 2 >= ((i128)1 << 62)) return snprintf(why, n, "span"), 0;
    /* No two index tuples share an element: every element offset, sorted, on small tensors. */
    const int64_t count = ext[0] * ext[1] * ext[2];
    if (count <= 4096) {
      static int64_t off[4096];
      for (int64_t a = 0; a < count; a++)
        off[a] = a / (ext[1] * ext[2]) * st[t][0] + a / ext[2] % ext[1] * st[t][1] + a % ext[2] * st[t][2];
      qsort(off, (size_t)count, sizeof off[0], cmp64);
      for (int64_t a = 1; a < count; a++)
        if (off[a] - off[a - 1] < p->head_dim) return snprintf(why, n, "tensor %d rows overlap", t), 0;
    }
  }
  return 1;
}

static int is_check_status(fa_status s) {
  switch (s) {
    case FA_OK: case FA_ERR_NULL_ARGUMENT: case FA_ERR_STRUCT_SIZE: case FA_ERR_SIZE: case FA_ERR_HEADS:
    case FA_ERR_HEAD_DIM: case FA_ERR_DTYPE: case FA_ERR_STRIDE: case FA_ERR_ALIGNMENT: case FA_ERR_WINDOW:
    case FA_ERR_SCALE: case FA_ERR_OVERFLOW: case FA_ERR_FEATURE: return 1;
    default: return 0;
  }
}

static void fuzz_check(int n) {
  int ok = 0;
  char why[64];
  for (int i = 0; i < n; i++) {
    const fa_problem p = random_problem();
    const fa_status s = fa_problem_check(NULL, &p);
    CHECKM(is_check_status(s), "case %d: status %s", i, fa_status_name(s));
    if (s == FA_OK) {
      ok++;
      CHECKM(p.struct_size != sizeof p || oracle_ok(&p, why, sizeof why), "case %d accepted, oracle: %s", i, why);
    } else {
      CHECKM(fa_errmsg(NULL)[0] != '\0', "case %d: %s without a message", i, fa_status_name(s));
      if (p.struct_size == sizeof p && oracle_ok(&p, why, sizeof why)) {
        /* The oracle skips the overlap rule on big tensors: only FA_ERR_STRIDE may differ. */
        CHECKM(s == FA_ERR_STRIDE, "case %d rejected (%s: %s) but the oracle accepts it", i, fa_status_name(s),
               fa_errmsg(NULL));
      }
    }
  }
  printf("  fa_problem_check: %d random problems, %d valid\n", n, ok);
}

/* A problem in one line, for failure messages. */
static const char *describe(const fa_problem *p) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%s B%d Tq%d Tk%d H%d/%d d%d causal %d window %d,%d softcap %g features 0x%x",
           p->dtype == FA_DTYPE_BF16 ? "bf16" : "fp16", p->batch, p->seqlen_q, p->seqlen_k, p->heads_q, p->heads_kv,
           p->head_dim, p->causal, p->window_left, p->window_right, (double)p->softcap, p->features);
  return buf;
}

static fa_context *compile_ctx(int arch, unsigned flags, const char *cache) {
  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = arch;
  o.flags = flags;
  o.cache_dir = cache;
  fa_context *ctx = NULL;
  const fa_status s = fa_context_create(&o, &ctx);
  CHECKM(s == FA_OK, "compile-only sm_%d context: %s", arch, fa_errmsg(NULL));
  return ctx;
}

/* Plans on valid problems in a context that cannot compile: selection always succeeds. */
static void fuzz_select(int n) {
  static const int arches[] = {80, 86, 89, 90, 120};
  static const char *const keys[] = {"", "fwd", "fwd_sm80", "fwd_sm80_d128_bf16_m128n48_w4_s2_g1",
                                     "fwd_sm90_d256_bf16_m64n64_w12_s2_g1",
                                     "fwd_sm80_d64_fp16_m128n64_w4_s2_g1_softcap_pos_seg",
                                     "fwd_sm80_d999_bf16_m128n48_w4_s2_g1", "bwd_sm80_d128_bf16_m64n64_w4_s2_g1",
                                     "fwd_sm90_d128_bf16_m128n128_w12_s2_g1_persist_xyz"};
  int counts[FA_STATUS_COUNT_] = {0};
  for (size_t a = 0; a < sizeof arches / sizeof arches[0]; a++) {
    fa_context *ctx = compile_ctx(arches[a], FA_CTX_NO_NVRTC | FA_CTX_NO_DISK_CACHE, NULL);
    if (!ctx) continue;
    for (int i = 0; i < n; i++) {
      fa_problem p = valid_problem();
      fa_plan_options po;
      fa_plan_options_init(&po);
      const int forced = !below(5);
      if (forced) po.variant = PICK(keys);
      if (!below(8)) po.variant_bwd = PICK(keys);
      po.deterministic = below(2);
      po.kv_splits = below(4) ? 0 : below(70) - 2;
      fa_plan *plan = (fa_plan *)&p;
      const fa_status s = fa_plan_create(ctx, &p, &po, &plan);
      counts[s < FA_STATUS_COUNT_ ? s : FA_ERR_INTERNAL]++;
      const char *msg = fa_errmsg(ctx);
      CHECKM(s != FA_OK || plan, "sm_%d case %d: FA_OK without a plan", arches[a], i);
      CHECKM(s == FA_OK || !plan, "sm_%d case %d: %s left *out set", arches[a], i, fa_status_name(s));
      if (s == FA_OK) { /* a forced key in the cache-less context cannot load */
        fa_plan_destroy(plan);
        continue;
      }
      CHECKM(msg[0] != '\0', "sm_%d case %d: %s without a message", arches[a], i, fa_status_name(s));
      const int bad_opt = po.kv_splits < 0 || po.kv_splits > 64 || po.variant || po.variant_bwd;
      const int ok = s == FA_ERR_NO_NVRTC || (s == FA_ERR_UNSUPPORTED && strstr(msg, "65535")) ||
                     (bad_opt && (s == FA_ERR_VARIANT || s == FA_ERR_SIZE));
      CHECKM(ok, "sm_%d case %d: %s: %s [variant %s, variant_bwd %s, deterministic %d, kv_splits %d; %s]", arches[a],
             i, fa_status_name(s), msg, po.variant ? po.variant : "-", po.variant_bwd ? po.variant_bwd : "-",
             po.deterministic, po.kv_splits, describe(&p));
    }
    fa_context_destroy(ctx);
  }
  printf("  fa_plan_create without NVRTC, %d problems x 5 arches:", n);
  for (int s = 0; s < FA_STATUS_COUNT_; s++)
    if (counts[s]) printf(" %s %d", fa_status_name((fa_status)s), counts[s]);
  printf("\n");
}

static int in_list(char **keys, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(keys[i], key)) return 1;
  return 0;
}

/* Plans from the disk cache, then the run entry points with bad and good
** arguments. Problems whose heuristic kernels are not in the default space
** (the set compile_sm90a put in the cache) are skipped: NVRTC would compile them. */
static void fuzz_run(int n, const char *cache) {
  DIR *dir = opendir(cache);
  int files = 0;
  for (struct dirent *e; dir && (e = readdir(dir));) files += e->d_name[0] != '.';
  if (dir) closedir(dir);
  if (!files) { /* NVRTC would compile every kernel: leave this part to a run with the cache */
    printf("  plans: no kernels in %s (ctest compile_sm90a fills it), so no plans run\n", cache);
    return;
  }
  fa_context *ctx = compile_ctx(90, FA_CTX_NO_TUNING_DB, cache);
  fa_gen *gen = NULL;
  char **keys = NULL;
  int nkeys = 0;
  if (!ctx || fa_gen_open(NULL, &gen) != FA_OK || fa_gen_list(NULL, gen, "", 90, &keys, &nkeys) != FA_OK) {
    CHECKM(0, "generator: %s", fa_errmsg(NULL));
    fa_gen_close(gen);
    fa_context_destroy(ctx);
    return;
  }
  int made = 0, tried = 0;
  for (int i = 0; i < n; i++) {
    fa_problem p = valid_problem();
    fa_gen_problem pr;
    fa_gen_problem_from(&p, &pr);
    char key[160], why[256];
    if (fa_gen_choose(NULL, gen, &pr, 90, key, sizeof key, why, sizeof why) != FA_OK || !in_list(keys, nkeys, key))
      continue;
    pr.bwd = 1;
    if ((p.features & FA_FEAT_LSE) &&
        (fa_gen_choose(NULL, gen, &pr, 90, key, sizeof key, why, sizeof why) != FA_OK || !in_list(keys, nkeys, key)))
      continue;
    tried++;
    fa_plan_options po;
    fa_plan_options_init(&po);
    po.deterministic = below(2);
    po.kv_splits = below(2) ? 0 : below(9);
    fa_plan *plan;
    const fa_status s = fa_plan_create(ctx, &p, &po, &plan);
    if (s != FA_OK) {
      CHECKM(s == FA_ERR_NO_NVRTC || s == FA_ERR_UNSUPPORTED, "case %d: %s: %s", i, fa_status_name(s),
             fa_errmsg(ctx));
      continue;
    }
    made++;
    size_t fw = 1, bw = 1;
    CHECK(fa_plan_workspace(plan, &fw, &bw) == FA_OK);
    if (p.features & FA_FEAT_LSE) {
      CHECKM(bw >= (size_t)8 * p.batch * p.heads_q * p.seqlen_q, "case %d: bwd workspace %zu", i, bw);
    } else {
      CHECKM(bw == 0, "case %d: bwd workspace %zu without FA_FEAT_LSE", i, bw);
    }
    CHECK(fa_plan_describe(plan) && fa_plan_variant(plan) && fa_plan_variant(plan)[0]);

    fa_fwd_args a;
    fa_fwd_args_init(&a);
    uintptr_t base = 1 << 20;
    a.q = (void *)base, a.k = (void *)(base + 4096), a.v = (void *)(base + 8192), a.o = (void *)(base + 12288);
    a.lse = (float *)(base + 16384);
    a.q_pos = a.k_pos = a.q_seg = a.k_seg = a.seqlens_q = a.seqlens_k = (const int32_t *)(base + 20480);
    a.workspace = (void *)(base + 65536);
    a.workspace_bytes = fw > bw ? fw : bw;
    fa_fwd_args bad = a;
    switch (below(5)) {
      case 0: bad.q = NULL; break;
      case 1: bad.o = (void *)(base + 12290); break;
      case 2: bad.struct_size = 8; break;
      case 3: bad.workspace_bytes = fw ? fw - 1 : 0; bad.workspace = fw ? bad.workspace : NULL; break;
      default: break;
    }
    fa_status r = fa_forward(plan, &bad);
    if (bad.q == NULL) {
      CHECKM(r == FA_ERR_NULL_POINTER, "case %d: NULL q gave %s", i, fa_status_name(r));
    } else if (bad.o != a.o) {
      CHECKM(r == FA_ERR_ALIGNMENT, "case %d: misaligned o gave %s", i, fa_status_name(r));
    } else if (bad.struct_size != a.struct_size) {
      CHECKM(r == FA_ERR_STRUCT_SIZE, "case %d: struct_size gave %s", i, fa_status_name(r));
    } else if (fw && bad.workspace_bytes < fw) {
      CHECKM(r == FA_ERR_WORKSPACE, "case %d: short workspace gave %s", i, fa_status_name(r));
    } else {
      CHECKM(r == FA_ERR_NO_DEVICE, "case %d: good arguments gave %s: %s", i, fa_status_name(r), fa_errmsg(ctx));
    }
    CHECK(fa_forward(plan, NULL) == FA_ERR_NULL_ARGUMENT && fa_forward(NULL, &a) == FA_ERR_NULL_ARGUMENT);

    fa_bwd_args ba;
    fa_bwd_args_init(&ba);
    ba.fwd = a;
    ba.fwd.workspace_bytes = bw;
    ba.dout = (void *)(base + 24576), ba.dq = (void *)(base + 28672), ba.dk = (void *)(base + 32768),
    ba.dv = (void *)(base + 36864);
    r = fa_backward(plan, &ba);
    if (!(p.features & FA_FEAT_LSE)) {
      CHECKM(r == FA_ERR_FEATURE, "case %d: backward without FA_FEAT_LSE gave %s", i, fa_status_name(r));
    } else {
      CHECKM(r == FA_ERR_NO_DEVICE || r == FA_ERR_UNSUPPORTED, "case %d: backward gave %s: %s", i,
             fa_status_name(r), fa_errmsg(ctx));
      ba.dk = NULL;
      r = fa_backward(plan, &ba);
      CHECKM(r == FA_ERR_NULL_POINTER || r == FA_ERR_UNSUPPORTED, "case %d: NULL dk gave %s", i, fa_status_name(r));
    }
    fa_plan_destroy(plan);
  }
  fa_gen_free_list(keys, nkeys);
  fa_gen_close(gen);
  fa_context_destroy(ctx);
  printf("  plans from %s: %d of %d made (%d random problems), each run with bad and good arguments\n", cache, made,
         tried, n);
}

int main(int argc, char **argv) {
  int argi = 1, n = 20000;
  const char *cache = NULL;
  if (argi < argc && strcmp(argv[argi], "cache")) n = atoi(argv[argi++]);
  if (argi < argc && strcmp(argv[argi], "cache")) rng ^= strtoull(argv[argi++], NULL, 0);
  if (!rng) rng = 1;
  if (argi + 1 < argc && !strcmp(argv[argi], "cache")) cache = argv[argi + 1];
  printf("test_fuzz: state 0x%llx\n", (unsigned long long)rng);
  setenv("FA_NO_DRIVER", "1", 1);
  fuzz_check(n);
  fuzz_select(n / 100);
  if (cache) fuzz_run(n / 50, cache);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
