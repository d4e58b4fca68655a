/*
** tune_compile.c -- `fa-tune compile`: compiles every variant the library may
** serve on an architecture (the default space and the built-in choice's other
** keys: fa_gen_list_served), or given keys, with NVRTC (no GPU needed), in parallel threads,
** and reports registers, spills and shared memory. Fails on any compile
** error and on any spill.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fa_dcache.h"
#include "fa_gen.h"
#include "fa_kernel.h"
#include "fa_nvrtc.h"
#include "tune.h"

typedef struct job {
  char **keys;
  char **srcs;
  fa_launch_info *info;
  int n, next, arch;
  const fa_nvrtc *nv;
  fa_kres *res;
  int *status;
  int *serial;         /* ptxas serialised the variant's wgmma (C7514-C7516): a lost pipeline */
  double *secs;
  char **errs;
  const char *out;     /* --out: each cubin written as out/<key>.cubin (for cuobjdump) */
  const char *cache;   /* --cache: each variant's cubin put in that disk cache, as the runtime would */
  pthread_mutex_t lock;
} job;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  job *j = arg;
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int i = j->next++;
    pthread_mutex_unlock(&j->lock);
    if (i >= j->n) break;
    void *cubin = NULL;
    size_t size = 0;
    char *log = NULL;
    double t0 = now_s();
    fa_status s = fa_nvrtc_compile(NULL, j->nv, j->keys[i], j->srcs[i], j->arch, NULL, &cubin, &size, &log);
    j->secs[i] = now_s() - t0;
    j->status[i] = s;
    if (s == FA_OK && j->out) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s.cubin", j->out, j->keys[i]);
      FILE *f = fopen(path, "wb");
      if (!f || fwrite(cubin, 1, size, f) != size) fprintf(stderr, "fa-tune compile: cannot write %s\n", path);
      if (f) fclose(f);
    }
    if (s == FA_OK && j->cache && j->info[i].threads > 0 &&  /* variants only: the tools' kernels are not cached */
        fa_dcache_put(NULL, j->cache, j->keys[i], fa_kernel_hash(j->srcs[i], j->arch, fa_nvrtc_version(j->nv)), cubin,
                      size) != FA_OK) {
      j->status[i] = FA_ERR_IO;
      j->errs[i] = strdup(fa_errmsg(NULL));
    }
    if (s == FA_OK) {
      if (fa_nvrtc_resources_all(log, fa_kernel_entries(j->keys[i]), &j->res[i])) j->res[i].registers = -1;
      j->serial[i] = log && (strstr(log, "(C7514)") || strstr(log, "(C7515)") || strstr(log, "(C7516)"));
    } else {
      j->errs[i] = strdup(fa_errmsg(NULL));
    }
    free(cubin);
    free(log);
  }
  return NULL;
}

int tune_cmd_compile(int argc, char **argv) {
  const char *filter = "", *out = NULL, *cache = NULL;
  const char **given = calloc((size_t)argc + 1, sizeof *given);  /* --key: these variants, not the space's */
  int arch = 80, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), ngiven = 0;
  if (!given) return 1;
  for (int i = 0; i < argc; ++i) {
    if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
      if (tune_arg_arch("compile", "--arch", argv[++i], &arch)) { free(given); return 2; }
    }
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--key") && i + 1 < argc) given[ngiven++] = argv[++i];
    else if (!strcmp(argv[i], "-j") && i + 1 < argc) {
      if (tune_arg_int("compile", "-j", argv[++i], 1, 64, &threads)) return 2;
    }
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--cache") && i + 1 < argc) cache = argv[++i];
    else { fprintf(stderr, "fa-tune compile: unknown argument '%s'\n", argv[i]); free(given); return 2; }
  }
  if (ngiven && filter[0]) {
    fprintf(stderr, "fa-tune compile: --key and --filter exclude each other\n");
    free(given);
    return 2;
  }
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  char why[512];
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (!nv) { printf("SKIPPED: fa-tune compile needs NVRTC: %s\n", why); return 77; }
  fa_gen *gen;
  job j;
  memset(&j, 0, sizeof j);
  if (fa_gen_open(NULL, &gen) || (!ngiven && fa_gen_list_served(NULL, gen, filter, arch, &j.keys, &j.n))) {
    fprintf(stderr, "%s\n", fa_errmsg(NULL));
    free(given);
    return 1;
  }
  if (ngiven) {
    j.keys = calloc((size_t)ngiven + 1, sizeof *j.keys);
    for (int i = 0; j.keys && i < ngiven; ++i) {
      if (fa_gen_check_key(NULL, gen, given[i], arch) != FA_OK) {
        fprintf(stderr, "fa-tune compile: %s\n", fa_errmsg(NULL));
        fa_gen_free_list(j.keys, j.n);
        free(given);
        return 2;
      }
      j.keys[j.n++] = strdup(given[i]);
    }
  }
  free(given);
  if (!j.keys) return 1;
  /* With no filter or keys, the tools' kernels too (verify's baselines, fa-bench's standard attention). */
  static const char *const tools[] = {"unfused_bf16", "unfused_fp16", "unfusedbwd_bf16", "unfusedbwd_fp16",
                                      "softmax_bf16", "softmax_fp16"};
  const int ntools = filter[0] || ngiven ? 0 : (int)(sizeof tools / sizeof *tools), nvar = j.n;
  char **all = realloc(j.keys, ((size_t)j.n + ntools + 1) * sizeof *all);
  if (!all) return 1;
  j.keys = all;
  for (int t = 0; t < ntools; ++t) j.keys[j.n++] = strdup(tools[t]);
  j.srcs = calloc((size_t)j.n + 1, sizeof *j.srcs);
  j.info = calloc((size_t)j.n + 1, sizeof *j.info);
  j.res = calloc((size_t)j.n + 1, sizeof *j.res);
  j.status = calloc((size_t)j.n + 1, sizeof *j.status);
  j.serial = calloc((size_t)j.n + 1, sizeof *j.serial);
  j.secs = calloc((size_t)j.n + 1, sizeof *j.secs);
  j.errs = calloc((size_t)j.n + 1, sizeof *j.errs);
  j.arch = arch;
  j.nv = nv;
  j.out = out;
  j.cache = cache;
  pthread_mutex_init(&j.lock, NULL);
  for (int i = 0; i < j.n; ++i)
    if (i < nvar ? fa_gen_emit(NULL, gen, j.keys[i], &j.srcs[i]) || fa_gen_launch(NULL, gen, j.keys[i], arch, &j.info[i])
                 : fa_gen_emit_tool(NULL, gen, j.keys[i], &j.srcs[i])) {
      fprintf(stderr, "%s\n", fa_errmsg(NULL));
      return 1;
    }
  double t0 = now_s();
  pthread_t th[64];
  int nt = 0;
  for (; nt < threads; ++nt)
    if (pthread_create(&th[nt], NULL, worker, &j)) break;
  for (int i = 0; i < nt; ++i) pthread_join(th[i], NULL);
  int failed = 0, spilled = 0;
  printf("%-52s %5s %6s %6s %8s %7s %s\n", "variant", "regs", "spillS", "spillL", "smem", "secs", "result");
  for (int i = 0; i < j.n; ++i) {
    const fa_kres *r = &j.res[i];
    const char *verdict = "ok";
    if (j.status[i] != FA_OK) verdict = "FAIL: compile", failed++;
    else if (r->spill_store_bytes || r->spill_load_bytes) verdict = "FAIL: spills", spilled++;
    else if (j.serial[i]) verdict = "FAIL: wgmma serialised (ptxas C7514-C7516)", spilled++;
    printf("%-52s %5d %6d %6d %8d %7.2f %s\n", j.keys[i], r->registers, r->spill_store_bytes, r->spill_load_bytes,
           j.info[i].smem, j.secs[i], verdict);
    if (j.errs[i]) printf("    %.600s\n", j.errs[i]);
  }
  printf("compile sm_%d%s: %d variants and %d tool kernels in %.1f s on %d threads; %d passed, %d failed\n", arch,
         arch == 90 ? "a" : "", nvar, ntools, now_s() - t0, nt, j.n - failed - spilled, failed + spilled);
  for (int i = 0; i < j.n; ++i) { free(j.srcs[i]); free(j.errs[i]); }
  free(j.srcs); free(j.info); free(j.res); free(j.status); free(j.serial); free(j.secs); free(j.errs);
  fa_gen_free_list(j.keys, j.n);
  fa_gen_close(gen);
  return failed || spilled ? 1 : 0;
}
