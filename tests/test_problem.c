/*
** test_problem.c -- fa_problem_init / fa_problem_check, the *_init functions,
** status names and the version. No GPU needed. Prints one line per failure and
** ends with "N passed, N failed"; exits 0 only if nothing failed.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "fa_int.h"
#include "fa_plan.h"

static int passed, failed;

#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (cond) {                                                  \
      passed++;                                                  \
    } else {                                                     \
      failed++;                                                  \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                \
      printf(__VA_ARGS__);                                       \
      printf("\n");                                              \
    }                                                            \
  } while (0)

/* Checks p and expects status want and, on failure, a message with every
** string of words[] (NULL-terminated). */
static void expect_(int line, const char *what, const fa_problem *p, fa_status want,
                    const char *const *words) {
  fa_err_clear(NULL);
  fa_status got = fa_problem_check(NULL, p);
  const char *msg = fa_errmsg(NULL);
  if (got != want) {
    failed++;
    printf("FAIL line %d (%s): got %s, want %s; message: %s\n", line, what,
           fa_status_name(got), fa_status_name(want), msg);
    return;
  }
  passed++;
  if (want == FA_OK) return;
  const char *name = fa_status_name(want);
  if (strncmp(msg, name, strlen(name)) != 0) {
    failed++;
    printf("FAIL line %d (%s): message does not start with %s: %s\n", line, what, name, msg);
  } else {
    passed++;
  }
  for (; words && *words; words++) {
    if (strstr(msg, *words)) {
      passed++;
    } else {
      failed++;
      printf("FAIL line %d (%s): message lacks \"%s\": %s\n", line, what, *words, msg);
    }
  }
}
#define EXPECT(what, p, want, ...) \
  expect_(__LINE__, what, p, want, (const char *const[]){__VA_ARGS__, NULL})

/* A valid problem to break one field of. */
static fa_problem base(fa_layout layout) {
  fa_problem p;
  fa_problem_init(&p, FA_DTYPE_BF16, layout, 2, 128, 256, 8, 2, 128);
  return p;
}

/* ---- Status names, strings, version --------------------------------------- */

static void test_status(void) {
  static const struct { fa_status s; const char *name; } table[] = {
#define ROW_(name, text) {FA_##name, "FA_" #name},
      FA_STATUS_MAP(ROW_)
#undef ROW_
  };
  const int n = (int)(sizeof table / sizeof table[0]);
  CHECK(n == FA_STATUS_COUNT_, "table has %d rows, FA_STATUS_COUNT_ is %d", n, FA_STATUS_COUNT_);
  CHECK(FA_OK == 0, "FA_OK is %d", (int)FA_OK);
  CHECK(strcmp(fa_status_name(FA_OK), "FA_OK") == 0, "name of FA_OK: %s", fa_status_name(FA_OK));
  CHECK(strcmp(fa_status_name(FA_ERR_HEADS), "FA_ERR_HEADS") == 0, "name of FA_ERR_HEADS");
  CHECK(strcmp(fa_status_name(FA_ERR_INTERNAL), "FA_ERR_INTERNAL") == 0, "name of FA_ERR_INTERNAL");
  for (int i = 0; i < n; i++) {
    const char *nm = fa_status_name((fa_status)i);
    const char *str = fa_status_string((fa_status)i);
    CHECK((int)table[i].s == i, "%s has value %d, expected %d", table[i].name, (int)table[i].s, i);
    CHECK(nm && strcmp(nm, table[i].name) == 0, "fa_status_name(%d) = %s, expected %s", i,
          nm ? nm : "(null)", table[i].name);
    CHECK(nm && strncmp(nm, "FA_", 3) == 0, "fa_status_name(%d) = %s lacks FA_", i, nm);
    CHECK(str && str[0] != '\0', "fa_status_string(%d) is empty", i);
    for (int j = 0; j < i; j++)
      CHECK(strcmp(nm, fa_status_name((fa_status)j)) != 0, "statuses %d and %d share name %s",
            i, j, nm);
  }
  CHECK(strcmp(fa_status_name((fa_status)999), "FA_UNKNOWN") == 0, "fa_status_name(999) = %s",
        fa_status_name((fa_status)999));
  CHECK(strcmp(fa_status_name((fa_status)-1), "FA_UNKNOWN") == 0, "fa_status_name(-1)");
  CHECK(strcmp(fa_status_name(FA_STATUS_COUNT_), "FA_UNKNOWN") == 0, "fa_status_name(COUNT)");
  const char *s999 = fa_status_string((fa_status)999);
  CHECK(s999 && s999[0] != '\0', "fa_status_string(999) is NULL or empty");

  CHECK(fa_version() == FA_VERSION_HEX, "fa_version() = 0x%x, FA_VERSION_HEX = 0x%x",
        fa_version(), (unsigned)FA_VERSION_HEX);
  CHECK(strcmp(fa_version_string(), "0.1.0") == 0, "fa_version_string() = %s",
        fa_version_string());
}

/* ---- *_init ------------------------------------------------------------------ */

static void test_inits(void) {
  fa_context_options co;
  memset(&co, 0x5a, sizeof co);
  fa_context_options_init(&co);
  CHECK(co.struct_size == sizeof co && co.device == 0 && co.arch == 80 && co.flags == 0 &&
            !co.cache_dir && !co.tuning_db && !co.shipped_db && !co.export_dir,
        "fa_context_options_init defaults");

  fa_plan_options po;
  memset(&po, 0x5a, sizeof po);
  fa_plan_options_init(&po);
  CHECK(po.struct_size == sizeof po && !po.variant && !po.variant_bwd && po.deterministic == 0,
        "fa_plan_options_init defaults");

  fa_fwd_args fa;
  memset(&fa, 0x5a, sizeof fa);
  fa_fwd_args_init(&fa);
  CHECK(fa.struct_size == sizeof fa && !fa.q && !fa.k && !fa.v && !fa.o && !fa.lse &&
            !fa.q_pos && !fa.k_pos && !fa.q_seg && !fa.k_seg && !fa.seqlens_q &&
            !fa.seqlens_k && !fa.workspace && fa.workspace_bytes == 0 && !fa.stream,
        "fa_fwd_args_init defaults");

  fa_bwd_args ba;
  memset(&ba, 0x5a, sizeof ba);
  fa_bwd_args_init(&ba);
  CHECK(ba.struct_size == sizeof ba && ba.fwd.struct_size == sizeof(fa_fwd_args) &&
            !ba.fwd.q && !ba.fwd.stream && !ba.dout && !ba.dq && !ba.dk && !ba.dv,
        "fa_bwd_args_init defaults");

  /* NULL is a no-op, not a crash. */
  fa_context_options_init(NULL);
  fa_plan_options_init(NULL);
  fa_fwd_args_init(NULL);
  fa_bwd_args_init(NULL);

  fa_problem p;
  memset(&p, 0x5a, sizeof p);
  CHECK(fa_problem_init(&p, FA_DTYPE_FP16, FA_LAYOUT_BSHD, 3, 100, 200, 8, 2, 64) == FA_OK,
        "fa_problem_init");
  CHECK(p.struct_size == sizeof p && p.dtype == FA_DTYPE_FP16 && p.batch == 3 &&
            p.seqlen_q == 100 && p.seqlen_k == 200 && p.heads_q == 8 && p.heads_kv == 2 &&
            p.head_dim == 64,
        "fa_problem_init sizes");
  CHECK(p.q_stride[0] == 100 * 8 * 64 && p.q_stride[1] == 8 * 64 && p.q_stride[2] == 64,
        "BSHD q strides {%lld, %lld, %lld}", (long long)p.q_stride[0], (long long)p.q_stride[1],
        (long long)p.q_stride[2]);
  CHECK(memcmp(p.o_stride, p.q_stride, sizeof p.q_stride) == 0, "BSHD o strides = q strides");
  CHECK(p.k_stride[0] == 200 * 2 * 64 && p.k_stride[1] == 2 * 64 && p.k_stride[2] == 64,
        "BSHD k strides");
  CHECK(memcmp(p.v_stride, p.k_stride, sizeof p.k_stride) == 0, "BSHD v strides = k strides");
  CHECK(fabsf(p.scale - 0.125f) < 1e-7f && p.softcap == 0.0f && p.causal == 0 &&
            p.window_left == -1 && p.window_right == -1 && p.features == 0,
        "fa_problem_init defaults");

  CHECK(fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BHSD, 3, 100, 200, 8, 2, 256) == FA_OK,
        "fa_problem_init BHSD");
  CHECK(p.q_stride[0] == 8 * 100 * 256 && p.q_stride[1] == 256 && p.q_stride[2] == 100 * 256,
        "BHSD q strides");
  CHECK(p.k_stride[0] == 2 * 200 * 256 && p.k_stride[1] == 256 && p.k_stride[2] == 200 * 256,
        "BHSD k strides");
  CHECK(memcmp(p.o_stride, p.q_stride, sizeof p.q_stride) == 0 &&
            memcmp(p.v_stride, p.k_stride, sizeof p.k_stride) == 0,
        "BHSD o/v strides");
  CHECK(p.scale == 1.0f / 16.0f, "scale for d=256: %g", (double)p.scale);

  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 1, 1, 1, 1, 0);
  CHECK(p.scale == 0.0f, "scale for d=0: %g", (double)p.scale);
  CHECK(fa_problem_init(NULL, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 1, 1, 1, 1, 64) ==
            FA_ERR_NULL_ARGUMENT,
        "fa_problem_init(NULL)");
  CHECK(fa_problem_init(&p, FA_DTYPE_BF16, (fa_layout)7, 1, 16, 16, 1, 1, 64) != FA_OK,
        "fa_problem_init with an unknown layout");
  CHECK(fa_problem_check(NULL, &p) != FA_OK, "check after an unknown layout");

  /* Helpers. */
  CHECK(fa_dtype_size(FA_DTYPE_BF16) == 2 && fa_dtype_size(FA_DTYPE_FP16) == 2 &&
            fa_dtype_size((fa_dtype)9) == 0,
        "fa_dtype_size");
  CHECK(strcmp(fa_dtype_name(FA_DTYPE_BF16), "bf16") == 0 &&
            strcmp(fa_dtype_name(FA_DTYPE_FP16), "fp16") == 0 &&
            strcmp(fa_dtype_name((fa_dtype)9), "?") == 0,
        "fa_dtype_name");
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 32, 867, 867, 8, 1, 256);
  CHECK(fa_problem_group(&p) == 8, "group 8/1");
  CHECK(fa_problem_group(NULL) == 0, "group of NULL");
  CHECK(fa_tensor_extent(p.q_stride, 32, 867, 8, 256) == (int64_t)32 * 867 * 8 * 256,
        "extent of a packed tensor");
  const int64_t gap[3] = {1000, 16, 8};
  CHECK(fa_tensor_extent(gap, 2, 3, 1, 8) == 1000 + 2 * 16 + 8, "extent with a gap");
  CHECK(fa_tensor_extent(gap, 0, 3, 1, 8) == 0, "extent of an empty tensor");
  const int64_t huge[3] = {INT64_C(1) << 62, 8, 8};
  CHECK(fa_tensor_extent(huge, 4, 1, 1, 8) == -1, "extent that overflows");
}

/* ---- Rejections --------------------------------------------------------------- */

static void test_rejects(fa_layout L) {
  fa_problem p;

  EXPECT("NULL problem", NULL, FA_ERR_NULL_ARGUMENT, "problem");
  p = base(L); p.struct_size = sizeof p - 8;
  EXPECT("short struct", &p, FA_ERR_STRUCT_SIZE, "struct_size");
  p = base(L); p.struct_size = sizeof p + 8;
  EXPECT("long struct", &p, FA_ERR_STRUCT_SIZE, "struct_size");
  p = base(L); p.struct_size = 0;
  EXPECT("zero struct", &p, FA_ERR_STRUCT_SIZE, "struct_size (0)");

  p = base(L); p.dtype = (fa_dtype)0;
  EXPECT("dtype 0", &p, FA_ERR_DTYPE, "dtype (0)");
  p = base(L); p.dtype = (fa_dtype)3;
  EXPECT("dtype 3", &p, FA_ERR_DTYPE, "dtype (3)");

  p = base(L); p.batch = 0;
  EXPECT("batch 0", &p, FA_ERR_SIZE, "batch (0)");
  p = base(L); p.batch = (1 << 20) + 1;
  EXPECT("batch too big", &p, FA_ERR_SIZE, "batch (1048577)");
  p = base(L); p.seqlen_q = -1;
  EXPECT("seqlen_q -1", &p, FA_ERR_SIZE, "seqlen_q (-1)");
  p = base(L); p.seqlen_k = 0;
  EXPECT("seqlen_k 0", &p, FA_ERR_SIZE, "seqlen_k (0)");
  p = base(L); p.seqlen_q = (1 << 26) + 1;
  EXPECT("seqlen_q too big", &p, FA_ERR_SIZE, "seqlen_q (67108865)");
  p = base(L); p.seqlen_k = INT32_MAX;
  EXPECT("seqlen_k too big", &p, FA_ERR_SIZE, "seqlen_k");
  p = base(L); p.heads_q = 0;
  EXPECT("heads_q 0", &p, FA_ERR_SIZE, "heads_q (0)");
  p = base(L); p.heads_kv = -3;
  EXPECT("heads_kv -3", &p, FA_ERR_SIZE, "heads_kv (-3)");
  p = base(L); p.heads_q = INT32_MAX;
  EXPECT("heads_q too big", &p, FA_ERR_SIZE, "heads_q");

  fa_problem_init(&p, FA_DTYPE_BF16, L, 2, 64, 64, 12, 5, 128);
  EXPECT("heads 12/5", &p, FA_ERR_HEADS, "heads_q (12) is not a multiple of heads_kv (5)");
  fa_problem_init(&p, FA_DTYPE_BF16, L, 2, 64, 64, 4, 8, 128);
  EXPECT("heads 4/8", &p, FA_ERR_HEADS, "heads_q (4)", "heads_kv (8)");

  static const int bad_d[] = {0, -64, 32, 96, 112, 192, 512};
  for (size_t i = 0; i < sizeof bad_d / sizeof bad_d[0]; i++) {
    char want[32];
    snprintf(want, sizeof want, "head_dim (%d)", bad_d[i]);
    fa_problem_init(&p, FA_DTYPE_BF16, L, 2, 64, 64, 8, 2, bad_d[i]);
    p.scale = 0.1f;
    EXPECT("bad head_dim", &p, FA_ERR_HEAD_DIM, want, "64, 128, 256");
  }

  /* Strides. */
  p = base(L); p.q_stride[0] = 0;
  EXPECT("q batch stride 0", &p, FA_ERR_STRIDE, "q_stride[0]", "(batch stride, 0)");
  p = base(L); p.k_stride[1] = -128;
  EXPECT("k seq stride negative", &p, FA_ERR_STRIDE, "k_stride[1]", "-128");
  p = base(L); p.v_stride[2] += 4;
  EXPECT("v head stride misaligned", &p, FA_ERR_ALIGNMENT, "v_stride[2]");
  p = base(L); p.o_stride[0] += 1;
  EXPECT("o batch stride misaligned", &p, FA_ERR_ALIGNMENT, "o_stride[0]");
  /* BSHD with heads stride < head_dim; BHSD with seq stride < head_dim. */
  p = base(L); p.q_stride[L == FA_LAYOUT_BSHD ? 2 : 1] = 64;
  EXPECT("inner stride < head_dim", &p, FA_ERR_STRIDE, "q_stride", "head_dim (128)");
  /* Two dimensions with the same stride. */
  p = base(L); p.k_stride[1] = p.k_stride[2];
  EXPECT("k seq and head strides equal", &p, FA_ERR_STRIDE, "k_stride", "overlaps");
  /* The outer dimension does not clear the middle one. */
  p = base(L); p.o_stride[0] -= 8;
  EXPECT("o batch stride overlaps", &p, FA_ERR_STRIDE, "o_stride[0]", "overlaps");
  /* Extent-1 dimensions: any positive stride. */
  fa_problem_init(&p, FA_DTYPE_BF16, L, 1, 1, 1024, 8, 1, 256);
  p.q_stride[0] = 3; p.q_stride[1] = 5; p.o_stride[0] = 7; p.o_stride[1] = 1;
  p.k_stride[2] = 11; p.v_stride[2] = 13; p.k_stride[0] = 17;
  EXPECT("extent-1 dims with odd strides", &p, FA_OK, NULL);
  p.q_stride[1] = 0;
  EXPECT("extent-1 dim with zero stride", &p, FA_ERR_STRIDE, "q_stride[1]");
  /* Padded, interleaved strides (a qkv-packed BSHD buffer) are fine. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 512, 512, 8, 8, 128);
  {
    const int64_t st[3] = {512 * 3 * 8 * 128, 3 * 8 * 128, 128};
    memcpy(p.q_stride, st, sizeof st);
    memcpy(p.k_stride, st, sizeof st);
    memcpy(p.v_stride, st, sizeof st);
  }
  EXPECT("qkv-packed", &p, FA_OK, NULL);

  /* Overflow. */
  p = base(L); p.q_stride[0] = INT64_C(1) << 61;
  EXPECT("q spans 2^62 bytes", &p, FA_ERR_OVERFLOW, "q_stride");
  p = base(L); p.v_stride[0] = INT64_C(1) << 62; p.batch = 4;
  EXPECT("v extent overflows int64", &p, FA_ERR_OVERFLOW, "v_stride");
  fa_problem_init(&p, FA_DTYPE_BF16, L, 1024, 32768, 128, 64, 8, 64);
  EXPECT("LSE rows >= 2^31", &p, FA_ERR_OVERFLOW, "batch*heads_q*seqlen_q");
  fa_problem_init(&p, FA_DTYPE_BF16, L, 1023, 32768, 128, 64, 8, 64);
  EXPECT("LSE rows just below 2^31", &p, FA_OK, NULL);

  /* Windows. */
  p = base(L); p.window_left = -2;
  EXPECT("window_left -2", &p, FA_ERR_WINDOW, "window_left (-2)");
  p = base(L); p.window_right = -100;
  EXPECT("window_right -100", &p, FA_ERR_WINDOW, "window_right (-100)");
  p = base(L); p.window_left = 1 << 30;
  EXPECT("window_left 2^30", &p, FA_ERR_WINDOW, "window_left (1073741824)");
  p = base(L); p.window_right = INT32_MAX;
  EXPECT("window_right INT32_MAX", &p, FA_ERR_WINDOW, "window_right");
  p = base(L); p.window_left = (1 << 30) - 1; p.window_right = 0;
  EXPECT("windows at the limits", &p, FA_OK, NULL);

  /* Scale and softcap. */
  p = base(L); p.scale = 0.0f;
  EXPECT("scale 0", &p, FA_ERR_SCALE, "scale (0)");
  p = base(L); p.scale = -0.5f;
  EXPECT("scale negative", &p, FA_ERR_SCALE, "scale (-0.5)");
  p = base(L); p.scale = NAN;
  EXPECT("scale NaN", &p, FA_ERR_SCALE, "scale");
  p = base(L); p.scale = INFINITY;
  EXPECT("scale inf", &p, FA_ERR_SCALE, "scale");
  p = base(L); p.softcap = -1.0f;
  EXPECT("softcap negative", &p, FA_ERR_SCALE, "softcap (-1)");
  p = base(L); p.softcap = NAN;
  EXPECT("softcap NaN", &p, FA_ERR_SCALE, "softcap");
  p = base(L); p.softcap = INFINITY;
  EXPECT("softcap inf", &p, FA_ERR_SCALE, "softcap");

  /* Causal and features. */
  p = base(L); p.causal = 2;
  EXPECT("causal 2", &p, FA_ERR_FEATURE, "causal (2)");
  p = base(L); p.causal = -1;
  EXPECT("causal -1", &p, FA_ERR_FEATURE, "causal (-1)");
  p = base(L); p.features = 0x10;
  EXPECT("feature 0x10", &p, FA_ERR_FEATURE, "features (0x10)");
  p = base(L); p.features = FA_FEAT_ALL_ | 0x80000000u;
  EXPECT("feature high bit", &p, FA_ERR_FEATURE, "features", "0x80000000");

  /* Order: the first failure in the documented order is reported. */
  p = base(L); p.dtype = (fa_dtype)5; p.batch = 0; p.head_dim = 7;
  EXPECT("dtype before size", &p, FA_ERR_DTYPE, "dtype");
  p = base(L); p.heads_q = 9; p.head_dim = 7;
  EXPECT("heads before head_dim", &p, FA_ERR_HEADS, "heads_q");
  p = base(L); p.head_dim = 96; p.q_stride[0] = 0;
  EXPECT("head_dim before stride", &p, FA_ERR_HEAD_DIM, "head_dim");
  p = base(L); p.q_stride[0] = 3; p.window_left = -5; p.scale = 0;
  EXPECT("stride before window", &p, FA_ERR_ALIGNMENT, "q_stride[0]");
  p = base(L); p.window_left = -5; p.scale = 0;
  EXPECT("window before scale", &p, FA_ERR_WINDOW, "window_left");
  p = base(L); p.scale = 0; p.causal = 3;
  EXPECT("scale before feature", &p, FA_ERR_SCALE, "scale");
}

/* ---- Every workload of /work/shared/workloads.md ------------------------------ */

struct workload {
  const char *name;
  int B, Tq, Tk, Hq, Hkv, d;
  float scale, softcap;
  int causal, wl, wr;
  unsigned features;
};

#define PS (FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS)
#define PSL (FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS | FA_FEAT_LSE)

static const struct workload workloads[] = {
    /* name                      B     Tq     Tk    H  K    d  scale     cap  c  wl    wr  feat */
    {"1 Pi0 train",              32,   867,   867, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PSL},
    {"2 Pi0.5 train",            32,  1018,  1018, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PSL},
    {"3 Pi0-FAST train",         32,  1017,  1017, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     PSL | FA_FEAT_SEQLENS},
    {"4 Pi0 prefill",             1,   816,   816, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     FA_FEAT_SEGMENTS},
    {"5 Pi0 denoise",             1,    51,   867, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PS},
    {"6 Pi0-FAST prefill",        1,  1018,  1274, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     PS | FA_FEAT_SEQLENS},
    {"7 Pi0-FAST decode B1",      1,     1,  1274, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS},
    {"7 Pi0-FAST decode B8",      8,     1,  1274, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS},
    {"7 Pi0-FAST decode B32",    32,     1,  1274, 8, 1, 256, 0.0625f,  0,   0, -1,   -1,
     FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS},
    {"8 PaliGemma 448px",         8,  1088,  1088, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PS},
    {"8 PaliGemma 896px",         8,  4160,  4160, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PS},
    {"9 Gemma 2 2B global",       4,  8192,  8192, 8, 4, 256, 0.0625f, 50,   1, -1,   -1,
     FA_FEAT_LSE},
    {"9 Gemma 2 2B local",        4,  8192,  8192, 8, 4, 256, 0.0625f, 50,   1, 4095, -1,
     FA_FEAT_LSE},
    {"10 Gemma 2 27B global",     2,  8192,  8192, 32, 16, 128, 0.0833333f, 50, 1, -1, -1,
     FA_FEAT_LSE},
    {"10 Gemma 2 27B local",      2,  8192,  8192, 32, 16, 128, 0.0833333f, 50, 1, 4095, -1,
     FA_FEAT_LSE},
    {"11 Gemma 3 12B global",     1, 32768, 32768, 16, 8, 256, 0.0625f, 0,   1, -1,   -1, 0},
    {"11 Gemma 3 12B local",      1, 32768, 32768, 16, 8, 256, 0.0625f, 0,   1, 1023, -1, 0},
    {"11 Gemma 3 images local",   1, 32768, 32768, 16, 8, 256, 0.0625f, 0,   0, 1023, 255,
     FA_FEAT_POSITIONS},
    {"12 Gemma 3 4B decode 32K", 16,     1, 32768, 8, 4, 256, 0.0625f,  0,   1, -1,   -1,
     FA_FEAT_SEQLENS},
    {"12 Gemma 3 4B decode 128K", 16,    1, 131072, 8, 4, 256, 0.0625f, 0,   1, 1023, -1,
     FA_FEAT_SEQLENS},
    {"13 Gemma 7B train",         8,  4096,  4096, 16, 16, 256, 0.0625f, 0,  1, -1,   -1,
     FA_FEAT_LSE},
    {"14 RecurrentGemma 2B",      1,  8192,  8192, 10, 1, 256, 0.0625f, 0,   1, 2048, -1, 0},
    {"15 no-key rows",            2,   867,   867, 8, 1, 256, 0.0625f,  0,   0, -1,   -1, PSL},
    {"Gemma 3 27B",               1,  8192,  8192, 32, 16, 128, 0.0771517f, 0, 1, 1023, -1, 0},
    {"Gemma 3 1B",                1, 32768, 32768, 4, 1, 256, 0.0625f,  0,   1, 511,  -1, 0},
    {"sweep 32/32 d128",         16,  8192,  8192, 32, 32, 128, 0.0883883f, 0, 1, -1, -1, 0},
    {"sweep 32/8 d128",           1,   512,   512, 32, 8, 128, 0.0883883f, 0,  0, -1,   -1, 0},
    {"document masks",            4,  4096,  4096, 8, 1, 256, 0.0625f,  0,   1, -1,   -1,
     FA_FEAT_SEGMENTS},
};

static void test_workloads(void) {
  static const fa_layout layouts[2] = {FA_LAYOUT_BSHD, FA_LAYOUT_BHSD};
  static const fa_dtype dtypes[2] = {FA_DTYPE_BF16, FA_DTYPE_FP16};
  for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
    const struct workload *x = &workloads[w];
    for (int l = 0; l < 2; l++)
      for (int t = 0; t < 2; t++) {
        fa_problem p;
        fa_status s = fa_problem_init(&p, dtypes[t], layouts[l], x->B, x->Tq, x->Tk, x->Hq,
                                      x->Hkv, x->d);
        CHECK(s == FA_OK, "init %s: %s", x->name, fa_status_name(s));
        CHECK(fabsf(p.scale - 1.0f / sqrtf((float)x->d)) < 1e-6f, "%s: default scale %g",
              x->name, (double)p.scale);
        p.scale = x->scale;
        p.softcap = x->softcap;
        p.causal = x->causal;
        p.window_left = x->wl;
        p.window_right = x->wr;
        p.features = x->features;
        char what[96];
        snprintf(what, sizeof what, "%s %s %s", x->name, l ? "BHSD" : "BSHD",
                 fa_dtype_name(dtypes[t]));
        EXPECT(what, &p, FA_OK, NULL);
        CHECK(fa_problem_group(&p) == x->Hq / x->Hkv, "%s: group", what);
      }
  }
}

/* ---- Messages without a context ------------------------------------------------ */

static void test_errmsg(void) {
  fa_problem p = base(FA_LAYOUT_BSHD);
  fa_err_clear(NULL);
  CHECK(fa_errmsg(NULL) != NULL && fa_errmsg(NULL)[0] == '\0', "errmsg after clear");
  p.heads_q = 12;
  p.heads_kv = 5;
  CHECK(fa_problem_check(NULL, &p) == FA_ERR_HEADS, "heads 12/5");
  const char *m = fa_errmsg(NULL);
  CHECK(strstr(m, "heads_q (12) is not a multiple of heads_kv (5)") != NULL,
        "fa_errmsg(NULL) = \"%s\"", m);
  CHECK(strncmp(m, "FA_ERR_HEADS", 12) == 0, "message starts with the status name: %s", m);
  CHECK(fa_problem_check(NULL, NULL) == FA_ERR_NULL_ARGUMENT, "NULL problem");
  CHECK(strstr(fa_errmsg(NULL), "FA_ERR_NULL_ARGUMENT") != NULL, "message for NULL problem: %s",
        fa_errmsg(NULL));
}

/* The backward's launch shape (fa_plan.c) on a 132-SM GPU, where each rule was measured. */
static void test_bwd_launch_shape(void) {
  fa_problem p;
  const int sms = 132;
  /* d256 8/1, B=4, S=2048, causal: 128 CTAs, uneven work: two CTAs per head group, heavy first. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 2048, 2048, 8, 1, 256);
  p.causal = 1;
  CHECK(fa_bwd_hsplit(&p, sms, 64, 64) == 2, "hsplit d256 8/1 causal S2048: %d", fa_bwd_hsplit(&p, sms, 64, 64));
  CHECK(fa_bwd_kb_slow(&p, sms, 2, 64) == 1, "kb_slow d256 8/1 causal S2048");
  /* The same without causal: even work, no split, key blocks fastest. */
  p.causal = 0;
  CHECK(fa_bwd_hsplit(&p, sms, 64, 64) == 1, "hsplit d256 8/1 S2048: %d", fa_bwd_hsplit(&p, sms, 64, 64));
  CHECK(fa_bwd_kb_slow(&p, sms, 1, 64) == 0, "kb_slow d256 8/1 S2048 non-causal");
  /* A window is uneven too. */
  p.window_left = 256;
  CHECK(fa_bwd_kb_slow(&p, sms, 1, 64) == 1, "kb_slow with a window");
  /* 128 key blocks per group (S=8192): fastest (lost 14% slowest). */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 8192, 8192, 8, 1, 256);
  p.causal = 1;
  CHECK(fa_bwd_hsplit(&p, sms, 64, 64) == 1 && fa_bwd_kb_slow(&p, sms, 1, 64) == 0, "d256 8/1 causal S8192");
  /* 64 groups (d256 16/16): fastest (lost 33% slowest); 32 groups (d128 32/8, BN 128): slowest. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 2048, 2048, 16, 16, 256);
  p.causal = 1;
  CHECK(fa_bwd_hsplit(&p, sms, 64, 64) == 1 && fa_bwd_kb_slow(&p, sms, 1, 64) == 0, "d256 16/16 causal S2048");
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 4, 2048, 2048, 32, 8, 128);
  p.causal = 1;
  CHECK(fa_bwd_hsplit(&p, sms, 64, 128) == 1 && fa_bwd_kb_slow(&p, sms, 1, 128) == 1, "d128 32/8 causal S2048");
  /* A full wave already (Pi0 training, 448 CTAs): no split. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 32, 867, 867, 8, 1, 256);
  CHECK(fa_bwd_hsplit(&p, sms, 64, 64) == 1, "Pi0 training");
  /* No SM count (a compile-only context): a valid answer all the same. */
  CHECK(fa_bwd_hsplit(&p, 0, 64, 64) == 1 && fa_bwd_kb_slow(&p, 0, 1, 64) == 0, "sms 0");
}

int main(void) {
  test_bwd_launch_shape();
  test_status();
  test_inits();
  test_rejects(FA_LAYOUT_BSHD);
  test_rejects(FA_LAYOUT_BHSD);
  test_workloads();
  test_errmsg();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
