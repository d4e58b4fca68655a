/*
** fa_kernel.c -- finds or builds a variant's kernel: memory cache, disk cache,
** export directory, NVRTC. Compiling happens under the context lock, so one
** context never compiles the same variant twice.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fa_dcache.h"
#include "fa_kernel.h"

const char *fa_arch_name(int arch, char *buf, size_t n) {
  snprintf(buf, n, arch == 90 ? "sm_%da" : "sm_%d", arch);
  return buf;
}

uint64_t fa_kernel_hash(const char *src, int arch, int nvrtc_version) {
  uint64_t h = fa_hash64_str(FA_HASH_SEED, src);
  h = fa_hash64(h, &arch, sizeof arch);
  h = fa_hash64(h, &nvrtc_version, sizeof nvrtc_version);
  return fa_hash64_str(h, fa_version_string());
}

fa_status fa_ctx_gen_lock(fa_context *ctx, fa_gen **gen) {
  pthread_mutex_lock(&ctx->lock);
  if (!ctx->gen) {
    fa_status s = fa_gen_open(ctx, &ctx->gen);
    if (s != FA_OK) {
      pthread_mutex_unlock(&ctx->lock);
      return s;
    }
    fa_gen_set_smem_limit(ctx->gen, ctx->arch, ctx->smem_optin);
  }
  *gen = ctx->gen;
  return FA_OK;
}

void fa_ctx_gen_unlock(fa_context *ctx) { pthread_mutex_unlock(&ctx->lock); }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int read_file(const char *path, void **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int ok = 0;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (*data = malloc((size_t)n))) {
      ok = fread(*data, 1, (size_t)n, f) == (size_t)n;
      if (ok) *size = (size_t)n;
      else free(*data);
    }
  }
  fclose(f);
  return ok;
}

const char *const *fa_kernel_entries(const char *key) {
  static const char *const fwd[] = { "fa_fwd", "fa_combine", NULL };
  static const char *const bwd[] = { "fa_bwd_dkdv", "fa_bwd_pre", "fa_bwd_dq", "fa_bwd_convert", "fa_bwd_reduce", NULL };
  return key && strncmp(key, "bwd_", 4) == 0 ? bwd : fwd;
}

/* Loads a cubin into the device (when there is one). */
static fa_status load_module(fa_context *ctx, fa_kernel *k, const void *cubin) {
  if (!ctx->cu) return FA_OK;
  const fa_cu *cu = ctx->cu;
  fa_status s = fa_ctx_bind(ctx);
  if (s != FA_OK) return s;
  CUresult r = cu->cuModuleLoadData(&k->mod, cubin);
  if (r != CUDA_SUCCESS) return fa_cu_fail(ctx, r, "cuModuleLoadData");
  const char *const *names = fa_kernel_entries(k->key);
  r = cu->cuModuleGetFunction(&k->fn, k->mod, names[0]);
  for (int i = 1; names[i] && r == CUDA_SUCCESS; ++i) r = cu->cuModuleGetFunction(&k->aux[i - 1], k->mod, names[i]);
  if (r == CUDA_SUCCESS && k->info.smem > 48 * 1024)
    r = cu->cuFuncSetAttribute(k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k->info.smem);
  /* All of L1 as shared memory, so two CTAs fit where their smem allows (the
  ** backward's 115 KB d128 tiles: two per H100 SM, not one). */
  if (r == CUDA_SUCCESS) r = cu->cuFuncSetAttribute(k->fn, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, 100);
  if (r == CUDA_SUCCESS && k->info.bwd && k->info.smem2 > 48 * 1024)
    r = cu->cuFuncSetAttribute(k->aux[FA_AUX_DQ], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k->info.smem2);
  if (r != CUDA_SUCCESS) {
    cu->cuModuleUnload(k->mod);
    k->mod = NULL;
    return fa_cu_fail(ctx, r, "loading kernel");
  }
  return FA_OK;
}

static fa_status build(fa_context *ctx, fa_gen *gen, const char *key, fa_kernel *k) {
  fa_status s = fa_gen_launch(ctx, gen, key, ctx->arch, &k->info);
  if (s != FA_OK) return s;
  const int smem = k->info.smem > k->info.smem2 ? k->info.smem : k->info.smem2;
  if (smem > ctx->smem_optin && ctx->smem_optin > 0)
    return fa_err(ctx, FA_ERR_VARIANT, "%s needs %d bytes of shared memory; %s allows %d", key,
                  smem, ctx->device_name, ctx->smem_optin);
  char arch[16], path[PATH_MAX + 256];
  fa_arch_name(ctx->arch, arch, sizeof arch);
  void *cubin = NULL;
  size_t size = 0;

  /* Exported cubins serve contexts that may not compile. */
  if (ctx->export_dir[0]) {
    snprintf(path, sizeof path, "%s/%s.%s.cubin", ctx->export_dir, key, arch);
    if (read_file(path, &cubin, &size)) k->origin = "export";
  }
  char *src = NULL;
  uint64_t h = 0;
  if (!cubin && ctx->nvrtc) {
    s = fa_gen_emit(ctx, gen, key, &src);
    if (s != FA_OK) return s;
    h = fa_kernel_hash(src, ctx->arch, fa_nvrtc_version(ctx->nvrtc));
    if (ctx->cache_dir[0] && fa_dcache_get(ctx->cache_dir, key, h, &cubin, &size)) k->origin = "disk cache";
  }
  if (!cubin && !ctx->nvrtc) {
    free(src);
    return fa_err(ctx, FA_ERR_NO_NVRTC, "%s for %s: no exported cubin%s%s, and NVRTC is unavailable (%s)",
                  key, arch, ctx->export_dir[0] ? " in " : "", ctx->export_dir, ctx->nvrtc_why);
  }
  if (!cubin) {
    char *log = NULL;
    double t0 = now_ms();
    s = fa_nvrtc_compile(ctx, ctx->nvrtc, key, src, ctx->arch, NULL, &cubin, &size, &log);
    k->compile_ms = now_ms() - t0;
    if (s == FA_OK) {
      if (fa_nvrtc_resources_all(log, fa_kernel_entries(key), &k->res) != 0) k->res.registers = -1;
      k->origin = "nvrtc";
      if (ctx->cache_dir[0]) fa_dcache_put(NULL, ctx->cache_dir, key, h, cubin, size); /* best effort */
    }
    free(log);
  } else {
    k->res.registers = -1;
  }
  free(src);
  if (s != FA_OK) return s;
  s = load_module(ctx, k, cubin);
  free(cubin);
  return s;
}

fa_status fa_kernel_get(fa_context *ctx, const char *key, fa_kernel **out) {
  fa_gen *gen;
  fa_status s = fa_ctx_gen_lock(ctx, &gen);
  if (s != FA_OK) return s;
  for (fa_kernel *k = ctx->kernels; k; k = k->next)
    if (strcmp(k->key, key) == 0) {
      *out = k;
      fa_ctx_gen_unlock(ctx);
      return FA_OK;
    }
  fa_kernel *k = calloc(1, sizeof *k);
  if (!k) s = fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "kernel record");
  else if (strlen(key) >= sizeof k->key) s = fa_err(ctx, FA_ERR_VARIANT, "variant key too long");
  else {
    snprintf(k->key, sizeof k->key, "%s", key);
    s = build(ctx, gen, key, k);
  }
  if (s == FA_OK) {
    k->next = ctx->kernels;
    ctx->kernels = k;
    *out = k;
  } else {
    free(k);
  }
  fa_ctx_gen_unlock(ctx);
  return s;
}

void fa_kernel_free_all(fa_context *ctx) {
  fa_kernel *k = ctx->kernels;
  if (k && ctx->cu) fa_ctx_bind(ctx);
  while (k) {
    fa_kernel *n = k->next;
    if (k->mod) ctx->cu->cuModuleUnload(k->mod);
    free(k);
    k = n;
  }
  ctx->kernels = NULL;
}
