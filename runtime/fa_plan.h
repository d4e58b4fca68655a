/* fa_plan.h -- the plan structure (internal). */
#ifndef FA_PLAN_H
#define FA_PLAN_H

#include <pthread.h>
#include "fa_kernel.h"
#include "fa_kparams.h"

struct fa_plan {
  fa_context *ctx;
  fa_problem problem;
  char key[160];
  fa_kernel *fwd;      /* owned by the context's cache */
  int grid[3];         /* work items: query tiles, head groups, batch */
  unsigned launch[3];  /* the forward's launch grid: grid[0] * nsplit x grid[1] x grid[2], or persistent CTAs */
  fa_fwd_kparams kp;   /* the problem's part of the kernel parameters */
  int nsplit;          /* split-KV slices (1 = none) */
  size_t ws_bytes;     /* forward scratch when split */
  CUdeviceptr scratch; /* the plan's own scratch, used when the call passes none */
  /* Backward (problems with FA_FEAT_LSE). */
  char key_bwd[160];
  fa_kernel *bwd;      /* NULL without FA_FEAT_LSE, or when no backward variant can serve */
  char bwd_why[512];   /* why not, in the latter case */
  int deterministic;
  int hsplit;          /* CTAs per kv head's query group in fa_bwd_dkdv */
  int kb_slow;         /* fa_bwd_dkdv's grid: key blocks in z (1) or x (0) */
  size_t bwd_bytes;    /* workspace: lse2, dsum [, dQ accumulator][, dK/dV partials] */
  size_t bwd_off[4];   /* byte offsets of those regions */
  char describe[1024];
  /* The last forward call's tensor maps (sm90), reused while q, k, v and o
  ** stay where they were: four encodes a call had put the host time at the
  ** 5 us target (docs/PERF.md §J.3, §K.1). The lock lets threads share the plan. */
  pthread_mutex_t map_lock;
  const void *map_ptr[4]; /* q, k, v, o of the maps below; all NULL: none yet */
  CUtensorMap maps[4];
};

/* Sets the forward's launch: one CTA per work item, or a persistent grid of
** ctas CTAs (0: one per SM slot; the correctness sweep also runs small ones,
** so that every CTA walks several rounds). */
fa_status fa_plan_launch(fa_plan *plan, unsigned ctas);

/* The forward's kernel parameters of a call: the plan's problem part plus the
** call's pointers (fa_run.c). */
void fa_kparams_call(const fa_plan *plan, const fa_fwd_args *a, fa_fwd_kparams *kp);

/* fa_bwd_dkdv's launch shape on a GPU of sms SMs (fa_plan.c): CTAs per kv
** head's query group, and whether key blocks vary slowest in the grid. */
int fa_bwd_hsplit(const fa_problem *p, int sms, int bm, int bn);
int fa_bwd_kb_slow(const fa_problem *p, int sms, int hsplit, int bn);

#endif
