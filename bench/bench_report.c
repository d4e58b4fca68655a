/*
** bench_report.c -- fa-bench's reports from its rows: the terminal table, the
** thresholds (from which length flash beats standard attention), the
** KV-cache table of the decode-shaped workloads, and the markdown report.
** Everything here works from a recorded CSV, without a GPU.
*/
#include <stdlib.h>
#include <string.h>
#include "bench.h"

/* ---- joining rows ---- */

int bench_same_shape(const bench_row *a, const bench_row *b) {
  return !strcmp(a->grid, b->grid) && !strcmp(a->name, b->name) && a->B == b->B && a->Tq == b->Tq &&
         a->Tk == b->Tk && a->Hq == b->Hq && a->Hkv == b->Hkv && a->d == b->d && a->causal == b->causal &&
         a->window == b->window && a->softcap == b->softcap;
}

const bench_row *bench_std_of(const bench_rows *rs, const bench_row *r) {
  for (int i = 0; i < rs->n; ++i)
    if (!strcmp(rs->v[i].impl, "std") && bench_same_shape(&rs->v[i], r)) return &rs->v[i];
  return NULL;
}

static int is_ok(const bench_row *r) { return r && !strcmp(r->status, "ok") && isfinite(r->ms_median); }
static int is_oom(const bench_row *r) { return r && !strncmp(r->status, "oom", 3); }

/* Same series: everything but the length and the batch; the same shape name
** too (a grid's sweep shares one name), except for --shape rows. */
int bench_same_family(const bench_row *a, const bench_row *b) {
  return !strcmp(a->grid, b->grid) && (!strcmp(a->grid, "shape") || !strcmp(a->name, b->name)) && a->Hq == b->Hq &&
         a->Hkv == b->Hkv && a->d == b->d && a->causal == b->causal && a->window == b->window &&
         a->softcap == b->softcap && a->Tq == a->Tk && b->Tq == b->Tk;
}
#define same_family bench_same_family

static void mask_text(const bench_row *r, char *buf, size_t n) {
  int k = snprintf(buf, n, "%s", r->causal ? "causal" : "full");
  if (r->window && k < (int)n) k += snprintf(buf + k, n - k, " w%d", r->window);
  if (r->softcap > 0 && k < (int)n) snprintf(buf + k, n - k, " cap%g", r->softcap);
}

int bench_families(const bench_rows *rs, bench_family *out, int max) {
  int nf = 0;
  for (int i = 0; i < rs->n; ++i) {
    const bench_row *r = &rs->v[i];
    if (strcmp(r->impl, "fa") || r->Tq != r->Tk) continue;
    int f = 0;
    while (f < nf && !same_family(out[f].like, r)) ++f;
    if (f == nf) {
      /* Two or more lengths at some batch? */
      int lengths = 0;
      for (int j = 0; j < rs->n && lengths < 2; ++j) {
        const bench_row *o = &rs->v[j];
        if (!strcmp(o->impl, "fa") && same_family(r, o) && o->B == r->B && o->Tq != r->Tq) lengths = 2;
      }
      if (lengths < 2 || nf == max) continue;
      bench_family *fm = &out[nf++];
      memset(fm, 0, sizeof *fm);
      fm->like = r;
      char mask[64];
      mask_text(r, mask, sizeof mask);
      snprintf(fm->base, sizeof fm->base, "%s_%dx%d_d%d_%s", r->grid, r->Hq, r->Hkv, r->d, mask);
      for (char *c = fm->base; *c; ++c)
        if (*c == ' ' || *c == '/' || *c == '.') *c = '_';
      snprintf(fm->title, sizeof fm->title, "%s grid, H/K %d/%d, d %d, %s", r->grid, r->Hq, r->Hkv, r->d, mask);
    }
    bench_family *fm = &out[f];
    int seen = 0;
    for (int b = 0; b < fm->nB; ++b) seen |= fm->Bs[b] == r->B;
    if (!seen && fm->nB < 16) fm->Bs[fm->nB++] = r->B;
  }
  return nf;
}

/* ---- thresholds ---- */

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int bench_threshold(const bench_rows *rs, const bench_row *like, int *std_oom) {
  int S[64], win[64], n = 0;
  *std_oom = 0;
  for (int i = 0; i < rs->n && n < 64; ++i) {
    const bench_row *r = &rs->v[i];
    if (strcmp(r->impl, "fa") || !same_family(r, like) || r->B != like->B) continue;
    const bench_row *s = bench_std_of(rs, r);
    if (is_oom(s) && (!*std_oom || r->Tq < *std_oom)) *std_oom = r->Tq;
    if (!is_ok(r) || !(is_ok(s) || is_oom(s))) continue; /* no comparison at this length */
    S[n] = r->Tq;
    win[n++] = is_oom(s) || r->ms_median < s->ms_median;
  }
  if (n < 2) return 0;
  /* Sort by length, carrying the verdicts. */
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && S[j] < S[j - 1]; --j) {
      int t = S[j]; S[j] = S[j - 1]; S[j - 1] = t;
      t = win[j]; win[j] = win[j - 1]; win[j - 1] = t;
    }
  int from = -1;
  for (int i = n - 1; i >= 0 && win[i]; --i) from = S[i];
  return from;
}

static void threshold_cell(int t, int oom, int minS, int maxS, char *buf, size_t n) {
  int k;
  if (t == 0) k = snprintf(buf, n, "no comparison");
  else if (t < 0) k = snprintf(buf, n, "never (S <= %d)", maxS);
  else k = snprintf(buf, n, "from S=%d%s", t, t == minS ? " (every length measured)" : "");
  if (oom && k < (int)n) snprintf(buf + k, n - k, "; std OOM from S=%d", oom);
}

static int family_len(const bench_rows *rs, const bench_row *like, int longest) {
  int m = 0;
  for (int i = 0; i < rs->n; ++i)
    if (!strcmp(rs->v[i].impl, "fa") && same_family(&rs->v[i], like) && rs->v[i].B == like->B &&
        (!m || (longest ? rs->v[i].Tq > m : rs->v[i].Tq < m)))
      m = rs->v[i].Tq;
  return m;
}

/* Calls fn for each (family, batch) with its threshold. */
typedef void (*threshold_fn)(const bench_family *, int B, int t, int oom, int minS, int maxS, void *);
static void each_threshold(const bench_rows *rs, threshold_fn fn,
                           void *arg) {
  static bench_family fams[128];
  int nf = bench_families(rs, fams, 128);
  for (int f = 0; f < nf; ++f) {
    int Bs[16];
    memcpy(Bs, fams[f].Bs, sizeof Bs);
    qsort(Bs, (size_t)fams[f].nB, sizeof *Bs, cmp_int);
    for (int b = 0; b < fams[f].nB; ++b) {
      bench_row like = *fams[f].like;
      like.B = Bs[b];
      int oom, t = bench_threshold(rs, &like, &oom);
      fn(&fams[f], Bs[b], t, oom, family_len(rs, &like, 0), family_len(rs, &like, 1), arg);
    }
  }
}

static void text_line(const bench_family *f, int B, int t, int oom, int minS, int maxS, void *arg) {
  char cell[128];
  threshold_cell(t, oom, minS, maxS, cell, sizeof cell);
  fprintf((FILE *)arg, "  %-44s B=%-3d flash faster %s\n", f->title, B, cell);
}

/* Per head configuration (grid, Hq, Hkv, d): the length from which flash is
** faster at every batch and mask of the sweep, the worst of the series'. */
typedef struct head_acc {
  const bench_row *like[32];
  int worst[32], never[32], shortest[32], n;
} head_acc;

static void head_add(const bench_family *f, int B, int t, int oom, int minS, int maxS, void *arg) {
  (void)B; (void)oom; (void)maxS;
  head_acc *h = arg;
  int i = 0;
  const bench_row *l = f->like;
  while (i < h->n && !(!strcmp(h->like[i]->grid, l->grid) && h->like[i]->Hq == l->Hq && h->like[i]->Hkv == l->Hkv &&
                       h->like[i]->d == l->d))
    ++i;
  if (i == h->n) {
    if (h->n == 32) return;
    h->like[h->n] = l; h->worst[h->n] = 0; h->never[h->n] = 0; h->shortest[h->n] = minS; h->n++;
  }
  if (minS < h->shortest[i]) h->shortest[i] = minS;
  if (t < 0) h->never[i] = 1;
  else if (t > h->worst[i]) h->worst[i] = t;
}

static void head_summary(FILE *f, const bench_rows *rs, const char *grid, int md);

void bench_thresholds_text(FILE *f, const bench_rows *rs) {
  fprintf(f, "Where flash attention beats standard attention (the smallest S from which it is faster at every\n"
             "measured length; std out of memory counts as a flash win):\n");
  each_threshold(rs, text_line, f);
  head_summary(f, rs, NULL, 0);
}

static void head_summary(FILE *f, const bench_rows *rs, const char *grid, int md) {
  head_acc h;
  memset(&h, 0, sizeof h);
  each_threshold(rs, head_add, &h);
  for (int i = 0; i < h.n; ++i) {
    const bench_row *l = h.like[i];
    if (grid && strcmp(grid, l->grid)) continue;
    if (!h.worst[i] && !h.never[i]) continue; /* nothing compared */
    char what[160];
    if (h.never[i]) snprintf(what, sizeof what, "not at every batch and mask: some series never (see above)");
    else
      snprintf(what, sizeof what, "from S=%d at every batch and mask measured%s", h.worst[i],
               h.worst[i] == h.shortest[i] ? " (the shortest length measured)" : "");
    if (md) fprintf(f, "- **%d/%d heads, d %d**: flash faster %s\n", l->Hq, l->Hkv, l->d, what);
    else fprintf(f, "  => %s grid, H/K %d/%d, d %d: flash faster %s\n", l->grid, l->Hq, l->Hkv, l->d, what);
  }
}

/* ---- the terminal table ---- */

static const char *cell(char *buf, size_t n, double x, const char *fmt) {
  if (isnan(x)) snprintf(buf, n, "-");
  else snprintf(buf, n, fmt, x);
  return buf;
}

void bench_table_header(FILE *f) {
  fprintf(f, "%-26s %3s %6s %6s %5s %3s %-6s | %9s %6s %7s | %9s %6s %7s | %7s | %7s %7s %7s | %8s %8s\n", "shape", "B",
          "Tq", "Tk", "H/K", "d", "mask", "fa ms", "sprd%", "TFLOP/s", "std ms", "sprd%", "TFLOP/s", "speedup",
          "fa MiB", "std MiB", "saved", "fa err", "std err");
}

void bench_table_row(FILE *f, const bench_row *fa, const bench_row *st) {
  char a[10][32], hk[16], mask[32];
  snprintf(hk, sizeof hk, "%d/%d", fa->Hq, fa->Hkv);
  mask_text(fa, mask, sizeof mask);
  double fsp = (fa->ms_max - fa->ms_min) / fa->ms_median * 100;
  double ssp = st ? (st->ms_max - st->ms_min) / st->ms_median * 100 : NAN;
  char fams[16], stms[16];
  if (is_ok(fa)) snprintf(fams, sizeof fams, "%.4f", fa->ms_median);
  else snprintf(fams, sizeof fams, "%.9s", is_oom(fa) ? "OOM" : "error");
  if (is_ok(st)) snprintf(stms, sizeof stms, "%.4f", st->ms_median);
  else snprintf(stms, sizeof stms, "%.9s", !st ? "-" : is_oom(st) ? "OOM" : !strcmp(st->status, "skipped") ? "skipped" : "error");
  double saved = st ? st->peak_mib - fa->peak_mib : NAN;
  fprintf(f, "%-26.26s %3d %6d %6d %5s %3d %-6.6s | %9s %6s %7s | %9s %6s %7s | %7s | %7s %7s %7s | %8s %8s\n",
          fa->name, fa->B, fa->Tq, fa->Tk, hk, fa->d, mask, fams, cell(a[0], 32, fsp, "%.1f"),
          cell(a[1], 32, fa->tflops, "%.1f"), stms, cell(a[2], 32, ssp, "%.1f"),
          cell(a[3], 32, st ? st->tflops : NAN, "%.1f"), cell(a[4], 32, fa->speedup, "%.2fx"),
          cell(a[5], 32, fa->peak_mib, "%.0f"), cell(a[6], 32, st ? st->peak_mib : NAN, "%.0f"),
          cell(a[7], 32, saved, "%.0f"), cell(a[8], 32, fa->err_max, "%.1e"),
          cell(a[9], 32, st ? st->err_max : NAN, "%.1e"));
  if (!is_ok(fa) && strcmp(fa->status, "not run")) fprintf(f, "    fa: %s\n", fa->status);
  if (st && !is_ok(st) && !is_oom(st) && strcmp(st->status, "skipped")) fprintf(f, "    std: %s\n", st->status);
}

/* ---- KV cache ---- */

double bench_kv_bytes_per_token_layer(int hkv, int d) { return 2.0 * hkv * d * 2; }

double bench_kv_sequence_bytes(int layers, int global_layers, int hkv, int d, int window, int T) {
  const double per = bench_kv_bytes_per_token_layer(hkv, d);
  if (window <= 0) return per * layers * T;
  const int local = layers - global_layers;
  return per * ((double)global_layers * T + (double)local * (T < window ? T : window));
}

typedef struct kv_config {
  const char *row, *config;
  int layers, global_layers, hq, hkv, d, window, tq;
  int lens[2], nlen, batches[3], nb;
} kv_config;

/* workloads.md rows 5, 7 and 12, with the model table's layers and heads. */
static const kv_config kv_configs[] = {
    {"5", "Pi0 denoise: the prefix cache of the Gemma 2B backbone (PaliGemma)", 18, 18, 8, 1, 256, 0, 51,
     {867, 0}, 1, {1, 0, 0}, 1},
    {"7", "Pi0-FAST decode: Gemma 2B backbone", 18, 18, 8, 1, 256, 0, 1, {1274, 0}, 1, {1, 8, 32}, 3},
    {"12", "Gemma 3 4B decode, every layer caching the whole context", 34, 34, 8, 4, 256, 0, 1, {32768, 131072}, 2,
     {16, 0, 0}, 1},
    {"12", "Gemma 3 4B decode, the 29 local layers keeping only their 1024-token window", 34, 5, 8, 4, 256, 1024, 1,
     {32768, 131072}, 2, {16, 0, 0}, 1},
};

static void human(double bytes, char *buf, size_t n) {
  if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) snprintf(buf, n, "%.1f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) snprintf(buf, n, "%.1f KiB", bytes / 1024.0);
  else snprintf(buf, n, "%.0f B", bytes);
}

static void kv_table(FILE *f) {
  fprintf(f, "## KV-cache memory of the decode-shaped workloads\n\n"
             "Cache bytes = 2 (K and V) x kv heads x head_dim x 2 bytes (bf16) per token and layer, times the\n"
             "model's layers (shared/workloads.md). fa and standard attention read the same cache, so it is the\n"
             "same for both; what standard attention adds is its score matrix and P for each layer call\n"
             "(last column: batch x q heads x Tq x Tk x 2 bytes x 2), freed after the call.\n\n");
  fprintf(f, "| row | configuration | layers | kv heads x d | per token, one layer | per token, all layers | "
             "length | per sequence | batch | whole batch | std scores+P per call |\n");
  fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < sizeof kv_configs / sizeof *kv_configs; ++i) {
    const kv_config *c = &kv_configs[i];
    char l1[32], la[48], seq[32], all[32], sp[32];
    human(bench_kv_bytes_per_token_layer(c->hkv, c->d), l1, sizeof l1);
    human(bench_kv_bytes_per_token_layer(c->hkv, c->d) * (c->window ? c->global_layers : c->layers), la, sizeof la);
    if (c->window) strncat(la, " past the window", sizeof la - strlen(la) - 1);
    for (int t = 0; t < c->nlen; ++t)
      for (int b = 0; b < c->nb; ++b) {
        double s = bench_kv_sequence_bytes(c->layers, c->global_layers, c->hkv, c->d, c->window, c->lens[t]);
        human(s, seq, sizeof seq);
        human(s * c->batches[b], all, sizeof all);
        human(4.0 * c->batches[b] * c->hq * c->tq * (double)c->lens[t], sp, sizeof sp);
        fprintf(f, "| %s | %s | %d | %d x %d | %s | %s | %d | %s | %d | %s | %s |\n", c->row, c->config, c->layers,
                c->hkv, c->d, l1, la, c->lens[t], seq, c->batches[b], all, sp);
      }
  }
  fprintf(f, "\n");
}

/* ---- markdown ---- */

static void mcell(FILE *f, double x, const char *fmt) {
  if (isnan(x)) fputs(" – |", f);
  else { fputc(' ', f); fprintf(f, fmt, x); fputs(" |", f); }
}

static void md_grid_table(FILE *f, const bench_rows *rs, const char *grid) {
  fprintf(f, "| shape | B | Tq | Tk | H/K | d | mask | fa ms (min–max) | std ms (min–max) | speedup | "
             "fa TFLOP/s | std TFLOP/s | fa MiB | std MiB | saved MiB | fa err max / mean | std err max / mean |\n");
  fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < rs->n; ++i) {
    const bench_row *r = &rs->v[i];
    if (strcmp(r->impl, "fa") || strcmp(r->grid, grid)) continue;
    const bench_row *s = bench_std_of(rs, r);
    char mask[64];
    mask_text(r, mask, sizeof mask);
    fprintf(f, "| %s | %d | %d | %d | %d/%d | %d | %s |", r->name, r->B, r->Tq, r->Tk, r->Hq, r->Hkv, r->d, mask);
    if (is_ok(r)) fprintf(f, " %.4f (%.4f–%.4f) |", r->ms_median, r->ms_min, r->ms_max);
    else fprintf(f, " %s |", r->status);
    double need = 4.0 * r->B * r->Hq * (double)r->Tq * r->Tk;
    char hb[32];
    human(need, hb, sizeof hb);
    if (is_ok(s)) fprintf(f, " %.4f (%.4f–%.4f) |", s->ms_median, s->ms_min, s->ms_max);
    else if (is_oom(s)) fprintf(f, " **out of memory** (scores + P alone: %s) |", hb);
    else fprintf(f, " %s |", s ? s->status : "not run");
    mcell(f, r->speedup, "%.2fx");
    mcell(f, r->tflops, "%.1f");
    mcell(f, s ? s->tflops : NAN, "%.1f");
    mcell(f, r->peak_mib, "%.0f");
    mcell(f, s ? s->peak_mib : NAN, "%.0f");
    mcell(f, s ? s->peak_mib - r->peak_mib : NAN, "%.0f");
    if (isnan(r->err_max)) fputs(" – |", f);
    else fprintf(f, " %.2e / %.2e |", r->err_max, r->err_mean);
    if (!s || isnan(s->err_max)) fputs(" – |\n", f);
    else fprintf(f, " %.2e / %.2e |\n", s->err_max, s->err_mean);
  }
  fprintf(f, "\n");
}

typedef struct md_thr { FILE *f; const char *grid; int rows; } md_thr;

static void md_threshold_row(const bench_family *fm, int B, int t, int oom, int minS, int maxS, void *arg) {
  md_thr *m = arg;
  if (strcmp(fm->like->grid, m->grid)) return;
  if (!m->rows++)
    fprintf(m->f, "### Where flash beats standard attention\n\n"
                  "The smallest sequence length from which flash is faster at every measured length (standard\n"
                  "attention out of memory counts as a flash win).\n\n"
                  "| head configuration and mask | B | flash faster than standard attention |\n|---|---|---|\n");
  char c[128];
  threshold_cell(t, oom, minS, maxS, c, sizeof c);
  fprintf(m->f, "| %d/%d heads, d %d, %s%s%s | %d | %s |\n", fm->like->Hq, fm->like->Hkv, fm->like->d,
          fm->like->causal ? "causal" : "full", fm->like->window ? ", window" : "", fm->like->softcap > 0 ? ", softcap" : "",
          B, c);
}

static void md_summary(FILE *f, const bench_rows *rs, const char *grid) {
  int shapes = 0, both = 0, wins = 0, oom = 0;
  double lg = 0, saved_max = NAN;
  for (int i = 0; i < rs->n; ++i) {
    const bench_row *r = &rs->v[i];
    if (strcmp(r->impl, "fa") || strcmp(r->grid, grid)) continue;
    shapes++;
    const bench_row *s = bench_std_of(rs, r);
    if (is_oom(s)) oom++;
    if (is_ok(r) && is_ok(s)) {
      both++;
      wins += r->ms_median < s->ms_median;
      lg += log(s->ms_median / r->ms_median);
      double sv = s->peak_mib - r->peak_mib;
      if (isnan(saved_max) || sv > saved_max) saved_max = sv;
    }
  }
  fprintf(f, "%d shapes. ", shapes);
  if (both)
    fprintf(f, "Where both ran (%d), flash was faster on %d; geometric-mean speedup %.2fx; most memory saved %.0f MiB. ",
            both, wins, exp(lg / both), saved_max);
  if (oom) fprintf(f, "Standard attention ran out of memory on %d.", oom);
  fprintf(f, "\n\n");
}

typedef struct md_plot { FILE *f; const char *grid, *rel; int n; } md_plot;

int bench_write_markdown(const char *path, const bench_rows *rs, const char *plots_rel, int plots_made) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "# fa-bench: flash attention (fa) against standard attention\n\n");
  for (int i = 0; i < rs->nnotes; ++i) fprintf(f, "- %s\n", rs->notes[i]);
  if (rs->nnotes) fprintf(f, "\n");
  fprintf(f,
          "## Method\n\n"
          "- **fa**: `fa_forward` with the plan the runtime picks (tuning database, else its heuristic).\n"
          "- **std**: standard attention as a model without flash attention runs it: `S = scale * Q K^T` with a cuBLAS\n"
          "  batched GEMM (bf16 in, fp32 accumulation, bf16 scores), a softmax kernel (softcap and mask, fp32 inside,\n"
          "  P in bf16), `O = P V` with a second batched GEMM. The whole score matrix and P are in device memory;\n"
          "  GQA by pointing each query head's GEMM at its kv head.\n"
          "- **Time**: CUDA events around each repetition, a 256 MiB L2 flush before each, repetitions back to back (as do_bench); median, spread min–max.\n"
          "- **TFLOP/s**: useful work only, 4 x B x Hq x d x visible (query, key) pairs, the same count for both.\n"
          "- **Memory**: peak device memory, measured: the drop of free memory (cuMemGetInfo) from before the\n"
          "  shape's inputs were allocated to its lowest point while the implementation's buffers were allocated\n"
          "  and it ran (Q, K, V, O and workspace; for std also S, P, pointer arrays and a 32 MiB cuBLAS workspace).\n"
          "  *saved* = std − fa. *Out of memory*: the scores or P could not be allocated. The driver hands out\n"
          "  memory in 2 MiB pages and small buffers can land in pages it already holds, so peaks of a few MiB\n"
          "  read as 0 or 2.\n"
          "- **Precision**: max and mean |O − O_ref| against the fp64 CPU reference, on a check problem with the\n"
          "  shape's features (mask kind, softcap, scale, GQA group, head dim) but batch 1, one kv group of heads\n"
          "  and lengths capped (see the notes above: prefix blocks shrink, suffix blocks stay, windows wider\n"
          "  than half the capped length shrink to it). fa runs the variant that was timed.\n\n");
  /* Grids in order of appearance. */
  char grids[16][24];
  int ng = 0;
  for (int i = 0; i < rs->n; ++i) {
    int seen = 0;
    for (int g = 0; g < ng; ++g) seen |= !strcmp(grids[g], rs->v[i].grid);
    if (!seen && ng < 16) snprintf(grids[ng++], sizeof grids[0], "%s", rs->v[i].grid);
  }
  static bench_family fams[128];
  int nf = bench_families(rs, fams, 128);
  for (int g = 0; g < ng; ++g) {
    fprintf(f, "## Grid `%s`\n\n", grids[g]);
    md_summary(f, rs, grids[g]);
    md_grid_table(f, rs, grids[g]);
    md_thr mt = {f, grids[g], 0};
    each_threshold(rs, md_threshold_row, &mt);
    if (mt.rows) {
      fprintf(f, "\n");
      head_summary(f, rs, grids[g], 1);
      fprintf(f, "\n");
    }
    int np = 0;
    for (int i = 0; i < nf; ++i) {
      if (strcmp(fams[i].like->grid, grids[g])) continue;
      if (!np++) {
        fprintf(f, "### Plots\n\n");
        if (!plots_made) fprintf(f, "(not drawn yet: run `gnuplot plots.gp` in `%s`)\n\n", plots_rel);
      }
      fprintf(f, "**%s**: [time](%s/%s_time.png) · [TFLOP/s](%s/%s_tflops.png) · [memory](%s/%s_memory.png)\n\n",
              fams[i].title, plots_rel, fams[i].base, plots_rel, fams[i].base, plots_rel, fams[i].base);
      fprintf(f, "![time](%s/%s_time.png) ![TFLOP/s](%s/%s_tflops.png) ![memory](%s/%s_memory.png)\n\n", plots_rel,
              fams[i].base, plots_rel, fams[i].base, plots_rel, fams[i].base);
    }
  }
  kv_table(f);
  int bad = ferror(f);
  return fclose(f) || bad ? -1 : 0;
}
