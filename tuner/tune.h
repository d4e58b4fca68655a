/*
** tune.h -- fa-tune's parts: the commands, device helpers and the shape sets.
*/
#ifndef TUNE_H
#define TUNE_H

#include <stdint.h>
#include <stdio.h>
#include "fa.h"
#include "fa_cu.h"
#include "fa_ref.h"

/* A test or benchmark problem with its mask data recipe. */
typedef struct tune_shape {
  char name[64];
  fa_problem p;
  int blocks[8], nblocks;  /* openpi-style block-causal positions (prefix first); 0 = none */
  int hole_lo, hole_hi;    /* key range with segment -1 (padding holes) */
  int qhole_lo, qhole_hi;  /* query range with segment -1 (rows that see no key) */
  int seqlen_q[4], seqlen_k[4]; /* with FA_FEAT_SEQLENS, per batch row (B <= 4) */
} tune_shape;

/* Host copies of one problem's inputs and mask data, and their device copies. */
typedef struct tune_data {
  const tune_shape *shape;
  size_t nq, nk, nv, no, nlse;  /* elements */
  double *q, *k, *v;            /* host, values exactly representable in the dtype */
  int32_t *q_pos, *k_pos, *q_seg, *k_seg, *seqlens_q, *seqlens_k;
  CUdeviceptr dq, dk, dv, do_, dlse, ddout,  /* ddout: dO, timing data only */
              dq_pos, dk_pos, dq_seg, dk_seg, dseqlens_q, dseqlens_k;
  fa_ref_masks masks;
} tune_data;

extern const fa_cu *tune_cu;

int tune_dev_open(int device, char *name, size_t n); /* 0 ok; binds the primary context */
/* upload: 0 host mask data only, 1 random inputs on host and device, 2 device only (timing). */
int tune_data_make(tune_data *d, const tune_shape *s, uint64_t seed, int upload);
void tune_data_free(tune_data *d);
void tune_data_args(const tune_data *d, fa_fwd_args *a);
/* Allocates *dst and uploads n doubles as 16-bit elements. 0 or -1. */
int tune_upload16(CUdeviceptr *dst, const double *src, size_t n, fa_dtype t);
/* Reads a device tensor of n 16-bit elements into doubles. */
int tune_download16(CUdeviceptr src, size_t n, fa_dtype t, double *out);
double tune_bits_to_double(uint16_t x, fa_dtype t);
uint16_t tune_double_to_bits(double x, fa_dtype t);

/* Parses "B,Tq,Tk,Hq,Hkv,d[,causal][,softcap=X][,window=W][,scale=S]" (bf16, BSHD). 0 or -1. */
int tune_parse_shape(const char *spec, tune_shape *s);

/* Visible pairs of one head over the batch (the work count of a shape). */
int64_t tune_visible_pairs(const tune_shape *s);

/* Timing (tune_time.c), as triton's do_bench: warm-up, repetitions back to
** back with the L2 flushed before each, CUDA events, one sync, the median.
** reps is the least count; warmup_ms and rep_ms are do_bench's budgets (0: counts only). */
#define TUNE_FLUSH_BYTES (256u << 20)
typedef struct tune_timing { int reps; double warmup_ms, rep_ms; } tune_timing;
typedef struct tune_times { float median, min, max; int n; } tune_times;
typedef int (*tune_enqueue)(void *arg);  /* enqueues one repetition; 0 ok */
int tune_time_fn(tune_enqueue fn, void *arg, CUdeviceptr flush, const tune_timing *how, tune_times *out);
/* Median milliseconds of fa_forward, then fa_backward when b is not NULL; -1 on failure. */
float tune_time_plan(fa_plan *plan, const fa_fwd_args *a, const fa_bwd_args *b, CUdeviceptr flush,
                     const tune_timing *how);
/* Grows *ws (*bytes) to the plan's backward workspace and points b's workspace at it. */
void tune_bwd_workspace(const fa_plan *plan, CUdeviceptr *ws, size_t *bytes, fa_bwd_args *b);
/* The unfused baseline (templates/unfused.cu): load once per dtype, run into d->do_ and d->dlse. */
/* Numeric options: parse s (the value of opt) inside [lo, hi], or print a
** usage message naming cmd and return -1 (the caller exits 2). */
int tune_arg_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int tune_arg_num(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* An architecture, "sm_90a", "sm_86" or "86", as 90, 86 (sm_80 or newer). */
int tune_arg_arch(const char *cmd, const char *opt, const char *s, int *out);

struct fa_gen;
struct fa_nvrtc;
/* The generator for ctx's GPU: its variants fit the device's shared memory.
** Messages go to fa_errmsg(NULL). */
fa_status tune_gen_open(fa_context *ctx, struct fa_gen **gen);
int tune_unfused_load(struct fa_gen *gen, const struct fa_nvrtc *nv, int arch, int bf16, char *err, size_t n);
int tune_unfused_run(const tune_data *d);

/* The backward half of fa-tune verify (tune_verify_bwd.c): every key whose
** info says bwd. Counts into *runs, *ok, *bad; -1 on a setup failure. */
struct fa_launch_info;
int tune_verify_bwd(fa_context *ctx, struct fa_gen *gen, const struct fa_nvrtc *nv, char **keys,
                    const struct fa_launch_info *info, int nkeys, int quiet, int *runs, int *ok, int *bad);

/* The tuner's correctness bar for backward candidates: random inputs of shape s
** (keep it small: the unfused backward's scratch is quadratic) with the unfused
** backward's gradients. check returns max |fa - unfused| / (1 + max |unfused|)
** over dQ, dK, dV (INFINITY if the run fails or gives NaN). */
typedef struct tune_bwd_case tune_bwd_case;
tune_bwd_case *tune_bwd_case_new(struct fa_gen *gen, const struct fa_nvrtc *nv, int arch, const tune_shape *s,
                                 uint64_t seed);
double tune_bwd_case_check(tune_bwd_case *t, fa_context *ctx, const char *key);
void tune_bwd_case_free(tune_bwd_case *t);

/* Threads that compile keys (in order) into the disk cache cache_dir ahead of
** the GPU; NULL when there is no cache or no thread (the caller's plans then
** compile themselves). stop takes no new key; join waits for them; both are
** no-ops on NULL. */
typedef struct tune_precompile tune_precompile;
tune_precompile *tune_precompile_start(char **keys, int n, int arch, const char *cache_dir, int threads);
void tune_precompile_stop(tune_precompile *pc);
void tune_precompile_join(tune_precompile *pc);
/* Compile threads for this host: its cores but one, shared by `share` processes. */
int tune_precompile_threads(int share);

/* Commands. Each returns the process exit code. */
int tune_cmd_compile(int argc, char **argv);
int tune_cmd_verify(int argc, char **argv);
int tune_cmd_bench(int argc, char **argv);
int tune_cmd_tune(int argc, char **argv);
int tune_cmd_export(int argc, char **argv);

#endif
