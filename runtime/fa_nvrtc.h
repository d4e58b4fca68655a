/*
** fa_nvrtc.h -- NVRTC, loaded at run time (dlopen), never linked.
*/
#ifndef FA_NVRTC_H
#define FA_NVRTC_H

#include <stddef.h>
#include "fa.h"

typedef struct fa_nvrtc fa_nvrtc;

/* Loads NVRTC once per process (thread-safe). Search order: $FA_NVRTC_PATH,
** libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so, then $CUDA_HOME/lib64 and
** /usr/local/cuda/lib64. $FA_NO_NVRTC=1 makes it behave as if absent.
** Returns NULL with the reason in why. */
const fa_nvrtc *fa_nvrtc_load(char *why, size_t why_size);

/* NVRTC's version as major*1000 + minor*10 (13.0 -> 13000). */
int fa_nvrtc_version(const fa_nvrtc *nv);

/* Compiles CUDA C++ source src (name appears in logs) to a cubin for the
** compute capability arch (80, 86, 89, 90; 90 means sm_90a). extra_opts: NULL
** or a NULL-terminated list of more NVRTC options. Always asks ptxas for its
** verbose report. On success *cubin (malloc'ed, caller frees) and *cubin_size.
** *log, if log is non-NULL, gets the whole NVRTC log (malloc'ed; also on
** failure). Returns FA_OK, FA_ERR_COMPILE (the log's head goes into
** fa_errmsg(ctx)), FA_ERR_OUT_OF_MEMORY, FA_ERR_NO_NVRTC. */
fa_status fa_nvrtc_compile(fa_context *ctx, const fa_nvrtc *nv, const char *name,
                           const char *src, int arch, const char *const *extra_opts,
                           void **cubin, size_t *cubin_size, char **log);

/* Resource usage read from an NVRTC log with ptxas' verbose report. */
typedef struct fa_kres {
  int registers;
  int spill_store_bytes, spill_load_bytes;
  int stack_bytes;
  int smem_static_bytes;
} fa_kres;

/* Parses the report of the (single) kernel entry named entry (NULL: the first
** entry found). Returns 0, or -1 if no report was found. */
int fa_nvrtc_resources(const char *log, const char *entry, fa_kres *out);

/* The module's summary over entries (a NULL-terminated list): the largest
** register count and stack, spills summed, so one spilling kernel of a
** module shows. registers is that of entries[0]'s report when found. Returns
** 0, or -1 if no entry had a report. */
int fa_nvrtc_resources_all(const char *log, const char *const *entries, fa_kres *out);

#endif
