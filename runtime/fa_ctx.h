/*
** fa_ctx.h -- the context and plan structures (internal).
*/
#ifndef FA_CTX_H
#define FA_CTX_H

#include <limits.h>
#include <pthread.h>
#include "fa_int.h"
#include "fa_cu.h"
#include "fa_nvrtc.h"
#include "fa_db.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct fa_gen fa_gen;   /* fa_gen.h: the embedded Lua generator */
typedef struct fa_kernel fa_kernel; /* fa_kcache.c: a loaded kernel */

struct fa_context {
  char errmsg[FA_ERRMSG_MAX];
  pthread_mutex_t lock;        /* guards gen, kernels, db and errmsg writers */
  unsigned flags;              /* FA_CTX_* */
  int device;                  /* ordinal or FA_DEVICE_NONE */
  int arch;                    /* 80, 86, 89, 90, ... (90 compiles sm_90a) */
  int sm_count;
  int smem_optin;              /* max dynamic shared memory per block, bytes */
  size_t total_mem;            /* device memory, bytes */
  char device_name[256];
  const fa_cu *cu;             /* NULL without a device */
  CUdevice cudev;
  CUcontext cuctx;             /* the device's primary context, retained */
  const fa_nvrtc *nvrtc;       /* NULL when absent or disabled */
  char nvrtc_why[256];
  char cache_dir[PATH_MAX];    /* "" when the disk cache is off */
  char export_dir[PATH_MAX];   /* "" when none */
  fa_gen *gen;                 /* created on first use */
  fa_kernel *kernels;          /* in-memory cache, a list */
  fa_db_layers db;             /* tuning databases; both NULL when none is usable */
  fa_db_gpu gpu;               /* this device, as the databases name it */
  char describe[4 * PATH_MAX + 2048];
};

/* Makes the context's CUDA context current on this thread. */
fa_status fa_ctx_bind(fa_context *ctx);

#endif
