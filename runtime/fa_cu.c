/*
** fa_cu.c -- loads libcuda.so.1 at run time and resolves the entry points.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fa_cu.h"
#include "fa_int.h"

static fa_cu cu_table;
static const fa_cu *cu_loaded;
static char cu_why[512];
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

typedef CUresult (*get_proc_fn)(const char *, void **, int, cuuint64_t,
                                CUdriverProcAddressQueryResult *);

static void cu_load_once(void) {
  const char *off = getenv("FA_NO_DRIVER");
  if (off && *off && strcmp(off, "0") != 0) {
    snprintf(cu_why, sizeof cu_why, "the CUDA driver is disabled by FA_NO_DRIVER");
    return;
  }
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(cu_why, sizeof cu_why, "no CUDA driver: %s", dlerror());
    return;
  }
  /* The one name we must guess: cuGetProcAddress itself (v2 since CUDA 12). */
  get_proc_fn gpa = (get_proc_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!gpa) {
    snprintf(cu_why, sizeof cu_why, "the CUDA driver is older than CUDA 12 (no cuGetProcAddress_v2)");
    return; /* the handle stays open: unloading a driver is never worth the risk */
  }
  CUdriverProcAddressQueryResult found;
#define FA_CU_RESOLVE_(name, ver)                                                   \
  if (gpa(#name, (void **)&cu_table.name, ver, CU_GET_PROC_ADDRESS_DEFAULT, &found) != \
          CUDA_SUCCESS ||                                                             \
      found != CU_GET_PROC_ADDRESS_SUCCESS || !cu_table.name) {                       \
    snprintf(cu_why, sizeof cu_why, "the CUDA driver lacks %s (API %d)", #name, ver); \
    return;                                                                           \
  }
  FA_CU_FUNCS(FA_CU_RESOLVE_)
#undef FA_CU_RESOLVE_
  CUresult r = cu_table.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char *s = NULL;
    cu_table.cuGetErrorString(r, &s);
    snprintf(cu_why, sizeof cu_why, "cuInit failed: %s (%d)", s ? s : "?", (int)r);
    return;
  }
  cu_table.cuDriverGetVersion(&cu_table.driver_version);
  cu_loaded = &cu_table;
}

const fa_cu *fa_cu_load(char *why, size_t why_size) {
  pthread_once(&cu_once, cu_load_once);
  if (!cu_loaded && why && why_size) snprintf(why, why_size, "%s", cu_why);
  return cu_loaded;
}

fa_status fa_cu_fail(fa_context *ctx, CUresult r, const char *what) {
  const char *name = NULL, *str = NULL;
  if (cu_loaded) {
    cu_loaded->cuGetErrorName(r, &name);
    cu_loaded->cuGetErrorString(r, &str);
  }
  fa_status s = r == CUDA_ERROR_OUT_OF_MEMORY ? FA_ERR_OUT_OF_MEMORY : FA_ERR_CUDA;
  return fa_err(ctx, s, "%s failed: %s (%s, %d)", what, str ? str : "?", name ? name : "?",
                (int)r);
}
