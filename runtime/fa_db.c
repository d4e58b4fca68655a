/*
** fa_db.c -- tuning databases: schema, migration, layering, lookup, writes.
** Every failure is a NULL or -1 with a reason: an unusable database costs a
** tuned choice, never the host program.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "fa_db.h"
#include "fa_int.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

struct fa_db {
  sqlite3 *h;
  int writable;
  int schema;  /* its user_version: 1 files (read-only) have no kernel text hashes */
  char path[PATH_MAX];
};

static const char *schema_v1 =
    "CREATE TABLE IF NOT EXISTS gpus(id INTEGER PRIMARY KEY, name TEXT NOT NULL, arch INTEGER NOT NULL,"
    " sm_count INTEGER, driver INTEGER, nvrtc INTEGER, fa_version TEXT NOT NULL,"
    " UNIQUE(name, arch, driver, nvrtc, fa_version));"
    "CREATE TABLE IF NOT EXISTS buckets(id INTEGER PRIMARY KEY, exact TEXT NOT NULL, tq INTEGER NOT NULL,"
    " tk INTEGER NOT NULL, bh INTEGER NOT NULL, UNIQUE(exact, tq, tk, bh));"
    "CREATE TABLE IF NOT EXISTS measurements(id INTEGER PRIMARY KEY, gpu_id INTEGER NOT NULL REFERENCES gpus,"
    " bucket_id INTEGER NOT NULL REFERENCES buckets, variant TEXT NOT NULL, shape TEXT, median_ms REAL,"
    " spread REAL, reps INTEGER, tflops REAL, at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS winners(gpu_id INTEGER NOT NULL REFERENCES gpus,"
    " bucket_id INTEGER NOT NULL REFERENCES buckets, variant TEXT NOT NULL, median_ms REAL, tflops REAL,"
    " at TEXT NOT NULL, PRIMARY KEY(gpu_id, bucket_id));";
/* Version 2: the hash of the kernel text each time was measured with (a key
** keeps its name when its template changes), and the texts seen per key. */
static const char *schema_v2 =
    "ALTER TABLE measurements ADD COLUMN text_hash TEXT;"
    "ALTER TABLE winners ADD COLUMN text_hash TEXT;"
    "CREATE TABLE IF NOT EXISTS variants(key TEXT NOT NULL, text_hash TEXT NOT NULL, first_at TEXT NOT NULL,"
    " PRIMARY KEY(key, text_hash));";

static int pow2_at_least(int64_t x) {
  int p = 1;
  while (p < x && p < (1 << 30)) p <<= 1;
  return p;
}

void fa_db_bucket_of(const fa_problem *p, fa_bucket *b) {
  memset(b, 0, sizeof *b);
  snprintf(b->exact, sizeof b->exact, "%s_d%d_g%d%s%s%s%s%s", fa_dtype_name(p->dtype), p->head_dim,
           p->heads_kv > 0 ? p->heads_q / p->heads_kv : 0, (p->features & FA_FEAT_POSITIONS) ? "_pos" : "",
           (p->features & FA_FEAT_SEGMENTS) ? "_seg" : "", p->softcap > 0.f ? "_softcap" : "",
           p->causal ? "_causal" : "", (p->window_left >= 0 || p->window_right >= 0) ? "_window" : "");
  b->tq = pow2_at_least(p->seqlen_q);
  b->tk = pow2_at_least(p->seqlen_k);
  b->bh = pow2_at_least((int64_t)p->batch * p->heads_q);
}

const char *fa_db_path(const fa_db *db) { return db ? db->path : ""; }
const char *fa_db_errmsg(fa_db *db) { return db && db->h ? sqlite3_errmsg(db->h) : "no database"; }

void fa_db_close(fa_db *db) {
  if (!db) return;
  sqlite3_close(db->h);
  free(db);
}

static int exec(fa_db *db, const char *sql) { return sqlite3_exec(db->h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1; }

static int user_version(fa_db *db) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int has_table(fa_db *db, const char *name) {
  sqlite3_stmt *st;
  int n = 0;
  if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  return n > 0;
}

static int count_tables(fa_db *db) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM sqlite_master WHERE type='table'", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* Creates or migrates to FA_DB_SCHEMA. Versions: 0 (empty file) -> 1 -> 2
** (kernel text hashes). A version-1 file opened read-only is read as it is. */
static int migrate(fa_db *db, char *why, size_t n) {
  /* One read transaction: the version and the tables seen together (another process may be creating them). */
  exec(db, "BEGIN");
  int v = user_version(db), tables = v == 0 ? count_tables(db) : 0;
  exec(db, "COMMIT");
  if (v < 0) { snprintf(why, n, "%s: not a database (%s)", db->path, sqlite3_errmsg(db->h)); return -1; }
  if (v > FA_DB_SCHEMA) {
    snprintf(why, n, "%s: schema %d is newer than this fa's %d; ignored", db->path, v, FA_DB_SCHEMA);
    return -1;
  }
  if (v == 0 && tables > 0) {
    snprintf(why, n, "%s: a foreign SQLite database (tables, but no fa schema); ignored", db->path);
    return -1;
  }
  db->schema = v;
  if (v == FA_DB_SCHEMA || (v == 1 && !db->writable))
    return has_table(db, "winners") ? 0 : (snprintf(why, n, "%s: damaged schema", db->path), -1);
  if (!db->writable) { snprintf(why, n, "%s: empty (no fa schema yet)", db->path); return -1; }
  /* Another process may have created or migrated the schema since the reads above: decide again
  ** under the write lock. */
  if (exec(db, "BEGIN IMMEDIATE")) { snprintf(why, n, "%s: %s", db->path, sqlite3_errmsg(db->h)); return -1; }
  v = user_version(db);
  if ((v == 0 && count_tables(db) > 0) || (v != 0 && !has_table(db, "winners")) || v > FA_DB_SCHEMA) {
    exec(db, "ROLLBACK");
    snprintf(why, n, "%s: changed while opening (schema %d); ignored", db->path, v);
    return -1;
  }
  if (v == FA_DB_SCHEMA) { exec(db, "ROLLBACK"); db->schema = v; return 0; }
  if ((v == 0 && exec(db, schema_v1)) || exec(db, schema_v2) || exec(db, "PRAGMA user_version = 2") ||
      exec(db, "COMMIT")) {
    snprintf(why, n, "%s: %s the schema failed: %s", db->path, v ? "migrating" : "creating", sqlite3_errmsg(db->h));
    exec(db, "ROLLBACK");
    return -1;
  }
  db->schema = FA_DB_SCHEMA;
  return 0;
}

static int mkdirs(const char *path) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; ++p)
    if (*p == '/') { *p = 0; mkdir(tmp, 0755); *p = '/'; }
  return 0;
}

fa_db *fa_db_open(const char *path, int mode, char *why, size_t n) {
  if (!path || !*path) { snprintf(why, n, "no path"); return NULL; }
  struct stat sb;
  if (!mode && stat(path, &sb) != 0) { snprintf(why, n, "%s: not found", path); return NULL; }
  fa_db *db = calloc(1, sizeof *db);
  if (!db) { snprintf(why, n, "out of memory"); return NULL; }
  snprintf(db->path, sizeof db->path, "%s", path);
  db->writable = mode;
  if (mode) mkdirs(path);
  int flags = mode ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path, &db->h, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
    snprintf(why, n, "%s: %s", path, db->h ? sqlite3_errmsg(db->h) : "cannot open");
    fa_db_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db->h, 10000);
  if (migrate(db, why, n)) { fa_db_close(db); return NULL; }
  /* WAL lets readers and one writer proceed together; set only on a file that is ours (a refused
  ** file is left as it was). Changing the journal mode can return SQLITE_BUSY without calling the
  ** busy handler, so retry for as long as the busy timeout. */
  if (mode) {
    int rc = SQLITE_BUSY;
    for (int t = 0; t < 10000 && (rc = exec(db, "PRAGMA journal_mode=WAL")) != 0 &&
                    (sqlite3_errcode(db->h) & 0xff) == SQLITE_BUSY; t += 5)
      usleep(5000);
    if (rc) { snprintf(why, n, "%s: %s", path, sqlite3_errmsg(db->h)); fa_db_close(db); return NULL; }
  }
  return db;
}

int fa_db_user_path(const char *explicit_path, char *out, size_t n) {
  const char *e = explicit_path && *explicit_path ? explicit_path : getenv("FA_TUNING_DB");
  if (e && *e) return snprintf(out, n, "%s", e) < (int)n ? 0 : -1;
  const char *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
  if (x && x[0] == '/') return snprintf(out, n, "%s/fa/tuning.db", x) < (int)n ? 0 : -1;
  if (h && *h) return snprintf(out, n, "%s/.local/share/fa/tuning.db", h) < (int)n ? 0 : -1;
  return -1;
}

/* The shipped tuning.db: beside the source tree or the install prefix of the
** binary that holds this code (build/../tuning.db, lib/../share/fa/tuning.db). */
static int shipped_path(char *out, size_t n) {
  Dl_info info;
  if (dladdr((void *)&fa_db_bucket_of, &info) && info.dli_fname) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
    char *slash = strrchr(dir, '/');
    if (slash) {
      *slash = 0;
      const char *cands[] = {"%s/../tuning.db", "%s/../share/fa/tuning.db", "%s/../../tuning.db"};
      for (size_t i = 0; i < sizeof cands / sizeof *cands; ++i) {
        snprintf(out, n, cands[i], dir);
        if (access(out, R_OK) == 0) return 0;
      }
    }
  }
  snprintf(out, n, "%s", FA_INSTALLED_DB);
  return access(out, R_OK) == 0 ? 0 : -1;
}

void fa_db_layers_open(fa_db_layers *l, const char *shipped, const char *user, const char *export_dir) {
  memset(l, 0, sizeof *l);
  char path[PATH_MAX], why[PATH_MAX + 256], us[PATH_MAX + 300] = "", sh[PATH_MAX + 300] = "", ex[PATH_MAX + 300] = "";
  if (export_dir && *export_dir && snprintf(path, sizeof path, "%s/tuning.db", export_dir) < (int)sizeof path) {
    l->exported = fa_db_open(path, 0, why, sizeof why);
    snprintf(ex, sizeof ex, "export %s; ", l->exported ? path : why);
  }
  if (fa_db_user_path(user, path, sizeof path) == 0) {
    l->user = fa_db_open(path, 0, why, sizeof why);
    snprintf(us, sizeof us, "user %s", l->user ? path : why);
  }
  if ((shipped && *shipped && snprintf(path, sizeof path, "%s", shipped) > 0) || shipped_path(path, sizeof path) == 0) {
    l->shipped = fa_db_open(path, 0, why, sizeof why);
    snprintf(sh, sizeof sh, "shipped %s", l->shipped ? path : why);
  } else {
    snprintf(sh, sizeof sh, "shipped: none found");
  }
  snprintf(l->describe, sizeof l->describe, "%s%s%s%s", us, *us ? "; " : "", ex, sh);
}

void fa_db_layers_close(fa_db_layers *l) {
  fa_db_close(l->user);
  fa_db_close(l->exported);
  fa_db_close(l->shipped);
  l->user = l->exported = l->shipped = NULL;
}

static int ilog2(int x) { int r = 0; while (x > 1) { x >>= 1; r++; } return r; }

/* One layer's winner for bucket b. same_model: this GPU's model (name and
** architecture), and among its buckets with the same exact part the nearest
** in log2 lengths and batch x heads, newest fa first. Otherwise another
** model of the same architecture, one with the same SM count first: on the
** H200 (2026-12-01) the H100's 222 winners, timed by the H200's own tuning
** run, were as fast as the H200's winners (geometric mean 1.000, worst
** 0.95; 210 of them the same variant), while tuned selection ran the
** forward grid 1.037x as fast as the heuristic (up to 1.25x, d256 MQA causal). */
static int lookup(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, int same_model, char *key, size_t key_size,
                  char *why, size_t why_size, char *text, size_t text_size) {
  if (!db) return 0;
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT w.variant, bk.tq, bk.tk, bk.bh, g.driver, g.nvrtc, g.fa_version, g.name, g.sm_count, %s FROM winners w"
           " JOIN buckets bk ON bk.id = w.bucket_id JOIN gpus g ON g.id = w.gpu_id"
           " WHERE g.name %s ?1 AND g.arch = ?2 AND bk.exact = ?3",
           db->schema >= 2 ? "w.text_hash" : "NULL", same_model ? "=" : "<>");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return 0;
  sqlite3_bind_text(st, 1, gpu->name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, gpu->arch);
  sqlite3_bind_text(st, 3, b->exact, -1, SQLITE_STATIC);
  int best = INT_MAX, found = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int tq = sqlite3_column_int(st, 1), tk = sqlite3_column_int(st, 2), bh = sqlite3_column_int(st, 3);
    int dist = abs(ilog2(tq) - ilog2(b->tq)) + abs(ilog2(tk) - ilog2(b->tk)) + abs(ilog2(bh) - ilog2(b->bh));
    int same_fa = strcmp((const char *)sqlite3_column_text(st, 6), fa_version_string()) == 0;
    int other_sms = sqlite3_column_int(st, 8) != gpu->sm_count;
    int score = (same_model ? 0 : other_sms * 1000) + dist * 2 + !same_fa;
    if (score >= best) continue;
    best = score;
    found = 1;
    snprintf(key, key_size, "%s", (const char *)sqlite3_column_text(st, 0));
    if (text) snprintf(text, text_size, "%s", sqlite3_column_text(st, 9) ? (const char *)sqlite3_column_text(st, 9) : "");
    if (!why) continue;
    char other[512] = "";
    if (!same_model)
      snprintf(other, sizeof other, " (another GPU of this architecture, %d SMs: none is tuned for %s)",
               sqlite3_column_int(st, 8), gpu->name);
    snprintf(why, why_size, "tuned: %s bucket %s tq%d tk%d bh%d (%s) of %s%s, measured with driver %d, NVRTC %d, fa %s",
             dist ? "nearest" : "exact", b->exact, tq, tk, bh, db->path, (const char *)sqlite3_column_text(st, 7),
             other, sqlite3_column_int(st, 4), sqlite3_column_int(st, 5), (const char *)sqlite3_column_text(st, 6));
  }
  sqlite3_finalize(st);
  return found;
}

int fa_db_lookup(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, char *key, size_t key_size, char *why,
                 size_t why_size) {
  return lookup(db, gpu, b, 1, key, key_size, why, why_size, NULL, 0);
}

int fa_db_layers_lookup(const fa_db_layers *l, const fa_db_gpu *gpu, const fa_bucket *b, char *key, size_t key_size,
                        char *why, size_t why_size, char *text, size_t text_size) {
  /* This model's rows in any layer come before another model's in any layer. */
  fa_db *order[3] = {l->user, l->exported, l->shipped};
  for (int same = 1; same >= 0; --same)
    for (int i = 0; i < 3; ++i)
      if (lookup(order[i], gpu, b, same, key, key_size, why, why_size, text, text_size)) return 1;
  return 0;
}

typedef struct layered_walk {
  fa_db *earlier[2];  /* layers before the one walked: their buckets are theirs */
  const fa_db_gpu *gpu;
  void (*fn)(const char *, const fa_bucket *, void *);
  void *arg;
  int n;
} layered_walk;

static void layered_one(const char *variant, const fa_bucket *b, void *arg) {
  layered_walk *w = arg;
  for (int i = 0; i < 2; ++i)
    if (fa_db_has_winner(w->earlier[i], w->gpu, b)) return;
  w->fn(variant, b, w->arg);
  w->n++;
}

int fa_db_layers_each_winner(const fa_db_layers *l, const fa_db_gpu *gpu,
                             void (*fn)(const char *, const fa_bucket *, void *), void *arg) {
  fa_db *order[3] = { l->user, l->exported, l->shipped };
  layered_walk w = { { NULL, NULL }, gpu, fn, arg, 0 };
  for (int i = 0; i < 3; ++i) {
    fa_db_each_winner(order[i], gpu, layered_one, &w);
    if (i < 2) w.earlier[i] = order[i];
  }
  return w.n;
}

static int64_t id_of(fa_db *db, const char *insert, const char *select, int bind(sqlite3_stmt *, const void *),
                     const void *arg) {
  sqlite3_stmt *st;
  int64_t id = -1;
  for (int pass = 0; pass < 2 && id < 0; ++pass) {
    if (sqlite3_prepare_v2(db->h, pass ? select : insert, -1, &st, NULL) != SQLITE_OK) return -1;
    bind(st, arg);
    int r = sqlite3_step(st);
    if (pass == 0 && r == SQLITE_DONE && sqlite3_changes(db->h) > 0) id = sqlite3_last_insert_rowid(db->h);
    if (pass == 1 && r == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return id;
}

static int bind_gpu(sqlite3_stmt *st, const void *arg) {
  const fa_db_gpu *g = arg;
  sqlite3_bind_text(st, 1, g->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 2, g->arch);
  sqlite3_bind_int(st, 3, g->sm_count);
  sqlite3_bind_int(st, 4, g->driver);
  sqlite3_bind_int(st, 5, g->nvrtc);
  sqlite3_bind_text(st, 6, fa_version_string(), -1, SQLITE_STATIC);
  return 0;
}

static int bind_bucket(sqlite3_stmt *st, const void *arg) {
  const fa_bucket *b = arg;
  sqlite3_bind_text(st, 1, b->exact, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 2, b->tq);
  sqlite3_bind_int(st, 3, b->tk);
  sqlite3_bind_int(st, 4, b->bh);
  return 0;
}

static int ids(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, int64_t *gid, int64_t *bid) {
  *gid = id_of(db, "INSERT OR IGNORE INTO gpus(name, arch, sm_count, driver, nvrtc, fa_version) VALUES(?1,?2,?3,?4,?5,?6)",
               "SELECT id FROM gpus WHERE name=?1 AND arch=?2 AND driver=?4 AND nvrtc=?5 AND fa_version=?6", bind_gpu, gpu);
  *bid = id_of(db, "INSERT OR IGNORE INTO buckets(exact, tq, tk, bh) VALUES(?1,?2,?3,?4)",
               "SELECT id FROM buckets WHERE exact=?1 AND tq=?2 AND tk=?3 AND bh=?4", bind_bucket, b);
  return *gid < 0 || *bid < 0 ? -1 : 0;
}

static void now_iso(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One transaction per result: a process killed mid-run loses at most the row in flight. */
static int write_row(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *sql, const char *variant,
                     const char *text, const char *shape, double ms, double spread, int reps, double tflops) {
  if (!db || !db->writable) return -1;
  if (exec(db, "BEGIN IMMEDIATE")) return -1;
  int64_t gid, bid;
  sqlite3_stmt *st = NULL;
  char at[32];
  now_iso(at, sizeof at);
  int ok = ids(db, gpu, b, &gid, &bid) == 0 && sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, bid);
    sqlite3_bind_text(st, 3, variant, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, ms);
    sqlite3_bind_double(st, 5, tflops);
    sqlite3_bind_text(st, 6, at, -1, SQLITE_STATIC);
    if (text && *text) sqlite3_bind_text(st, 10, text, -1, SQLITE_STATIC);
    if (shape) {
      sqlite3_bind_text(st, 7, shape, -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 8, spread);
      sqlite3_bind_int(st, 9, reps);
    }
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (ok && text && *text) {  /* the texts seen per key */
    st = NULL;
    ok = sqlite3_prepare_v2(db->h, "INSERT OR IGNORE INTO variants(key, text_hash, first_at) VALUES(?1,?2,?3)", -1, &st,
                            NULL) == SQLITE_OK;
    if (ok) {
      sqlite3_bind_text(st, 1, variant, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
      ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
  }
  if (!ok || exec(db, "COMMIT")) {
    exec(db, "ROLLBACK");
    return -1;
  }
  return 0;
}

int fa_db_add_measurement(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *variant, const char *shape,
                          double median_ms, double spread, int reps, double tflops, const char *text) {
  return write_row(db, gpu, b,
                   "INSERT INTO measurements(gpu_id, bucket_id, variant, median_ms, tflops, at, shape, spread, reps,"
                   " text_hash) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                   variant, text, shape ? shape : "", median_ms, spread, reps, tflops);
}

int fa_db_set_winner(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *variant, double median_ms,
                     double tflops, const char *text) {
  return write_row(db, gpu, b,
                   "INSERT OR REPLACE INTO winners(gpu_id, bucket_id, variant, median_ms, tflops, at, text_hash)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?10)",
                   variant, text, NULL, median_ms, 0, 0, tflops);
}

int fa_db_each_winner(fa_db *db, const fa_db_gpu *gpu, void (*fn)(const char *, const fa_bucket *, void *), void *arg) {
  if (!db) return 0;
  sqlite3_stmt *st;
  int n = 0;
  if (sqlite3_prepare_v2(db->h,
                         "SELECT w.variant, bk.exact, bk.tq, bk.tk, bk.bh FROM winners w JOIN gpus g ON g.id=w.gpu_id"
                         " JOIN buckets bk ON bk.id=w.bucket_id WHERE g.name=?1 AND g.arch=?2 ORDER BY bk.exact, bk.tq, bk.tk, bk.bh",
                         -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, gpu->name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, gpu->arch);
  while (sqlite3_step(st) == SQLITE_ROW) {
    fa_bucket b;
    memset(&b, 0, sizeof b);
    snprintf(b.exact, sizeof b.exact, "%s", (const char *)sqlite3_column_text(st, 1));
    b.tq = sqlite3_column_int(st, 2);
    b.tk = sqlite3_column_int(st, 3);
    b.bh = sqlite3_column_int(st, 4);
    fn((const char *)sqlite3_column_text(st, 0), &b, arg);
    n++;
  }
  sqlite3_finalize(st);
  return n;
}

#define BUCKET_WHERE " WHERE g.name=?1 AND g.arch=?2 AND g.fa_version=?3 AND bk.exact=?4 AND bk.tq=?5 AND bk.tk=?6 AND bk.bh=?7"

static int bind_gpu_bucket(sqlite3_stmt *st, const fa_db_gpu *gpu, const fa_bucket *b) {
  sqlite3_bind_text(st, 1, gpu->name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, gpu->arch);
  sqlite3_bind_text(st, 3, fa_version_string(), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, b->exact, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, b->tq);
  sqlite3_bind_int(st, 6, b->tk);
  return sqlite3_bind_int(st, 7, b->bh);
}

int fa_db_has_winner(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b) {
  if (!db) return 0;
  sqlite3_stmt *st;
  int n = 0;
  if (sqlite3_prepare_v2(db->h,
                         "SELECT count(*) FROM winners w JOIN gpus g ON g.id=w.gpu_id JOIN buckets bk ON bk.id=w.bucket_id"
                         BUCKET_WHERE, -1, &st, NULL) == SQLITE_OK) {
    bind_gpu_bucket(st, gpu, b);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  return n > 0;
}

int fa_db_each_measurement(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *shape,
                           void (*fn)(const char *, double, void *), void *arg) {
  if (!db) return 0;
  sqlite3_stmt *st;
  int n = 0;
  if (sqlite3_prepare_v2(db->h,
                         "SELECT m.variant, m.median_ms FROM measurements m JOIN gpus g ON g.id=m.gpu_id"
                         " JOIN buckets bk ON bk.id=m.bucket_id" BUCKET_WHERE " AND m.shape=?8 ORDER BY m.id",
                         -1, &st, NULL) != SQLITE_OK)
    return 0;
  bind_gpu_bucket(st, gpu, b);
  sqlite3_bind_text(st, 8, shape, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1), arg);
    n++;
  }
  sqlite3_finalize(st);
  return n;
}

int fa_db_winner_of(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, char *key, size_t key_size, char *text,
                    size_t text_size) {
  if (!db) return 0;
  char sql[384];
  snprintf(sql, sizeof sql,
           "SELECT w.variant, %s FROM winners w JOIN gpus g ON g.id=w.gpu_id JOIN buckets bk ON bk.id=w.bucket_id"
           BUCKET_WHERE, db->schema >= 2 ? "w.text_hash" : "NULL");
  sqlite3_stmt *st;
  int found = 0;
  if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK) {
    bind_gpu_bucket(st, gpu, b);
    if (sqlite3_step(st) == SQLITE_ROW) {
      found = 1;
      snprintf(key, key_size, "%s", (const char *)sqlite3_column_text(st, 0));
      snprintf(text, text_size, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
    }
  }
  sqlite3_finalize(st);
  return found;
}

double fa_db_winner_ms(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b) {
  if (!db) return -1;
  sqlite3_stmt *st;
  double ms = -1;
  if (sqlite3_prepare_v2(db->h,
                         "SELECT w.median_ms FROM winners w JOIN gpus g ON g.id=w.gpu_id"
                         " JOIN buckets bk ON bk.id=w.bucket_id" BUCKET_WHERE,
                         -1, &st, NULL) == SQLITE_OK) {
    bind_gpu_bucket(st, gpu, b);
    if (sqlite3_step(st) == SQLITE_ROW) ms = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  return ms;
}

int fa_db_vacuum_into(fa_db *db, const char *path, char *why, size_t n) {
  unlink(path);
  char *sql = sqlite3_mprintf("VACUUM INTO %Q", path);
  int r = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  if (r != SQLITE_OK) snprintf(why, n, "VACUUM INTO %s: %s", path, sqlite3_errmsg(db->h));
  return r == SQLITE_OK ? 0 : -1;
}

void fa_db_bucket_bwd(fa_bucket *b) {
  char e[sizeof b->exact];
  memcpy(e, b->exact, sizeof e);
  memcpy(b->exact, "bwd_", 4);
  memcpy(b->exact + 4, e, sizeof e - 4);
  b->exact[sizeof b->exact - 1] = 0;
}
