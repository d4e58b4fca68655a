/*
** test_db.c -- the tuning databases: schema creation and migration, refusing
** newer / foreign / corrupt / missing files, bucketing, writes and lookups
** (exact, nearest, misses), the shipped + user layers, concurrent writers in
** several processes, a writer killed mid-transaction, and the fallback chain
** (exact -> nearest -> heuristic) through the public API on a compile-only
** context. No GPU needed; the public-API part is skipped without NVRTC.
*/
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "fa_db.h"
#include "fa_gen.h"
#include "fa_int.h"
#include "fa_nvrtc.h"

#include "check.h"

#define H100 "NVIDIA H100 80GB HBM3"

/* ---- Helpers ------------------------------------------------------------------ */

/* Every directory made, removed at the end when all passed. */
static char made[16][512];
static int nmade;

static void rm_rf(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return;
  if (S_ISDIR(sb.st_mode)) {
    chmod(path, 0755);
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      char sub[1024];
      while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub) rm_rf(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* A fresh directory for one test (mkdtemp); traversable by others, for the
** unprivileged-reader check. */
static void tmpdir(char *out, size_t n, const char *tag) {
  const char *t = getenv("TMPDIR");
  if (!t || !*t) t = "/tmp";
  snprintf(out, n, "%s/fa_test_db_%s.XXXXXX", t, tag);
  if (!mkdtemp(out)) {
    perror("mkdtemp");
    exit(1);
  }
  chmod(out, 0755);
  if (nmade < 16) snprintf(made[nmade++], sizeof made[0], "%s", out);
}

static void join(char *out, size_t n, const char *dir, const char *name) {
  if (snprintf(out, n, "%s/%s", dir, name) >= (int)n) {
    fprintf(stderr, "path too long: %s/%s\n", dir, name);
    exit(1);
  }
}

static int write_bytes(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = size ? fwrite(data, 1, size, f) : 0;
  return fclose(f) == 0 && w == size ? 0 : -1;
}

/* The whole file, malloc'ed; NULL if unreadable. */
static unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  size_t r = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if ((long)r != n) {
    free(buf);
    return NULL;
  }
  *size = (size_t)n;
  return buf;
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int contains(const char *s, const char *w) { return s && strstr(s, w) != NULL; }

/* Direct SQLite access, bypassing fa_db: one integer from a query, -1 on failure. */
static long long sql_int(const char *path, const char *sql) {
  sqlite3 *h = NULL;
  long long v = -1;
  if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(h);
  return v;
}

/* One text value from a query, into out ("" on failure). */
static void sql_text(const char *path, const char *sql, char *out, size_t n) {
  sqlite3 *h = NULL;
  out[0] = 0;
  if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(h);
}

static int sql_exec(const char *path, const char *sql) {
  sqlite3 *h = NULL;
  int ok = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK &&
           sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK;
  sqlite3_close(h);
  return ok ? 0 : -1;
}

static int has_table(const char *path, const char *name) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", name);
  return sql_int(path, sql) == 1;
}

static fa_db_gpu gpu_of(const char *name, int arch) {
  fa_db_gpu g;
  memset(&g, 0, sizeof g);
  snprintf(g.name, sizeof g.name, "%s", name);
  g.arch = arch;
  g.sm_count = 132;
  g.driver = 12080;
  g.nvrtc = 12080;
  return g;
}

/* A bucket from a problem: dtype, d, B, T (Tq = Tk), Hq, Hkv, causal. */
static fa_bucket bucket(fa_dtype dt, int d, int b, int t, int hq, int hkv, int causal) {
  fa_problem p;
  fa_problem_init(&p, dt, FA_LAYOUT_BSHD, b, t, t, hq, hkv, d);
  p.causal = causal;
  fa_bucket bk;
  fa_db_bucket_of(&p, &bk);
  return bk;
}

/* ---- 1. Schema creation and migration ------------------------------------------------ */

static void check_schema(const char *path) {
  CHECKM(sql_int(path, "PRAGMA user_version") == FA_DB_SCHEMA, "%s: user_version %lld", path,
         sql_int(path, "PRAGMA user_version"));
  CHECK(has_table(path, "gpus"));
  CHECK(has_table(path, "buckets"));
  CHECK(has_table(path, "measurements"));
  CHECK(has_table(path, "winners"));
}

/* Opens path in mode and expects NULL with word in the reason. */
static void expect_refused(const char *path, int mode, const char *word, int line) {
  char why[4096] = "";
  fa_db *db = fa_db_open(path, mode, why, sizeof why);
  if (db) {
    failed++;
    fprintf(stderr, "FAIL %s:%d: %s opened (mode %d), expected NULL ('%s')\n", __FILE__, line, path, mode,
            word ? word : "");
    fa_db_close(db);
    return;
  }
  if (!why[0] || (word && !contains(why, word))) {
    failed++;
    fprintf(stderr, "FAIL %s:%d: %s (mode %d): reason '%s', expected '%s'\n", __FILE__, line, path, mode, why,
            word ? word : "(any)");
    return;
  }
  passed++;
}
#define EXPECT_REFUSED(path, mode, word) expect_refused(path, mode, word, __LINE__)

/* A real fa database with n measurements and one winner, closed. */
static void make_real(const char *path, int n) {
  char why[4096];
  fa_db *db = fa_db_open(path, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  if (!db) return;
  fa_db_gpu g = gpu_of(H100, 90);
  fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);
  char shape[128];
  for (int i = 0; i < n; ++i) {
    snprintf(shape, sizeof shape, "B2 T1000 Hq8 Hkv8 d128 causal run %d with some padding to fill pages", i);
    CHECK(fa_db_add_measurement(db, &g, &b, "fwd_sm80_d128_bf16_m128n64_w8_s2_g1", shape, 1.0 + i, 0.01, 20,
                                300.0, NULL) == 0);
  }
  CHECK(fa_db_set_winner(db, &g, &b, "fwd_sm80_d128_bf16_m128n64_w8_s2_g1", 1.0, 300.0, NULL) == 0);
  fa_db_close(db);
}

/* Runs fa_db_open(path, mode) and the lookups/writes an open database allows,
** in a child process: returns 0 if the child exited normally (no crash),
** whatever the result. *opened gets 1 if the open succeeded. */
static int survives(const char *path, int mode, int *opened) {
  int fd[2];
  if (pipe(fd)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    char why[4096] = "", key[128];
    fa_db *db = fa_db_open(path, mode, why, sizeof why);
    char c = db ? '1' : '0';
    if (write(fd[1], &c, 1) != 1) _exit(3);
    if (db) {
      fa_db_gpu g = gpu_of(H100, 90);
      fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);
      fa_db_lookup(db, &g, &b, key, sizeof key, why, sizeof why);
      fa_db_has_winner(db, &g, &b);
      if (mode) fa_db_add_measurement(db, &g, &b, "k", "s", 1, 0, 1, 1, NULL);
      fa_db_close(db);
    } else if (!why[0]) {
      _exit(2); /* NULL without a reason */
    }
    _exit(0);
  }
  close(fd[1]);
  char c = '?';
  if (read(fd[0], &c, 1) != 1) c = '?';
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  *opened = c == '1';
  if (!WIFEXITED(st)) fprintf(stderr, "  %s (mode %d): child died with signal %d\n", path, mode, WTERMSIG(st));
  else if (WEXITSTATUS(st)) fprintf(stderr, "  %s (mode %d): child exit %d\n", path, mode, WEXITSTATUS(st));
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void test_schema(void) {
  char dir[512], p[1024], why[4096];
  tmpdir(dir, sizeof dir, "schema");

  /* A new path read-write: directories and schema created. */
  join(p, sizeof p, dir, "new/sub/fresh.db");
  fa_db *db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  CHECK(db && strcmp(fa_db_path(db), p) == 0);
  fa_db_close(db);
  check_schema(p);
  /* Opening it again (read-write and read-only) keeps it as it is. */
  db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_close(db);
  db = fa_db_open(p, 0, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_close(db);
  check_schema(p);

  /* An empty (0-byte) file: read-only refuses ("empty") and leaves it empty;
  ** read-write migrates it. */
  join(p, sizeof p, dir, "empty.db");
  CHECK(write_bytes(p, "", 0) == 0);
  EXPECT_REFUSED(p, 0, "empty");
  struct stat sb;
  CHECK(stat(p, &sb) == 0 && sb.st_size == 0);
  db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_close(db);
  check_schema(p);

  /* A newer schema: refused read-only and read-write, and not modified. */
  join(p, sizeof p, dir, "newer.db");
  char sql[256];
  snprintf(sql, sizeof sql, "CREATE TABLE future(x); INSERT INTO future VALUES(42); PRAGMA user_version=%d;",
           FA_DB_SCHEMA + 1);
  CHECK(sql_exec(p, sql) == 0);
  size_t n0 = 0, n1 = 0;
  unsigned char *before = read_all(p, &n0);
  EXPECT_REFUSED(p, 0, "newer");
  EXPECT_REFUSED(p, 1, "newer");
  unsigned char *after = read_all(p, &n1);
  CHECKM(before && after && n0 == n1 && memcmp(before, after, n0) == 0,
         "a newer-schema database was modified by a refused read-write open (%zu -> %zu bytes%s)", n0, n1,
         before && after && n0 == n1 && n0 > 19 && (before[18] != after[18] || before[19] != after[19])
             ? ", journal mode switched to WAL"
             : "");
  free(before);
  free(after);
  CHECK(sql_int(p, "PRAGMA user_version") == FA_DB_SCHEMA + 1);
  CHECK(sql_int(p, "SELECT x FROM future") == 42);

  /* A foreign database (its own table, user_version 0): refused, not modified. */
  join(p, sizeof p, dir, "foreign.db");
  CHECK(sql_exec(p, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES('mine');") ==
        0);
  before = read_all(p, &n0);
  EXPECT_REFUSED(p, 0, "foreign");
  EXPECT_REFUSED(p, 1, "foreign");
  after = read_all(p, &n1);
  CHECKM(before && after && n0 == n1 && memcmp(before, after, n0) == 0,
         "a foreign database was modified by a refused read-write open (%zu -> %zu bytes%s)", n0, n1,
         before && after && n0 == n1 && n0 > 19 && (before[18] != after[18] || before[19] != after[19])
             ? ", journal mode switched to WAL"
             : "");
  free(before);
  free(after);
  CHECK(sql_int(p, "PRAGMA user_version") == 0);
  CHECK(!has_table(p, "winners"));
  char jm[32];
  sql_text(p, "PRAGMA journal_mode", jm, sizeof jm);
  CHECKM(strcmp(jm, "wal") != 0, "the foreign database's journal mode is now '%s'", jm);

  /* Random bytes: NULL with a reason, no crash, read-only and read-write. */
  unsigned char junk[8192];
  unsigned x = 12345u;
  for (size_t i = 0; i < sizeof junk; ++i) {
    x = x * 1103515245u + 12345u;
    junk[i] = (unsigned char)(x >> 16);
  }
  join(p, sizeof p, dir, "random.db");
  CHECK(write_bytes(p, junk, sizeof junk) == 0);
  EXPECT_REFUSED(p, 0, NULL);
  EXPECT_REFUSED(p, 1, NULL);
  CHECK(write_bytes(p, junk, sizeof junk) == 0);
  int opened;
  CHECK(survives(p, 0, &opened) == 0 && !opened);
  CHECK(survives(p, 1, &opened) == 0 && !opened);
  /* The SQLite magic followed by garbage. */
  memcpy(junk, "SQLite format 3", 16);
  join(p, sizeof p, dir, "magic.db");
  CHECK(write_bytes(p, junk, sizeof junk) == 0);
  CHECK(survives(p, 0, &opened) == 0 && !opened);
  CHECK(survives(p, 1, &opened) == 0 && !opened);

  /* A truncated real database (several pages, cut short). */
  char real[1024];
  join(real, sizeof real, dir, "real.db");
  make_real(real, 400);
  size_t rn = 0;
  unsigned char *rb = read_all(real, &rn);
  CHECK(rb && rn > 4 * 4096);
  join(p, sizeof p, dir, "real.db-wal"); /* closed: checkpointed, the main file holds everything */
  CHECK(!exists(p) || (stat(p, &sb) == 0 && sb.st_size == 0));
  if (rb) {
    const size_t cutlist[] = {50, 100, 1000, 4096, 4096 + 100, 2 * 4096, rn / 2, rn - 100};
    const int ncut = (int)(sizeof cutlist / sizeof *cutlist);
    for (int i = 0; i < ncut; ++i) {
      for (int mode = 0; mode < 2; ++mode) {
        snprintf(p, sizeof p, "%s/trunc_%zu_%d.db", dir, cutlist[i], mode);
        CHECK(write_bytes(p, rb, cutlist[i]) == 0);
        int ok = survives(p, mode, &opened) == 0;
        CHECKM(ok, "truncated to %zu bytes, mode %d: crashed", cutlist[i], mode);
        /* Whole pages missing: refused (the header's page count exceeds the file). */
        if (cutlist[i] + 4096 <= rn) CHECKM(!opened, "truncated to %zu of %zu bytes, mode %d: opened", cutlist[i], rn, mode);
        if (ok && opened) {
          /* Opening is acceptable only if what it opened is usable. */
          long long ic = sql_int(p, "SELECT count(*) FROM measurements");
          char icr[64];
          sql_text(p, "PRAGMA quick_check", icr, sizeof icr);
          CHECKM(strcmp(icr, "ok") == 0,
                 "a database truncated to %zu of %zu bytes was opened (mode %d) though corrupt "
                 "(quick_check '%s', %lld measurements readable)",
                 cutlist[i], rn, mode, icr, ic);
        }
      }
    }
    free(rb);
  }

  /* Missing file, read-only: NULL, "not found", and not created. */
  join(p, sizeof p, dir, "missing.db");
  EXPECT_REFUSED(p, 0, "not found");
  CHECK(!exists(p));
  EXPECT_REFUSED("", 0, NULL);
  EXPECT_REFUSED(NULL, 1, NULL);

  /* Read-write where the file cannot be created (beneath a regular file). */
  char reg[1024];
  join(reg, sizeof reg, dir, "regular");
  CHECK(write_bytes(reg, "x", 1) == 0);
  join(p, sizeof p, reg, "sub/t.db");
  EXPECT_REFUSED(p, 1, NULL);
  EXPECT_REFUSED(p, 0, "not found");

  /* A read-only file (0444): read-only open works and reads. */
  char rodir[1024];
  join(rodir, sizeof rodir, dir, "ro");
  CHECK(mkdir(rodir, 0755) == 0);
  join(p, sizeof p, rodir, "ro.db");
  make_real(p, 3);
  CHECK(chmod(p, 0444) == 0);
  db = fa_db_open(p, 0, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  if (db) {
    fa_db_gpu g = gpu_of(H100, 90);
    fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);
    char key[128] = "";
    CHECK(fa_db_lookup(db, &g, &b, key, sizeof key, why, sizeof why) == 1);
    CHECK(strcmp(key, "fwd_sm80_d128_bf16_m128n64_w8_s2_g1") == 0);
    CHECK(fa_db_add_measurement(db, &g, &b, "k", "s", 1, 0, 1, 1, NULL) == -1); /* read-only: no writes */
    CHECK(fa_db_set_winner(db, &g, &b, "k", 1, 1, NULL) == -1);
    fa_db_close(db);
  }
  if (geteuid() != 0) {
    db = fa_db_open(p, 1, why, sizeof why);
    CHECKM(db == NULL, "a 0444 file opened read-write");
    fa_db_close(db);
  }
  /* As root, permissions do not bite; a reader without write access to the
  ** directory is tested in a child that drops to nobody. */
  if (geteuid() == 0) {
    CHECK(chmod(rodir, 0555) == 0);
    pid_t pid = fork();
    if (pid == 0) {
      if (setgid(65534) || setuid(65534)) _exit(77);
      if (access(p, R_OK) != 0) _exit(77);
      char w[4096] = "";
      fa_db *d = fa_db_open(p, 0, w, sizeof w);
      if (!d) {
        fprintf(stderr, "  unprivileged read-only open: %s\n", w);
        _exit(1);
      }
      fa_db_gpu g = gpu_of(H100, 90);
      fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);
      char key[128] = "";
      int ok = fa_db_lookup(d, &g, &b, key, sizeof key, w, sizeof w);
      fa_db_close(d);
      _exit(ok ? 0 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
      printf("note: could not drop to uid 65534; unprivileged reader not tested\n");
    } else {
      CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == 0,
             "a 0444 database in a read-only directory cannot be read by an unprivileged user (exit %d)",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    chmod(rodir, 0755);
  }
}

/* ---- 2. Bucketing ------------------------------------------------------------------ */

static void test_bucket(void) {
  fa_problem p;
  fa_bucket b;
  const int tq[][2] = {{867, 1024}, {1024, 1024}, {1025, 2048}, {1, 1}, {2, 2}, {3, 4}, {65536, 65536}, {65537, 131072}};
  for (size_t i = 0; i < sizeof tq / sizeof *tq; ++i) {
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, tq[i][0], 100, 1, 1, 128);
    fa_db_bucket_of(&p, &b);
    CHECKM(b.tq == tq[i][1], "Tq %d -> %d, want %d", tq[i][0], b.tq, tq[i][1]);
    CHECK(b.tk == 128);
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 100, tq[i][0], 1, 1, 128);
    fa_db_bucket_of(&p, &b);
    CHECKM(b.tk == tq[i][1], "Tk %d -> %d, want %d", tq[i][0], b.tk, tq[i][1]);
    CHECK(b.tq == 128);
  }
  /* bh: the power of two at or above batch x heads_q. */
  const int bh[][3] = {{1, 1, 1}, {3, 5, 16}, {2, 8, 16}, {4, 8, 32}, {1, 7, 8}, {7, 1, 8}, {1000, 64, 65536}};
  for (size_t i = 0; i < sizeof bh / sizeof *bh; ++i) {
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, bh[i][0], 64, 64, bh[i][1], 1, 128);
    fa_db_bucket_of(&p, &b);
    CHECKM(b.bh == bh[i][2], "B %d x Hq %d -> bh %d, want %d", bh[i][0], bh[i][1], b.bh, bh[i][2]);
  }
  /* The exact part. */
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 1000, 1000, 8, 8, 128);
  fa_db_bucket_of(&p, &b);
  CHECKM(strcmp(b.exact, "bf16_d128_g1") == 0, "'%s'", b.exact);
  fa_problem_init(&p, FA_DTYPE_FP16, FA_LAYOUT_BHSD, 2, 1000, 1000, 8, 2, 64);
  fa_db_bucket_of(&p, &b);
  CHECKM(strcmp(b.exact, "fp16_d64_g4") == 0, "'%s'", b.exact);
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 300, 500, 8, 1, 256);
  p.features = FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS | FA_FEAT_LSE | FA_FEAT_SEQLENS;
  p.softcap = 50.f;
  p.causal = 1;
  p.window_left = 100;
  fa_db_bucket_of(&p, &b);
  CHECKM(strcmp(b.exact, "bf16_d256_g8_pos_seg_softcap_causal_window") == 0, "'%s'", b.exact);
  CHECK(b.tq == 512 && b.tk == 512 && b.bh == 8);
  /* Each flag alone, in its place. */
  struct {
    unsigned feat;
    float softcap;
    int causal, wl, wr;
    const char *want;
  } fl[] = {
      {FA_FEAT_POSITIONS, 0, 0, -1, -1, "bf16_d128_g1_pos"},
      {FA_FEAT_SEGMENTS, 0, 0, -1, -1, "bf16_d128_g1_seg"},
      {0, 30.f, 0, -1, -1, "bf16_d128_g1_softcap"},
      {0, 0, 1, -1, -1, "bf16_d128_g1_causal"},
      {0, 0, 0, 0, -1, "bf16_d128_g1_window"},
      {0, 0, 0, -1, 0, "bf16_d128_g1_window"},
      {FA_FEAT_LSE | FA_FEAT_SEQLENS, 0, 0, -1, -1, "bf16_d128_g1"}, /* per-call data, not a kernel choice */
      {FA_FEAT_SEGMENTS, 30.f, 1, -1, -1, "bf16_d128_g1_seg_softcap_causal"},
      {FA_FEAT_POSITIONS, 0, 0, 10, 10, "bf16_d128_g1_pos_window"},
  };
  for (size_t i = 0; i < sizeof fl / sizeof *fl; ++i) {
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 64, 64, 4, 4, 128);
    p.features = fl[i].feat;
    p.softcap = fl[i].softcap;
    p.causal = fl[i].causal;
    p.window_left = fl[i].wl;
    p.window_right = fl[i].wr;
    fa_db_bucket_of(&p, &b);
    CHECKM(strcmp(b.exact, fl[i].want) == 0, "'%s', want '%s'", b.exact, fl[i].want);
  }
  /* Nearby lengths share a bucket; anything in the exact part separates. */
  fa_bucket a = bucket(FA_DTYPE_BF16, 128, 2, 900, 8, 8, 1), c = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);
  CHECK(memcmp(&a, &c, sizeof a) == 0);
  c = bucket(FA_DTYPE_BF16, 128, 2, 513, 8, 8, 1);
  CHECK(memcmp(&a, &c, sizeof a) == 0);
  c = bucket(FA_DTYPE_BF16, 128, 2, 1024, 7, 7, 1); /* bh 14 -> 16 as 2 x 8 */
  CHECK(memcmp(&a, &c, sizeof a) == 0);
  c = bucket(FA_DTYPE_BF16, 128, 2, 1025, 8, 8, 1);
  CHECK(strcmp(a.exact, c.exact) == 0 && a.tq != c.tq);
  fa_bucket o[] = {
      bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 4, 1), /* GQA 2 */
      bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 1, 1), /* MQA */
      bucket(FA_DTYPE_FP16, 128, 2, 1000, 8, 8, 1), /* dtype */
      bucket(FA_DTYPE_BF16, 64, 2, 1000, 8, 8, 1),  /* head_dim */
      bucket(FA_DTYPE_BF16, 256, 2, 1000, 8, 8, 1),
      bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 0), /* not causal */
  };
  for (size_t i = 0; i < sizeof o / sizeof *o; ++i) {
    CHECKM(strcmp(a.exact, o[i].exact) != 0, "'%s' vs '%s'", a.exact, o[i].exact);
    for (size_t j = 0; j < i; ++j) CHECKM(strcmp(o[j].exact, o[i].exact) != 0, "'%s'", o[i].exact);
  }
  fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 2, 1000, 1000, 8, 8, 128);
  p.causal = 1;
  fa_db_bucket_of(&p, &a);
  p.softcap = 30.f;
  fa_db_bucket_of(&p, &c);
  CHECK(strcmp(a.exact, c.exact) != 0);
  p.softcap = 0;
  p.features = FA_FEAT_SEGMENTS;
  fa_db_bucket_of(&p, &c);
  CHECK(strcmp(a.exact, c.exact) != 0);
}

/* ---- 3. Writes and lookup ------------------------------------------------------------ */

struct collect {
  int n;
  char keys[16][64];
  fa_bucket b[16];
};

static void collect_fn(const char *variant, const fa_bucket *b, void *arg) {
  struct collect *c = arg;
  if (c->n < 16) {
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", variant);
    c->b[c->n] = *b;
  }
  c->n++;
}

static void test_lookup(void) {
  char dir[512], p[1024], why[4096], key[128];
  tmpdir(dir, sizeof dir, "lookup");
  join(p, sizeof p, dir, "t.db");
  fa_db *db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  if (!db) return;
  fa_db_gpu h100 = gpu_of(H100, 90);
  fa_bucket b1k = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1);  /* tq tk 1024, bh 16 */
  fa_bucket b8k = bucket(FA_DTYPE_BF16, 128, 2, 8000, 8, 8, 1);  /* 8192 */
  fa_bucket b2k = bucket(FA_DTYPE_BF16, 128, 2, 2000, 8, 8, 1);  /* 2048: missing */
  fa_bucket b4k = bucket(FA_DTYPE_BF16, 128, 2, 4000, 8, 8, 1);  /* 4096: missing */
  fa_bucket bbh = bucket(FA_DTYPE_BF16, 128, 8, 1000, 8, 8, 1);  /* bh 64: missing */
  fa_bucket fp = bucket(FA_DTYPE_FP16, 128, 2, 1000, 8, 8, 1);   /* another exact part */
  fa_bucket gqa = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 2, 1);  /* another exact part */
  CHECK(fa_db_set_winner(db, &h100, &b1k, "K1K", 1.0, 300, NULL) == 0);
  CHECK(fa_db_set_winner(db, &h100, &b8k, "K8K", 9.0, 320, NULL) == 0);
  CHECK(fa_db_set_winner(db, &h100, &gqa, "KGQA", 1.0, 200, NULL) == 0);

  /* Exact. */
  key[0] = why[0] = 0;
  CHECK(fa_db_lookup(db, &h100, &b1k, key, sizeof key, why, sizeof why) == 1);
  CHECKM(strcmp(key, "K1K") == 0, "%s", key);
  CHECKM(contains(why, "exact") && contains(why, p) && contains(why, H100), "%s", why);
  CHECK(fa_db_lookup(db, &h100, &b8k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K8K") == 0);
  CHECK(fa_db_lookup(db, &h100, &gqa, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "KGQA") == 0);
  CHECK(fa_db_lookup(db, &h100, &b1k, key, sizeof key, NULL, 0) == 1 && strcmp(key, "K1K") == 0);
  /* Nearest: the closest in log2 distance. */
  CHECK(fa_db_lookup(db, &h100, &b2k, key, sizeof key, why, sizeof why) == 1);
  CHECKM(strcmp(key, "K1K") == 0, "T2048: %s", key);
  CHECKM(contains(why, "nearest") && !contains(why, "exact"), "%s", why);
  CHECK(fa_db_lookup(db, &h100, &b4k, key, sizeof key, why, sizeof why) == 1);
  CHECKM(strcmp(key, "K8K") == 0, "T4096: %s", key);
  CHECK(contains(why, "nearest"));
  CHECK(fa_db_lookup(db, &h100, &bbh, key, sizeof key, why, sizeof why) == 1);
  CHECKM(strcmp(key, "K1K") == 0 && contains(why, "nearest"), "bh64: %s %s", key, why);
  /* The same order of insertion reversed gives the same answers. */
  fa_bucket b16k = bucket(FA_DTYPE_BF16, 128, 2, 16000, 8, 8, 1);
  CHECK(fa_db_lookup(db, &h100, &b16k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K8K") == 0);
  fa_bucket b1 = bucket(FA_DTYPE_BF16, 128, 1, 1, 1, 1, 1);
  CHECK(fa_db_lookup(db, &h100, &b1, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K1K") == 0);

  /* Misses: another GPU name, another arch, another exact part. */
  fa_db_gpu other = gpu_of("NVIDIA A100-SXM4-80GB", 80), h100_80 = gpu_of(H100, 80), h100b = gpu_of("NVIDIA H100", 90);
  strcpy(key, "untouched");
  CHECK(fa_db_lookup(db, &other, &b1k, key, sizeof key, why, sizeof why) == 0);
  CHECK(fa_db_lookup(db, &h100_80, &b1k, key, sizeof key, why, sizeof why) == 0);
  CHECK(fa_db_lookup(db, &h100b, &b1k, key, sizeof key, why, sizeof why) == 0);
  CHECK(fa_db_lookup(db, &h100, &fp, key, sizeof key, why, sizeof why) == 0);
  CHECK(strcmp(key, "untouched") == 0);
  CHECK(fa_db_lookup(NULL, &h100, &b1k, key, sizeof key, why, sizeof why) == 0);
  /* A different driver / NVRTC of the same model still matches. */
  fa_db_gpu newer_driver = h100;
  newer_driver.driver = 13000;
  newer_driver.nvrtc = 13000;
  CHECK(fa_db_lookup(db, &newer_driver, &b1k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K1K") == 0);

  /* has_winner: exact bucket only. */
  CHECK(fa_db_has_winner(db, &h100, &b1k) == 1);
  CHECK(fa_db_has_winner(db, &h100, &b8k) == 1);
  CHECK(fa_db_has_winner(db, &h100, &b2k) == 0);
  CHECK(fa_db_has_winner(db, &other, &b1k) == 0);
  CHECK(fa_db_has_winner(db, &h100_80, &b1k) == 0);
  CHECK(fa_db_has_winner(db, &h100, &fp) == 0);
  CHECK(fa_db_has_winner(NULL, &h100, &b1k) == 0);

  /* each_winner: count and round trip of the buckets. */
  struct collect c;
  memset(&c, 0, sizeof c);
  CHECK(fa_db_each_winner(db, &h100, collect_fn, &c) == 3);
  CHECK(c.n == 3);
  int seen = 0;
  for (int i = 0; i < c.n && i < 16; ++i) {
    if (strcmp(c.keys[i], "K1K") == 0 && memcmp(&c.b[i], &b1k, sizeof b1k) == 0) seen |= 1;
    if (strcmp(c.keys[i], "K8K") == 0 && memcmp(&c.b[i], &b8k, sizeof b8k) == 0) seen |= 2;
    if (strcmp(c.keys[i], "KGQA") == 0 && memcmp(&c.b[i], &gqa, sizeof gqa) == 0) seen |= 4;
  }
  CHECKM(seen == 7, "each_winner saw %d", seen);
  memset(&c, 0, sizeof c);
  CHECK(fa_db_each_winner(db, &other, collect_fn, &c) == 0 && c.n == 0);

  /* Another GPU's winners are its own. */
  CHECK(fa_db_set_winner(db, &other, &b1k, "KA100", 2.0, 150, NULL) == 0);
  CHECK(fa_db_lookup(db, &other, &b1k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "KA100") == 0);
  CHECK(fa_db_lookup(db, &h100, &b1k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K1K") == 0);
  memset(&c, 0, sizeof c);
  CHECK(fa_db_each_winner(db, &h100, collect_fn, &c) == 3);

  /* Measurements. */
  CHECK(fa_db_add_measurement(db, &h100, &b1k, "K1K", "B2 T1000", 1.0, 0.01, 20, 300, NULL) == 0);
  CHECK(fa_db_add_measurement(db, &h100, &b1k, "K_OTHER", "B2 T1000", 1.5, 0.02, 20, 200, NULL) == 0);
  CHECK(fa_db_add_measurement(db, &h100, &b2k, "K1K", NULL, 2.0, 0.01, 20, 300, NULL) == 0);
  CHECK(sql_int(p, "SELECT count(*) FROM measurements") == 3);
  CHECK(sql_int(p, "SELECT reps FROM measurements WHERE variant='K_OTHER'") == 20);
  char t[128];
  sql_text(p, "SELECT shape FROM measurements WHERE variant='K_OTHER'", t, sizeof t);
  CHECK(strcmp(t, "B2 T1000") == 0);
  sql_text(p, "SELECT at FROM measurements LIMIT 1", t, sizeof t);
  CHECKM(strlen(t) == 20 && t[4] == '-' && t[10] == 'T' && t[19] == 'Z', "at '%s'", t);
  /* A measurement is not a winner. */
  CHECK(fa_db_has_winner(db, &h100, &b2k) == 0);
  CHECK(fa_db_lookup(db, &h100, &b2k, key, sizeof key, why, sizeof why) == 1 && contains(why, "nearest"));
  /* gpus and buckets rows are shared, not duplicated. */
  CHECK(sql_int(p, "SELECT count(*) FROM gpus") == 2);
  CHECK(sql_int(p, "SELECT count(*) FROM buckets") == 4);

  /* set_winner twice replaces. */
  CHECK(sql_int(p, "SELECT count(*) FROM winners") == 4);
  CHECK(fa_db_set_winner(db, &h100, &b1k, "K1K_B", 0.9, 330, NULL) == 0);
  CHECK(sql_int(p, "SELECT count(*) FROM winners") == 4);
  CHECK(fa_db_lookup(db, &h100, &b1k, key, sizeof key, why, sizeof why) == 1);
  CHECKM(strcmp(key, "K1K_B") == 0, "%s", key);
  CHECK(fa_db_lookup(db, &h100, &b2k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K1K_B") == 0);

  /* A short key buffer truncates, never overflows. */
  char small[4] = "zzz";
  CHECK(fa_db_lookup(db, &h100, &b1k, small, sizeof small, why, sizeof why) == 1 && strcmp(small, "K1K") == 0);
  fa_db_close(db);

  /* The rows persist, and read-only sees them. */
  db = fa_db_open(p, 0, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  CHECK(fa_db_lookup(db, &h100, &b1k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K1K_B") == 0);
  CHECK(fa_db_has_winner(db, &h100, &b8k) == 1);
  CHECK(fa_db_set_winner(db, &h100, &b1k, "NO", 1, 1, NULL) == -1);
  fa_db_close(db);
  sql_text(p, "PRAGMA integrity_check", t, sizeof t);
  CHECK(strcmp(t, "ok") == 0);

  /* Writes to NULL fail cleanly. */
  CHECK(fa_db_set_winner(NULL, &h100, &b1k, "K", 1, 1, NULL) == -1);
  CHECK(fa_db_add_measurement(NULL, &h100, &b1k, "K", "s", 1, 0, 1, 1, NULL) == -1);
  CHECK(fa_db_each_winner(NULL, &h100, collect_fn, &c) == 0);

  /* vacuum_into makes a standalone copy that opens read-only. */
  char vac[1024];
  join(vac, sizeof vac, dir, "vac.db");
  db = fa_db_open(p, 1, why, sizeof why);
  CHECK(db && fa_db_vacuum_into(db, vac, why, sizeof why) == 0);
  fa_db_close(db);
  db = fa_db_open(vac, 0, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  CHECK(fa_db_lookup(db, &h100, &b8k, key, sizeof key, why, sizeof why) == 1 && strcmp(key, "K8K") == 0);
  fa_db_close(db);
}

/* ---- 4. Layering ---------------------------------------------------------------- */

static void set1(const char *path, const fa_db_gpu *g, const fa_bucket *b, const char *key) {
  char why[4096];
  fa_db *db = fa_db_open(path, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  CHECK(db && fa_db_set_winner(db, g, b, key, 1.0, 100, NULL) == 0);
  fa_db_close(db);
}

/* Schema 1 (fa before kernel text hashes): read as it is read-only, migrated
** read-write with its rows; texts round-trip through writes and lookups. */
static void test_text(void) {
  char dir[512], p[1024], why[4096], key[160], text[32];
  tmpdir(dir, sizeof dir, "text");
  join(p, sizeof p, dir, "v1.db");
  CHECK(sql_exec(p,
                 "CREATE TABLE gpus(id INTEGER PRIMARY KEY, name TEXT NOT NULL, arch INTEGER NOT NULL,"
                 " sm_count INTEGER, driver INTEGER, nvrtc INTEGER, fa_version TEXT NOT NULL,"
                 " UNIQUE(name, arch, driver, nvrtc, fa_version));"
                 "CREATE TABLE buckets(id INTEGER PRIMARY KEY, exact TEXT NOT NULL, tq INTEGER NOT NULL,"
                 " tk INTEGER NOT NULL, bh INTEGER NOT NULL, UNIQUE(exact, tq, tk, bh));"
                 "CREATE TABLE measurements(id INTEGER PRIMARY KEY, gpu_id INTEGER NOT NULL REFERENCES gpus,"
                 " bucket_id INTEGER NOT NULL REFERENCES buckets, variant TEXT NOT NULL, shape TEXT, median_ms REAL,"
                 " spread REAL, reps INTEGER, tflops REAL, at TEXT NOT NULL);"
                 "CREATE TABLE winners(gpu_id INTEGER NOT NULL REFERENCES gpus,"
                 " bucket_id INTEGER NOT NULL REFERENCES buckets, variant TEXT NOT NULL, median_ms REAL, tflops REAL,"
                 " at TEXT NOT NULL, PRIMARY KEY(gpu_id, bucket_id));"
                 "INSERT INTO gpus VALUES(1, 'NVIDIA H100 80GB HBM3', 90, 132, 13000, 13000, '0.1.0');"
                 "INSERT INTO buckets VALUES(1, 'bf16_d128_g1_causal', 1024, 1024, 8);"
                 "INSERT INTO winners VALUES(1, 1, 'OLD', 1.0, 100, '2026-11-25T00:00:00Z');"
                 "PRAGMA user_version = 1;") == 0);
  fa_db_gpu g = gpu_of(H100, 90);
  fa_bucket b = bucket(FA_DTYPE_BF16, 128, 1, 1000, 8, 8, 1);
  fa_db_layers l;
  fa_db_layers_open(&l, p, "/nonexistent/user.db", NULL);
  strcpy(text, "x");
  CHECKM(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, text, sizeof text) == 1 &&
             strcmp(key, "OLD") == 0 && text[0] == 0, "read-only schema 1: %s / '%s' (%s)", key, text, l.describe);
  fa_db_layers_close(&l);
  CHECK(sql_int(p, "PRAGMA user_version") == 1);  /* read-only: left as it was */
  fa_db *db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_close(db);
  check_schema(p);
  CHECK(has_table(p, "variants") && sql_int(p, "SELECT count(*) FROM winners WHERE variant = 'OLD'") == 1);
  /* A text written is a text read, and the variants table keeps each (key, text) once. */
  db = fa_db_open(p, 1, why, sizeof why);
  CHECK(db && fa_db_add_measurement(db, &g, &b, "NEW", "s", 1.0, 0, 10, 100, "00000000000000aa") == 0);
  CHECK(db && fa_db_add_measurement(db, &g, &b, "NEW", "s", 0.9, 0, 30, 110, "00000000000000aa") == 0);
  CHECK(db && fa_db_set_winner(db, &g, &b, "NEW", 0.9, 110, "00000000000000aa") == 0);
  fa_db_close(db);
  CHECK(sql_int(p, "SELECT count(*) FROM variants WHERE key = 'NEW'") == 1);
  CHECK(sql_int(p, "SELECT count(*) FROM measurements WHERE text_hash = '00000000000000aa'") == 2);
  fa_db_layers_open(&l, p, "/nonexistent/user.db", NULL);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, text, sizeof text) == 1 &&
        strcmp(key, "NEW") == 0 && strcmp(text, "00000000000000aa") == 0);
  fa_db_layers_close(&l);
  /* The exact bucket's winner with its text (what a resumed tuning run compares). */
  db = fa_db_open(p, 0, why, sizeof why);
  CHECK(db && fa_db_winner_of(db, &g, &b, key, sizeof key, text, sizeof text) == 1 && strcmp(key, "NEW") == 0 &&
        strcmp(text, "00000000000000aa") == 0);
  fa_bucket other = bucket(FA_DTYPE_BF16, 128, 1, 4000, 8, 8, 1);
  CHECK(db && fa_db_winner_of(db, &g, &other, key, sizeof key, text, sizeof text) == 0);
  fa_db_close(db);
}

static void test_layers(void) {
  char dir[512], ship[1024], user[1024], bad[1024], missing[1024], out[4096], why[4096], key[128];
  tmpdir(dir, sizeof dir, "layers");
  join(ship, sizeof ship, dir, "shipped.db");
  join(user, sizeof user, dir, "user.db");
  join(bad, sizeof bad, dir, "corrupt.db");
  join(missing, sizeof missing, dir, "missing.db");
  fa_db_gpu g = gpu_of(H100, 90);
  fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1), only_ship = bucket(FA_DTYPE_FP16, 64, 1, 500, 4, 1, 0);
  set1(ship, &g, &b, "SHIPPED");
  set1(ship, &g, &only_ship, "SHIPPED_FP16");
  set1(user, &g, &b, "USER");

  fa_db_layers l;
  fa_db_layers_open(&l, ship, user, NULL);
  CHECK(l.user != NULL && l.shipped != NULL);
  CHECKM(contains(l.describe, ship) && contains(l.describe, user), "%s", l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "USER") == 0, "%s", key);
  CHECKM(contains(why, user) && contains(why, "exact"), "%s", why);
  CHECK(fa_db_layers_lookup(&l, &g, &only_ship, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "SHIPPED_FP16") == 0 && contains(why, ship), "%s %s", key, why);
  /* Walking the winners (fa-tune export): each bucket once, the user's row where both have one. */
  struct collect c;
  memset(&c, 0, sizeof c);
  CHECK(fa_db_layers_each_winner(&l, &g, collect_fn, &c) == 2 && c.n == 2);
  int got = 0;
  for (int i = 0; i < c.n && i < 16; ++i) {
    if (strcmp(c.keys[i], "USER") == 0 && memcmp(&c.b[i], &b, sizeof b) == 0) got |= 1;
    if (strcmp(c.keys[i], "SHIPPED_FP16") == 0 && memcmp(&c.b[i], &only_ship, sizeof b) == 0) got |= 2;
  }
  CHECKM(got == 3, "layered winners: %d (%s, %s)", got, c.keys[0], c.keys[1]);
  fa_db_gpu other = gpu_of("NVIDIA A100-SXM4-80GB", 80);
  CHECK(fa_db_layers_lookup(&l, &other, &b, key, sizeof key, why, sizeof why, NULL, 0) == 0);
  fa_db_layers_close(&l);
  CHECK(l.user == NULL && l.shipped == NULL);
  fa_db_layers_close(&l); /* twice is harmless */

  /* Only the shipped layer (the user's file does not exist). */
  fa_db_layers_open(&l, ship, missing, NULL);
  CHECK(l.user == NULL && l.shipped != NULL);
  CHECKM(contains(l.describe, ship) && contains(l.describe, missing) && contains(l.describe, "not found"), "%s",
         l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "SHIPPED") == 0 && contains(why, "exact"), "%s %s", key, why);
  fa_db_layers_close(&l);
  CHECK(!exists(missing)); /* layers open read-only: nothing created */

  /* A corrupt user file: skipped, with the reason; the shipped layer still serves. */
  char junk[4096];
  for (size_t i = 0; i < sizeof junk; ++i) junk[i] = (char)(i * 7 + 3);
  CHECK(write_bytes(bad, junk, sizeof junk) == 0);
  fa_db_layers_open(&l, ship, bad, NULL);
  CHECK(l.user == NULL && l.shipped != NULL);
  CHECKM(contains(l.describe, bad) && contains(l.describe, ship) && contains(l.describe, "not a database"), "%s",
         l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "SHIPPED") == 0);
  fa_db_layers_close(&l);

  /* A corrupt shipped file: the user layer still serves. */
  fa_db_layers_open(&l, bad, user, NULL);
  CHECK(l.user != NULL && l.shipped == NULL);
  CHECKM(contains(l.describe, bad) && contains(l.describe, user), "%s", l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "USER") == 0);
  CHECK(fa_db_layers_lookup(&l, &g, &only_ship, key, sizeof key, why, sizeof why, NULL, 0) == 0);
  fa_db_layers_close(&l);

  /* Neither usable: lookups miss, nothing crashes. */
  fa_db_layers_open(&l, bad, missing, NULL);
  CHECK(l.user == NULL && l.shipped == NULL);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 0);
  fa_db_layers_close(&l);

  /* An export directory's tuning.db is a layer between the user's and the shipped. */
  char exdir[1024], exdb[1024];
  join(exdir, sizeof exdir, dir, "export");
  CHECK(mkdir(exdir, 0755) == 0);
  join(exdb, sizeof exdb, exdir, "tuning.db");
  set1(exdb, &g, &b, "EXPORTED");
  set1(exdb, &g, &only_ship, "EXPORTED_FP16");
  fa_db_layers_open(&l, ship, user, exdir);
  CHECK(l.user && l.exported && l.shipped);
  CHECKM(contains(l.describe, exdb) && contains(l.describe, user) && contains(l.describe, ship), "%s", l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "USER") == 0);
  CHECK(fa_db_layers_lookup(&l, &g, &only_ship, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "EXPORTED_FP16") == 0 && contains(why, exdb), "%s %s", key, why);
  fa_db_layers_close(&l);
  CHECK(l.exported == NULL);
  fa_db_layers_open(&l, ship, missing, exdir);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "EXPORTED") == 0);
  fa_db_layers_close(&l);
  fa_db_layers_open(&l, ship, missing, dir); /* no tuning.db there: skipped with a reason */
  CHECK(l.exported == NULL && l.shipped != NULL);
  CHECKM(contains(l.describe, "export") && contains(l.describe, "not found"), "%s", l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "SHIPPED") == 0);
  fa_db_layers_close(&l);

  /* The user path: explicit, else $FA_TUNING_DB, else $XDG_DATA_HOME, else $HOME. */
  char *saved_env[3];
  const char *names[3] = {"FA_TUNING_DB", "XDG_DATA_HOME", "HOME"};
  for (int i = 0; i < 3; ++i) saved_env[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
  setenv("FA_TUNING_DB", user, 1);
  CHECK(fa_db_user_path(NULL, out, sizeof out) == 0 && strcmp(out, user) == 0);
  CHECK(fa_db_user_path("", out, sizeof out) == 0 && strcmp(out, user) == 0);
  CHECK(fa_db_user_path("/x/explicit.db", out, sizeof out) == 0 && strcmp(out, "/x/explicit.db") == 0);
  fa_db_layers_open(&l, ship, NULL, NULL);
  CHECK(l.user != NULL);
  CHECKM(contains(l.describe, user), "%s", l.describe);
  CHECK(fa_db_layers_lookup(&l, &g, &b, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "USER") == 0);
  fa_db_layers_close(&l);
  unsetenv("FA_TUNING_DB");
  setenv("XDG_DATA_HOME", "/xdg", 1);
  setenv("HOME", "/home/someone", 1);
  CHECK(fa_db_user_path(NULL, out, sizeof out) == 0 && strcmp(out, "/xdg/fa/tuning.db") == 0);
  setenv("XDG_DATA_HOME", "relative", 1); /* not absolute: ignored, per the XDG spec */
  CHECK(fa_db_user_path(NULL, out, sizeof out) == 0 && strcmp(out, "/home/someone/.local/share/fa/tuning.db") == 0);
  unsetenv("XDG_DATA_HOME");
  CHECK(fa_db_user_path(NULL, out, sizeof out) == 0 && strcmp(out, "/home/someone/.local/share/fa/tuning.db") == 0);
  unsetenv("HOME");
  CHECK(fa_db_user_path(NULL, out, sizeof out) == -1);
  char tiny[8];
  CHECK(fa_db_user_path("/a/long/path/tuning.db", tiny, sizeof tiny) == -1);
  for (int i = 0; i < 3; ++i) {
    if (saved_env[i]) setenv(names[i], saved_env[i], 1);
    else unsetenv(names[i]);
    free(saved_env[i]);
  }
}

/* ---- 5. Concurrent writers ---------------------------------------------------------- */

enum { WRITERS = 4, MEAS_PER = 100, WIN_PER = 25 };

static int writer_child(const char *path, int c) {
  char why[4096];
  fa_db *db = fa_db_open(path, 1, why, sizeof why);
  if (!db) {
    fprintf(stderr, "  writer %d: open: %s\n", c, why);
    return 1;
  }
  fa_db_gpu g = gpu_of(H100, 90);
  int bad = 0;
  for (int i = 0; i < MEAS_PER; ++i) {
    fa_bucket b = bucket(FA_DTYPE_BF16, 128, 1, 1000, 8, 8, 1);
    char shape[64];
    snprintf(shape, sizeof shape, "writer %d row %d", c, i);
    if (fa_db_add_measurement(db, &g, &b, "fwd_k", shape, 1.0 + i, 0.01, 10, 100, NULL) != 0) {
      fprintf(stderr, "  writer %d: measurement %d: %s\n", c, i, fa_db_errmsg(db));
      bad++;
    }
    if (i % 4 == 0) {
      fa_bucket w;
      memset(&w, 0, sizeof w);
      snprintf(w.exact, sizeof w.exact, "bf16_d128_g1_causal");
      w.tq = 1 << (i / 4); /* 25 distinct per writer */
      w.tk = 1 << c;       /* distinct across writers */
      w.bh = 16;
      char k[64];
      snprintf(k, sizeof k, "win_%d_%d", c, i / 4);
      if (fa_db_set_winner(db, &g, &w, k, 1.0, 100, NULL) != 0) {
        fprintf(stderr, "  writer %d: winner %d: %s\n", c, i / 4, fa_db_errmsg(db));
        bad++;
      }
    }
  }
  fa_db_close(db);
  return bad ? 1 : 0;
}

static void run_writers(const char *path, const char *what) {
  pid_t pids[WRITERS];
  for (int c = 0; c < WRITERS; ++c) {
    pids[c] = fork();
    if (pids[c] == 0) _exit(writer_child(path, c));
    CHECK(pids[c] > 0);
  }
  for (int c = 0; c < WRITERS; ++c) {
    int st = 0;
    if (pids[c] <= 0) continue;
    waitpid(pids[c], &st, 0);
    CHECKM(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: writer %d failed (status 0x%x)", what, c, st);
  }
  long long m = sql_int(path, "SELECT count(*) FROM measurements"), w = sql_int(path, "SELECT count(*) FROM winners");
  CHECKM(m == WRITERS * MEAS_PER, "%s: %lld measurements", what, m);
  CHECKM(w == WRITERS * WIN_PER, "%s: %lld winners", what, w);
  CHECK(sql_int(path, "SELECT count(DISTINCT shape) FROM measurements") == WRITERS * MEAS_PER);
  CHECK(sql_int(path, "SELECT count(*) FROM gpus") == 1);
  CHECK(sql_int(path, "SELECT count(*) FROM buckets") == 1 + WRITERS * WIN_PER);
  char ic[64];
  sql_text(path, "PRAGMA integrity_check", ic, sizeof ic);
  CHECK(strcmp(ic, "ok") == 0);
  /* Every winner is found by its own bucket. */
  char why[4096], key[64], want[64];
  fa_db *db = fa_db_open(path, 0, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_gpu g = gpu_of(H100, 90);
  int found = 0;
  for (int c = 0; db && c < WRITERS; ++c)
    for (int i = 0; i < WIN_PER; ++i) {
      fa_bucket b;
      memset(&b, 0, sizeof b);
      snprintf(b.exact, sizeof b.exact, "bf16_d128_g1_causal");
      b.tq = 1 << i;
      b.tk = 1 << c;
      b.bh = 16;
      snprintf(want, sizeof want, "win_%d_%d", c, i);
      found += fa_db_lookup(db, &g, &b, key, sizeof key, why, sizeof why) == 1 && strcmp(key, want) == 0 &&
               contains(why, "exact");
    }
  CHECK(found == WRITERS * WIN_PER);
  fa_db_close(db);
}

static void test_concurrent(void) {
  char dir[512], p[1024], why[4096];
  tmpdir(dir, sizeof dir, "conc");
  /* The schema made first, then four writers on the one file. */
  join(p, sizeof p, dir, "shared.db");
  fa_db *db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  fa_db_close(db);
  run_writers(p, "existing file");
}

/* Four processes opening the same new file at once, several rounds: each must
** get a usable database (the schema is made once, by one of them). */
static void test_concurrent_create(void) {
  char dir[512], p[1024];
  tmpdir(dir, sizeof dir, "create");
  int refused = 0, rounds = 30;
  for (int r = 0; r < rounds; ++r) {
    snprintf(p, sizeof p, "%s/race_%d.db", dir, r);
    int fd[2];
    if (pipe(fd)) break;
    pid_t pids[WRITERS];
    for (int c = 0; c < WRITERS; ++c) {
      pids[c] = fork();
      if (pids[c] == 0) {
        close(fd[1]);
        char go;
        if (read(fd[0], &go, 1) < 0) _exit(3); /* all start together */
        char why[4096];
        fa_db *db = fa_db_open(p, 1, why, sizeof why);
        if (!db) {
          fprintf(stderr, "  round %d, process %d: %s\n", r, c, why);
          _exit(1);
        }
        fa_db_gpu g = gpu_of(H100, 90);
        fa_bucket b = bucket(FA_DTYPE_BF16, 128, 1, 1000, 8, 8, 1);
        int bad = fa_db_add_measurement(db, &g, &b, "k", "s", 1, 0, 1, 1, NULL) != 0;
        fa_db_close(db);
        _exit(bad ? 2 : 0);
      }
    }
    close(fd[0]);
    close(fd[1]); /* EOF releases them */
    for (int c = 0; c < WRITERS; ++c) {
      int st = 0;
      if (pids[c] > 0) waitpid(pids[c], &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) refused++;
    }
    if (refused) break;
  }
  CHECKM(refused == 0, "processes creating the same new database at once: %d of them failed to open or write", refused);
}

/* ---- 6. Killed mid-write -------------------------------------------------------------- */

static void test_kill(void) {
  char dir[512], p[1024], why[4096];
  tmpdir(dir, sizeof dir, "kill");
  join(p, sizeof p, dir, "killed.db");
  int fd[2];
  if (pipe(fd)) return;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    fa_db *db = fa_db_open(p, 1, why, sizeof why);
    if (!db) _exit(1);
    fa_db_gpu g = gpu_of(H100, 90);
    char shape[64];
    for (long i = 0;; ++i) {
      fa_bucket b = bucket(FA_DTYPE_BF16, 128, 1, 1 + (int)(i % 5000), 8, 8, 1);
      snprintf(shape, sizeof shape, "row %ld", i);
      fa_db_add_measurement(db, &g, &b, "fwd_k", shape, 1.0, 0.0, 1, 1.0, NULL);
      if (i % 7 == 0) fa_db_set_winner(db, &g, &b, shape, 1.0, 1.0, NULL);
      if (i == 0) {
        char c = 'w';
        if (write(fd[1], &c, 1) != 1) _exit(2);
        close(fd[1]);
      }
    }
  }
  close(fd[1]);
  char c = 0;
  CHECK(read(fd[0], &c, 1) == 1 && c == 'w'); /* the first row is in */
  close(fd[0]);
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

  fa_db *db = fa_db_open(p, 0, why, sizeof why);
  CHECKM(db != NULL, "read-only after kill: %s", why);
  fa_db_gpu g = gpu_of(H100, 90);
  fa_bucket b = bucket(FA_DTYPE_BF16, 128, 1, 1, 8, 8, 1);
  char key[64];
  CHECK(db && fa_db_lookup(db, &g, &b, key, sizeof key, why, sizeof why) == 1);
  fa_db_close(db);
  db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "read-write after kill: %s", why);
  CHECK(db && fa_db_add_measurement(db, &g, &b, "after", "after kill", 1, 0, 1, 1, NULL) == 0);
  fa_db_close(db);
  db = fa_db_open(p, 0, why, sizeof why);
  CHECKM(db != NULL, "read-only after kill: %s", why);
  fa_db_close(db);
  char ic[64];
  sql_text(p, "PRAGMA integrity_check", ic, sizeof ic);
  CHECKM(strcmp(ic, "ok") == 0, "integrity_check: %s", ic);
  long long n = sql_int(p, "SELECT count(*) FROM measurements");
  CHECKM(n > 1, "%lld measurements", n);
  CHECK(sql_int(p, "SELECT count(*) FROM measurements WHERE variant='after'") == 1);
  printf("kill: %lld measurements survived\n", n);
}

/* ---- 7. The fallback chain through the public API --------------------------------------- */

static fa_status plan_for(fa_context *ctx, fa_dtype dt, int d, int t, int causal, fa_plan **plan) {
  fa_problem p;
  fa_problem_init(&p, dt, FA_LAYOUT_BSHD, 1, t, t, 8, 8, d);
  p.causal = causal;
  return fa_plan_create(ctx, &p, NULL, plan);
}

static void test_api(void) {
  char nvwhy[512];
  if (!fa_nvrtc_load(nvwhy, sizeof nvwhy)) {
    printf("note: NVRTC not available (%s); public-API fallback chain skipped\n", nvwhy);
    return;
  }
  unsetenv("FA_EXPORT_DIR");
  const char *WIN = "fwd_sm80_d128_bf16_m128n64_w8_s2_g1";
  const char *WIN_SHIP = "fwd_sm80_d128_bf16_m128n32_w4_s2_g1";
  const char *WRONG_D = "fwd_sm80_d64_bf16_m128n64_w4_s2_g1";
  char dir[512], user[1024], ship[1024];
  tmpdir(dir, sizeof dir, "api");
  join(user, sizeof user, dir, "user.db");
  join(ship, sizeof ship, dir, "shipped.db");
  fa_db_gpu g = gpu_of("no device (compiling for sm_90)", 90);
  fa_bucket causal1k = bucket(FA_DTYPE_BF16, 128, 1, 1000, 8, 8, 1);
  fa_bucket plain1k = bucket(FA_DTYPE_BF16, 128, 1, 1000, 8, 8, 0);
  set1(user, &g, &causal1k, WIN);
  set1(user, &g, &plain1k, WRONG_D); /* cannot serve d128 */
  set1(ship, &g, &causal1k, WIN_SHIP);

  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 90;
  o.flags = FA_CTX_NO_DISK_CACHE;
  o.tuning_db = user;
  o.shipped_db = ship;
  fa_context *ctx = NULL;
  fa_status s = fa_context_create(&o, &ctx);
  CHECKM(s == FA_OK, "%s", fa_errmsg(NULL));
  if (s != FA_OK) return;
  const char *cd = fa_context_describe(ctx);
  CHECKM(contains(cd, "no device (compiling for sm_90)") && contains(cd, user) && contains(cd, ship), "%s", cd);

  /* The heuristic's choice, for comparison: it must differ from the stored winners
  ** for the checks below to mean anything. */
  fa_plan *plan = NULL;
  s = plan_for(ctx, FA_DTYPE_FP16, 128, 1000, 1, &plan);
  CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
  CHECKM(plan && contains(fa_plan_describe(plan), "heuristic") && !contains(fa_plan_describe(plan), "tuned"), "%s",
         fa_plan_describe(plan));
  fa_plan_destroy(plan);

  /* Exact bucket: the user's winner. */
  plan = NULL;
  s = plan_for(ctx, FA_DTYPE_BF16, 128, 1000, 1, &plan);
  CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
  if (plan) {
    printf("api: %s\n", fa_plan_describe(plan));
    CHECKM(contains(fa_plan_describe(plan), "tuned: exact"), "%s", fa_plan_describe(plan));
    CHECKM(contains(fa_plan_describe(plan), user), "%s", fa_plan_describe(plan));
    CHECKM(strcmp(fa_plan_variant(plan), WIN) == 0, "%s", fa_plan_variant(plan));
    CHECKM(contains(fa_plan_describe(plan), "kernel text not recorded"), "%s", fa_plan_describe(plan));
  }
  fa_plan_destroy(plan);
  /* The winner's kernel text hash: another text is said, the same one is not. */
  {
    fa_gen *gen = NULL;
    char now[32] = "";
    CHECK(fa_gen_open(NULL, &gen) == FA_OK && fa_gen_text_hash(NULL, gen, WIN, now, sizeof now) == FA_OK &&
          strlen(now) == 16);
    fa_gen_close(gen);
    const char *texts[2] = {"0123456789abcdef", now};
    for (int i = 0; i < 2; ++i) {
      fa_db *db = fa_db_open(user, 1, nvwhy, sizeof nvwhy);
      CHECK(db && fa_db_set_winner(db, &g, &causal1k, WIN, 1.0, 100, texts[i]) == 0);
      fa_db_close(db);
      fa_context *c2 = NULL;
      CHECK(fa_context_create(&o, &c2) == FA_OK);
      plan = NULL;
      if (c2 && plan_for(c2, FA_DTYPE_BF16, 128, 1000, 1, &plan) == FA_OK) {
        const char *d = fa_plan_describe(plan);
        CHECKM(strcmp(fa_plan_variant(plan), WIN) == 0 && !contains(d, "not recorded") &&
                   contains(d, "timed with another kernel text") == (i == 0) && (i > 0 || contains(d, now)),
               "%s", d);
      }
      fa_plan_destroy(plan);
      fa_context_destroy(c2);
    }
    set1(user, &g, &causal1k, WIN);  /* as the checks below expect */
  }

  /* A nearby bucket (T 3000 -> 4096): the nearest winner. */
  plan = NULL;
  s = plan_for(ctx, FA_DTYPE_BF16, 128, 3000, 1, &plan);
  CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
  if (plan) {
    CHECKM(contains(fa_plan_describe(plan), "tuned: nearest"), "%s", fa_plan_describe(plan));
    CHECKM(strcmp(fa_plan_variant(plan), WIN) == 0, "%s", fa_plan_variant(plan));
  }
  fa_plan_destroy(plan);

  /* A stored winner that cannot serve (d64 key in a d128 bucket): not used. */
  plan = NULL;
  s = plan_for(ctx, FA_DTYPE_BF16, 128, 1000, 0, &plan);
  CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
  if (plan) {
    printf("api: %s\n", fa_plan_describe(plan));
    CHECKM(strcmp(fa_plan_variant(plan), WRONG_D) != 0, "%s", fa_plan_variant(plan));
    CHECKM(contains(fa_plan_variant(plan), "_d128_"), "%s", fa_plan_variant(plan));
    CHECKM(contains(fa_plan_describe(plan), "heuristic") && contains(fa_plan_describe(plan), "cannot serve"), "%s",
           fa_plan_describe(plan));
  }
  fa_plan_destroy(plan);

  /* A forced variant is still honoured over the database. */
  fa_plan_options po;
  fa_plan_options_init(&po);
  po.variant = WIN_SHIP;
  fa_problem pr;
  fa_problem_init(&pr, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 1000, 1000, 8, 8, 128);
  pr.causal = 1;
  plan = NULL;
  s = fa_plan_create(ctx, &pr, &po, &plan);
  CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
  CHECK(plan && strcmp(fa_plan_variant(plan), WIN_SHIP) == 0 && contains(fa_plan_describe(plan), "forced"));
  fa_plan_destroy(plan);
  fa_context_destroy(ctx);

  /* Only the shipped layer: its winner. */
  char missing[1024];
  join(missing, sizeof missing, dir, "missing.db");
  o.tuning_db = missing;
  ctx = NULL;
  s = fa_context_create(&o, &ctx);
  CHECK(s == FA_OK);
  if (ctx) {
    plan = NULL;
    s = plan_for(ctx, FA_DTYPE_BF16, 128, 1000, 1, &plan);
    CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
    if (plan) {
      CHECKM(contains(fa_plan_describe(plan), "tuned: exact") && contains(fa_plan_describe(plan), ship), "%s",
             fa_plan_describe(plan));
      CHECKM(strcmp(fa_plan_variant(plan), WIN_SHIP) == 0, "%s", fa_plan_variant(plan));
    }
    fa_plan_destroy(plan);
    fa_context_destroy(ctx);
  }

  /* FA_CTX_NO_TUNING_DB: the heuristic, whatever the databases say. */
  o.tuning_db = user;
  o.flags = FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB;
  ctx = NULL;
  s = fa_context_create(&o, &ctx);
  CHECK(s == FA_OK);
  if (ctx) {
    CHECKM(contains(fa_context_describe(ctx), "FA_CTX_NO_TUNING_DB"), "%s", fa_context_describe(ctx));
    plan = NULL;
    s = plan_for(ctx, FA_DTYPE_BF16, 128, 1000, 1, &plan);
    CHECKM(s == FA_OK, "%s", fa_errmsg(ctx));
    if (plan) {
      CHECKM(contains(fa_plan_describe(plan), "heuristic") && !contains(fa_plan_describe(plan), "tuned"), "%s",
             fa_plan_describe(plan));
      CHECKM(strcmp(fa_plan_variant(plan), WIN) != 0, "the heuristic picks the stored winner %s; the test is moot",
             WIN);
    }
    fa_plan_destroy(plan);
    fa_context_destroy(ctx);
  }
}

/* What a resumed tuning run reads back: the measurements of one shape (oldest
** first, so a re-timing follows its quick timing), the winner's time, and
** backward buckets kept apart from forward ones. */
static int nmeas;
static double last_ms[4];
static void on_meas(const char *variant, double ms, void *arg) {
  (void)arg;
  int k = variant[1] - '0';
  if (k >= 0 && k < 4) last_ms[k] = ms;
  nmeas++;
}

static void test_measurements(void) {
  char dir[512], p[1024], why[4096];
  tmpdir(dir, sizeof dir, "meas");
  join(p, sizeof p, dir, "t.db");
  fa_db *db = fa_db_open(p, 1, why, sizeof why);
  CHECKM(db != NULL, "%s", why);
  if (!db) return;
  fa_db_gpu h100 = gpu_of(H100, 90);
  fa_bucket b = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1), bb = b;
  fa_db_bucket_bwd(&bb);
  CHECK(!strncmp(bb.exact, "bwd_", 4) && !strcmp(bb.exact + 4, b.exact) && bb.tq == b.tq);
  CHECK(fa_db_winner_ms(db, &h100, &b) < 0);
  CHECK(fa_db_add_measurement(db, &h100, &b, "V1", "s", 2.0, 0, 10, 100, NULL) == 0);
  CHECK(fa_db_add_measurement(db, &h100, &b, "V2", "s", 3.0, 0, 10, 100, NULL) == 0);
  CHECK(fa_db_add_measurement(db, &h100, &b, "V1", "s", 1.5, 0, 30, 100, NULL) == 0);  /* re-timed leader */
  CHECK(fa_db_add_measurement(db, &h100, &b, "V3", "other", 0.5, 0, 10, 100, NULL) == 0);
  CHECK(fa_db_add_measurement(db, &h100, &bb, "V3", "s", 7.0, 0, 5, 100, NULL) == 0);
  CHECK(fa_db_set_winner(db, &h100, &b, "V1", 1.5, 100, NULL) == 0);
  nmeas = 0;
  CHECK(fa_db_each_measurement(db, &h100, &b, "s", on_meas, NULL) == 3 && nmeas == 3);
  CHECK(last_ms[1] == 1.5 && last_ms[2] == 3.0);
  CHECK(fa_db_winner_ms(db, &h100, &b) == 1.5 && fa_db_winner_ms(db, &h100, &bb) < 0);
  nmeas = 0;
  CHECK(fa_db_each_measurement(db, &h100, &bb, "s", on_meas, NULL) == 1 && last_ms[3] == 7.0);
  fa_db_close(db);
}

/* No row of this GPU model anywhere: another model of the same architecture
** serves, one with the same SM count first, and the sentence says so; a row
** of this model in any layer still comes first. */
static void test_other_model(void) {
  char dir[512], ship[1024], user[1024], why[4096], key[128];
  tmpdir(dir, sizeof dir, "other_model");
  join(ship, sizeof ship, dir, "shipped.db");
  join(user, sizeof user, dir, "user.db");
  fa_db_gpu h100 = gpu_of(H100, 90), h200 = gpu_of("NVIDIA H200", 90), pcie = gpu_of("NVIDIA H100 PCIe", 90);
  fa_db_gpu a100 = gpu_of("NVIDIA A100-SXM4-80GB", 80);
  pcie.sm_count = 114;
  fa_bucket b1k = bucket(FA_DTYPE_BF16, 128, 2, 1000, 8, 8, 1), b2k = bucket(FA_DTYPE_BF16, 128, 2, 2000, 8, 8, 1);
  fa_bucket fp = bucket(FA_DTYPE_FP16, 128, 2, 1000, 8, 8, 1);
  set1(ship, &pcie, &b1k, "PCIE_1K");  /* exact bucket, other SM count */
  set1(ship, &h100, &b2k, "H100_2K");  /* nearest bucket, same SM count */
  set1(user, &h100, &fp, "USER_H100_FP16");

  fa_db_layers l;
  fa_db_layers_open(&l, ship, user, NULL);
  CHECK(fa_db_layers_lookup(&l, &h200, &b1k, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "H100_2K") == 0, "%s", key);
  CHECKM(contains(why, H100) && contains(why, "another GPU of this architecture") && contains(why, "NVIDIA H200") &&
             contains(why, "nearest"),
         "%s", why);
  /* Another model's row in the user layer serves where no layer has this model's. */
  CHECK(fa_db_layers_lookup(&l, &h200, &fp, key, sizeof key, why, sizeof why, NULL, 0) == 1 && strcmp(key, "USER_H100_FP16") == 0);
  /* The single-layer lookup stays with this model. */
  CHECK(fa_db_lookup(l.shipped, &h200, &b1k, key, sizeof key, why, sizeof why) == 0);
  /* Another architecture never matches. */
  CHECK(fa_db_layers_lookup(&l, &a100, &b1k, key, sizeof key, why, sizeof why, NULL, 0) == 0);
  fa_db_layers_close(&l);

  /* A row of this model in the shipped layer beats another model's in the user layer. */
  set1(ship, &h200, &fp, "SHIPPED_H200_FP16");
  fa_db_layers_open(&l, ship, user, NULL);
  CHECK(fa_db_layers_lookup(&l, &h200, &fp, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "SHIPPED_H200_FP16") == 0 && !contains(why, "another GPU"), "%s %s", key, why);
  /* This model's own rows, in its own words. */
  CHECK(fa_db_layers_lookup(&l, &h100, &b1k, key, sizeof key, why, sizeof why, NULL, 0) == 1);
  CHECKM(strcmp(key, "H100_2K") == 0 && !contains(why, "another GPU"), "%s %s", key, why);
  fa_db_layers_close(&l);
}

int main(void) {
  struct {
    const char *name;
    void (*fn)(void);
  } tests[] = {
      {"schema", test_schema},
      {"bucket", test_bucket},
      {"lookup", test_lookup},
      {"layers", test_layers},
      {"text", test_text},
      {"other_model", test_other_model},
      {"concurrent", test_concurrent},
      {"concurrent_create", test_concurrent_create},
      {"kill", test_kill},
      {"measurements", test_measurements},
      {"api", test_api},
  };
  for (size_t i = 0; i < sizeof tests / sizeof *tests; ++i) {
    int f0 = failed;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    tests[i].fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%-18s %s (%.2f s)\n", tests[i].name, failed == f0 ? "ok" : "FAILED",
           (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    fflush(stdout);
  }
  for (int i = 0; i < nmade; ++i) {
    if (failed) printf("kept for inspection: %s\n", made[i]);
    else rm_rf(made[i]);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
