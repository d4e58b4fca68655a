/*
** bench.h -- fa-bench's parts: options and grids (bench_grid.c), the standard
** attention (bench_std.c), one shape's measurements (bench_run.c), the CSV
** (bench_csv.c), the reports (bench_report.c, bench_plot.c), the CPU tests
** (bench_selftest.c). Device helpers, random inputs and the grids come from
** fa-tune (tuner/tune_dev.c, tune_shapes.c), linked as fa-tunekit.
*/
#ifndef BENCH_H
#define BENCH_H

#include <math.h>
#include <stdio.h>
#include "fa_int.h"
#include "tune.h"

#define BENCH_MAX_CASES 512
#define BENCH_DEFAULT_REPS 20
#define BENCH_DEFAULT_CHECK_CAP 1024

/* One benchmark problem: a fa-tune shape and the grid it came from. */
typedef struct bench_case {
  char grid[24];   /* "seed", "gemma", "shape", ... */
  tune_shape shape;
} bench_case;

typedef struct bench_opts {
  bench_case *cases;      /* malloc'ed, ncases of them */
  int ncases;
  int reps, device, no_std, no_check, no_gnuplot, check_cap, tuned;
  const char *out_dir, *csv, *md, *plots, *filter;
  const char *report_from; /* --report-from CSV: regenerate the report, no GPU */
  int help, selftest, compile_check;
  const char *selftest_fixture;
} bench_opts;

/* ---- bench_grid.c ---- */

/* Parses argv (without the program name). Returns 0, or 2 with the reason in err. */
int bench_parse_args(int argc, char **argv, bench_opts *o, char *err, size_t n);
void bench_opts_free(bench_opts *o);
/* Fills in out_dir/csv/md/plots defaults (see --help). */
void bench_resolve_outputs(bench_opts *o, char *csv, char *md, char *plots, size_t n);
/* Appends the shapes of grid name ("seed", "seed4", "d256", "gemma") to out.
** Returns the number added, or -1 for an unknown grid. */
int bench_grid(const char *name, bench_case *out, int max);
/* "B,Tq,Tk,Hq,Hkv,d[,causal][,softcap=X][,window=W][,scale=S]" -> 0, or -1. */
int bench_parse_shape(const char *spec, tune_shape *s);
/* The precision check problem of s: batch 1, one kv group of heads, lengths
** capped at cap (prefix blocks shrunk, suffix blocks kept; windows wider than
** half the capped length shrunk to it). Returns 1 if anything was capped. */
int bench_check_shape_of(const tune_shape *s, int cap, tune_shape *c);
/* 4 * Hq * d * visible pairs (over the batch): the useful FLOPs of a forward. */
double bench_work(const tune_shape *s);

/* ---- bench_csv.c ---- */

/* One CSV row: one implementation on one shape. Missing numbers are NAN. */
typedef struct bench_row {
  char grid[24], name[64], impl[8], status[128];
  int B, Tq, Tk, Hq, Hkv, d, causal, window; /* window: keys a query sees (W), 0 = none */
  double softcap;
  double ms_median, ms_min, ms_max, tflops, speedup, peak_mib, err_max, err_mean;
} bench_row;

typedef struct bench_rows {
  bench_row *v;
  int n, cap;
  char **notes;  /* '#' lines of the CSV (device, date, method), without the '#' */
  int nnotes;
} bench_rows;

extern const char bench_csv_header[];
void bench_row_init(bench_row *r, const char *grid, const tune_shape *s, const char *impl);
int bench_rows_add(bench_rows *rs, const bench_row *r);
int bench_rows_note(bench_rows *rs, const char *text);
void bench_rows_free(bench_rows *rs);
void bench_csv_write_row(FILE *f, const bench_row *r);
/* Parses one data line; 0 or -1. */
int bench_csv_parse_row(const char *line, bench_row *r);
/* Reads a whole CSV (header required, '#' lines kept as notes). 0, or -1 with err. */
int bench_csv_read(const char *path, bench_rows *rs, char *err, size_t n);
/* Turns status text into one CSV-safe field (no commas, newlines or quotes). */
void bench_status_set(bench_row *r, const char *fmt, ...) FA_PRINTF(2, 3);

/* ---- bench_report.c ---- */

void bench_table_header(FILE *f);
void bench_table_row(FILE *f, const bench_row *fa, const bench_row *std);
/* Threshold lines (flash faster than standard from which length), to f. */
void bench_thresholds_text(FILE *f, const bench_rows *rs);
/* Smallest S of the series (grid, Hq, Hkv, d, causal, window, softcap, B) from
** which fa beats std at every measured length; -1 never; 0 no such series.
** *std_oom gets the smallest S where std ran out of memory (0 none). */
int bench_threshold(const bench_rows *rs, const bench_row *like, int *std_oom);
/* KV-cache bytes of one layer and one token: K and V, Hkv heads of d 2-byte values. */
double bench_kv_bytes_per_token_layer(int hkv, int d);
/* Cache bytes of one sequence of T tokens: global layers hold all T tokens,
** the other layers min(T, window) (window 0: every layer is global). */
double bench_kv_sequence_bytes(int layers, int global_layers, int hkv, int d, int window, int T);
/* Writes the markdown report; plots_rel: the plots directory relative to the
** report (for links). Returns 0 or -1. */
int bench_write_markdown(const char *path, const bench_rows *rs, const char *plots_rel, int plots_made);

/* A plotted series family: one grid's rows of one head configuration and mask
** (Tq == Tk) at two or more lengths; a line per implementation and batch. */
typedef struct bench_family {
  const bench_row *like;
  int Bs[16], nB;
  char base[128];   /* file name stem: <base>_time.png, _tflops.png, _memory.png */
  char title[160];
} bench_family;
/* The families of rs in order of first appearance; returns how many (<= max). */
int bench_families(const bench_rows *rs, bench_family *out, int max);
/* 1 if a and b belong to one family (grid, name unless --shape, heads, d, mask; Tq == Tk). */
int bench_same_family(const bench_row *a, const bench_row *b);
/* 1 if rows a and b are the same shape (every field but impl and numbers). */
int bench_same_shape(const bench_row *a, const bench_row *b);
/* The std row of fa row r's shape, or NULL. */
const bench_row *bench_std_of(const bench_rows *rs, const bench_row *r);

/* ---- bench_plot.c ---- */

/* Writes the data files (DIR/data) and DIR/plots.gp from rs and runs gnuplot on it unless
** no_run. *made: 1 if the PNGs were drawn; if not, says on stderr how to draw
** them later. Returns the number of PNGs the script draws, or -1 on an I/O error. */
int bench_plots(const bench_rows *rs, const char *dir, int no_run, int *made);
/* mkdir -p: path and its parents; 0 or -1 (errno). */
int bench_mkdirs(const char *path);

/* ---- bench_std.c: standard attention (cuBLAS GEMMs + templates/softmax.cu) ---- */

typedef struct bench_std bench_std;
typedef struct bench_std_bufs {
  CUdeviceptr s, p, ptrs, work;
  size_t s_bytes;
} bench_std_bufs;

/* Loads cuBLAS (dlopen: $FA_CUBLAS_PATH, libcublas.so.13, .so.12, .so, then
** $CUDA_HOME/lib64, /usr/local/cuda/lib64), compiles the softmax kernel for arch
** and creates a cuBLAS handle on the current context. 0, or -1 with why. */
int bench_std_open(bench_std **out, int arch, char *why, size_t n);
void bench_std_close(bench_std *st);
const char *bench_std_describe(const bench_std *st);
/* Allocates the score matrix, P, the pointer arrays and the cuBLAS workspace
** for d's problem. 0 ok, 1 out of memory (nothing left allocated), -1 error. */
int bench_std_alloc(bench_std *st, const tune_data *d, bench_std_bufs *b, char *why, size_t n);
void bench_std_free(bench_std_bufs *b);
/* Enqueues S = scale Q K^T, P = softmax(mask(softcap(S))), O = P V on the NULL stream. */
int bench_std_run(bench_std *st, const tune_data *d, bench_std_bufs *b);
/* Bytes of the score matrix (one of S or P) for p. */
double bench_std_score_bytes(const fa_problem *p);
/* Compiles templates/softmax.cu for arch with NVRTC (no GPU). 0, 77 without NVRTC, 1. */
int bench_std_compile_only(int arch, char *why, size_t n);

/* ---- bench_run.c ---- */

typedef struct bench_env bench_env;
/* Opens device, fa context, standard attention, flush buffer. 0; 77 no GPU (why). */
int bench_env_open(bench_env **out, const bench_opts *o, char *why, size_t n);
void bench_env_close(bench_env *e);
const char *bench_env_describe(const bench_env *e);
/* Measures one case into the two rows (fa, std). */
void bench_run_case(bench_env *e, const bench_case *c, bench_row *fa, bench_row *std);

/* ---- bench_selftest.c ---- */
int bench_selftest(const char *fixture);

#endif
