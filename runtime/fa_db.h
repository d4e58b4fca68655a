/*
** fa_db.h -- tuning databases (SQLite). Two layers: the tuning.db shipped
** with fa (read-only) and the user's database, which fa-tune writes; the
** user's rows win. Problems are grouped into buckets: head_dim, dtype, GQA
** ratio and mask features exactly, lengths and batch x heads by power of two.
*/
#ifndef FA_DB_H
#define FA_DB_H

#include <stdint.h>
#include "fa.h"

#define FA_DB_SCHEMA 2 /* PRAGMA user_version this fa writes and reads (1 read-only too) */

typedef struct fa_db fa_db;

/* A problem's bucket. */
typedef struct fa_bucket {
  char exact[96]; /* "bf16_d256_g8_pos_seg_softcap_causal_window" */
  int tq, tk, bh; /* powers of two at or above Tq, Tk, B*Hq */
} fa_bucket;

/* The GPU a result belongs to. */
typedef struct fa_db_gpu {
  char name[256];
  int arch, sm_count, driver, nvrtc;
} fa_db_gpu;

void fa_db_bucket_of(const fa_problem *p, fa_bucket *b);
/* Turns a problem's bucket into its backward bucket ("bwd_" before the exact part). */
void fa_db_bucket_bwd(fa_bucket *b);

/* One file. mode: 0 read-only, 1 read-write (created and migrated if needed).
** Returns NULL and the reason in why for a missing, corrupt, foreign or
** newer-schema file (never aborts). */
fa_db *fa_db_open(const char *path, int mode, char *why, size_t why_size);
void fa_db_close(fa_db *db);
const char *fa_db_path(const fa_db *db);

/* The runtime's layers: shipped (NULL: next to the library) and user (NULL:
** $FA_TUNING_DB, else $XDG_DATA_HOME/fa/tuning.db, else ~/.local/share/fa/tuning.db).
** What was opened and what was skipped, and why, goes to describe. */
typedef struct fa_db_layers {
  fa_db *user, *exported, *shipped; /* looked up in this order */
  char describe[2 * 4096 + 700];
} fa_db_layers;
/* export_dir: NULL or a `fa-tune export` directory, whose tuning.db is a layer. */
void fa_db_layers_open(fa_db_layers *l, const char *shipped, const char *user, const char *export_dir);
void fa_db_layers_close(fa_db_layers *l);
/* The user database's default path. Returns 0, or -1 when none can be formed. */
int fa_db_user_path(const char *explicit_path, char *out, size_t n);

/* Looks up a winner for bucket b on gpu: the exact bucket, else the nearest
** bucket with the same exact part (distance in powers of two). User layer
** first. With no row of this GPU model in any layer, another model of the
** same architecture (one with the same SM count first), and the sentence
** says so. Returns 1 with key and a sentence saying what matched, else 0;
** text (if not NULL) gets the hash of the kernel text the winner was timed
** with, "" where the row has none (schema 1, or written without). */
int fa_db_layers_lookup(const fa_db_layers *l, const fa_db_gpu *gpu, const fa_bucket *b,
                        char *key, size_t key_size, char *why, size_t why_size, char *text, size_t text_size);
/* Every winner of gpu across the layers, each bucket once: the layer a lookup
** would take it from wins (user, then export, then shipped). Calls
** fn(variant, bucket, arg); returns the count. */
int fa_db_layers_each_winner(const fa_db_layers *l, const fa_db_gpu *gpu,
                             void (*fn)(const char *variant, const fa_bucket *b, void *arg), void *arg);
/* One layer, this GPU model only. */
int fa_db_lookup(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, char *key, size_t key_size,
                 char *why, size_t why_size);

/* Writing (fa-tune). Each call is one transaction. text: the hash of the
** variant's kernel text (fa_kernel_text_hash), or NULL. */
int fa_db_add_measurement(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *variant,
                          const char *shape, double median_ms, double spread, int reps, double tflops,
                          const char *text);
int fa_db_set_winner(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *variant,
                     double median_ms, double tflops, const char *text);
/* 1 if gpu already has a winner for b (to resume an interrupted run). */
int fa_db_has_winner(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b);
/* Every winner of gpu: calls fn(variant, bucket, arg) for each. Returns the count. */
int fa_db_each_winner(fa_db *db, const fa_db_gpu *gpu,
                      void (*fn)(const char *variant, const fa_bucket *b, void *arg), void *arg);
/* The measurements of one shape in a bucket on gpu (this fa version), oldest
** first: fn(variant, median_ms, arg) per row. Returns the row count. A resumed
** tuning run reads the shapes it skips from here. */
int fa_db_each_measurement(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, const char *shape,
                           void (*fn)(const char *variant, double median_ms, void *arg), void *arg);
/* The exact bucket's winner on gpu (this fa version) and the hash of the
** kernel text it was timed with ("" if none recorded). Returns 1 if found. */
int fa_db_winner_of(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b, char *key, size_t key_size, char *text,
                    size_t text_size);
/* The winner's median milliseconds in a bucket, or -1. */
double fa_db_winner_ms(fa_db *db, const fa_db_gpu *gpu, const fa_bucket *b);
/* Copies the database into a compact single file (VACUUM INTO), e.g. to ship it. */
int fa_db_vacuum_into(fa_db *db, const char *path, char *why, size_t why_size);
const char *fa_db_errmsg(fa_db *db);

#endif
