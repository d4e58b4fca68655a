/*
** fa_kernel.h -- compiled kernels: the context's in-memory cache, then the
** disk cache, the export directory and NVRTC, in that order.
*/
#ifndef FA_KERNEL_H
#define FA_KERNEL_H

#include "fa_ctx.h"
#include "fa_gen.h"

struct fa_kernel {
  fa_kernel *next;
  char key[160];
  CUmodule mod;          /* NULL in a context without a device */
  CUfunction fn;         /* the main kernel: fa_fwd or fa_bwd_dkdv */
  CUfunction aux[4];     /* the rest of fa_kernel_entries(key), in order */
  fa_launch_info info;
  const char *origin;    /* "memory", "disk cache", "export", "nvrtc" */
  double compile_ms;     /* NVRTC time, 0 if not compiled here */
  fa_kres res;           /* from the NVRTC log; registers -1 when unknown */
};

/* The kernel entry points of a variant's module, main kernel first, NULL-terminated:
** forward fa_fwd, fa_combine; backward fa_bwd_dkdv, fa_bwd_pre, fa_bwd_dq,
** fa_bwd_convert, fa_bwd_reduce. */
const char *const *fa_kernel_entries(const char *key);
enum { FA_AUX_COMBINE = 0, FA_AUX_PRE = 0, FA_AUX_DQ = 1, FA_AUX_CONVERT = 2, FA_AUX_REDUCE = 3 };

/* Finds or builds the kernel of a variant key. Takes ctx->lock. */
fa_status fa_kernel_get(fa_context *ctx, const char *key, fa_kernel **out);

/* Generator access under ctx->lock, opening it on first use. */
fa_status fa_ctx_gen_lock(fa_context *ctx, fa_gen **gen);
void fa_ctx_gen_unlock(fa_context *ctx);

/* The arch string NVRTC gets: "sm_90a" for 90, else "sm_<arch>". */
const char *fa_arch_name(int arch, char *buf, size_t n);

/* Hash that names a cubin: source, arch, NVRTC version, fa version. */
uint64_t fa_kernel_hash(const char *src, int arch, int nvrtc_version);

/* Frees every cached kernel (modules unloaded). */
void fa_kernel_free_all(fa_context *ctx);

#endif
