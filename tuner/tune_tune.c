/*
** tune_tune.c -- the main job: `fa-tune --gpu auto|N`. For each problem of
** the grid: every variant of the default space that fits it is compiled
** (threads fill the disk cache ahead of the GPU), checked against the
** unfused baseline on the same inputs (a wrong kernel never wins), timed
** (CUDA events, L2 flushed, median), the leaders re-timed, and the winner
** and every measurement written to the user database, one transaction each.
** Re-running resumes: buckets that already have a winner are skipped.
*/
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fa_ctx.h"
#include "fa_db.h"
#include "fa_gen.h"
#include "fa_int.h"
#include "tune.h"
#include "tune_shapes.h"

#define MAX_GRID 256
#define MAX_CAND 64
#define QUICK_REPS 10
#define FINAL_REPS 30
#define LEADERS 3

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- one shape ---- */

typedef struct result {
  char key[160];
  float ms;
} result;

static int cmp_result(const void *a, const void *b) {
  float x = ((const result *)a)->ms, y = ((const result *)b)->ms;
  return (x > y) - (x < y);
}

/* The hash of key's kernel text that its database rows carry (NULL: none formed). */
static const char *text_of(fa_gen *gen, const char *key, char text[32]) {
  return fa_gen_text_hash(NULL, gen, key, text, 32) == FA_OK ? text : NULL;
}

/* Whether bucket b already has a winner to resume past: one whose recorded
** kernel text is this fa's (a winner timed with another text is tuned again;
** one with no text recorded, from schema 1, is kept). */
static int winner_current(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, fa_gen *gen) {
  char key[160], text[32], now[32];
  if (!fa_db_winner_of(db, gpu, b, key, sizeof key, text, sizeof text)) return 0;
  return !text[0] || !text_of(gen, key, now) || strcmp(text, now) == 0;
}

/* Largest |fa - unfused| / (1 + |unfused|) over the output; NaN counts as
** infinite. Both round to 16 bits, so they differ by up to ~1e-2 (the
** unfused side rounds scores and P too); a wrong kernel differs by O(1). */
static double check_against(const tune_data *d, const uint16_t *ref, uint16_t *buf) {
  const fa_problem *p = &d->shape->p;
  if (tune_cu->cuMemcpyDtoH(buf, d->do_, d->no * 2)) return -1;
  double worst = 0;
  for (size_t i = 0; i < d->no; ++i) {
    double a = tune_bits_to_double(buf[i], p->dtype), r = tune_bits_to_double(ref[i], p->dtype);
    double e = isnan(a) ? INFINITY : fabs(a - r) / (1.0 + fabs(r));
    if (e > worst) worst = e;
  }
  return worst;
}

typedef struct tune_opts {
  int device, dry_run, all_reps, bwd;
  int shard_k, shard_n;  /* --shard K/N: this worker's part of the grid (tune_shard) */
  double budget_s;
  const char *db_path, *ship_path, *grid;
} tune_opts;

/* The problem a candidate's output is checked on: the shape's own kernel
** features, one kv group of heads, batch 1, and lengths capped where the
** unfused baseline would take too long. Correctness does not depend on the
** batch or head count; every mask rule is kept. */
static void check_shape_of(const tune_shape *s, tune_shape *c, int cap) {
  *c = *s;
  const fa_problem *p = &s->p;
  int tq = p->seqlen_q, tk = p->seqlen_k;
  const int tok = (p->features & (FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS)) != 0;
  if (!tok && (int64_t)tq * tk > (int64_t)cap * cap) {
    tk = tk > cap ? cap : tk;
    tq = tq > tk ? tk : tq;
  }
  tune_group_problem(p, tq, tk, &c->p);
}

static int tune_shape_one(fa_context *ctx, fa_gen *gen, fa_db *db, tune_shape *s, char **keys, int nkeys,
                          CUdeviceptr flush, double *speed_tuned, result *all, int *nall) {
  char text[32];
  tune_data d, cd;
  tune_shape cs;
  const fa_problem *p = &s->p;
  check_shape_of(s, &cs, 4096);
  if (tune_data_make(&d, s, 99, 2) || tune_data_make(&cd, &cs, 98, 2)) {
    tune_data_free(&d);
    tune_data_free(&cd);
    return -1;
  }
  fa_fwd_args a, ca;
  tune_data_args(&d, &a);
  tune_data_args(&cd, &ca);
  fa_bucket b;
  fa_db_bucket_of(p, &b);
  fa_gen_problem pr;
  fa_gen_problem_from(p, &pr);
  const double work = 4.0 * p->heads_q * p->head_dim * (double)tune_visible_pairs(s);
  /* The unfused result on the check inputs is the correctness bar. */
  uint16_t *ref = malloc(cd.no * 2), *buf = malloc(cd.no * 2);
  int have_ref = ref && buf && tune_unfused_run(&cd) == 0 && tune_cu->cuMemcpyDtoH(ref, cd.do_, cd.no * 2) == CUDA_SUCCESS;
  if (!have_ref) printf("  (no unfused baseline for %s: candidates unchecked)\n", s->name);
  result res[MAX_CAND];
  int nres = 0;
  for (int k = 0; k < nkeys && nres < MAX_CAND; ++k) {
    if (fa_gen_fits(NULL, gen, keys[k], &pr, ctx->arch) != FA_OK) continue;
    fa_plan_options po;
    fa_plan_options_init(&po);
    po.variant = keys[k];
    fa_plan *plan, *cplan;
    if (fa_plan_create(ctx, p, &po, &plan) != FA_OK || fa_plan_create(ctx, &cs.p, &po, &cplan) != FA_OK) {
      printf("  %s: %s\n", keys[k], fa_errmsg(ctx));
      continue;
    }
    tune_cu->cuMemsetD8(cd.do_, 0xff, cd.no * 2);
    double err = fa_forward(cplan, &ca) == FA_OK && tune_cu->cuCtxSynchronize() == CUDA_SUCCESS
                     ? (have_ref ? check_against(&cd, ref, buf) : 0) : INFINITY;
    fa_plan_destroy(cplan);
    if (err > 0.05) {
      printf("  %s: REJECTED, output differs from the unfused baseline (%.3g)\n", keys[k], err);
    } else {
      float ms = tune_time_plan(plan, &a, NULL, flush, &(tune_timing){QUICK_REPS, 0, 0});
      if (ms > 0) {
        snprintf(res[nres].key, sizeof res[nres].key, "%s", keys[k]);
        res[nres++].ms = ms;
        fa_db_add_measurement(db, &ctx->gpu, &b, keys[k], s->name, ms, 0, QUICK_REPS, work / ms / 1e9,
                              text_of(gen, keys[k], text));
      }
    }
    fa_plan_destroy(plan);
  }
  free(ref);
  free(buf);
  tune_data_free(&cd);
  if (!nres) { tune_data_free(&d); return -1; }
  /* Near-equal candidates swap from run to run: re-time the leaders longer. */
  qsort(res, (size_t)nres, sizeof *res, cmp_result);
  for (int i = 0; i < nres && i < LEADERS; ++i) {
    fa_plan_options po;
    fa_plan_options_init(&po);
    po.variant = res[i].key;
    fa_plan *plan;
    if (fa_plan_create(ctx, p, &po, &plan) != FA_OK) continue;
    float ms = tune_time_plan(plan, &a, NULL, flush, &(tune_timing){FINAL_REPS, 0, 0});
    if (ms > 0) {
      res[i].ms = ms;
      fa_db_add_measurement(db, &ctx->gpu, &b, res[i].key, s->name, ms, 0, FINAL_REPS, work / ms / 1e9,
                            text_of(gen, res[i].key, text));
    }
    fa_plan_destroy(plan);
  }
  qsort(res, (size_t)(nres < LEADERS ? nres : LEADERS), sizeof *res, cmp_result);
  fa_db_set_winner(db, &ctx->gpu, &b, res[0].key, res[0].ms, work / res[0].ms / 1e9, text_of(gen, res[0].key, text));
  *speed_tuned = res[0].ms;
  for (int i = 0; i < nres; ++i) all[(*nall)++] = res[i];
  tune_data_free(&d);
  return 0;
}

/* The backward of one shape: every backward variant that fits, after the
** plan's forward (the same for every candidate), checked against the unfused
** backward on a small problem of the same kind (a wrong kernel never wins),
** timed as forward + backward, the winner in the shape's "bwd_" bucket. */
static int tune_shape_bwd(fa_context *ctx, fa_gen *gen, fa_db *db, const tune_shape *s0, char **keys, int nkeys,
                          CUdeviceptr flush, double *speed_tuned, result *all, int *nall) {
  char text[32];
  tune_shape s = *s0, cs;
  s.p.features |= FA_FEAT_LSE;
  check_shape_of(&s, &cs, 1024);  /* the unfused backward keeps [Hq, Tq, Tk] scores */
  const fa_problem *p = &s.p;
  tune_bwd_case *chk = tune_bwd_case_new(gen, ctx->nvrtc, ctx->arch, &cs, 97);
  if (!chk) printf("  (no unfused backward for %s: candidates unchecked)\n", s.name);
  tune_data d;
  CUdeviceptr gq = 0, gk = 0, gv = 0, ws = 0;
  size_t ws_bytes = 0;
  int rc = -1;
  if (tune_data_make(&d, &s, 99, 2) || tune_cu->cuMemAlloc(&gq, d.nq * 2) || tune_cu->cuMemAlloc(&gk, d.nk * 2) ||
      tune_cu->cuMemAlloc(&gv, d.nv * 2))
    goto done;
  fa_fwd_args a;
  tune_data_args(&d, &a);
  fa_bwd_args ba;
  fa_bwd_args_init(&ba);
  ba.fwd = a;
  ba.dout = (const void *)(uintptr_t)d.ddout;
  ba.dq = (void *)(uintptr_t)gq; ba.dk = (void *)(uintptr_t)gk; ba.dv = (void *)(uintptr_t)gv;
  fa_bucket b;
  fa_db_bucket_of(p, &b);
  fa_db_bucket_bwd(&b);
  fa_gen_problem pr;
  fa_gen_problem_from(p, &pr);
  pr.bwd = 1;
  const double work = 3.5 * 4.0 * p->heads_q * p->head_dim * (double)tune_visible_pairs(&s);
  result res[MAX_CAND];
  int nres = 0;
  for (int pass = 0; pass < 2; ++pass) {  /* all candidates quickly, then the leaders longer */
    const int n = pass ? (nres < LEADERS ? nres : LEADERS) : nkeys;
    for (int k = 0; k < n && (pass || nres < MAX_CAND); ++k) {
      const char *key = pass ? res[k].key : keys[k];
      if (!pass && fa_gen_fits(NULL, gen, key, &pr, ctx->arch) != FA_OK) continue;
      if (!pass && chk) {
        const double err = tune_bwd_case_check(chk, ctx, key);
        if (!(err <= 0.05)) {
          printf("  %s: REJECTED, gradients differ from the unfused backward (%.3g)\n", key, err);
          continue;
        }
      }
      fa_plan_options po;
      fa_plan_options_init(&po);
      po.variant_bwd = key;
      fa_plan *plan;
      if (fa_plan_create(ctx, p, &po, &plan) != FA_OK) { printf("  %s: %s\n", key, fa_errmsg(ctx)); continue; }
      tune_bwd_workspace(plan, &ws, &ws_bytes, &ba);
      /* Half the forward's repetitions: a forward+backward lasts 3-4x longer. */
      const int reps = (pass ? FINAL_REPS : QUICK_REPS) / 2;
      const float ms = tune_time_plan(plan, &a, &ba, flush, &(tune_timing){reps, 0, 0});
      fa_plan_destroy(plan);
      if (ms <= 0) continue;
      fa_db_add_measurement(db, &ctx->gpu, &b, key, s.name, ms, 0, reps, work / ms / 1e9, text_of(gen, key, text));
      if (pass) res[k].ms = ms;
      else { snprintf(res[nres].key, sizeof res[nres].key, "%.159s", key); res[nres++].ms = ms; }
    }
    if (!nres) goto done;
    qsort(res, (size_t)(pass ? (nres < LEADERS ? nres : LEADERS) : nres), sizeof *res, cmp_result);
  }
  fa_db_set_winner(db, &ctx->gpu, &b, res[0].key, res[0].ms, work / res[0].ms / 1e9, text_of(gen, res[0].key, text));
  *speed_tuned = res[0].ms;
  for (int i = 0; i < nres; ++i) all[(*nall)++] = res[i];
  rc = 0;
done:
  if (rc) printf("  %s: no backward candidate ran\n", s.name);
  CUdeviceptr bufs[] = {gq, gk, gv, ws};
  for (int i = 0; i < 4; ++i)
    if (bufs[i]) tune_cu->cuMemFree(bufs[i]);
  tune_data_free(&d);
  tune_bwd_case_free(chk);
  return rc;
}

typedef struct shape_times {
  int n;
  result r[MAX_CAND];
  double tuned;
  char exact[96];
} shape_times;

/* A shape this run skipped (tuned before, resumed): its times from the database. */
static void take_measurement(const char *variant, double ms, void *arg) {
  shape_times *t = arg;
  for (int i = 0; i < t->n; ++i)
    if (!strcmp(t->r[i].key, variant)) { t->r[i].ms = (float)ms; return; }  /* later rows re-time */
  if (t->n < MAX_CAND) {
    snprintf(t->r[t->n].key, sizeof t->r[t->n].key, "%.159s", variant);
    t->r[t->n++].ms = (float)ms;
  }
}

static void times_from_db(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *shape, shape_times *t) {
  t->n = 0;
  t->tuned = fa_db_winner_ms(db, gpu, b);
  if (t->tuned > 0) fa_db_each_measurement(db, gpu, b, shape, take_measurement, t);
  if (t->tuned <= 0) t->n = 0;
}

/* ---- the geometric-mean gain of tuning over the best single fixed variant ---- */


static void report_gain(shape_times *st, int ns, const char *what) {
  /* Per exact class (head_dim, dtype, GQA, features), the one variant with
  ** the best geometric mean over the class's shapes, against the tuned choice. */
  double log_sum = 0;
  int counted = 0;
  for (int i = 0; i < ns; ++i) {
    if (!st[i].n) continue;
    int seen = 0;
    for (int j = 0; j < i; ++j) seen |= st[j].n && !strcmp(st[j].exact, st[i].exact);
    if (seen) continue;
    double best_fixed = INFINITY;
    const char *best_key = "";
    for (int c = 0; c < st[i].n; ++c) {
      double lg = 0;
      int ok = 1;
      for (int j = i; j < ns && ok; ++j) {
        if (!st[j].n || strcmp(st[j].exact, st[i].exact)) continue;
        int f = -1;
        for (int k = 0; k < st[j].n; ++k) if (!strcmp(st[j].r[k].key, st[i].r[c].key)) f = k;
        if (f < 0) ok = 0;
        else lg += log(st[j].r[f].ms / st[j].tuned);
      }
      if (ok && lg < best_fixed) { best_fixed = lg; best_key = st[i].r[c].key; }
    }
    if (!isfinite(best_fixed)) continue;
    int m = 0;
    for (int j = i; j < ns; ++j) m += st[j].n && !strcmp(st[j].exact, st[i].exact);
    printf("  class %-40s %3d shapes: tuned %.3fx over the best fixed variant %s\n", st[i].exact, m,
           exp(best_fixed / m), best_key);
    log_sum += best_fixed;
    counted += m;
  }
  if (counted) printf("fa-tune: %s: geometric-mean speedup of tuned selection over the best fixed variant per class: %.3fx (%d shapes)\n",
                      what, exp(log_sum / counted), counted);
}

static volatile sig_atomic_t interrupted;
/* SIGINT or SIGTERM (as `timeout` sends): stop after the shape in flight,
** then report and ship what was tuned, as at the end of a budget. */
static void on_stop(int sig) { (void)sig; interrupted = 1; }

/* Parses "B,Tq,Tk,Hq,Hkv,d[,causal][,softcap=X][,window=W][,scale=S]". */
int tune_parse_shape(const char *spec, tune_shape *s) {
  int B, Tq, Tk, Hq, Hkv, d, n = 0;
  if (sscanf(spec, "%d,%d,%d,%d,%d,%d%n", &B, &Tq, &Tk, &Hq, &Hkv, &d, &n) != 6) return -1;
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "shape_%.50s", spec);
  for (char *c = s->name; *c; ++c) if (*c == ',' || *c == '=') *c = '_';
  fa_problem_init(&s->p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, B, Tq, Tk, Hq, Hkv, d);
  for (const char *t = spec + n; *t == ','; ) {
    ++t;
    float v;
    if (!strncmp(t, "causal", 6)) s->p.causal = 1;
    else if (sscanf(t, "softcap=%f", &v) == 1) s->p.softcap = v;
    else if (sscanf(t, "window=%f", &v) == 1) s->p.window_left = (int)v - 1;
    else if (sscanf(t, "scale=%f", &v) == 1) s->p.scale = v;
    else return -1;
    t = strchr(t, ',') ? strchr(t, ',') : t + strlen(t);
  }
  return fa_problem_check(NULL, &s->p) == FA_OK ? 0 : -1;
}

static int tune_device(const tune_opts *po, tune_shape *shapes, int ns, int device);
static int tune_model_parallel(int argc, char **argv, const tune_opts *o, tune_shape *shapes, int ns,
                               const int *devs, int m, const char *model);

int tune_cmd_tune(int argc, char **argv) {
  tune_opts o = {0, 0, 0, 1, 0, 0, 0, NULL, NULL, "default"};
  static tune_shape shapes[MAX_GRID];
  int ns = 0, all_gpus = 0, grid_given = 0;
  for (int i = 0; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--gpu") && v) {
      all_gpus = !strcmp(v, "auto");
      o.device = 0;
      if (!all_gpus && tune_arg_int("tune", "--gpu (or auto)", v, 0, 1023, &o.device)) return 2;
      ++i;
    }
    else if (!strcmp(a, "--grid") && v) { o.grid = v; grid_given = 1; ++i; }
    else if (!strcmp(a, "--budget") && v) {
      double min;
      if (tune_arg_num("tune", "--budget (minutes)", v, 0.01, 1e6, &min)) return 2;
      o.budget_s = min * 60;
      ++i;
    }
    else if (!strcmp(a, "--db") && v) { o.db_path = v; ++i; }
    else if (!strcmp(a, "--ship") && v) { o.ship_path = v; ++i; }
    else if (!strcmp(a, "--dry-run")) o.dry_run = 1;
    else if (!strcmp(a, "--no-bwd")) o.bwd = 0;
    else if (!strcmp(a, "--shard") && v) {
      if (sscanf(v, "%d/%d", &o.shard_k, &o.shard_n) != 2 || o.shard_n < 1 || o.shard_n > 64 || o.shard_k < 0 ||
          o.shard_k >= o.shard_n) {
        fprintf(stderr, "fa-tune: --shard K/N with 0 <= K < N <= 64, not '%s'\n", v);
        return 2;
      }
      ++i;
    }
    else if (!strcmp(a, "--shape") && v) {
      if (ns >= MAX_GRID || tune_parse_shape(v, &shapes[ns])) { fprintf(stderr, "fa-tune: bad --shape '%s' (%s)\n", v, fa_errmsg(NULL)); return 2; }
      ns++; ++i;
    } else if (!strcmp(a, "--workload") && v) {
      /* One --shape spec a line; '#' starts a comment. */
      FILE *f = fopen(v, "r");
      char line[512];
      if (!f) { fprintf(stderr, "fa-tune: cannot read %s\n", v); return 2; }
      while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "#\r\n")] = 0;
        if (!line[strspn(line, " \t")]) continue;
        if (ns >= MAX_GRID || tune_parse_shape(line + strspn(line, " \t"), &shapes[ns])) {
          fprintf(stderr, "fa-tune: %s: bad line '%s'\n", v, line);
          fclose(f);
          return 2;
        }
        ns++;
      }
      fclose(f);
      ++i;
    } else { fprintf(stderr, "fa-tune: unknown argument '%s'\n", a); return 2; }
  }
  if (!ns || grid_given) {
    int before = ns;
    if (!strcmp(o.grid, "default")) {
      ns += tune_grid("gemma", shapes + ns, MAX_GRID - ns);
      ns += tune_grid("seed", shapes + ns, MAX_GRID - ns);
      ns += tune_grid("d256", shapes + ns, MAX_GRID - ns);
    } else {
      ns += tune_grid(o.grid, shapes + ns, MAX_GRID - ns);
    }
    if (ns == before) { fprintf(stderr, "fa-tune: unknown grid '%s' (default, gemma, seed, seed4, d256)\n", o.grid); return 2; }
  }
  if (o.shard_n > 1) {  /* a worker of a multi-GPU run: its own part of the grid */
    int owner[MAX_GRID], m = 0;
    tune_shard(shapes, ns, o.shard_n, owner);
    for (int i = 0; i < ns; ++i)
      if (owner[i] == o.shard_k) shapes[m++] = shapes[i];
    printf("fa-tune: shard %d/%d: %d of %d shapes on GPU %d\n", o.shard_k, o.shard_n, m, ns, o.device);
    ns = m;
  }
  /* auto: every distinct GPU model present; a model's several GPUs share its grid. */
  char why[512];
  const fa_cu *cu = o.dry_run ? NULL : fa_cu_load(why, sizeof why);
  int count = 0;
  if (!all_gpus || !cu || cu->cuDeviceGetCount(&count) != CUDA_SUCCESS || count <= 1)
    return tune_device(&o, shapes, ns, o.device);
  char names[64][256];
  int rc = 0;
  for (int dev = 0; dev < count && dev < 64; ++dev) {
    CUdevice h;
    names[dev][0] = 0;
    if (cu->cuDeviceGet(&h, dev) == CUDA_SUCCESS) cu->cuDeviceGetName(names[dev], 256, h);
  }
  for (int dev = 0; dev < count && dev < 64; ++dev) {
    int seen = 0, devs[64], m = 0;
    for (int j = 0; j < dev; ++j) seen |= !strcmp(names[j], names[dev]);
    if (seen) continue;
    for (int j = dev; j < count && j < 64; ++j)
      if (!strcmp(names[j], names[dev])) devs[m++] = j;
    const int r = m > 1 ? tune_model_parallel(argc, argv, &o, shapes, ns, devs, m, names[dev])
                        : tune_device(&o, shapes, ns, dev);
    if (r && r != 77) rc = r;
  }
  return rc;
}

/* One model's m GPUs: a worker process per GPU (fa-tune tune --gpu D --shard K/m,
** the same arguments otherwise), each tuning its part of the grid into the one
** database (WAL, a transaction per result). Then this process makes a pass
** over the whole grid on the first GPU: every bucket is there, so it only
** reads the measurements back for the gain report, and ships. */
static int tune_model_parallel(int argc, char **argv, const tune_opts *o, tune_shape *shapes, int ns,
                               const int *devs, int m, const char *model) {
  printf("fa-tune: %d GPUs of model %s: one worker each, the grid split by cost\n", m, model);
  fflush(stdout);
  pid_t pids[64];
  for (int k = 0; k < m; ++k) {
    char gpu[16], shard[16];
    snprintf(gpu, sizeof gpu, "%d", devs[k]);
    snprintf(shard, sizeof shard, "%d/%d", k, m);
    char *args[2 * MAX_GRID + 16];
    int n = 0;
    args[n++] = "fa-tune";
    args[n++] = "tune";
    for (int i = 0; i < argc && n < 2 * MAX_GRID + 10; ++i) {
      if (!strcmp(argv[i], "--ship") && i + 1 < argc) { ++i; continue; }  /* the parent ships */
      args[n++] = argv[i];
      if (!strcmp(argv[i], "--gpu") && i + 1 < argc) { args[n++] = gpu; ++i; }
    }
    args[n++] = "--shard";
    args[n++] = shard;
    args[n] = NULL;
    pids[k] = fork();
    if (pids[k] == 0) {
      execv("/proc/self/exe", args);
      _exit(127);
    }
    if (pids[k] < 0) { fprintf(stderr, "fa-tune: fork failed\n"); return 1; }
  }
  int rc = 0;
  for (int k = 0; k < m; ++k) {
    int st = 0;
    if (waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || (WEXITSTATUS(st) && WEXITSTATUS(st) != 77)) {
      fprintf(stderr, "fa-tune: the worker on GPU %d failed (status %d)\n", devs[k], st);
      rc = 1;
    }
  }
  const int r = tune_device(o, shapes, ns, devs[0]);
  return rc ? rc : r;
}

static int tune_device(const tune_opts *po, tune_shape *shapes, int ns, int device) {
  tune_opts o = *po;
  o.device = device;
  char name[256];
  int have_gpu = !o.dry_run && tune_dev_open(o.device, name, sizeof name) == 0;
  fa_context_options co;
  fa_context_options_init(&co);
  co.device = have_gpu ? o.device : FA_DEVICE_NONE;
  co.arch = 90;
  co.flags = FA_CTX_NO_TUNING_DB;
  fa_context *ctx;
  if (fa_context_create(&co, &ctx) != FA_OK) { fprintf(stderr, "fa-tune: %s\n", fa_errmsg(NULL)); return 1; }
  printf("fa-tune: %s\n", fa_context_describe(ctx));
  fa_gen *gen;
  char **keys;
  int nkeys;
  char **bkeys = NULL;
  int nbkeys = 0;
  if (tune_gen_open(ctx, &gen) || fa_gen_list(NULL, gen, "", ctx->arch, &keys, &nkeys) ||
      fa_gen_list(NULL, gen, "bwd_", ctx->arch, &bkeys, &nbkeys)) {
    fprintf(stderr, "fa-tune: %s\n", fa_errmsg(NULL));
    return 1;
  }
  if (!have_gpu) {
    printf("fa-tune: no GPU (%s).\n", o.dry_run ? "--dry-run" : name);
    printf("fa-tune: doing what needs none: compiling the default space for sm_80 and sm_90a.\n");
    char *a80[] = {"--arch", "sm_80"}, *a90[] = {"--arch", "sm_90a"};
    int r = tune_cmd_compile(2, a80), r2 = tune_cmd_compile(2, a90);
    printf("fa-tune: verifying, timing and choosing kernels needs a GPU: run `fa-tune --gpu auto` on one.\n");
    fa_gen_free_list(keys, nkeys);
    fa_gen_close(gen);
    fa_context_destroy(ctx);
    return r || r2 ? (r == 77 || r2 == 77 ? 77 : 1) : 0;
  }
  /* Compile in the background: the union of every shape's candidates. */
  tune_precompile *pc =  /* the host's cores shared by the workers of a multi-GPU run */
      ctx->nvrtc ? tune_precompile_start(keys, nkeys, ctx->arch, ctx->cache_dir, tune_precompile_threads(o.shard_n)) : NULL;
  char path[4096], why[4352];
  if (fa_db_user_path(o.db_path, path, sizeof path)) { fprintf(stderr, "fa-tune: no user database path\n"); return 1; }
  fa_db *db = fa_db_open(path, 1, why, sizeof why);
  if (!db) { fprintf(stderr, "fa-tune: %s\n", why); return 1; }
  printf("fa-tune: %d shapes, %d variants in the default space; results to %s\n", ns, nkeys, path);
  char err[512];
  if (!ctx->nvrtc || tune_unfused_load(gen, ctx->nvrtc, ctx->arch, 1, err, sizeof err)) {
    fprintf(stderr, "fa-tune: the correctness baseline needs NVRTC: %s\n", ctx->nvrtc ? err : ctx->nvrtc_why);
    return 1;
  }
  CUdeviceptr flush;
  if (tune_cu->cuMemAlloc(&flush, TUNE_FLUSH_BYTES)) { fprintf(stderr, "fa-tune: no memory for the L2 flush\n"); return 1; }
  signal(SIGINT, on_stop);
  signal(SIGTERM, on_stop);
  shape_times *st = calloc((size_t)ns, sizeof *st), *stb = calloc((size_t)ns, sizeof *stb);
  int isatty_out = isatty(1) && o.shard_n <= 1, done = 0, skipped = 0, failed = 0;  /* workers: plain lines */
  const double t0 = now_s();
  for (int i = 0; i < ns && !interrupted; ++i) {
    fa_bucket b;
    fa_db_bucket_of(&shapes[i].p, &b);
    snprintf(st[i].exact, sizeof st[i].exact, "%s", b.exact);
    double el = now_s() - t0;
    if (o.budget_s > 0 && el > o.budget_s) { printf("fa-tune: budget of %.0f min reached\n", o.budget_s / 60); break; }
    fa_bucket bb = b;
    fa_db_bucket_bwd(&bb);
    snprintf(stb[i].exact, sizeof stb[i].exact, "%s", bb.exact);
    const int need_fwd = !winner_current(db, &ctx->gpu, &b, gen);
    const int need_bwd = o.bwd && !winner_current(db, &ctx->gpu, &bb, gen);
    if (!need_fwd) times_from_db(db, &ctx->gpu, &b, shapes[i].name, &st[i]);
    if (o.bwd && !need_bwd) times_from_db(db, &ctx->gpu, &bb, shapes[i].name, &stb[i]);
    if (!need_fwd && !need_bwd) { skipped++; continue; }
    double eta = done ? el / done * (ns - i - skipped) : 0;
    printf(isatty_out ? "\r[%d/%d] %-18s B%d T%d %s  %.0fs elapsed, ETA %.0fs   " : "[%d/%d] %s B%d T%d %s (%.0fs elapsed, ETA %.0fs)\n",
           i + 1, ns, shapes[i].name, shapes[i].p.batch, shapes[i].p.seqlen_q, b.exact, el, eta);
    fflush(stdout);
    int n = 0, nb = 0;
    if (need_fwd && tune_shape_one(ctx, gen, db, &shapes[i], keys, nkeys, flush, &st[i].tuned, st[i].r, &n)) failed++;
    if (need_bwd && tune_shape_bwd(ctx, gen, db, &shapes[i], bkeys, nbkeys, flush, &stb[i].tuned, stb[i].r, &nb))
      failed++;
    if (need_fwd) st[i].n = n;
    if (need_bwd) stb[i].n = nb;
    done++;
  }
  if (isatty_out) printf("\n");
  tune_precompile_stop(pc);  /* cut short or done: nothing left worth compiling */
  tune_precompile_join(pc);
  printf("fa-tune: %d shapes tuned, %d already in the database, %d failed, in %.0f s%s\n", done, skipped, failed,
         now_s() - t0, interrupted ? " (interrupted: re-run to resume)" : "");
  report_gain(st, ns, "forward");
  if (o.bwd) report_gain(stb, ns, "forward+backward");
  if (o.ship_path) {
    if (fa_db_vacuum_into(db, o.ship_path, why, sizeof why)) fprintf(stderr, "fa-tune: %s\n", why);
    else printf("fa-tune: wrote %s\n", o.ship_path);
  }
  free(st);
  free(stb);
  fa_gen_free_list(bkeys, nbkeys);
  tune_cu->cuMemFree(flush);
  fa_db_close(db);
  fa_gen_free_list(keys, nkeys);
  fa_gen_close(gen);
  fa_context_destroy(ctx);
  return failed ? 1 : 0;
}
