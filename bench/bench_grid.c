/*
** bench_grid.c -- fa-bench's command line, its grids (fa-tune's seed and
** gemma grids plus the decode rows of shared/workloads.md), --shape specs,
** and the small check problem each shape's precision is measured on.
*/
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "tune_shapes.h"

static tune_shape decode_shape(const char *name, int B, int Tk, int H, int K, int window) {
  tune_shape s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  fa_problem_init(&s.p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, B, 1, Tk, H, K, 256);
  s.p.scale = 1.f / 16;
  s.p.causal = 1;
  s.p.window_left = window > 0 ? window - 1 : -1;
  return s;
}

/* The decode-shaped rows of workloads.md that fa-tune's gemma grid leaves out:
** row 7 (Pi0-FAST decode into a 1274-token cache, per-sequence valid lengths)
** and row 12 (Gemma 3 4B long-context decode, global and window 1024). */
static int decode_rows(bench_case *out, int max) {
  int n = 0;
  static const int Bs[3] = {1, 8, 32};
  for (int i = 0; i < 3 && n < max; ++i) {
    tune_shape s = decode_shape("pi0fast_decode", Bs[i], 1274, 8, 1, 0);
    s.p.features = FA_FEAT_SEQLENS;
    static const int lens[4] = {1274, 1150, 1020, 1201};
    for (int b = 0; b < 4; ++b) { s.seqlen_q[b] = 1; s.seqlen_k[b] = lens[b]; }
    snprintf(out[n].grid, sizeof out[n].grid, "gemma");
    out[n++].shape = s;
  }
  static const int Tks[2] = {32768, 131072};
  for (int t = 0; t < 2; ++t)
    for (int w = 0; w < 2 && n < max; ++w) {
      tune_shape s = decode_shape(w ? "gemma3_4b_decode_local" : "gemma3_4b_decode_global", 16, Tks[t], 8, 4,
                                  w ? 1024 : 0);
      snprintf(out[n].grid, sizeof out[n].grid, "gemma");
      out[n++].shape = s;
    }
  return n;
}

int bench_grid(const char *name, bench_case *out, int max) {
  static tune_shape tmp[256];
  int k = tune_grid(name, tmp, 256);
  if (k <= 0) return -1;
  int n = 0;
  for (int i = 0; i < k && n < max; ++i, ++n) {
    snprintf(out[n].grid, sizeof out[n].grid, "%s", name);
    out[n].shape = tmp[i];
    out[n].shape.p.features &= ~FA_FEAT_LSE; /* a forward as a model runs it */
  }
  if (!strcmp(name, "gemma")) n += decode_rows(out + n, max - n);
  return n;
}

int bench_parse_shape(const char *spec, tune_shape *s) {
  int B, Tq, Tk, Hq, Hkv, d, n = 0;
  if (sscanf(spec, "%d,%d,%d,%d,%d,%d%n", &B, &Tq, &Tk, &Hq, &Hkv, &d, &n) != 6) return -1;
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "shape_%.50s", spec);
  for (char *c = s->name; *c; ++c)
    if (*c == ',' || *c == '=') *c = '_';
  fa_problem_init(&s->p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, B, Tq, Tk, Hq, Hkv, d);
  const char *t = spec + n;
  while (*t == ',') {
    ++t;
    size_t len = strcspn(t, ",");
    char word[64], *end;
    if (len == 0 || len >= sizeof word) return -1;
    memcpy(word, t, len);
    word[len] = 0;
    double v = 0;
    const char *eq = strchr(word, '=');
    if (eq) {
      v = strtod(eq + 1, &end);
      if (end == eq + 1 || *end) return -1;
    }
    if (!strcmp(word, "causal")) s->p.causal = 1;
    else if (!strncmp(word, "softcap=", 8)) s->p.softcap = (float)v;
    else if (!strncmp(word, "window=", 7)) {
      if (v < 1 || v != (int)v) return -1;
      s->p.window_left = (int)v - 1;
    } else if (!strncmp(word, "scale=", 6)) s->p.scale = (float)v;
    else return -1;
    t += len;
  }
  if (*t) return -1;
  return fa_problem_check(NULL, &s->p) == FA_OK ? 0 : -1;
}

int bench_check_shape_of(const tune_shape *s, int cap, tune_shape *c) {
  const fa_problem *p = &s->p;
  int capped = 0, tq = p->seqlen_q, tk = p->seqlen_k;
  *c = *s;
  snprintf(c->name, sizeof c->name, "check_%.50s", s->name);
  if (tk > cap) {
    const int shift = tk - cap;
    tk = cap;
    capped = 1;
    /* Block-causal recipes: shrink the prefix block, keep the suffix blocks. */
    if (c->nblocks > 0) {
      int rest = 0;
      for (int i = 1; i < c->nblocks; ++i) rest += c->blocks[i];
      c->blocks[0] = c->blocks[0] - shift > 1 ? c->blocks[0] - shift : (tk - rest > 1 ? tk - rest : 1);
    }
    if (c->hole_hi > tk) c->hole_hi = tk;
    if (c->hole_lo >= c->hole_hi) c->hole_lo = c->hole_hi = 0;
  }
  if (tq > cap) {
    tq = cap;
    capped = 1;
    if (c->qhole_hi > tq) c->qhole_hi = tq;
    if (c->qhole_lo >= c->qhole_hi) c->qhole_lo = c->qhole_hi = 0;
  }
  for (int b = 0; b < 4; ++b) {
    if (c->seqlen_q[b] > tq) c->seqlen_q[b] = tq;
    if (c->seqlen_k[b] > tk) c->seqlen_k[b] = tk;
  }
  tune_group_problem(p, tq, tk, &c->p);
  c->p.features &= ~FA_FEAT_LSE;
  const int half = tk / 2 > 1 ? tk / 2 : 1;
  if (c->p.window_left >= half) { c->p.window_left = half - 1; capped = 1; }
  if (c->p.window_right >= half) { c->p.window_right = half - 1; capped = 1; }
  return capped;
}

double bench_work(const tune_shape *s) {
  return 4.0 * s->p.heads_q * s->p.head_dim * (double)tune_visible_pairs(s);
}

static int add_cases(bench_opts *o, const bench_case *c, int k) {
  for (int i = 0; i < k; ++i) {
    if (o->ncases >= BENCH_MAX_CASES) return -1;
    o->cases[o->ncases++] = c[i];
  }
  return 0;
}

static int parse_int(const char *v, int lo, int *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (end == v || *end || x < lo || x > 1 << 30) return -1;
  *out = (int)x;
  return 0;
}

int bench_parse_args(int argc, char **argv, bench_opts *o, char *err, size_t n) {
  memset(o, 0, sizeof *o);
  o->reps = BENCH_DEFAULT_REPS;
  o->check_cap = BENCH_DEFAULT_CHECK_CAP;
  o->cases = calloc(BENCH_MAX_CASES, sizeof *o->cases);
  static bench_case tmp[BENCH_MAX_CASES];
  if (!o->cases) { snprintf(err, n, "out of memory"); return 2; }
  int grids = 0, shapes = 0;
  for (int i = 0; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE() do { if (!v) { snprintf(err, n, "%s needs a value", a); return 2; } ++i; } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) o->help = 1;
    else if (!strcmp(a, "--selftest")) {
      o->selftest = 1;
      if (v && v[0] != '-') { o->selftest_fixture = v; ++i; }
    } else if (!strcmp(a, "--compile-check")) o->compile_check = 1;
    else if (!strcmp(a, "--grid")) {
      NEED_VALUE();
      const char *names[4] = {v, NULL, NULL, NULL};
      if (!strcmp(v, "all")) { names[0] = "seed"; names[1] = "gemma"; }
      for (int g = 0; names[g]; ++g) {
        int k = bench_grid(names[g], tmp, BENCH_MAX_CASES);
        if (k < 0) { snprintf(err, n, "unknown grid '%s' (seed, gemma, all; also seed4, d256)", names[g]); return 2; }
        if (add_cases(o, tmp, k)) { snprintf(err, n, "too many shapes (at most %d)", BENCH_MAX_CASES); return 2; }
      }
      grids++;
    } else if (!strcmp(a, "--shape")) {
      NEED_VALUE();
      bench_case c;
      memset(&c, 0, sizeof c);
      snprintf(c.grid, sizeof c.grid, "shape");
      if (bench_parse_shape(v, &c.shape)) {
        snprintf(err, n, "bad --shape '%s': expected B,Tq,Tk,Hq,Hkv,d[,causal][,softcap=X][,window=W][,scale=S]%s%s", v,
                 fa_errmsg(NULL)[0] ? ": " : "", fa_errmsg(NULL));
        return 2;
      }
      if (add_cases(o, &c, 1)) { snprintf(err, n, "too many shapes (at most %d)", BENCH_MAX_CASES); return 2; }
      shapes++;
    } else if (!strcmp(a, "--reps")) {
      NEED_VALUE();
      if (parse_int(v, 1, &o->reps) || o->reps > 1000) { snprintf(err, n, "--reps takes 1..1000"); return 2; }
    } else if (!strcmp(a, "--device")) {
      NEED_VALUE();
      if (parse_int(v, 0, &o->device)) { snprintf(err, n, "--device takes an ordinal"); return 2; }
    } else if (!strcmp(a, "--check-cap")) {
      NEED_VALUE();
      if (parse_int(v, 16, &o->check_cap)) { snprintf(err, n, "--check-cap takes a length >= 16"); return 2; }
    } else if (!strcmp(a, "--csv")) { NEED_VALUE(); o->csv = v; }
    else if (!strcmp(a, "--md")) { NEED_VALUE(); o->md = v; }
    else if (!strcmp(a, "--plots")) { NEED_VALUE(); o->plots = v; }
    else if (!strcmp(a, "--out")) { NEED_VALUE(); o->out_dir = v; }
    else if (!strcmp(a, "--filter")) { NEED_VALUE(); o->filter = v; }
    else if (!strcmp(a, "--report-from")) { NEED_VALUE(); o->report_from = v; }
    else if (!strcmp(a, "--no-std")) o->no_std = 1;
    else if (!strcmp(a, "--no-check")) o->no_check = 1;
    else if (!strcmp(a, "--no-gnuplot")) o->no_gnuplot = 1;
    else if (!strcmp(a, "--heuristic")) o->tuned = -1;
    else { snprintf(err, n, "unknown argument '%s' (see --help)", a); return 2; }
#undef NEED_VALUE
  }
  if (!grids && !shapes && !o->report_from && !o->selftest && !o->help && !o->compile_check) {
    int k = bench_grid("seed", tmp, BENCH_MAX_CASES);
    add_cases(o, tmp, k);
    k = bench_grid("gemma", tmp, BENCH_MAX_CASES);
    add_cases(o, tmp, k);
  }
  if (o->filter) {
    int m = 0;
    for (int i = 0; i < o->ncases; ++i)
      if (strstr(o->cases[i].shape.name, o->filter) || strstr(o->cases[i].grid, o->filter)) o->cases[m++] = o->cases[i];
    o->ncases = m;
    if (!m && !o->report_from) { snprintf(err, n, "--filter '%s' leaves no shape", o->filter); return 2; }
  }
  return 0;
}

void bench_opts_free(bench_opts *o) {
  free(o->cases);
  o->cases = NULL;
  o->ncases = 0;
}

void bench_resolve_outputs(bench_opts *o, char *csv, char *md, char *plots, size_t n) {
  char dir[2048];
  if (o->out_dir) snprintf(dir, sizeof dir, "%s", o->out_dir);
  else if (o->report_from) {
    /* Beside the recorded CSV. */
    const char *slash = strrchr(o->report_from, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->report_from), o->report_from);
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
  } else snprintf(dir, sizeof dir, "fa-bench-out");
  if (o->report_from) snprintf(csv, n, "%s", o->report_from);
  else if (o->csv) snprintf(csv, n, "%s", o->csv);
  else snprintf(csv, n, "%s/fa-bench.csv", dir);
  if (o->md) snprintf(md, n, "%s", o->md);
  else snprintf(md, n, "%s/fa-bench.md", dir);
  if (o->plots) snprintf(plots, n, "%s", o->plots);
  else snprintf(plots, n, "%s/plots", dir);
}
