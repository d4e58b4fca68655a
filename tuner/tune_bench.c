/*
** tune_bench.c -- `fa-tune bench`: times every variant of the default space
** that fits each shape of a grid and reports the best, as JSON lines beside
** shared/peers/peer_bench.py's (same fields), then a table.
** Method: random inputs, timed as do_bench times the peers (tune_time.c:
** 25 ms of warm-up, 100 ms of repetitions back to back, at least --reps).
*/
#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "fa_ctx.h"
#include "fa_gen.h"
#include "fa_kernel.h"
#include "fa_plan.h"
#include "tune.h"
#include "tune_shapes.h"

#define MAX_GRID 256


/* The driver's own launch of the plan's forward kernel, with the parameters
** fa_forward passes (its last call's tensor maps, kept by the plan): the
** floor under fa_forward's host time. */
typedef struct raw_launch { const fa_plan *plan; const fa_fwd_args *a; } raw_launch;

static void raw_forward(const raw_launch *r) {
  const fa_plan *plan = r->plan;
  const fa_launch_info *li = &plan->fwd->info;
  fa_fwd_kparams kp;
  fa_kparams_call(plan, r->a, &kp);
  CUdeviceptr ws = 0;
  void *params[] = { &kp, &ws };
  void *params_tma[] = { &kp, (void *)&plan->maps[0], (void *)&plan->maps[1], (void *)&plan->maps[2],
                         (void *)&plan->maps[3], &ws };
  tune_cu->cuLaunchKernel(plan->fwd->fn, plan->launch[0], plan->launch[1], plan->launch[2], (unsigned)li->threads, 1,
                          1, (unsigned)li->smem, NULL, li->tma ? params_tma : params, NULL);
}

/* Microseconds per call of 500 back-to-back calls (below the launch queue
** depth, so the host never waits on the GPU), the best of 5 rounds. */
static double per_call_us(fa_plan *plan, const fa_fwd_args *a, int raw) {
  const raw_launch r = {plan, a};
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    tune_cu->cuCtxSynchronize();
    struct timespec t0, t1;
    const int n = 500;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; ++i) {
      if (raw) raw_forward(&r);
      else fa_forward(plan, a);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
    if (us < best) best = us;
  }
  tune_cu->cuCtxSynchronize();
  return best;
}

/* Host time of fa_forward on a cached plan: the launch path's cost per call,
** beside the driver's launch of the same kernel alone. */
static int host_overhead(fa_context *ctx, const tune_shape *s) {
  tune_data d;
  fa_plan *plan;
  if (tune_data_make(&d, s, 3, 2) || fa_plan_create(ctx, &s->p, NULL, &plan) != FA_OK) {
    fprintf(stderr, "%s\n", fa_errmsg(ctx));
    return 1;
  }
  fa_fwd_args a;
  tune_data_args(&d, &a);
  const double us = per_call_us(plan, &a, 0), raw = plan->nsplit == 1 ? per_call_us(plan, &a, 1) : 0;
  printf("host time per fa_forward call (cached plan %s, %d launches per round, best of 5): %.2f us\n",
         fa_plan_variant(plan), 500, us);
  if (raw > 0)
    printf("host time per cuLaunchKernel of the same kernel and parameters alone: %.2f us (fa's own share %.2f us)\n",
           raw, us - raw);
  fa_plan_destroy(plan);
  tune_data_free(&d);
  return 0;
}

int tune_cmd_bench(int argc, char **argv) {
  const char *grid = "seed4", *json = NULL, *filter = "";
  double rep_ms = 100;  /* do_bench's default, as peer_bench.py uses it */
  int device = 0, reps = 20, all = 0, tuned = 0, host = 0, nshape = 0, bwd = 0, det = 0, splits = 0;
  static tune_shape shapes[MAX_GRID];
  for (int i = 0; i < argc; ++i) {
    if (!strcmp(argv[i], "--grid") && i + 1 < argc) grid = argv[++i];
    else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
      if (nshape >= MAX_GRID || tune_parse_shape(argv[++i], &shapes[nshape])) { fprintf(stderr, "fa-tune bench: bad --shape\n"); return 2; }
      nshape++;
    }
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      if (tune_arg_int("bench", "--device", argv[++i], 0, 1023, &device)) return 2;
    }
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      if (tune_arg_int("bench", "--reps", argv[++i], 1, 100000, &reps)) return 2;
    }
    else if (!strcmp(argv[i], "--rep-ms") && i + 1 < argc) {
      if (tune_arg_num("bench", "--rep-ms", argv[++i], 0, 60000, &rep_ms)) return 2;
    }
    else if (!strcmp(argv[i], "--all")) all = 1;
    else if (!strcmp(argv[i], "--tuned")) tuned = 1;
    else if (!strcmp(argv[i], "--host")) host = 1;
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
      const char *m = argv[++i];
      if (!strcmp(m, "fwdbwd")) bwd = 1;
      else if (strcmp(m, "fwd")) { fprintf(stderr, "fa-tune bench: --mode fwd or fwdbwd\n"); return 2; }
    }
    else if (!strcmp(argv[i], "--deterministic")) det = 1;
    else if (!strcmp(argv[i], "--splits") && i + 1 < argc) {
      if (tune_arg_int("bench", "--splits (0: fa's choice)", argv[++i], 0, 64, &splits)) return 2;
    }
    else { fprintf(stderr, "fa-tune bench: unknown argument '%s'\n", argv[i]); return 2; }
  }
  int ns = nshape ? nshape : tune_grid(grid, shapes, MAX_GRID);
  if (!ns) { fprintf(stderr, "fa-tune bench: unknown grid '%s' (seed, seed4, d256, gemma)\n", grid); return 2; }
  char name[256];
  if (tune_dev_open(device, name, sizeof name)) { printf("SKIPPED: fa-tune bench needs a GPU: %s\n", name); return 77; }
  fa_context_options co;
  fa_context_options_init(&co);
  co.device = device;
  co.flags = tuned ? 0 : FA_CTX_NO_TUNING_DB;  /* --tuned: only what the runtime chooses */
  fa_context *ctx;
  if (fa_context_create(&co, &ctx) != FA_OK) { fprintf(stderr, "%s\n", fa_errmsg(NULL)); return 1; }
  printf("# %s\n", fa_context_describe(ctx));
  if (host) return host_overhead(ctx, &shapes[0]);
  FILE *out = json ? fopen(json, "w") : NULL;
  CUdeviceptr flush;
  if (tune_cu->cuMemAlloc(&flush, TUNE_FLUSH_BYTES)) { fprintf(stderr, "cannot allocate the L2 flush buffer\n"); return 1; }
  char **keys;
  int nkeys;
  fa_gen *gen;
  char fwd_filter[512];
  /* Forward variants, or with --mode fwdbwd the backward ones (after the chosen forward). */
  snprintf(fwd_filter, sizeof fwd_filter, "%s %s", bwd ? "bwd_" : "fwd_", filter ? filter : "");
  if (tune_gen_open(ctx, &gen) || fa_gen_list(NULL, gen, fwd_filter, ctx->arch, &keys, &nkeys)) {
    fprintf(stderr, "%s\n", fa_errmsg(NULL));
    return 1;
  }
  /* Timing every variant: compile those that fit a shape ahead of the GPU
  ** (the tuned selection needs one each, compiled as its plan is made). */
  char **fit = calloc((size_t)nkeys + 1, sizeof *fit);
  int nfit = 0;
  for (int k = 0; fit && !tuned && k < nkeys; ++k)
    for (int si = 0; si < ns; ++si) {
      fa_gen_problem pr;
      fa_gen_problem_from(&shapes[si].p, &pr);
      pr.bwd = bwd;
      if (fa_gen_fits(NULL, gen, keys[k], &pr, ctx->arch) == FA_OK) { fit[nfit++] = keys[k]; break; }
    }
  tune_precompile *pc =
      nfit && ctx->nvrtc ? tune_precompile_start(fit, nfit, ctx->arch, ctx->cache_dir, tune_precompile_threads(1)) : NULL;
  printf("| shape | B | Tq | Tk | H/K | d | causal | best variant | ms | TFLOP/s | heuristic ms |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int si = 0; si < ns; ++si) {
    tune_shape *s = &shapes[si];
    tune_data d;
    if (tune_data_make(&d, s, 7 + si, 2)) {
      printf("| %s | skipped: out of memory |\n", s->name);
      tune_data_free(&d);
      continue;
    }
    fa_fwd_args a;
    tune_data_args(&d, &a);
    const double work = (bwd ? 3.5 : 1.0) * 4.0 * s->p.heads_q * s->p.head_dim * (double)tune_visible_pairs(s);
    fa_gen_problem pr;
    fa_gen_problem_from(&s->p, &pr);
    pr.bwd = bwd;
    /* fwdbwd: the LSE kept, dO, gradients, workspace. */
    fa_bwd_args ba;
    fa_bwd_args_init(&ba);
    CUdeviceptr gq = 0, gk = 0, gv = 0, ws = 0;
    size_t ws_bytes = 0;
    if (bwd) {
      s->p.features |= FA_FEAT_LSE;
      tune_data_args(&d, &a);
      if (tune_cu->cuMemAlloc(&gq, d.nq * 2) || tune_cu->cuMemAlloc(&gk, d.nk * 2) || tune_cu->cuMemAlloc(&gv, d.nv * 2)) {
        printf("| %s | skipped: out of memory |\n", s->name);
        continue;
      }
      ba.fwd = a;
      ba.dout = (const void *)(uintptr_t)d.ddout;
      ba.dq = (void *)(uintptr_t)gq; ba.dk = (void *)(uintptr_t)gk; ba.dv = (void *)(uintptr_t)gv;
    }
    float best = 1e30f, heur = -1;
    char best_key[160] = "";
    for (int k = -1; k < (tuned ? 0 : nkeys); ++k) {
      fa_plan_options po;
      fa_plan_options_init(&po);
      po.deterministic = det;
      po.kv_splits = splits;
      if (k >= 0) {
        if (fa_gen_fits(NULL, gen, keys[k], &pr, ctx->arch) != FA_OK) continue;
        if (bwd) po.variant_bwd = keys[k]; else po.variant = keys[k];
      }
      fa_plan *plan;
      if (fa_plan_create(ctx, &s->p, &po, &plan) != FA_OK) {
        fprintf(stderr, "%s %s: %s\n", s->name, k >= 0 ? keys[k] : "heuristic", fa_errmsg(ctx));
        continue;
      }
      const char *vkey = bwd ? plan->key_bwd : fa_plan_variant(plan);
      if (bwd) tune_bwd_workspace(plan, &ws, &ws_bytes, &ba);
      const tune_timing how = {reps, 25, rep_ms};
      const float ms = tune_time_plan(plan, &a, bwd ? &ba : NULL, flush, &how);
      if (k < 0) {
        heur = ms;  /* the heuristic may pick a variant outside the default space */
        if (ms > 0) { best = ms; snprintf(best_key, sizeof best_key, "%s", vkey); }
      }
      else if (ms > 0 && ms < best) { best = ms; snprintf(best_key, sizeof best_key, "%s", keys[k]); }
      if (tuned) printf("#   %s: %s\n", s->name, fa_plan_describe(plan));
      if (all && ms > 0)
        printf("#   %s %s %.4f ms %.1f TFLOP/s, split-KV %d\n", s->name, vkey, ms, work / ms / 1e9, plan->nsplit);
      fa_plan_destroy(plan);
    }
    if (best_key[0]) {
      printf("| %s | %d | %d | %d | %d/%d | %d | %d | %s | %.4f | %.1f | %.4f |\n", s->name, s->p.batch, s->p.seqlen_q,
             s->p.seqlen_k, s->p.heads_q, s->p.heads_kv, s->p.head_dim, s->p.causal, best_key, best,
             work / best / 1e9, heur);
      if (out)
        fprintf(out,
                "{\"name\": \"%s\", \"B\": %d, \"Tq\": %d, \"Tk\": %d, \"H\": %d, \"K\": %d, \"d\": %d, "
                "\"causal\": %s, \"window\": %d, \"softcap\": %g, \"peer\": \"fa\", \"mode\": \"%s\", "
                "\"ms\": %.5f, \"tflops\": %.2f, \"variant\": \"%s\", \"heuristic_ms\": %.5f}\n",
                s->name, s->p.batch, s->p.seqlen_q, s->p.seqlen_k, s->p.heads_q, s->p.heads_kv, s->p.head_dim,
                s->p.causal ? "true" : "false", s->p.window_left >= 0 ? s->p.window_left + 1 : 0,
                (double)s->p.softcap, bwd ? "fwdbwd" : "fwd", best, work / best / 1e9, best_key, heur);
    } else {
      printf("| %s | %d | %d | %d | %d/%d | %d | %d | none ran | | | |\n", s->name, s->p.batch, s->p.seqlen_q,
             s->p.seqlen_k, s->p.heads_q, s->p.heads_kv, s->p.head_dim, s->p.causal);
    }
    fflush(stdout);
    if (out) fflush(out);
    CUdeviceptr bufs[] = {gq, gk, gv, ws};
    for (int i = 0; i < 4; ++i)
      if (bufs[i]) tune_cu->cuMemFree(bufs[i]);
    tune_data_free(&d);
  }
  if (out) fclose(out);
  tune_cu->cuMemFree(flush);
  tune_precompile_join(pc);
  free(fit);
  fa_gen_free_list(keys, nkeys);
  fa_gen_close(gen);
  fa_context_destroy(ctx);
  return 0;
}
