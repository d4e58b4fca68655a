/* tune_shapes.h -- shape sets for the sweep and the benchmark. */
#ifndef TUNE_SHAPES_H
#define TUNE_SHAPES_H

#include "tune.h"

/* What a variant fixes about the problems it serves. */
typedef struct tune_sig {
  int d, bf16, g, pos, seg, softcap;
  int bwd;  /* a backward variant's sweep (a shape more) */
} tune_sig;

/* The correctness sweep's shapes for variants of signature g: odd lengths,
** every run-time feature (causal, windows, seqlens, layouts, Tq != Tk). */
int tune_verify_shapes(const tune_sig *g, tune_shape *out, int max);

/* A benchmark grid: "seed" (the original request's sweep), "seed4" (its
** batch-4 slice), "d256" (the anchors' d=256 rows), "gemma" (workloads.md). */
int tune_grid(const char *name, tune_shape *out, int max);

/* The problem of one kv head's group of p (batch 1, Hq/Hkv query heads, one kv
** head, BSHD) at lengths tq, tk, with p's dtype, head_dim, scale, softcap,
** causal, windows and features: what correctness checks run on a small scale. */
void tune_group_problem(const fa_problem *p, int tq, int tk, fa_problem *out);

/* Splits shapes s[0..n) between parts workers (several GPUs of one model):
** owner[i] in [0, parts) for every shape, each shape to exactly one worker.
** Longest first to the least loaded (cost: visible pairs x heads x head_dim,
** a tuning run's time grows with it), ties to the lower index, so every
** process that splits the same list gets the same split. */
void tune_shard(const tune_shape *s, int n, int parts, int *owner);

#endif
