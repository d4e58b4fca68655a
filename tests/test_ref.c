/*
** test_ref.c -- checks the fp64 CPU reference (runtime/fa_ref.c): hand-computed
** cases, fully masked rows, GQA against repeated heads, BSHD against BHSD,
** softcap against a direct computation, and every gradient against central
** finite differences of L = sum(O * dO). Everything else in fa is tested
** against this reference, so it is tested against first principles only.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fa.h"
#include "fa_ref.h"

/* ---- Tiny harness ---------------------------------------------------------- */

static int g_case_failures; /* failures inside the current case */

#define EXPECT(cond, ...)                                     \
  do {                                                        \
    if (!(cond)) {                                            \
      if (g_case_failures++ < 5) {                            \
        printf("    %s:%d: ", __FILE__, __LINE__);            \
        printf(__VA_ARGS__);                                  \
        printf("\n");                                         \
      }                                                       \
    }                                                         \
  } while (0)

static int near(double a, double b, double tol)
{
  if (isinf(a) || isinf(b))
    return a == b;
  return fabs(a - b) <= tol * (1.0 + fabs(b));
}

#define EXPECT_NEAR(a, b, tol) \
  EXPECT(near((a), (b), (tol)), "%s = %.17g, expected %.17g", #a, (double)(a), (double)(b))

/* ---- Problems and tensors -------------------------------------------------- */

/* A problem with packed strides for the layout, independent of fa_problem_init. */
static fa_problem make_problem(fa_layout layout, int B, int Tq, int Tk, int Hq, int Hkv, int d)
{
  fa_problem p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.dtype = FA_DTYPE_BF16;
  p.batch = B;
  p.seqlen_q = Tq;
  p.seqlen_k = Tk;
  p.heads_q = Hq;
  p.heads_kv = Hkv;
  p.head_dim = d;
  int64_t *st[4] = {p.q_stride, p.k_stride, p.v_stride, p.o_stride};
  for (int t = 0; t < 4; t++) {
    int64_t T = (t == 1 || t == 2) ? Tk : Tq, H = (t == 1 || t == 2) ? Hkv : Hq;
    if (layout == FA_LAYOUT_BSHD) {
      st[t][0] = T * H * d, st[t][1] = H * d, st[t][2] = d;
    } else {
      st[t][0] = H * T * d, st[t][1] = d, st[t][2] = T * d;
    }
  }
  p.scale = (float)(1.0 / sqrt((double)d));
  p.softcap = 0.0f;
  p.causal = 0;
  p.window_left = -1;
  p.window_right = -1;
  p.features = 0;
  return p;
}

/* Pads every stride so that gaps appear between heads, rows and batches. */
static void pad_strides(fa_problem *p)
{
  int64_t *st[4] = {p->q_stride, p->k_stride, p->v_stride, p->o_stride};
  for (int t = 0; t < 4; t++) {
    int64_t T = (t == 1 || t == 2) ? p->seqlen_k : p->seqlen_q;
    int64_t H = (t == 1 || t == 2) ? p->heads_kv : p->heads_q;
    st[t][2] = p->head_dim + 2;
    st[t][1] = H * st[t][2] + 3;
    st[t][0] = T * st[t][1] + 5;
  }
}

enum { TQ, TK, TV, TO }; /* which tensor: q, k, v, o (dout shares o) */

static int64_t t_seq(const fa_problem *p, int t) { return (t == TK || t == TV) ? p->seqlen_k : p->seqlen_q; }
static int64_t t_heads(const fa_problem *p, int t) { return (t == TK || t == TV) ? p->heads_kv : p->heads_q; }
static const int64_t *t_stride(const fa_problem *p, int t)
{
  return t == TQ ? p->q_stride : t == TK ? p->k_stride : t == TV ? p->v_stride : p->o_stride;
}

/* Elements a tensor's strides span (one past the last valid element). */
static size_t t_span(const fa_problem *p, int t)
{
  const int64_t *st = t_stride(p, t);
  return (size_t)((p->batch - 1) * st[0] + (t_seq(p, t) - 1) * st[1] +
                  (t_heads(p, t) - 1) * st[2] + p->head_dim);
}

static int64_t t_off(const fa_problem *p, int t, int64_t b, int64_t s, int64_t h, int64_t x)
{
  const int64_t *st = t_stride(p, t);
  return b * st[0] + s * st[1] + h * st[2] + x;
}

/* Logical element count B*T*H*d. */
static size_t t_count(const fa_problem *p, int t)
{
  return (size_t)p->batch * (size_t)t_seq(p, t) * (size_t)t_heads(p, t) * (size_t)p->head_dim;
}

/* Logical index n (row-major b, s, h, x) to a strided offset. */
static int64_t t_nth(const fa_problem *p, int t, size_t n)
{
  int64_t d = p->head_dim, H = t_heads(p, t), T = t_seq(p, t);
  int64_t x = (int64_t)n % d, h = ((int64_t)n / d) % H, s = ((int64_t)n / (d * H)) % T;
  int64_t b = (int64_t)n / (d * H * T);
  return t_off(p, t, b, s, h, x);
}

static double *alloc_fill(size_t n, double value)
{
  double *a = malloc(sizeof(double) * (n ? n : 1));
  if (!a) {
    printf("out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++)
    a[i] = value;
  return a;
}

/* xorshift64* and Box-Muller: deterministic normal-ish inputs. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return ((g_rng * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void)
{
  double u = urand(), w = urand();
  return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * w);
}
static int irand(int lo, int hi) { return lo + (int)(urand() * (hi - lo + 1)); }

/* A tensor spanning p's strides: NaN in the gaps (so reading one shows), normal values in valid elements. */
static double *rand_tensor(const fa_problem *p, int t)
{
  double *a = alloc_fill(t_span(p, t), NAN);
  for (size_t n = 0; n < t_count(p, t); n++)
    a[t_nth(p, t, n)] = nrand();
  return a;
}

/* All the tensors of one forward + backward. */
typedef struct run {
  double *q, *k, *v, *o, *lse, *dout, *dq, *dk, *dv;
} run;

static void run_alloc(run *r, const fa_problem *p)
{
  r->q = rand_tensor(p, TQ);
  r->k = rand_tensor(p, TK);
  r->v = rand_tensor(p, TV);
  r->dout = rand_tensor(p, TO);
  /* Outputs start as garbage: the reference must overwrite what it owns. */
  r->o = alloc_fill(t_span(p, TO), 12345.0);
  r->lse = alloc_fill((size_t)p->batch * p->heads_q * p->seqlen_q, 12345.0);
  r->dq = alloc_fill(t_span(p, TQ), 12345.0);
  r->dk = alloc_fill(t_span(p, TK), 12345.0);
  r->dv = alloc_fill(t_span(p, TV), 12345.0);
}

static void run_free(run *r)
{
  free(r->q), free(r->k), free(r->v), free(r->o), free(r->lse);
  free(r->dout), free(r->dq), free(r->dk), free(r->dv);
}

static int run_both(run *r, const fa_problem *p, const fa_ref_masks *m)
{
  int rc = fa_ref_forward(p, m, r->q, r->k, r->v, r->o, r->lse);
  if (rc == 0)
    rc = fa_ref_backward(p, m, r->q, r->k, r->v, r->dout, r->dq, r->dk, r->dv);
  return rc;
}

static int all_finite(const fa_problem *p, int t, const double *a)
{
  for (size_t n = 0; n < t_count(p, t); n++)
    if (!isfinite(a[t_nth(p, t, n)]))
      return 0;
  return 1;
}

/* ---- Hand-computed cases --------------------------------------------------- */

static void test_single_key(void)
{
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, 1, 1, 1, 1, 2);
  p.scale = 0.5f;
  double q[2] = {1, 2}, k[2] = {3, -1}, v[2] = {0.25, -7}, o[2], lse;
  EXPECT(fa_ref_forward(&p, NULL, q, k, v, o, &lse) == 0, "forward failed");
  EXPECT_NEAR(o[0], 0.25, 1e-15);
  EXPECT_NEAR(o[1], -7.0, 1e-15);
  EXPECT_NEAR(lse, 0.5, 1e-15); /* one key: LSE is its score, 0.5 * (3 - 2) */
}

static void test_equal_scores_mean(void)
{
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, 1, 2, 1, 1, 2);
  p.scale = 1.0f;
  double q[2] = {1, 1}, k[4] = {2, 0, 0, 2}, v[4] = {1, 3, 5, -1}, o[2], lse;
  EXPECT(fa_ref_forward(&p, NULL, q, k, v, o, &lse) == 0, "forward failed");
  EXPECT_NEAR(o[0], 3.0, 1e-15);
  EXPECT_NEAR(o[1], 1.0, 1e-15);
  EXPECT_NEAR(lse, 2.0 + log(2.0), 1e-15);
}

static void test_weighted_two_keys(void)
{
  /* Scores 0 and ln 3: weights 1/4 and 3/4, LSE ln 4. */
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, 1, 2, 1, 1, 2);
  p.scale = 1.0f;
  double q[2] = {1, 0}, k[4] = {0, 5, log(3.0), -5}, v[4] = {4, 8, 0, -4}, o[2], lse;
  EXPECT(fa_ref_forward(&p, NULL, q, k, v, o, &lse) == 0, "forward failed");
  EXPECT_NEAR(o[0], 1.0, 1e-14);
  EXPECT_NEAR(o[1], -1.0, 1e-14);
  EXPECT_NEAR(lse, log(4.0), 1e-14);
}

static void test_masked_key_excluded(void)
{
  /* Causal, Tq = Tk = 2: query 0 sees key 0 only, query 1 sees both. */
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, 2, 2, 1, 1, 2);
  p.scale = 1.0f;
  p.causal = 1;
  double q[4] = {1, 1, 1, 1}, k[4] = {2, 0, 0, 2}, v[4] = {1, 3, 5, -1}, o[4], lse[2];
  EXPECT(fa_ref_forward(&p, NULL, q, k, v, o, lse) == 0, "forward failed");
  EXPECT_NEAR(o[0], 1.0, 1e-15);
  EXPECT_NEAR(o[1], 3.0, 1e-15);
  EXPECT_NEAR(lse[0], 2.0, 1e-15);
  EXPECT_NEAR(o[2], 3.0, 1e-15);
  EXPECT_NEAR(o[3], 1.0, 1e-15);

  /* Same keys, not causal, but key 1 in another segment. */
  p.causal = 0;
  p.features = FA_FEAT_SEGMENTS;
  int32_t qs[2] = {7, 7}, ks[2] = {7, 8};
  fa_ref_masks m = {0};
  m.q_seg = qs, m.k_seg = ks;
  EXPECT(fa_ref_forward(&p, &m, q, k, v, o, lse) == 0, "forward failed");
  EXPECT_NEAR(o[2], 1.0, 1e-15);
  EXPECT_NEAR(o[3], 3.0, 1e-15);

  /* And by position: key 1 is later than both queries. */
  p.features = FA_FEAT_POSITIONS;
  int32_t qp[2] = {10, 10}, kp[2] = {10, 11};
  m.q_pos = qp, m.k_pos = kp;
  EXPECT(fa_ref_forward(&p, &m, q, k, v, o, lse) == 0, "forward failed");
  EXPECT_NEAR(o[0], 1.0, 1e-15);
  EXPECT_NEAR(o[3], 3.0, 1e-15);
}

static void test_visible_pairs(void)
{
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 2, 7, 7, 1, 1, 2);
  p.causal = 1;
  EXPECT(fa_ref_visible_pairs(&p, NULL) == 2 * 28, "causal 7x7");
  p.window_left = 2; /* each row sees min(i + 1, 3) keys */
  EXPECT(fa_ref_visible_pairs(&p, NULL) == 2 * 18, "causal window 2");
  p.causal = 0;
  p.window_right = 1; /* j in [i - 2, i + 1] */
  EXPECT(fa_ref_visible_pairs(&p, NULL) == 2 * (2 + 3 + 4 + 4 + 4 + 4 + 3), "window 2, 1");

  /* Bottom-right alignment with Tq > Tk: off = -2, rows 0 and 1 see nothing. */
  p = make_problem(FA_LAYOUT_BSHD, 1, 5, 3, 1, 1, 2);
  p.causal = 1;
  EXPECT(fa_ref_visible_pairs(&p, NULL) == 6, "causal 5x3: %lld", (long long)fa_ref_visible_pairs(&p, NULL));
  EXPECT(!fa_ref_visible(&p, NULL, 0, 1, 0) && fa_ref_visible(&p, NULL, 0, 2, 0), "causal 5x3 rows");

  /* Alignment uses seqlens: Lq = 3, Lk = 5, off = 2. */
  p = make_problem(FA_LAYOUT_BSHD, 2, 6, 6, 1, 1, 2);
  p.causal = 1;
  p.features = FA_FEAT_SEQLENS;
  int32_t lq[2] = {3, 6}, lk[2] = {5, 6};
  fa_ref_masks m = {0};
  m.seqlens_q = lq, m.seqlens_k = lk;
  EXPECT(fa_ref_visible_pairs(&p, &m) == 12 + 21, "seqlens causal: %lld",
         (long long)fa_ref_visible_pairs(&p, &m));
  EXPECT(fa_ref_visible(&p, &m, 0, 0, 2) && !fa_ref_visible(&p, &m, 0, 0, 3), "off = 2");
  EXPECT(!fa_ref_visible(&p, &m, 0, 3, 0), "row past seqlens_q");

  /* Missing mask data never reads NULL: nothing visible, and the passes refuse. */
  p.features = FA_FEAT_POSITIONS;
  EXPECT(!fa_ref_visible(&p, &m, 0, 0, 0), "positions without data");
  double z[64] = {0};
  EXPECT(fa_ref_forward(&p, &m, z, z, z, z, NULL) == -1, "forward without mask data");
  EXPECT(fa_ref_forward(NULL, &m, z, z, z, z, NULL) == -1, "forward without problem");
}

/* ---- Fully masked rows ------------------------------------------------------ */

/* Runs p, then checks that the masked rows (dead[b * Tq + i]) have O = 0 and
** LSE = -inf, that every output is finite, and that when every row is dead the
** gradients are exactly zero. */
static void check_dead_rows(const fa_problem *p, const fa_ref_masks *m, const int *dead)
{
  run r;
  run_alloc(&r, p);
  EXPECT(run_both(&r, p, m) == 0, "reference failed");
  int all_dead = 1;
  for (int b = 0; b < p->batch; b++)
    for (int i = 0; i < p->seqlen_q; i++) {
      int dr = dead[b * p->seqlen_q + i];
      all_dead &= dr;
      for (int h = 0; h < p->heads_q; h++) {
        double l = r.lse[((int64_t)b * p->heads_q + h) * p->seqlen_q + i];
        EXPECT(dr ? (isinf(l) && l < 0) : isfinite(l), "lse b%d i%d h%d = %g", b, i, h, l);
        for (int x = 0; x < p->head_dim; x++) {
          double ov = r.o[t_off(p, TO, b, i, h, x)];
          if (dr) {
            EXPECT(ov == 0.0, "o b%d i%d = %g", b, i, ov);
            EXPECT(r.dq[t_off(p, TQ, b, i, h, x)] == 0.0, "dq of a dead row");
          }
        }
      }
    }
  EXPECT(all_finite(p, TO, r.o) && all_finite(p, TQ, r.dq) && all_finite(p, TK, r.dk) &&
             all_finite(p, TV, r.dv),
         "non-finite output");
  if (all_dead)
    for (size_t n = 0; n < t_count(p, TK); n++) {
      EXPECT(r.dk[t_nth(p, TK, n)] == 0.0 && r.dv[t_nth(p, TV, n)] == 0.0, "dk/dv of dead rows");
    }
  run_free(&r);
}

static void test_dead_rows(void)
{
  int dead[16];
  fa_ref_masks m = {0};

  /* Negative query segment: masked even though a key has the same value. */
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, 3, 4, 2, 1, 3);
  p.features = FA_FEAT_SEGMENTS;
  int32_t qs[3] = {-1, 0, -1}, ks[4] = {-1, 0, 0, -1};
  m.q_seg = qs, m.k_seg = ks;
  int d1[3] = {1, 0, 1};
  check_dead_rows(&p, &m, d1);
  int32_t qs_all[3] = {-1, -1, -1};
  m.q_seg = qs_all;
  for (int i = 0; i < 3; i++)
    dead[i] = 1;
  check_dead_rows(&p, &m, dead);

  /* Positions: the first query precedes every key. */
  p = make_problem(FA_LAYOUT_BHSD, 1, 3, 3, 2, 2, 2);
  p.features = FA_FEAT_POSITIONS;
  int32_t qp[3] = {0, 5, 1}, kp[3] = {1, 2, 3};
  m = (fa_ref_masks){0};
  m.q_pos = qp, m.k_pos = kp;
  int d2[3] = {1, 0, 0};
  check_dead_rows(&p, &m, d2);

  /* Causal with Tq > Tk: rows 0, 1 of 5 see nothing (bottom-right). */
  p = make_problem(FA_LAYOUT_BSHD, 2, 5, 3, 2, 1, 4);
  p.causal = 1;
  int d3[10] = {1, 1, 0, 0, 0, 1, 1, 0, 0, 0};
  check_dead_rows(&p, NULL, d3);

  /* Seqlens: rows past Lq, and a whole batch row with Lk = 0. */
  p = make_problem(FA_LAYOUT_BSHD, 2, 4, 5, 1, 1, 2);
  p.features = FA_FEAT_SEQLENS;
  int32_t lq[2] = {2, 4}, lk[2] = {5, 0};
  m = (fa_ref_masks){0};
  m.seqlens_q = lq, m.seqlens_k = lk;
  int d4[8] = {0, 0, 1, 1, 1, 1, 1, 1};
  check_dead_rows(&p, &m, d4);

  /* Softcap does not resurrect a masked row. */
  p = make_problem(FA_LAYOUT_BSHD, 1, 5, 3, 1, 1, 2);
  p.causal = 1;
  p.softcap = 3.0f;
  int d5[5] = {1, 1, 0, 0, 0};
  check_dead_rows(&p, NULL, d5);
}

/* Padding between strided elements is neither read nor written. */
static void test_padded_strides(void)
{
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 2, 5, 7, 4, 2, 3);
  pad_strides(&p);
  p.causal = 1;
  run r;
  run_alloc(&r, &p); /* q, k, v, dout gaps are NaN: reading one would show */
  EXPECT(run_both(&r, &p, NULL) == 0, "reference failed");
  EXPECT(all_finite(&p, TO, r.o) && all_finite(&p, TQ, r.dq) && all_finite(&p, TK, r.dk) &&
             all_finite(&p, TV, r.dv),
         "a gap was read");
  /* Output gaps keep their fill: mark valid elements, count the rest. */
  double *outs[4] = {r.dq, r.dk, r.dv, r.o};
  int which[4] = {TQ, TK, TV, TO};
  for (int t = 0; t < 4; t++) {
    size_t span = t_span(&p, which[t]);
    char *valid = calloc(span, 1);
    for (size_t n = 0; n < t_count(&p, which[t]); n++)
      valid[t_nth(&p, which[t], n)] = 1;
    size_t bad = 0;
    for (size_t e = 0; e < span; e++)
      bad += !valid[e] && outs[t][e] != 12345.0;
    EXPECT(bad == 0, "tensor %d: %zu gap elements written", t, bad);
    free(valid);
  }
  run_free(&r);
}

/* ---- GQA and layout ---------------------------------------------------------- */

/* GQA equals MHA with each kv head repeated; dk/dv are the group sums. */
static void test_gqa_equivalence(int Hq, int Hkv)
{
  const int B = 2, Tq = 5, Tk = 7, d = 3, G = Hq / Hkv;
  fa_problem g = make_problem(FA_LAYOUT_BSHD, B, Tq, Tk, Hq, Hkv, d);
  fa_problem mha = make_problem(FA_LAYOUT_BSHD, B, Tq, Tk, Hq, Hq, d);
  g.causal = mha.causal = 1;
  g.window_left = mha.window_left = 3;
  g.softcap = mha.softcap = 2.0f;
  run rg, rm;
  run_alloc(&rg, &g);
  run_alloc(&rm, &mha);
  memcpy(rm.q, rg.q, sizeof(double) * t_span(&g, TQ));
  memcpy(rm.dout, rg.dout, sizeof(double) * t_span(&g, TO));
  for (int b = 0; b < B; b++)
    for (int j = 0; j < Tk; j++)
      for (int h = 0; h < Hq; h++)
        for (int x = 0; x < d; x++) {
          rm.k[t_off(&mha, TK, b, j, h, x)] = rg.k[t_off(&g, TK, b, j, h / G, x)];
          rm.v[t_off(&mha, TV, b, j, h, x)] = rg.v[t_off(&g, TV, b, j, h / G, x)];
        }
  EXPECT(run_both(&rg, &g, NULL) == 0 && run_both(&rm, &mha, NULL) == 0, "reference failed");
  for (size_t n = 0; n < t_count(&g, TO); n++) {
    EXPECT_NEAR(rg.o[n], rm.o[n], 1e-13);
    EXPECT_NEAR(rg.dq[n], rm.dq[n], 1e-13);
  }
  for (size_t n = 0; n < (size_t)B * Hq * Tq; n++)
    EXPECT_NEAR(rg.lse[n], rm.lse[n], 1e-13);
  for (int b = 0; b < B; b++)
    for (int j = 0; j < Tk; j++)
      for (int hk = 0; hk < Hkv; hk++)
        for (int x = 0; x < d; x++) {
          double sk = 0, sv = 0;
          for (int h = hk * G; h < (hk + 1) * G; h++) {
            sk += rm.dk[t_off(&mha, TK, b, j, h, x)];
            sv += rm.dv[t_off(&mha, TV, b, j, h, x)];
          }
          EXPECT_NEAR(rg.dk[t_off(&g, TK, b, j, hk, x)], sk, 1e-12);
          EXPECT_NEAR(rg.dv[t_off(&g, TV, b, j, hk, x)], sv, 1e-12);
        }
  run_free(&rg);
  run_free(&rm);
}

static void test_gqa(void) { test_gqa_equivalence(4, 2); }
static void test_mqa(void) { test_gqa_equivalence(3, 1); }

/* The same logical tensors in BSHD and BHSD give the same results. */
static void test_layouts(void)
{
  fa_problem a = make_problem(FA_LAYOUT_BSHD, 2, 7, 5, 4, 2, 3);
  fa_problem c = make_problem(FA_LAYOUT_BHSD, 2, 7, 5, 4, 2, 3);
  a.causal = c.causal = 1;
  a.softcap = c.softcap = 1.5f;
  run ra, rc;
  run_alloc(&ra, &a);
  run_alloc(&rc, &c);
  int ts[4] = {TQ, TK, TV, TO};
  double *src[4] = {ra.q, ra.k, ra.v, ra.dout}, *dst[4] = {rc.q, rc.k, rc.v, rc.dout};
  for (int t = 0; t < 4; t++)
    for (size_t n = 0; n < t_count(&a, ts[t]); n++)
      dst[t][t_nth(&c, ts[t], n)] = src[t][t_nth(&a, ts[t], n)];
  EXPECT(run_both(&ra, &a, NULL) == 0 && run_both(&rc, &c, NULL) == 0, "reference failed");
  double *oa[4] = {ra.o, ra.dq, ra.dk, ra.dv}, *oc[4] = {rc.o, rc.dq, rc.dk, rc.dv};
  int ots[4] = {TO, TQ, TK, TV};
  for (int t = 0; t < 4; t++)
    for (size_t n = 0; n < t_count(&a, ots[t]); n++)
      EXPECT_NEAR(oa[t][t_nth(&a, ots[t], n)], oc[t][t_nth(&c, ots[t], n)], 1e-14);
  for (size_t n = 0; n < (size_t)2 * 4 * 7; n++)
    EXPECT_NEAR(ra.lse[n], rc.lse[n], 1e-14);
  run_free(&ra);
  run_free(&rc);
}

/* ---- Softcap ------------------------------------------------------------------ */

/* Direct computation: capped scores, a naive (unshifted) softmax, the weighted sum. */
static void test_softcap(void)
{
  const int Tq = 3, Tk = 4, d = 5;
  fa_problem p = make_problem(FA_LAYOUT_BSHD, 1, Tq, Tk, 1, 1, d);
  p.scale = 1.25f;
  p.softcap = 2.5f;
  run r;
  run_alloc(&r, &p);
  EXPECT(fa_ref_forward(&p, NULL, r.q, r.k, r.v, r.o, r.lse) == 0, "forward failed");
  const double scale = 1.25, cap = 2.5;
  for (int i = 0; i < Tq; i++) {
    double w[4], sum = 0;
    for (int j = 0; j < Tk; j++) {
      double dot = 0;
      for (int x = 0; x < d; x++)
        dot += r.q[i * d + x] * r.k[j * d + x];
      w[j] = exp(cap * tanh(scale * dot / cap));
      sum += w[j];
    }
    EXPECT_NEAR(r.lse[i], log(sum), 1e-13);
    for (int x = 0; x < d; x++) {
      double acc = 0;
      for (int j = 0; j < Tk; j++)
        acc += w[j] / sum * r.v[j * d + x];
      EXPECT_NEAR(r.o[i * d + x], acc, 1e-13);
    }
  }
  /* A huge cap is no cap at all. */
  double *o2 = alloc_fill(t_span(&p, TO), 0), lse2[3];
  p.softcap = 1e6f;
  fa_ref_forward(&p, NULL, r.q, r.k, r.v, o2, lse2);
  p.softcap = 0.0f;
  fa_ref_forward(&p, NULL, r.q, r.k, r.v, r.o, r.lse);
  for (int n = 0; n < Tq * d; n++)
    EXPECT_NEAR(o2[n], r.o[n], 1e-9);
  free(o2);
  run_free(&r);
}

/* ---- Gradients against finite differences ------------------------------------ */

/* L = sum(O * dO) over valid elements. */
static double loss(const fa_problem *p, const fa_ref_masks *m, const run *r)
{
  if (fa_ref_forward(p, m, r->q, r->k, r->v, r->o, NULL) != 0)
    return NAN;
  double l = 0;
  for (size_t n = 0; n < t_count(p, TO); n++) {
    int64_t e = t_nth(p, TO, n);
    l += r->o[e] * r->dout[e];
  }
  return l;
}

typedef struct gcase {
  fa_layout layout;
  int B, Tq, Tk, Hq, Hkv, d;
  int padded, causal, wl, wr;
  float scale, softcap;
  unsigned features;
} gcase;

static void check_gradients(const gcase *c)
{
  fa_problem p = make_problem(c->layout, c->B, c->Tq, c->Tk, c->Hq, c->Hkv, c->d);
  if (c->padded)
    pad_strides(&p);
  p.causal = c->causal;
  p.window_left = c->wl;
  p.window_right = c->wr;
  p.scale = c->scale;
  p.softcap = c->softcap;
  p.features = c->features;

  /* Mask data: small positions so some comparisons tie, mostly live segments. */
  int32_t qpos[64], kpos[64], qseg[64], kseg[64], lq[4], lk[4];
  for (int n = 0; n < c->B * c->Tq; n++) {
    qpos[n] = irand(2, 14);
    qseg[n] = irand(0, 7) == 0 ? -1 : irand(0, 1);
  }
  for (int n = 0; n < c->B * c->Tk; n++) {
    kpos[n] = irand(0, 12);
    kseg[n] = irand(0, 1);
  }
  for (int b = 0; b < c->B; b++) {
    lq[b] = irand(c->Tq / 2, c->Tq);
    lk[b] = irand(c->Tk / 2, c->Tk);
  }
  fa_ref_masks m = {qpos, kpos, qseg, kseg, lq, lk};

  run r;
  run_alloc(&r, &p);
  EXPECT(run_both(&r, &p, &m) == 0, "reference failed");
  EXPECT(all_finite(&p, TQ, r.dq) && all_finite(&p, TK, r.dk) && all_finite(&p, TV, r.dv),
         "non-finite gradient");

  /* The mask must leave something to differentiate. */
  EXPECT(fa_ref_visible_pairs(&p, &m) > 0, "nothing visible");

  const double h = 1e-5;
  double *ins[3] = {r.q, r.k, r.v}, *grads[3] = {r.dq, r.dk, r.dv};
  int ts[3] = {TQ, TK, TV};
  double maxg = 0;
  for (int t = 0; t < 3; t++)
    for (size_t n = 0; n < t_count(&p, ts[t]); n++) {
      int64_t e = t_nth(&p, ts[t], n);
      double keep = ins[t][e];
      ins[t][e] = keep + h;
      double lp = loss(&p, &m, &r);
      ins[t][e] = keep - h;
      double lm = loss(&p, &m, &r);
      ins[t][e] = keep;
      double fd = (lp - lm) / (2 * h);
      EXPECT(fabs(grads[t][e] - fd) <= 1e-7 * (1 + fabs(fd)),
             "d%c[%zu] = %.12g, finite difference %.12g", "qkv"[t], n, grads[t][e], fd);
      if (fabs(fd) > maxg)
        maxg = fabs(fd);
    }
  EXPECT(maxg > 1e-3, "gradients all near zero (%g): a vacuous check", maxg);
  run_free(&r);
}

static void test_grad_all_features(void)
{
  const unsigned all = FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS | FA_FEAT_SEQLENS | FA_FEAT_LSE;
  const gcase cases[] = {
      /* causal + window, positions, segments, seqlens, softcap, GQA */
      {FA_LAYOUT_BSHD, 2, 7, 13, 4, 2, 3, 0, 1, 5, -1, 0.9f, 1.5f, all},
      /* MQA, two-sided window, Tq > Tk, padded strides */
      {FA_LAYOUT_BSHD, 1, 13, 5, 3, 1, 5, 1, 0, 2, 1, 0.7f, 2.0f, all},
      /* BHSD, causal with Tq < Tk and seqlens */
      {FA_LAYOUT_BHSD, 2, 5, 7, 2, 2, 4, 0, 1, -1, -1, 0.5f, 0.0f, FA_FEAT_SEQLENS | FA_FEAT_POSITIONS},
      /* no mask at all, large scores clipped hard by the cap */
      {FA_LAYOUT_BSHD, 1, 7, 7, 6, 2, 2, 0, 0, -1, -1, 3.0f, 1.0f, 0},
      /* causal + left window on padded BHSD with segments */
      {FA_LAYOUT_BHSD, 3, 7, 5, 2, 1, 3, 1, 1, 3, -1, 1.1f, 0.0f, FA_FEAT_SEGMENTS},
  };
  for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++)
    check_gradients(&cases[n]);
}

/* ---- Main ------------------------------------------------------------------ */

typedef struct tcase {
  const char *name;
  void (*fn)(void);
} tcase;

int main(void)
{
  const tcase cases[] = {
      {"single key gives v", test_single_key},
      {"equal scores give the mean", test_equal_scores_mean},
      {"two keys weighted 1/4, 3/4", test_weighted_two_keys},
      {"masked keys are excluded", test_masked_key_excluded},
      {"visible pairs and alignment", test_visible_pairs},
      {"fully masked rows", test_dead_rows},
      {"padded strides", test_padded_strides},
      {"GQA equals repeated MHA", test_gqa},
      {"MQA equals repeated MHA", test_mqa},
      {"BSHD equals BHSD", test_layouts},
      {"softcap against direct", test_softcap},
      {"gradients against finite differences", test_grad_all_features},
  };
  int passed = 0, failed = 0;
  for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
    g_case_failures = 0;
    cases[n].fn();
    if (g_case_failures) {
      printf("FAIL %s (%d failures)\n", cases[n].name, g_case_failures);
      failed++;
    } else {
      printf("ok   %s\n", cases[n].name);
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
