/*
** fa_dcache.h -- the on-disk cache of compiled kernels.
** One file per kernel: <dir>/<variant key>-<16 hex digits of the hash>.cubin,
** with a small header (magic, size, checksum) so a truncated or foreign file
** is never loaded. Written to a temporary file in the same directory and
** renamed into place, so several processes may compile the same kernel at
** once and readers only ever see complete files.
*/
#ifndef FA_DCACHE_H
#define FA_DCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "fa.h"

/* 64-bit FNV-1a over n bytes, continuing from h (start with FA_HASH_SEED). */
#define FA_HASH_SEED 0xcbf29ce484222325ull
uint64_t fa_hash64(uint64_t h, const void *data, size_t n);
uint64_t fa_hash64_str(uint64_t h, const char *s); /* includes the terminating NUL */

/* Writes the cache directory into out: explicit if non-NULL and non-empty,
** else $FA_CACHE_DIR, else $XDG_CACHE_HOME/fa, else $HOME/.cache/fa.
** Does not create it. Returns 0, or -1 if none can be determined or it is too long. */
int fa_dcache_dir(const char *explicit_dir, char *out, size_t out_size);

/* Reads an entry. Returns 1 and a malloc'ed *data (caller frees) when a valid
** entry exists, 0 when there is none or it is invalid (it is then ignored). */
int fa_dcache_get(const char *dir, const char *key, uint64_t hash, void **data,
                  size_t *size);

/* Writes an entry atomically, creating dir (and parents) if needed.
** Returns FA_OK or FA_ERR_IO (with the reason in fa_errmsg(ctx); ctx may be NULL). */
fa_status fa_dcache_put(fa_context *ctx, const char *dir, const char *key, uint64_t hash,
                        const void *data, size_t size);

#endif
