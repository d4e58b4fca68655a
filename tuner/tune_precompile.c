/*
** tune_precompile.c -- compiling ahead of the GPU: a pool of threads fills
** the disk cache with the listed variants, in list order, while the caller
** times or verifies what is ready (its plans then load from the cache).
** Compiling one variant costs about 1.6 s of CPU time, so compiling them one
** plan at a time made the sweep wait on NVRTC most of its run.
*/
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "fa_dcache.h"
#include "fa_gen.h"
#include "fa_kernel.h"
#include "fa_nvrtc.h"
#include "tune.h"

#define MAX_THREADS 16

struct tune_precompile {
  char **keys;
  int n, next, arch, nth;
  const char *dir;
  pthread_mutex_t lock;
  pthread_t th[MAX_THREADS];
};

static void *worker(void *arg) {
  tune_precompile *pc = arg;
  fa_gen *gen;
  char why[256];
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (!nv || fa_gen_open(NULL, &gen) != FA_OK) return NULL;
  for (;;) {
    pthread_mutex_lock(&pc->lock);
    int i = pc->next++;
    pthread_mutex_unlock(&pc->lock);
    if (i >= pc->n) break;
    char *src;
    if (fa_gen_emit(NULL, gen, pc->keys[i], &src) != FA_OK) continue;
    uint64_t h = fa_kernel_hash(src, pc->arch, fa_nvrtc_version(nv));
    void *cubin;
    size_t size;
    if (!fa_dcache_get(pc->dir, pc->keys[i], h, &cubin, &size) &&
        fa_nvrtc_compile(NULL, nv, pc->keys[i], src, pc->arch, NULL, &cubin, &size, NULL) == FA_OK)
      fa_dcache_put(NULL, pc->dir, pc->keys[i], h, cubin, size);
    free(cubin);
    free(src);
  }
  fa_gen_close(gen);
  return NULL;
}

tune_precompile *tune_precompile_start(char **keys, int n, int arch, const char *cache_dir, int threads) {
  if (!cache_dir || !cache_dir[0] || threads < 1) return NULL;
  tune_precompile *pc = calloc(1, sizeof *pc);
  if (!pc) return NULL;
  *pc = (tune_precompile){.keys = keys, .n = n, .arch = arch, .dir = cache_dir};
  pthread_mutex_init(&pc->lock, NULL);
  for (; pc->nth < MAX_THREADS && pc->nth < threads; ++pc->nth)
    if (pthread_create(&pc->th[pc->nth], NULL, worker, pc)) break;
  return pc;
}

int tune_precompile_threads(int share) {
  const int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  return share > 1 ? (ncpu - 1) / share : ncpu - 1;  /* one core for the thread that drives the GPU */
}

/* Takes no new variant; those in flight finish (a run cut short need not wait
** for the rest of the space to compile). */
void tune_precompile_stop(tune_precompile *pc) {
  if (!pc) return;
  pthread_mutex_lock(&pc->lock);
  pc->next = pc->n;
  pthread_mutex_unlock(&pc->lock);
}

void tune_precompile_join(tune_precompile *pc) {
  if (!pc) return;
  for (int i = 0; i < pc->nth; ++i) pthread_join(pc->th[i], NULL);
  pthread_mutex_destroy(&pc->lock);
  free(pc);
}
