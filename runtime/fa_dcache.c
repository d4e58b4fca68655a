/*
** fa_dcache.c -- the on-disk cache of compiled kernels (see fa_dcache.h).
** File layout: "FACUBIN1", payload size (u64 LE), FNV-1a of the payload (u64 LE),
** then the payload. Anything else at the path is treated as absent.
*/
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, fsync, O_CLOEXEC; CMake also sets it */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fa_dcache.h"
#include "fa_int.h"

#define DC_MAGIC "FACUBIN1"
#define DC_HEADER 24                    /* magic, size, hash */
#define DC_MAX_PAYLOAD (1ull << 30)     /* no cubin comes near; bounds a bogus header */
#define DC_MAX_KEY 200
#define DC_PATH_MAX 4096

uint64_t fa_hash64(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t fa_hash64_str(uint64_t h, const char *s) {
  if (!s) s = "";
  return fa_hash64(h, s, strlen(s) + 1);
}

/* ---- Directory ------------------------------------------------------------ */

/* Copies a + b into out; -1 if it does not fit. */
static int join(char *out, size_t size, const char *a, const char *b) {
  int n = snprintf(out, size, "%s%s", a, b);
  return n >= 0 && (size_t)n < size ? 0 : -1;
}

static const char *env_nonempty(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

int fa_dcache_dir(const char *explicit_dir, char *out, size_t out_size) {
  if (!out || !out_size) return -1;
  out[0] = '\0';
  const char *v;
  if (explicit_dir && *explicit_dir) return join(out, out_size, explicit_dir, "");
  if ((v = env_nonempty("FA_CACHE_DIR"))) return join(out, out_size, v, "");
  /* The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored. */
  if ((v = env_nonempty("XDG_CACHE_HOME")) && v[0] == '/') return join(out, out_size, v, "/fa");
  if ((v = env_nonempty("HOME"))) return join(out, out_size, v, "/.cache/fa");
  return -1;
}

/* mkdir -p with mode 0755 (less the umask); 0 or -1 with errno set. */
static int mkdir_p(const char *dir) {
  char buf[DC_PATH_MAX];
  if (join(buf, sizeof buf, dir, "") != 0) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
  struct stat st;
  if (stat(buf, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* ---- Entries ---------------------------------------------------------------- */

static int key_ok(const char *key) {
  if (!key || !*key || strchr(key, '/')) return 0;
  return strlen(key) <= DC_MAX_KEY;
}

/* <dir>/<key>-<hash>.cubin; -1 if it does not fit. */
static int entry_path(char *out, size_t size, const char *dir, const char *key, uint64_t hash) {
  int n = snprintf(out, size, "%s/%s-%016llx.cubin", dir, key, (unsigned long long)hash);
  return n >= 0 && (size_t)n < size ? 0 : -1;
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Reads exactly n bytes; 0 or -1 (error or early end of file). */
static int read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Validates an open entry and returns its payload (malloc'ed), or NULL. */
static void *read_entry(int fd, size_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < DC_HEADER) return NULL;
  unsigned char h[DC_HEADER];
  if (read_all(fd, h, sizeof h) != 0 || memcmp(h, DC_MAGIC, 8) != 0) return NULL;
  uint64_t n = get_u64(h + 8), sum = get_u64(h + 16);
  if (n > DC_MAX_PAYLOAD || n != (uint64_t)st.st_size - DC_HEADER) return NULL;
  void *data = malloc((size_t)n + 1); /* +1: a valid empty payload still gets a pointer */
  if (!data) return NULL;
  if (read_all(fd, data, (size_t)n) != 0 || fa_hash64(FA_HASH_SEED, data, (size_t)n) != sum) {
    free(data);
    return NULL;
  }
  *size = (size_t)n;
  return data;
}

int fa_dcache_get(const char *dir, const char *key, uint64_t hash, void **data,
                  size_t *size) {
  if (data) *data = NULL;
  if (size) *size = 0;
  char path[DC_PATH_MAX];
  if (!dir || !*dir || !data || !size || !key_ok(key) ||
      entry_path(path, sizeof path, dir, key, hash) != 0)
    return 0;
  /* O_NONBLOCK: a FIFO planted at the path must not hang us (it is then rejected). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  void *p = read_entry(fd, &n);
  close(fd);
  if (!p) return 0;
  *data = p;
  *size = n;
  return 1;
}

/* Writes header and payload to fd and flushes them to disk; 0 or -1 (errno set). */
static int write_entry(int fd, const void *data, size_t size) {
  unsigned char h[DC_HEADER];
  memcpy(h, DC_MAGIC, 8);
  put_u64(h + 8, size);
  put_u64(h + 16, fa_hash64(FA_HASH_SEED, data, size));
  if (write_all(fd, h, sizeof h) != 0 || write_all(fd, data, size) != 0) return -1;
  return fsync(fd);
}

/* The entry's mode: the directory's read/write bits, so a shared (0755) cache
** gets world-readable files and a private (0700) one private files. */
static mode_t entry_mode(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) return 0600;
  return (st.st_mode & 0666) | 0600;
}

/* Writes to a fresh temporary beside the final path, then renames it into place. */
static fa_status put_file(fa_context *ctx, const char *dir, const char *path, const char *key,
                          const void *data, size_t size) {
  char tmp[DC_PATH_MAX];
  int n = snprintf(tmp, sizeof tmp, "%s/.tmp-%s-XXXXXX", dir, key);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return fa_err(ctx, FA_ERR_IO, "disk cache path too long in %s", dir);
  int fd = mkstemp(tmp);
  if (fd < 0) return fa_err(ctx, FA_ERR_IO, "cannot create a file in %s: %s", dir, strerror(errno));
  fchmod(fd, entry_mode(dir)); /* best effort: mkstemp's 0600 is a safe fallback */
  int ok = write_entry(fd, data, size) == 0;
  int err = errno;
  if (close(fd) != 0 && ok) {
    ok = 0;
    err = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    err = errno;
  }
  if (ok) return FA_OK;
  unlink(tmp);
  return fa_err(ctx, FA_ERR_IO, "cannot write %s: %s", path, strerror(err));
}

fa_status fa_dcache_put(fa_context *ctx, const char *dir, const char *key, uint64_t hash,
                        const void *data, size_t size) {
  if (!dir || !*dir) return fa_err(ctx, FA_ERR_IO, "no disk cache directory");
  if (!data && size) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "disk cache: payload is NULL");
  if (!key_ok(key))
    return fa_err(ctx, FA_ERR_IO, "invalid disk cache key '%.64s%s': it must be 1-%d characters without '/'",
                  key ? key : "(null)", key && strlen(key) > 64 ? "..." : "", DC_MAX_KEY);
  if (size > DC_MAX_PAYLOAD)
    return fa_err(ctx, FA_ERR_IO, "disk cache entry %s too large (%zu bytes)", key, size);
  char path[DC_PATH_MAX];
  if (entry_path(path, sizeof path, dir, key, hash) != 0)
    return fa_err(ctx, FA_ERR_IO, "disk cache path too long in %s", dir);
  if (mkdir_p(dir) != 0)
    return fa_err(ctx, FA_ERR_IO, "cannot create the cache directory %s: %s", dir, strerror(errno));
  return put_file(ctx, dir, path, key, data ? data : "", size);
}
