/*
** fa_ctx.c -- contexts: the device, NVRTC, caches and tuning databases.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fa_ctx.h"
#include "fa_db.h"
#include "fa_dcache.h"
#include "fa_gen.h"
#include "fa_kernel.h"

fa_status fa_ctx_bind(fa_context *ctx) {
  if (!ctx->cu) return fa_err(ctx, FA_ERR_NO_DEVICE, "this context has no device");
  CUcontext cur = NULL;
  if (ctx->cu->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == ctx->cuctx) return FA_OK;
  CUresult r = ctx->cu->cuCtxSetCurrent(ctx->cuctx);
  return r == CUDA_SUCCESS ? FA_OK : fa_cu_fail(ctx, r, "cuCtxSetCurrent");
}

static fa_status open_device(fa_context *ctx, int ordinal) {
  char why[512];
  const fa_cu *cu = fa_cu_load(why, sizeof why);
  if (!cu) return fa_err(NULL, FA_ERR_NO_DEVICE, "%s", why);
  int count = 0;
  CUresult r = cu->cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) return fa_cu_fail(NULL, r, "cuDeviceGetCount");
  if (ordinal < 0 || ordinal >= count)
    return fa_err(NULL, FA_ERR_NO_DEVICE, "device %d requested, %d present", ordinal, count);
  int major = 0, minor = 0;
  if ((r = cu->cuDeviceGet(&ctx->cudev, ordinal)) != CUDA_SUCCESS ||
      (r = cu->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ctx->cudev)) ||
      (r = cu->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ctx->cudev)) ||
      (r = cu->cuDeviceGetAttribute(&ctx->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, ctx->cudev)) ||
      (r = cu->cuDeviceGetAttribute(&ctx->smem_optin,
                                    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, ctx->cudev)) ||
      (r = cu->cuDeviceGetName(ctx->device_name, sizeof ctx->device_name, ctx->cudev)) ||
      (r = cu->cuDeviceTotalMem(&ctx->total_mem, ctx->cudev)))
    return fa_cu_fail(NULL, r, "querying the device");
  ctx->arch = major * 10 + minor;
  if (ctx->arch < 80)
    return fa_err(NULL, FA_ERR_NO_DEVICE, "%s is sm_%d; fa needs sm_80 or newer", ctx->device_name, ctx->arch);
  r = cu->cuDevicePrimaryCtxRetain(&ctx->cuctx, ctx->cudev);
  if (r != CUDA_SUCCESS) return fa_cu_fail(NULL, r, "cuDevicePrimaryCtxRetain");
  ctx->cu = cu;
  return FA_OK;
}

/* An export directory serves only the fa version that wrote it. */
static int export_matches(const char *dir) {
  char path[PATH_MAX + 32], line[256], want[64];
  snprintf(path, sizeof path, "%s/manifest.txt", dir);
  snprintf(want, sizeof want, "fa_version %s\n", fa_version_string());
  FILE *f = fopen(path, "r");
  int ok = 0;
  while (f && !ok && fgets(line, sizeof line, f)) ok = strcmp(line, want) == 0;
  if (f) fclose(f);
  return ok;
}

fa_status fa_context_create(const fa_context_options *opt, fa_context **out) {
  if (!out) return fa_err(NULL, FA_ERR_NULL_ARGUMENT, "fa_context_create: out is NULL");
  *out = NULL;
  fa_context_options defaults;
  fa_context_options_init(&defaults);
  if (!opt) opt = &defaults;
  if (opt->struct_size != sizeof *opt)
    return fa_err(NULL, FA_ERR_STRUCT_SIZE, "fa_context_options.struct_size is %zu, expected %zu",
                  opt->struct_size, sizeof *opt);
  const unsigned known = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB | FA_CTX_NO_NVRTC;
  if (opt->flags & ~known)
    return fa_err(NULL, FA_ERR_FEATURE, "fa_context_options.flags (0x%x) has unknown bits 0x%x; known: 0x%x",
                  opt->flags, opt->flags & ~known, known);
  /* A compile-only context names its target; a GPU's context takes the GPU's. */
  if (opt->device == FA_DEVICE_NONE && (opt->arch < 80 || opt->arch > 999))
    return fa_err(NULL, FA_ERR_UNSUPPORTED, "fa_context_options.arch (%d): fa's kernels need sm_80 or newer "
                  "(a compile-only context's target, e.g. 80, 89 or 90)", opt->arch);
  fa_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return fa_err(NULL, FA_ERR_OUT_OF_MEMORY, "context");
  pthread_mutex_init(&ctx->lock, NULL);
  ctx->flags = opt->flags;
  ctx->device = opt->device;
  ctx->arch = opt->arch;
  snprintf(ctx->device_name, sizeof ctx->device_name, "no device (compiling for sm_%d)", ctx->arch);
  if (opt->device != FA_DEVICE_NONE) {
    fa_status s = open_device(ctx, opt->device);
    if (s != FA_OK) {
      pthread_mutex_destroy(&ctx->lock);
      free(ctx);
      return s;
    }
  }
  if (!(ctx->flags & FA_CTX_NO_NVRTC)) ctx->nvrtc = fa_nvrtc_load(ctx->nvrtc_why, sizeof ctx->nvrtc_why);
  else snprintf(ctx->nvrtc_why, sizeof ctx->nvrtc_why, "disabled by FA_CTX_NO_NVRTC");
  if (!(ctx->flags & FA_CTX_NO_DISK_CACHE) && fa_dcache_dir(opt->cache_dir, ctx->cache_dir, sizeof ctx->cache_dir))
    ctx->cache_dir[0] = '\0';
  const char *ex = opt->export_dir ? opt->export_dir : getenv("FA_EXPORT_DIR");
  if (ex) snprintf(ctx->export_dir, sizeof ctx->export_dir, "%s", ex);
  if (ctx->export_dir[0] && !export_matches(ctx->export_dir)) ctx->export_dir[0] = '\0';
  if (!(ctx->flags & FA_CTX_NO_TUNING_DB)) fa_db_layers_open(&ctx->db, opt->shipped_db, opt->tuning_db, ctx->export_dir);
  else snprintf(ctx->db.describe, sizeof ctx->db.describe, "off (FA_CTX_NO_TUNING_DB)");
  snprintf(ctx->gpu.name, sizeof ctx->gpu.name, "%s", ctx->device_name);
  ctx->gpu.arch = ctx->arch;
  ctx->gpu.sm_count = ctx->sm_count;
  ctx->gpu.driver = ctx->cu ? ctx->cu->driver_version : 0;
  ctx->gpu.nvrtc = ctx->nvrtc ? fa_nvrtc_version(ctx->nvrtc) : 0;
  fa_err_clear(ctx);
  *out = ctx;
  return FA_OK;
}

void fa_context_destroy(fa_context *ctx) {
  if (!ctx) return;
  fa_kernel_free_all(ctx);
  fa_gen_close(ctx->gen);
  fa_db_layers_close(&ctx->db);
  if (ctx->cu) ctx->cu->cuDevicePrimaryCtxRelease(ctx->cudev);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

const char *fa_context_describe(fa_context *ctx) {
  if (!ctx) return "no context";
  char nv[320];
  if (ctx->nvrtc) {
    int v = fa_nvrtc_version(ctx->nvrtc);
    snprintf(nv, sizeof nv, "NVRTC %d.%d", v / 1000, (v % 1000) / 10);
  } else {
    snprintf(nv, sizeof nv, "no NVRTC (%s)", ctx->nvrtc_why);
  }
  pthread_mutex_lock(&ctx->lock);
  snprintf(ctx->describe, sizeof ctx->describe,
           "fa %s; device: %s (sm_%d, %d SMs, %.1f GiB, %d B smem/block); driver %d; %s; disk cache: %s; "
           "export dir: %s; tuning databases: %s",
           fa_version_string(), ctx->device_name, ctx->arch, ctx->sm_count, ctx->total_mem / 1073741824.0, ctx->smem_optin,
           ctx->cu ? ctx->cu->driver_version : 0, nv, ctx->cache_dir[0] ? ctx->cache_dir : "off",
           ctx->export_dir[0] ? ctx->export_dir : "none", ctx->db.describe);
  pthread_mutex_unlock(&ctx->lock);
  return ctx->describe;
}
