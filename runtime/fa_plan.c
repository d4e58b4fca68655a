/*
** fa_plan.c -- plans: a validated problem with its chosen, loaded kernel.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fa_db.h"
#include "fa_kernel.h"
#include "fa_plan.h"

/* Picks the forward (bwd = 0) or backward variant: forced, tuned, else heuristic. */
static fa_status choose(fa_context *ctx, const fa_problem *p, const char *forced, int bwd,
                        char *key, size_t key_size, char *why, size_t why_size) {
  fa_gen *gen;
  fa_status s = fa_ctx_gen_lock(ctx, &gen);
  if (s != FA_OK) return s;
  fa_gen_problem pr;
  fa_gen_problem_from(p, &pr);
  pr.bwd = bwd;
  if (forced) {
    s = fa_gen_fits(ctx, gen, forced, &pr, ctx->arch);
    if (s == FA_OK) {
      snprintf(key, key_size, "%s", forced);
      snprintf(why, why_size, "forced by fa_plan_options.%s", bwd ? "variant_bwd" : "variant");
    }
  } else {
    fa_bucket b;
    fa_db_bucket_of(p, &b);
    if (bwd) fa_db_bucket_bwd(&b); /* backward winners live in buckets of their own */
    char text[32] = "", now[32] = "";
    int tuned = fa_db_layers_lookup(&ctx->db, &ctx->gpu, &b, key, key_size, why, why_size, text, sizeof text);
    /* A database row is data from outside: use it only if it can serve. */
    if (tuned && fa_gen_fits(ctx, gen, key, &pr, ctx->arch) == FA_OK) {
      /* Still this variant, but its timing may be of another text: say so. */
      size_t n = strlen(why);
      if (!text[0])
        snprintf(why + n, why_size - n, "; kernel text not recorded");
      else if (fa_gen_text_hash(ctx, gen, key, now, sizeof now) == FA_OK && strcmp(text, now))
        snprintf(why + n, why_size - n, "; timed with another kernel text of this variant (%s, now %s)", text, now);
      fa_err_clear(ctx);
      fa_ctx_gen_unlock(ctx);
      return FA_OK;
    }
    s = fa_gen_choose(ctx, gen, &pr, ctx->arch, key, key_size, why, why_size);
    if (s == FA_OK && tuned) {
      size_t n = strlen(why);
      snprintf(why + n, why_size - n, " (the tuned %s cannot serve this problem)", "winner");
    }
  }
  fa_ctx_gen_unlock(ctx);
  return s;
}

/* Split the keys when the query tiles alone leave most of the GPU idle
** (decode, Pi0's 51-query denoise): about two CTAs per SM, at least two key
** tiles per slice, at most 16 slices. Only below half a wave: on the H100,
** Pi0's 816-token prefill (104 CTAs on 132 SMs) ran 0.040 ms unsplit and
** 0.047 ms in 3 slices, while its 51-query denoise (8 CTAs) went from
** 0.049 to 0.024 ms and batch-1 decode from 0.082 to 0.019 ms. Slices also
** cost fp32 partials (d + 1 floats per query row and slice, written, then read
** by fa_combine): at most 4x the K and V bytes the slices share. On the H200
** (2026-12-02, docs/perf/2026-12-02_h200/splits) the prefill on the sm90
** m128n64 tile (56 CTAs) ran 0.028 ms unsplit, 0.029 in 2 slices and 0.048 in
** the 5 this rule chose without that bound (partials 16x K and V): the tuner
** kept the sm80 tile's 0.042 instead; the denoise (partials 0.9x per slice)
** ran 0.025 ms in 3-4 slices and 0.033 unsplit. */
static int choose_splits(const fa_context *ctx, const fa_problem *p, const fa_launch_info *li, const int grid[3],
                         int requested) {
  const int tiles = (p->seqlen_k + li->bn - 1) / li->bn;
  if (requested > 0) return requested < tiles ? requested : (tiles > 0 ? tiles : 1);
  const long ctas = (long)grid[0] * grid[1] * grid[2];
  if (ctx->sm_count <= 0 || 2 * ctas > ctx->sm_count || tiles < 4) return 1;
  long n = (2L * ctx->sm_count + ctas - 1) / ctas;
  if (n > tiles / 2) n = tiles / 2;
  if (n > 16) n = 16;
  const double kv = 4.0 * p->batch * p->heads_kv * (double)p->seqlen_k * p->head_dim;  /* K and V, 16-bit */
  const double slice = 8.0 * p->batch * p->heads_q * (double)p->seqlen_q * (p->head_dim + 1);
  if (n * slice > 4 * kv) n = (long)(4 * kv / slice);
  return n > 1 ? (int)n : 1;
}

/* Query tiles of bm rows that keys [n0, n1] can see by the index rules. */
static int bwd_query_tiles(const fa_problem *p, int n0, int n1, int bm) {
  const int off = p->seqlen_k - p->seqlen_q;
  int lo = 0, hi = p->seqlen_q;
  if (p->causal) lo = lo > n0 - off ? lo : n0 - off;
  if (p->window_right >= 0 && n0 - off - p->window_right > lo) lo = n0 - off - p->window_right;
  if (p->window_left >= 0 && n1 - off + p->window_left + 1 < hi) hi = n1 - off + p->window_left + 1;
  return hi > lo ? (hi + bm - 1) / bm - lo / bm : 0;
}

/* How many CTAs share one kv head's query heads in fa_bwd_dkdv. One CTA per
** (key block, kv head) leaves SMs idle when there are few kv heads (MQA) and
** few key blocks: then pick the divisor of the group that minimises waves x
** heads per CTA. Not once a wave is full: the fp32 partials cost more than
** the tail saves (H100, Pi0 training, 896 CTAs: split 8 ways, fwd+bwd ran
** at 105 TFLOP/s). With a causal mask or a window the key blocks' work
** differs: the heaviest CTA bounds the time (with fewer CTAs than SMs all
** start at once), so the cost is the larger of it and the work per SM, and a
** split must save a tenth to be taken. */
int fa_bwd_hsplit(const fa_problem *p, int sms, int bm, int bn) {
  const int group = p->heads_q / p->heads_kv, nblocks = (p->seqlen_k + bn - 1) / bn;
  const long ctas = (long)nblocks * p->heads_kv * p->batch;
  if (sms < 1) sms = 1;
  if (ctas >= sms) return 1;
  const int uneven = p->causal || p->window_left >= 0 || p->window_right >= 0;
  double heavy = 0, total = 0;  /* query tiles per head: the largest key block's, and all blocks' */
  for (int j = 0; uneven && j < nblocks; ++j) {
    const int n1 = (j + 1) * bn < p->seqlen_k ? (j + 1) * bn - 1 : p->seqlen_k - 1;
    const double q = bwd_query_tiles(p, j * bn, n1, bm);
    heavy = q > heavy ? q : heavy;
    total += q;
  }
  int best = 1;
  double best_cost = -1;
  for (int h = 1; h <= group; ++h) {
    if (group % h) continue;
    double cost;
    if (uneven) {
      const double per_sm = total * group * p->heads_kv * p->batch / sms, big = heavy * group / h;
      cost = big > per_sm ? big : per_sm;
      if (best_cost < 0 || cost < 0.9 * best_cost) best = h, best_cost = cost;
    } else {
      cost = (double)((ctas * h + sms - 1) / sms) * (group / h);
      if (best_cost < 0 || cost < best_cost) best = h, best_cost = cost;
    }
  }
  return best;
}

/* fa_bwd_dkdv's block order. Key blocks vary fastest by default: the CTAs
** running together then walk the same heads' Q and dO, which stay in L2.
** With a causal mask or a window and few (kv head, batch row) groups, the
** last group's heavy blocks would start late: there key blocks vary slowest.
** On the H100 (2026-11-25, fwd+bwd, one call) slowest ran d256 8/1 causal
** (4 groups) S=1024 +41%, 2048 +55%, 4096 +5%, d128 32/8 causal (32 groups)
** S=2048 +19%, and lost d256 16/16 causal S=2048 (64 groups) -33%, d128
** 32/32 S=8192 (non-causal) -14%, d256 8/1 causal S=8192 (128 key blocks
** per group) -14%: so at most 64 key blocks per group. */
int fa_bwd_kb_slow(const fa_problem *p, int sms, int hsplit, int bn) {
  const int uneven = p->causal || p->window_left >= 0 || p->window_right >= 0;
  const long groups = (long)p->heads_kv * hsplit * p->batch;
  if (sms < 1) sms = 1;
  return uneven && 4 * groups <= sms && (p->seqlen_k + bn - 1) / bn <= 64;
}

static size_t align256(size_t x) { return (x + 255) & ~(size_t)255; }

/* Backward workspace: lse2 and dsum (fp32 per query row), the fp32 dQ
** accumulator (atomic mode), the fp32 dK/dV partials (split head groups). */
static void bwd_layout(fa_context *ctx, fa_plan *plan, int deterministic) {
  const fa_problem *p = &plan->problem;
  const size_t rows = (size_t)p->batch * p->heads_q * p->seqlen_q, d = (size_t)p->head_dim;
  plan->deterministic = deterministic != 0;
  plan->hsplit = fa_bwd_hsplit(p, ctx->sm_count, plan->bwd->info.bm, plan->bwd->info.bn);
  plan->kb_slow = plan->bwd->info.kb_order && fa_bwd_kb_slow(p, ctx->sm_count, plan->hsplit, plan->bwd->info.bn);
  size_t off = 0;
  plan->bwd_off[0] = off; off += align256(rows * 4);
  plan->bwd_off[1] = off; off += align256(rows * 4);
  /* Query rows rounded up to 64: the sm90 backward's tiled accumulator (bwd_common.cu: dq_at). */
  const size_t rows64 = (size_t)p->batch * p->heads_q * (((size_t)p->seqlen_q + 63) / 64 * 64);
  plan->bwd_off[2] = off; off += plan->deterministic ? 0 : align256(rows64 * d * 4);
  plan->bwd_off[3] = off;
  if (plan->hsplit > 1) off += align256((size_t)plan->hsplit * p->batch * p->heads_kv * p->seqlen_k * 2 * d * 4);
  plan->bwd_bytes = off;
}

fa_status fa_plan_create(fa_context *ctx, const fa_problem *p, const fa_plan_options *opt,
                         fa_plan **out) {
  if (!out) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_plan_create: out is NULL");
  *out = NULL;
  if (!ctx) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_plan_create: ctx is NULL");
  if (opt && opt->struct_size != sizeof *opt)
    return fa_err(ctx, FA_ERR_STRUCT_SIZE, "fa_plan_options.struct_size is %zu, expected %zu",
                  opt->struct_size, sizeof *opt);
  fa_status s = fa_problem_check(ctx, p);
  if (s != FA_OK) return s;
  if (opt && (opt->kv_splits < 0 || opt->kv_splits > 64))
    return fa_err(ctx, FA_ERR_SIZE, "fa_plan_options.kv_splits (%d) must be 0 (fa chooses), 1 (never) or up to 64",
                  opt->kv_splits);
  fa_plan *plan = calloc(1, sizeof *plan);
  if (!plan) return fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "plan");
  plan->ctx = ctx;
  pthread_mutex_init(&plan->map_lock, NULL);
  plan->problem = *p;
  char why[512] = "", why_bwd[512] = "";
  s = choose(ctx, p, opt ? opt->variant : NULL, 0, plan->key, sizeof plan->key, why, sizeof why);
  if (s == FA_OK) s = fa_kernel_get(ctx, plan->key, &plan->fwd);
  /* Training problems (those that keep the LSE) get their backward kernels now, not at the first
  ** call. Where none can serve (d=256 on a GPU with 100 KB of shared memory), the plan still runs
  ** the forward, and fa_backward says why; a forced variant_bwd must load. */
  if (s == FA_OK && (p->features & FA_FEAT_LSE)) {
    fa_status sb = choose(ctx, p, opt ? opt->variant_bwd : NULL, 1, plan->key_bwd, sizeof plan->key_bwd, why_bwd,
                          sizeof why_bwd);
    if (sb == FA_OK) sb = fa_kernel_get(ctx, plan->key_bwd, &plan->bwd);
    if (sb == FA_OK) bwd_layout(ctx, plan, opt && opt->deterministic);
    else if (opt && opt->variant_bwd) s = sb;
    else {
      plan->bwd = NULL;
      snprintf(plan->bwd_why, sizeof plan->bwd_why, "%s", fa_errmsg(ctx));
      fa_err_clear(ctx);
    }
  } else if (s == FA_OK && opt && opt->variant_bwd) {
    s = fa_err(ctx, FA_ERR_VARIANT, "fa_plan_options.variant_bwd is set but the problem has no FA_FEAT_LSE (no backward)");
  }
  if (s != FA_OK) {
    fa_plan_destroy(plan);
    return s;
  }
  fa_kparams_fill(&plan->kp, p);
  const fa_launch_info *li = &plan->fwd->info;
  plan->grid[0] = (p->seqlen_q * li->g + li->bm - 1) / li->bm;
  plan->grid[1] = p->heads_q / li->g;
  plan->grid[2] = p->batch;
  if (plan->grid[1] > 65535 || plan->grid[2] > 65535) {
    s = fa_err(ctx, FA_ERR_UNSUPPORTED, "grid %d x %d x %d exceeds the launch limits (heads, batch <= 65535)",
               plan->grid[0], plan->grid[1], plan->grid[2]);
    fa_plan_destroy(plan);
    return s;
  }
  plan->nsplit = choose_splits(ctx, p, li, plan->grid, opt ? opt->kv_splits : 0);
  if (plan->nsplit > 1) {
    plan->ws_bytes = (size_t)p->batch * p->heads_q * p->seqlen_q * plan->nsplit * (p->head_dim + 1) * sizeof(float);
    if (ctx->cu) {
      CUresult r = fa_ctx_bind(ctx) == FA_OK ? ctx->cu->cuMemAlloc(&plan->scratch, plan->ws_bytes) : CUDA_ERROR_INVALID_CONTEXT;
      if (r != CUDA_SUCCESS) {
        s = fa_cu_fail(ctx, r, "allocating the plan's split-KV scratch");
        fa_plan_destroy(plan);
        return s;
      }
    }
  }
  if ((s = fa_plan_launch(plan, 0)) != FA_OK) {
    fa_plan_destroy(plan);
    return s;
  }
  char pers[64] = "";
  if (li->persist) snprintf(pers, sizeof pers, " walked by %u persistent CTAs", plan->launch[0]);
  int n = snprintf(plan->describe, sizeof plan->describe,
                   "forward %s (%s); kernel from %s; grid %dx%dx%d%s, %d threads, %d B smem; split-KV %d",
                   plan->key, why, plan->fwd->origin, plan->grid[0], plan->grid[1], plan->grid[2], pers,
                   li->threads, li->smem, plan->nsplit);
  if (!plan->bwd && plan->bwd_why[0] && n > 0 && (size_t)n < sizeof plan->describe)
    snprintf(plan->describe + n, sizeof plan->describe - n, "; no backward: %s", plan->bwd_why);
  if (plan->bwd && n > 0 && (size_t)n < sizeof plan->describe)
    snprintf(plan->describe + n, sizeof plan->describe - n,
             "; backward %s (%s); kernel from %s; %s dQ; %d CTA%s per kv head group; key blocks %s; "
             "workspace %zu B",
             plan->key_bwd, why_bwd, plan->bwd->origin, plan->deterministic ? "deterministic" : "atomic",
             plan->hsplit, plan->hsplit > 1 ? "s" : "", plan->kb_slow ? "slowest (heaviest first)" : "fastest",
             plan->bwd_bytes);
  *out = plan;
  return FA_OK;
}

fa_status fa_plan_launch(fa_plan *plan, unsigned ctas) {
  const fa_launch_info *li = &plan->fwd->info;
  const uint64_t items = (uint64_t)plan->grid[0] * plan->nsplit * plan->grid[1] * plan->grid[2];
  plan->launch[0] = (unsigned)(plan->grid[0] * plan->nsplit);
  plan->launch[1] = (unsigned)plan->grid[1];
  plan->launch[2] = (unsigned)plan->grid[2];
  if (!li->persist) return FA_OK;
  /* A persistent variant runs one CTA per SM slot over the work items (the
  ** kernel walks them in rounds of the plain grid's order, every other round
  ** reversed: templates/fwd_sm90.cu). */
  if (items > 0x7fffffff)
    return fa_err(plan->ctx, FA_ERR_UNSUPPORTED, "%llu work items exceed a persistent grid's int count",
                  (unsigned long long)items);
  const uint64_t slots = ctas ? ctas : (uint64_t)(plan->ctx->sm_count > 0 ? plan->ctx->sm_count : 1) * li->persist;
  plan->launch[0] = (unsigned)(items < slots ? items : slots);
  plan->launch[1] = plan->launch[2] = 1;
  return FA_OK;
}

void fa_plan_destroy(fa_plan *plan) {
  if (!plan) return;
  if (plan->scratch && fa_ctx_bind(plan->ctx) == FA_OK) plan->ctx->cu->cuMemFree(plan->scratch);
  pthread_mutex_destroy(&plan->map_lock);
  free(plan);
}

const char *fa_plan_describe(const fa_plan *plan) { return plan ? plan->describe : "no plan"; }

const char *fa_plan_variant(const fa_plan *plan) { return plan ? plan->key : ""; }

fa_status fa_plan_workspace(const fa_plan *plan, size_t *fwd_bytes, size_t *bwd_bytes) {
  if (!plan) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_plan_workspace: plan is NULL");
  if (fwd_bytes) *fwd_bytes = plan->ws_bytes;
  if (bwd_bytes) *bwd_bytes = plan->bwd_bytes;
  return FA_OK;
}
