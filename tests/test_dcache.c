/*
** test_dcache.c -- the on-disk kernel cache: hashing, directory resolution,
** round trips, corrupt files, and concurrent writers in several processes.
*/
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fa_dcache.h"
#include "fa_int.h"

#include "check.h"

static const char *KEY = "fwd_sm80_d128_bf16_m128n64_w4_s2_g1";

/* ---- Hash ------------------------------------------------------------------- */

static void test_hash(void) {
  /* Published FNV-1a 64-bit test vectors. */
  CHECK(fa_hash64(FA_HASH_SEED, "", 0) == 0xcbf29ce484222325ull);
  CHECK(fa_hash64(FA_HASH_SEED, "a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fa_hash64(FA_HASH_SEED, "foobar", 6) == 0x85944171f73967e8ull);
  /* Continuing from a partial hash equals hashing the concatenation. */
  CHECK(fa_hash64(fa_hash64(FA_HASH_SEED, "foo", 3), "bar", 3) == 0x85944171f73967e8ull);
  /* The string form includes the NUL, so "ab"+"c" differs from "a"+"bc". */
  CHECK(fa_hash64_str(FA_HASH_SEED, "a") == fa_hash64(FA_HASH_SEED, "a", 2));
  CHECK(fa_hash64_str(fa_hash64_str(FA_HASH_SEED, "ab"), "c") !=
        fa_hash64_str(fa_hash64_str(FA_HASH_SEED, "a"), "bc"));
}

/* ---- Directory resolution --------------------------------------------------------- */

static int dir_is(const char *explicit_dir, const char *want) {
  char out[4096];
  if (fa_dcache_dir(explicit_dir, out, sizeof out) != 0) return 0;
  if (strcmp(out, want) != 0) {
    fprintf(stderr, "  dir: got '%s', want '%s'\n", out, want);
    return 0;
  }
  return 1;
}

static void test_dir(void) {
  setenv("FA_CACHE_DIR", "/tmp/fa-env", 1);
  setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  setenv("HOME", "/home/someone", 1);
  CHECK(dir_is("/explicit", "/explicit"));
  CHECK(dir_is(NULL, "/tmp/fa-env"));
  CHECK(dir_is("", "/tmp/fa-env"));
  setenv("FA_CACHE_DIR", "", 1); /* empty counts as unset */
  CHECK(dir_is(NULL, "/tmp/xdg/fa"));
  unsetenv("FA_CACHE_DIR");
  CHECK(dir_is(NULL, "/tmp/xdg/fa"));
  setenv("XDG_CACHE_HOME", "relative/xdg", 1); /* invalid per the XDG spec */
  CHECK(dir_is(NULL, "/home/someone/.cache/fa"));
  unsetenv("XDG_CACHE_HOME");
  CHECK(dir_is(NULL, "/home/someone/.cache/fa"));
  unsetenv("HOME");
  char out[4096];
  CHECK(fa_dcache_dir(NULL, out, sizeof out) == -1);
  CHECK(dir_is("/still/explicit", "/still/explicit"));
  char tiny[8];
  CHECK(fa_dcache_dir("/a/long/directory", tiny, sizeof tiny) == -1);
  CHECK(fa_dcache_dir("/x", NULL, 0) == -1);
}

/* ---- Round trips and corrupt files ------------------------------------------------- */

static void entry_file(char *out, size_t size, const char *dir, const char *key, uint64_t h) {
  int n = snprintf(out, size, "%s/%s-%016llx.cubin", dir, key, (unsigned long long)h);
  CHECK(n > 0 && (size_t)n < size); /* test paths are short; a cut one would test nothing */
}

static int get_is(const char *dir, const char *key, uint64_t h, const void *want, size_t n) {
  void *data = NULL;
  size_t size = 0;
  int r = fa_dcache_get(dir, key, h, &data, &size);
  int ok = r == 1 && data && size == n && memcmp(data, want, n) == 0;
  free(data);
  return ok;
}

static int get_absent(const char *dir, const char *key, uint64_t h) {
  void *data = (void *)1;
  size_t size = 7;
  int r = fa_dcache_get(dir, key, h, &data, &size);
  return r == 0 && data == NULL && size == 0;
}

static void write_raw(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(p, 1, n, f);
  fclose(f);
}

static void test_round_trip(const char *root) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/a/b/c", root); /* put must create the parents */
  unsigned char payload[5000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 131 + 7);
  uint64_t h = fa_hash64_str(FA_HASH_SEED, "source text");

  CHECK(get_absent(dir, KEY, h));
  CHECK(fa_dcache_put(NULL, dir, KEY, h, payload, sizeof payload) == FA_OK);
  CHECK(get_is(dir, KEY, h, payload, sizeof payload));
  char path[4096];
  entry_file(path, sizeof path, dir, KEY, h);
  CHECK(access(path, R_OK) == 0);
  struct stat st;
  CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(get_absent(dir, KEY, h + 1));              /* another hash */
  CHECK(get_absent(dir, "bwd_sm80_other", h));     /* another key */
  /* Overwriting replaces the entry. */
  payload[0] ^= 0xff;
  CHECK(fa_dcache_put(NULL, dir, KEY, h, payload, sizeof payload) == FA_OK);
  CHECK(get_is(dir, KEY, h, payload, sizeof payload));
  /* An empty payload is a valid entry. */
  CHECK(fa_dcache_put(NULL, dir, "empty", h, "", 0) == FA_OK);
  CHECK(get_is(dir, "empty", h, "", 0));
}

static void test_bad_keys(const char *root) {
  char longkey[260];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  fa_err_clear(NULL);
  CHECK(fa_dcache_put(NULL, root, "a/b", 1, "x", 1) == FA_ERR_IO);
  CHECK(strstr(fa_errmsg(NULL), "key") != NULL);
  fa_err_clear(NULL);
  CHECK(fa_dcache_put(NULL, root, longkey, 1, "x", 1) == FA_ERR_IO);
  CHECK(fa_errmsg(NULL)[0] != '\0');
  CHECK(fa_dcache_put(NULL, root, "", 1, "x", 1) == FA_ERR_IO);
  CHECK(get_absent(root, "a/b", 1));
  CHECK(get_absent(root, longkey, 1));
  longkey[200] = '\0'; /* exactly 200 characters is allowed */
  CHECK(fa_dcache_put(NULL, root, longkey, 1, "x", 1) == FA_OK);
  CHECK(get_is(root, longkey, 1, "x", 1));
}

/* Every damaged form of a valid entry must read as absent. */
static void test_corrupt(const char *root) {
  const char *key = "fwd_sm90_d256_fp16_m128n128_w8_s2_g2";
  uint64_t h = 0x0123456789abcdefull;
  char path[4096];
  entry_file(path, sizeof path, root, key, h);
  unsigned char payload[3000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i ^ (i >> 3));
  CHECK(fa_dcache_put(NULL, root, key, h, payload, sizeof payload) == FA_OK);
  CHECK(get_is(root, key, h, payload, sizeof payload));
  CHECK(strstr(path, "-0123456789abcdef.cubin") != NULL);

  /* Truncated: header intact, payload short; then header only; then half a header. */
  CHECK(truncate(path, 24 + 1000) == 0);
  CHECK(get_absent(root, key, h));
  CHECK(truncate(path, 24) == 0);
  CHECK(get_absent(root, key, h));
  CHECK(truncate(path, 10) == 0);
  CHECK(get_absent(root, key, h));
  CHECK(truncate(path, 0) == 0);
  CHECK(get_absent(root, key, h));

  /* Garbage of several sizes, and a header that claims an enormous payload. */
  unsigned char junk[4096];
  unsigned s = 12345;
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
  write_raw(path, junk, sizeof junk);
  CHECK(get_absent(root, key, h));
  unsigned char hdr[24] = "FACUBIN1";
  memset(hdr + 8, 0xff, 16);
  write_raw(path, hdr, sizeof hdr);
  CHECK(get_absent(root, key, h));

  /* A valid entry with one flipped payload byte fails its checksum. */
  CHECK(fa_dcache_put(NULL, root, key, h, payload, sizeof payload) == FA_OK);
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f) {
    fseek(f, 24 + 500, SEEK_SET);
    fputc(payload[500] ^ 1, f);
    fclose(f);
  }
  CHECK(get_absent(root, key, h));

  /* A directory in the entry's place. */
  CHECK(unlink(path) == 0);
  CHECK(mkdir(path, 0755) == 0);
  CHECK(get_absent(root, key, h));
  CHECK(fa_dcache_put(NULL, root, key, h, payload, sizeof payload) == FA_ERR_IO);
  rmdir(path);
}

/* ---- Concurrent writers ---------------------------------------------------------- */

#define NWRITERS 4
#define NPUTS 50

static int writer(const char *dir, const unsigned char *payload, size_t n) {
  for (int i = 0; i < NPUTS; i++)
    if (fa_dcache_put(NULL, dir, KEY, 42, payload, n) != FA_OK) {
      fprintf(stderr, "  writer %d: %s\n", (int)getpid(), fa_errmsg(NULL));
      return 1;
    }
  return 0;
}

/* Reads while children write; counts reads that were neither absent nor exact. */
static int read_while_writing(const char *dir, const unsigned char *payload, size_t n,
                              pid_t *pids, int *hits) {
  int bad = 0, running = NWRITERS, status_bad = 0;
  while (running > 0) {
    void *data = NULL;
    size_t size = 0;
    int r = fa_dcache_get(dir, KEY, 42, &data, &size);
    if (r == 1) {
      (*hits)++;
      if (size != n || memcmp(data, payload, n) != 0) bad++;
    } else if (r != 0) {
      bad++;
    }
    free(data);
    for (int i = 0; i < NWRITERS; i++) {
      int st;
      if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i]) continue;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status_bad++;
      pids[i] = 0;
      running--;
    }
  }
  return bad + status_bad;
}

/* Names in dir other than the one expected entry. */
static int stray_files(const char *dir, const char *entry_name) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int stray = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, entry_name))
      continue;
    fprintf(stderr, "  stray file: %s\n", e->d_name);
    stray++;
  }
  closedir(d);
  return stray;
}

static void test_concurrent(const char *root) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/concurrent", root);
  size_t n = 256 * 1024; /* big enough that a write is not one atomic block */
  unsigned char *payload = malloc(n);
  if (!payload) {
    CHECK(!"out of memory");
    return;
  }
  for (size_t i = 0; i < n; i++) payload[i] = (unsigned char)(i * 2654435761u >> 13);
  fflush(NULL);
  pid_t pids[NWRITERS];
  for (int i = 0; i < NWRITERS; i++) {
    pids[i] = fork();
    if (pids[i] == 0) _exit(writer(dir, payload, n));
    CHECK(pids[i] > 0);
  }
  int hits = 0;
  CHECK(read_while_writing(dir, payload, n, pids, &hits) == 0);
  printf("  concurrent: %d of the parent's reads found the entry\n", hits);
  CHECK(get_is(dir, KEY, 42, payload, n));
  char name[512];
  snprintf(name, sizeof name, "%s-%016llx.cubin", KEY, 42ull);
  CHECK(stray_files(dir, name) == 0);
  free(payload);
}

/* ---- Main -------------------------------------------------------------------- */

/* rm -r of the test's own temporary tree. */
static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    char sub[4096];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

int main(void) {
  char root[] = "/tmp/fa-test-dcache-XXXXXX";
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    return 1;
  }
  test_hash();
  test_dir();
  test_round_trip(root);
  test_bad_keys(root);
  test_corrupt(root);
  test_concurrent(root);
  remove_tree(root);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
