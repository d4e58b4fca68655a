/*
** bench_plot.c -- fa-bench's plots: from the rows (a run's, or a recorded
** CSV's) it writes one small data file per line (family, implementation,
** batch) and a gnuplot script drawing, for each family of the sweep, time,
** TFLOP/s and peak memory against the sequence length: a line per
** implementation and batch (fa solid, std dashed, a colour per batch).
** gnuplot (Debian: gnuplot-nox) runs here if present; else the script
** stays for later: `cd DIR && gnuplot plots.gp`.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "bench.h"

/* mkdir -p: path and its parents; 0 or -1 (errno). */
int bench_mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *c = buf + 1; *c; ++c)
    if (*c == '/') {
      *c = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return -1;
      *c = '/';
    }
  return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

typedef struct pt { int S; double ms, tflops, mib; } pt;

static int cmp_pt(const void *a, const void *b) {
  int x = ((const pt *)a)->S, y = ((const pt *)b)->S;
  return (x > y) - (x < y);
}

/* The points of one line; *valid[m]: points with metric m present. */
static int line_points(const bench_rows *rs, const bench_family *fm, const char *impl, int B, pt *out, int max,
                       int valid[3]) {
  int n = 0;
  valid[0] = valid[1] = valid[2] = 0;
  for (int i = 0; i < rs->n && n < max; ++i) {
    const bench_row *r = &rs->v[i];
    if (strcmp(r->impl, impl) || r->B != B || !bench_same_family(r, fm->like)) continue;
    int ok = !strcmp(r->status, "ok");
    out[n] = (pt){r->Tq, ok ? r->ms_median : NAN, ok ? r->tflops : NAN, ok ? r->peak_mib : NAN};
    valid[0] += isfinite(out[n].ms);
    valid[1] += isfinite(out[n].tflops);
    valid[2] += isfinite(out[n].mib);
    n++;
  }
  qsort(out, (size_t)n, sizeof *out, cmp_pt);
  return n;
}

static void val(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, " %.6g", x);
  else fputs(" ?", f);
}

static void shell_quote(const char *s, char *out, size_t n) {
  size_t k = 0;
  if (k + 1 < n) out[k++] = '\'';
  for (; *s && k + 5 < n; ++s) {
    if (*s == '\'') { memcpy(out + k, "'\\''", 4); k += 4; }
    else out[k++] = *s;
  }
  if (k + 1 < n) out[k++] = '\'';
  out[k] = 0;
}

int bench_plots(const bench_rows *rs, const char *dir, int no_run, int *made) {
  static bench_family fams[128];
  *made = 0;
  int nf = bench_families(rs, fams, 128);
  char path[4096];
  snprintf(path, sizeof path, "%s/data", dir);
  if (bench_mkdirs(path)) { fprintf(stderr, "fa-bench: cannot create %s\n", path); return -1; }
  snprintf(path, sizeof path, "%s/plots.gp", dir);
  FILE *gp = fopen(path, "w");
  if (!gp) { fprintf(stderr, "fa-bench: cannot write %s\n", path); return -1; }
  fprintf(gp, "# plots.gp -- written by fa-bench from its CSV; run `gnuplot plots.gp` in this directory.\n"
              "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
              "  set terminal pngcairo size 960,600 noenhanced\n"
              "} else {\n"
              "  set terminal png size 960,600 noenhanced\n"
              "}\n"
              "set datafile missing \"?\"\n"
              "set key outside right top\n"
              "set grid\n"
              "set logscale x 2\n"
              "set xlabel \"sequence length (Tq = Tk)\"\n");
  static const char *metric[3] = {"time", "tflops", "memory"};
  static const char *ylabel[3] = {"ms (median)", "TFLOP/s (useful work)", "peak device memory (MiB)"};
  static const char *impls[2] = {"fa", "std"};
  int pngs = 0, io = 0;
  for (int f = 0; f < nf; ++f) {
    bench_family *fm = &fams[f];
    /* Data files, and which lines have points for which metric. */
    int has[2][16][3];
    for (int im = 0; im < 2; ++im)
      for (int b = 0; b < fm->nB; ++b) {
        pt pts[64];
        int n = line_points(rs, fm, impls[im], fm->Bs[b], pts, 64, has[im][b]);
        snprintf(path, sizeof path, "%s/data/%s_%s_B%d.dat", dir, fm->base, impls[im], fm->Bs[b]);
        FILE *d = fopen(path, "w");
        if (!d) { io = 1; continue; }
        fprintf(d, "# S ms tflops peak_mib  (%s, %s, B=%d; ? = not measured: out of memory, error or skipped)\n",
                fm->title, impls[im], fm->Bs[b]);
        for (int i = 0; i < n; ++i) {
          fprintf(d, "%d", pts[i].S);
          val(d, pts[i].ms); val(d, pts[i].tflops); val(d, pts[i].mib);
          fputc('\n', d);
        }
        if (fclose(d)) io = 1;
      }
    for (int m = 0; m < 3; ++m) {
      int lines = 0;
      for (int im = 0; im < 2; ++im)
        for (int b = 0; b < fm->nB; ++b) lines += has[im][b][m] > 0;
      if (!lines) continue;
      fprintf(gp, "\nset output \"%s_%s.png\"\nset title \"%s: %s\"\nset ylabel \"%s\"\n%s\nplot", fm->base, metric[m],
              fm->title, metric[m], ylabel[m], m == 1 ? "unset logscale y" : "set logscale y");
      int first = 1;
      for (int b = 0; b < fm->nB; ++b)
        for (int im = 0; im < 2; ++im) {
          if (!has[im][b][m]) continue;
          fprintf(gp, "%s \\\n  \"data/%s_%s_B%d.dat\" using 1:%d with linespoints lw 2 lc %d dt %d pt %d title \"%s B=%d\"",
                  first ? "" : ",", fm->base, impls[im], fm->Bs[b], m + 2, b + 1, im ? 2 : 1, im ? 6 : 7, impls[im],
                  fm->Bs[b]);
          first = 0;
        }
      fputc('\n', gp);
      pngs++;
    }
  }
  if (fclose(gp) || io) { fprintf(stderr, "fa-bench: writing the plot data under %s failed\n", dir); return -1; }
  if (!pngs) return 0;
  if (no_run) {
    fprintf(stderr, "fa-bench: plots not drawn (--no-gnuplot): run `cd %s && gnuplot plots.gp`\n", dir);
    return pngs;
  }
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    fprintf(stderr, "fa-bench: gnuplot not found; draw the plots later with `cd %s && gnuplot plots.gp` "
                    "(Debian: apt-get install gnuplot-nox)\n", dir);
    return pngs;
  }
  char q[4200], cmd[4400];
  shell_quote(dir, q, sizeof q);
  snprintf(cmd, sizeof cmd, "cd %s && gnuplot plots.gp", q);
  int rc = system(cmd);
  if (rc != 0) {
    fprintf(stderr, "fa-bench: `%s` failed (status %d)\n", cmd, rc);
    return -1;
  }
  *made = 1;
  return pngs;
}
