/*
** fa_bench.c -- fa-bench: fa's flash attention against standard attention
** (cuBLAS GEMMs + a softmax kernel, the full score matrix in memory) on the
** original request's sweep, the Gemma workloads and any --shape: time, TFLOP/s,
** speedup, peak device memory and precision, as a terminal table, a CSV, a
** markdown report and gnuplot PNGs.
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

static const char usage[] =
    "usage: fa-bench [--grid seed|gemma|all]... [--shape SPEC]... [options]\n"
    "       fa-bench --report-from CSV [--out DIR] [--md FILE] [--plots DIR]\n"
    "       fa-bench --selftest [FIXTURE.csv] | --compile-check | --help\n"
    "\n"
    "Times fa's flash attention (fa_forward, the kernel the runtime picks) against standard attention\n"
    "(S = scale QK^T by a cuBLAS batched GEMM, a softmax kernel with softcap and masks, O = PV by a\n"
    "second GEMM; S and P wholly in device memory), per shape: median time and spread (min..max) of\n"
    "--reps runs, each after a 256 MiB L2 flush; TFLOP/s of useful work (4 B Hq d x visible pairs);\n"
    "the speedup; peak device memory of each, measured with cuMemGetInfo, and the memory saved;\n"
    "max and mean |error| of each against the fp64 CPU reference on a check problem (the shape's\n"
    "features, batch 1, one kv group of heads, lengths capped at --check-cap); 'out of memory' where\n"
    "standard attention cannot allocate its score matrix.\n"
    "\n"
    "Grids (default: seed and gemma):\n"
    "  --grid seed     the original request's sweep: S = Tq = Tk in 512 1024 2048 4096 8192, batch\n"
    "                  1 4 8 16, (q heads, kv heads) = (32,32) and (32,8), head_dim 128, causal and\n"
    "                  not (80 shapes)\n"
    "  --grid gemma    shared/workloads.md: Pi0/Pi0.5 training and prefill masks, Pi0 denoise,\n"
    "                  PaliGemma, Gemma 2 (softcap 50, window 4096), Gemma 2 27B, Gemma 3 12B\n"
    "                  (32K, window 1024), Gemma 7B, RecurrentGemma, and the decode rows: Pi0-FAST\n"
    "                  (Tk 1274, batch 1/8/32, per-sequence lengths) and Gemma 3 4B (batch 16,\n"
    "                  Tk 32K and 128K, global and window 1024)\n"
    "  --grid all      seed and gemma (also: seed4, d256, fa-tune's slices)\n"
    "  --shape B,Tq,Tk,Hq,Hkv,d[,causal][,softcap=X][,window=W][,scale=S]\n"
    "                  one more shape (bf16, BSHD), e.g. --shape 4,8192,8192,8,4,256,causal,softcap=50\n"
    "  --filter WORD   keep only shapes whose name or grid contains WORD\n"
    "\n"
    "Measuring:\n"
    "  --reps N        timed repetitions per implementation and shape (default 20; 3 warm-up runs)\n"
    "  --no-std        time fa only (standard attention rows say 'skipped')\n"
    "  --no-check      skip the precision check (faster)\n"
    "  --check-cap N   length cap of the check problems (default 1024)\n"
    "  --heuristic     ignore tuning databases: fa's built-in kernel choice\n"
    "  --device N      CUDA device ordinal (default 0)\n"
    "\n"
    "Outputs (a progress line on stderr while it runs; the table on stdout):\n"
    "  --out DIR       directory for everything below (default fa-bench-out; for --report-from,\n"
    "                  the CSV's directory)\n"
    "  --csv FILE      the CSV (default DIR/fa-bench.csv), one row per shape and implementation:\n"
    "                  grid,name,B,Tq,Tk,Hq,Hkv,d,causal,window,softcap,impl,ms_median,ms_min,ms_max,\n"
    "                  tflops,speedup_vs_std,peak_mib,err_max,err_mean,status\n"
    "                  impl is fa or std; window is W (keys a query sees), 0 = none; status is ok,\n"
    "                  oom: ..., skipped or error: ...; empty numbers were not measured; '#' lines\n"
    "                  record the device, date and method\n"
    "  --md FILE       the markdown report (default DIR/fa-bench.md): per grid a table with\n"
    "                  speedup and memory saved, the thresholds (from which sequence length flash\n"
    "                  beats standard attention, per head configuration, mask and batch), links to\n"
    "                  the plots; the KV-cache table of the decode workloads (rows 5, 7, 12)\n"
    "  --plots DIR     plot data, plots.gp and the PNGs (default DIR/plots): time, TFLOP/s and\n"
    "                  memory against sequence length, a line per implementation and batch, for\n"
    "                  each head configuration and mask of the sweep; drawn by gnuplot if present\n"
    "                  (Debian: gnuplot-nox), else `cd PLOTS && gnuplot plots.gp` later\n"
    "  --no-gnuplot    write the script but do not run gnuplot\n"
    "  --report-from CSV  rebuild the report and plots from a recorded CSV (no GPU needed)\n"
    "\n"
    "Checks without a GPU:\n"
    "  --selftest [FIXTURE]  argument parsing, grid expansion, CSV, thresholds, report writing\n"
    "  --compile-check       compile the softmax kernel with NVRTC for sm_80 and sm_90a\n"
    "\n"
    "Exit status: 0 success, 1 failure (a shape failed: see its status), 2 usage, 77 skipped (no GPU).\n";

static void dir_of(const char *path, char *out, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(out, n, ".");
  else if (slash == path) snprintf(out, n, "/");
  else snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* The plots directory as the markdown file links it. */
static void plots_link(const char *md, const char *plots, char *out, size_t n) {
  char d[4096];
  dir_of(md, d, sizeof d);
  size_t k = strlen(d);
  if (strcmp(d, ".") && !strncmp(plots, d, k) && plots[k] == '/') snprintf(out, n, "%s", plots + k + 1);
  else if (!strcmp(d, ".") && !strncmp(plots, "./", 2)) snprintf(out, n, "%s", plots + 2);
  else snprintf(out, n, "%s", plots);
}

/* Thresholds, plots and markdown from a CSV file. */
static int report(const char *csv, const char *md, const char *plots, int no_gnuplot) {
  bench_rows rs;
  memset(&rs, 0, sizeof rs);
  char err[1024];
  if (bench_csv_read(csv, &rs, err, sizeof err)) { fprintf(stderr, "fa-bench: %s\n", err); return 1; }
  printf("\n");
  bench_thresholds_text(stdout, &rs);
  int made = 0, rc = 0;
  char mddir[4096], rel[4096];
  dir_of(md, mddir, sizeof mddir);
  if (bench_mkdirs(mddir) || bench_mkdirs(plots)) { fprintf(stderr, "fa-bench: cannot create %s or %s\n", mddir, plots); rc = 1; }
  int pngs = rc ? -1 : bench_plots(&rs, plots, no_gnuplot, &made);
  if (pngs < 0) rc = 1;
  plots_link(md, plots, rel, sizeof rel);
  if (bench_write_markdown(md, &rs, rel, made)) { fprintf(stderr, "fa-bench: cannot write %s\n", md); rc = 1; }
  printf("\nfa-bench: %d rows from %s\nfa-bench: report %s\n", rs.n, csv, md);
  if (pngs > 0) printf("fa-bench: plots %s/plots.gp (%d PNGs%s)\n", plots, pngs, made ? " drawn" : ", not drawn");
  else if (pngs == 0) printf("fa-bench: no plots: no shape series of two or more lengths\n");
  bench_rows_free(&rs);
  return rc;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(int tty, int i, int n, const bench_case *c, double t0) {
  const fa_problem *p = &c->shape.p;
  double el = now_s() - t0, eta = i ? el / i * (n - i) : 0;
  fprintf(stderr, tty ? "\r\033[K[%d/%d] %s %s B%d Tq%d Tk%d %d/%d  %.0fs elapsed, ETA %.0fs"
                      : "[%d/%d] %s %s B%d Tq%d Tk%d %d/%d  %.0fs elapsed, ETA %.0fs\n",
          i + 1, n, c->grid, c->shape.name, p->batch, p->seqlen_q, p->seqlen_k, p->heads_q, p->heads_kv, el, eta);
  fflush(stderr);
}

static int run(bench_opts *o) {
  char csv[4096], md[4096], plots[4096], why[1024], d[4096];
  bench_resolve_outputs(o, csv, md, plots, sizeof csv);
  bench_env *env;
  int r = bench_env_open(&env, o, why, sizeof why);
  if (r == 77) { printf("SKIPPED: needs a GPU: %s\n", why); return 77; }
  if (r) { fprintf(stderr, "fa-bench: %s\n", why); return 1; }
  dir_of(csv, d, sizeof d);
  FILE *f = bench_mkdirs(d) ? NULL : fopen(csv, "w");
  if (!f) { fprintf(stderr, "fa-bench: cannot write %s\n", csv); bench_env_close(env); return 1; }
  char date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# fa-bench, fa %s, %s\n", fa_version_string(), date);
  const char *desc = bench_env_describe(env);
  for (const char *line = desc; *line;) {
    size_t len = strcspn(line, "\n");
    fprintf(f, "# %.*s\n", (int)len, line);
    printf("# %.*s\n", (int)len, line);
    line += len + (line[len] == '\n');
  }
  fprintf(f, "# %d repetitions per implementation and shape after 3 warm-up runs; L2 flushed (%u MiB) before each\n",
          o->reps, TUNE_FLUSH_BYTES >> 20);
  if (o->no_check) fprintf(f, "# precision not checked (--no-check)\n");
  else
    fprintf(f, "# precision: against the fp64 reference on check problems of batch 1, one kv group of heads, "
               "lengths capped at %d\n", o->check_cap);
  fprintf(f, "%s\n", bench_csv_header);
  fflush(f);
  bench_table_header(stdout);
  const int tty = isatty(2);
  const double t0 = now_s();
  int errors = 0;
  for (int i = 0; i < o->ncases; ++i) {
    progress(tty, i, o->ncases, &o->cases[i], t0);
    bench_row fa, st;
    bench_run_case(env, &o->cases[i], &fa, &st);
    bench_csv_write_row(f, &fa);
    bench_csv_write_row(f, &st);
    fflush(f);
    errors += !strncmp(fa.status, "error", 5) + !strncmp(st.status, "error", 5);
    if (tty) fprintf(stderr, "\r\033[K");
    bench_table_row(stdout, &fa, &st);
    fflush(stdout);
  }
  fprintf(stderr, "fa-bench: %d shapes in %.0f s\n", o->ncases, now_s() - t0);
  int bad = ferror(f);
  if (fclose(f) || bad) { fprintf(stderr, "fa-bench: writing %s failed\n", csv); errors++; }
  bench_env_close(env);
  r = report(csv, md, plots, o->no_gnuplot);
  if (errors) fprintf(stderr, "fa-bench: %d implementation runs failed (their status column says why)\n", errors);
  return r || errors ? 1 : 0;
}

int main(int argc, char **argv) {
  bench_opts o;
  char err[1024];
  if (bench_parse_args(argc - 1, argv + 1, &o, err, sizeof err)) {
    fprintf(stderr, "fa-bench: %s\n", err);
    bench_opts_free(&o);
    return 2;
  }
  int rc;
  if (o.help) { fputs(usage, stdout); rc = 0; }
  else if (o.selftest) rc = bench_selftest(o.selftest_fixture);
  else if (o.compile_check) {
    rc = 0;
    for (int a = 80; a <= 90 && !rc; a += 10) {
      rc = bench_std_compile_only(a, err, sizeof err);
      if (rc == 77) printf("SKIPPED: %s\n", err);
      else if (rc) fprintf(stderr, "fa-bench: sm_%d: %s\n", a, err);
    }
    if (!rc) printf("fa-bench: the softmax kernel (templates/softmax.cu) compiles for sm_80 and sm_90a\n");
  } else if (o.report_from) {
    char csv[4096], md[4096], plots[4096];
    bench_resolve_outputs(&o, csv, md, plots, sizeof csv);
    rc = report(csv, md, plots, o.no_gnuplot);
  } else rc = run(&o);
  bench_opts_free(&o);
  return rc;
}
