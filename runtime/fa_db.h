/*
** fa_db.h -- tuning databases (SQLite): the shipped read-only tuning.db and
** the user's database, layered (the user's rows win).
*/
#ifndef FA_DB_H
#define FA_DB_H

#include "fa.h"
#include "fa_gen.h"

typedef struct fa_db fa_db;

/* Opens what it can; never fails the context: an unusable file is noted in
** the description and skipped. *out may be NULL afterwards. */
void fa_db_open_layers(fa_context *ctx, const char *shipped, const char *user, fa_db **out);
void fa_db_close(fa_db *db);
const char *fa_db_describe(const fa_db *db);

/* Looks up the tuned forward winner for a problem on this GPU. Returns 1 and
** fills key and why when one applies, else 0. */
int fa_db_lookup(fa_db *db, const char *gpu, const fa_gen_problem *pr, const fa_problem *p,
                 char *key, size_t key_size, char *why, size_t why_size);

#endif
