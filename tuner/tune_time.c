/*
** tune_time.c -- how fa's tools time GPU work, as triton's do_bench does (the
** peers' harness, shared/peers/peer_bench.py): a warm-up, then repetitions
** enqueued back to back, each after a 256 MiB L2 flush with CUDA events
** around the call, one synchronisation at the end, the median.
** Back to back matters: with a synchronisation after every repetition the
** H200 ran fa's long causal forwards 3-12% faster than under do_bench, the
** GPU idling between calls under its power cap (docs/PERF.md §H.1).
*/
#include <stdlib.h>
#include "tune.h"

#define MAX_REPS 1000

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int tune_time_fn(tune_enqueue fn, void *arg, CUdeviceptr flush, const tune_timing *how, tune_times *out) {
  const fa_cu *cu = tune_cu;
  CUevent *ev = calloc(2 * MAX_REPS, sizeof *ev);
  float *t = calloc(MAX_REPS, sizeof *t);
  int made = 0, rc = -1, n = 0;
  if (!ev || !t) goto done;
  for (; made < 2; ++made)
    if (cu->cuEventCreate(&ev[made], 0)) goto done;
  /* An estimate of one repetition sizes the warm-up and the count, as do_bench. */
  cu->cuMemsetD8Async(flush, 0, TUNE_FLUSH_BYTES, NULL);
  cu->cuEventRecord(ev[0], NULL);
  if (fn(arg)) goto done;
  cu->cuEventRecord(ev[1], NULL);
  float est;
  if (cu->cuEventSynchronize(ev[1]) || cu->cuEventElapsedTime(&est, ev[0], ev[1])) goto done;
  if (est < 1e-3f) est = 1e-3f;
  int warm = (int)(how->warmup_ms / est);
  n = (int)(how->rep_ms / est);
  if (warm < 3) warm = 3;
  if (warm > MAX_REPS) warm = MAX_REPS;
  if (n < how->reps) n = how->reps;
  if (n < 1) n = 1;
  if (n > MAX_REPS) n = MAX_REPS;
  for (int w = 0; w < warm; ++w)
    if (fn(arg)) goto done;
  for (; made < 2 * n; ++made)
    if (cu->cuEventCreate(&ev[made], 0)) goto done;
  for (int i = 0; i < n; ++i) {
    cu->cuMemsetD8Async(flush, (unsigned char)i, TUNE_FLUSH_BYTES, NULL);
    cu->cuEventRecord(ev[2 * i], NULL);
    if (fn(arg)) goto done;
    cu->cuEventRecord(ev[2 * i + 1], NULL);
  }
  if (cu->cuEventSynchronize(ev[2 * n - 1])) goto done;
  for (int i = 0; i < n; ++i)
    if (cu->cuEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1])) goto done;
  qsort(t, (size_t)n, sizeof *t, cmp_float);
  out->median = n % 2 ? t[n / 2] : 0.5f * (t[n / 2 - 1] + t[n / 2]);
  out->min = t[0];
  out->max = t[n - 1];
  out->n = n;
  rc = 0;
done:
  for (int i = 0; i < made; ++i) cu->cuEventDestroy(ev[i]);
  free(ev);
  free(t);
  return rc;
}

typedef struct plan_call { fa_plan *plan; const fa_fwd_args *a; const fa_bwd_args *b; } plan_call;

/* One timed call: the forward, then the backward when b is given. */
static int run_plan(void *arg) {
  const plan_call *c = arg;
  return fa_forward(c->plan, c->a) != FA_OK || (c->b && fa_backward(c->plan, c->b) != FA_OK);
}

float tune_time_plan(fa_plan *plan, const fa_fwd_args *a, const fa_bwd_args *b, CUdeviceptr flush,
                     const tune_timing *how) {
  plan_call c = {plan, a, b};
  tune_times r;
  return tune_time_fn(run_plan, &c, flush, how, &r) ? -1.f : r.median;
}
