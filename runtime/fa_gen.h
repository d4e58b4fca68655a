/*
** fa_gen.h -- the embedded Lua generator (the gen/ scripts and templates/), from C.
** A fa_gen is not thread-safe; the context serialises its use.
*/
#ifndef FA_GEN_H
#define FA_GEN_H

#include <stddef.h>
#include "fa.h"

typedef struct fa_gen fa_gen;

/* What the generator needs to know of a problem to choose or check a variant. */
typedef struct fa_gen_problem {
  int d;
  const char *dtype;   /* "bf16", "fp16" */
  int group;           /* Hq / Hkv */
  int tq, tk;
  int pos, seg, softcap;
  int bwd;             /* choose or check a backward variant */
} fa_gen_problem;

/* Launch facts of a variant. */
typedef struct fa_launch_info {
  int threads, smem, bm, bn, g, d;
  int bwd, smem2;      /* backward: smem2 is fa_bwd_dq's (128 threads) */
  int pos, seg, softcap;
  int tma;             /* reads TMA tensor maps of Q, K, V and O (dO): the sm90 forward, the sm90 backward's producer */
  int tma_store;       /* sm90 forward: writes O through its tensor map (else the map is unread) */
  int kb_order;        /* backward: fa_bwd_dkdv reads BwdParams::kb_slow (else key blocks in x) */
  int persist;         /* forward: CTAs per SM of a persistent grid (0: one CTA per work item) */
  char dtype[8];
} fa_launch_info;

void fa_gen_problem_from(const fa_problem *p, fa_gen_problem *out);

/* Messages go to fa_errmsg(ctx); ctx may be NULL. */
fa_status fa_gen_open(fa_context *ctx, fa_gen **out);
void fa_gen_close(fa_gen *gen);
/* Tells the generator the GPU's shared memory per block (opt-in) for arch, so
** that variants which would not launch there are invalid. No-op for bytes <= 0. */
void fa_gen_set_smem_limit(fa_gen *gen, int arch, int bytes);

/* The CUDA source of a variant (malloc'ed). FA_ERR_VARIANT for a bad key. */
fa_status fa_gen_emit(fa_context *ctx, fa_gen *gen, const char *key, char **src);

/* The hash that names a variant's kernel text in the tuning database: 16 hex
** digits over its generated source and fa's version (a key keeps its name
** when its template changes). "" and FA_ERR_VARIANT for a bad key. */
fa_status fa_gen_text_hash(fa_context *ctx, fa_gen *gen, const char *key, char *out, size_t n);

/* Source of a tool kernel ("unfused_bf16", "unfused_fp16"), malloc'ed. */
fa_status fa_gen_emit_tool(fa_context *ctx, fa_gen *gen, const char *name, char **src);

/* Keys of the default space valid on arch (0: any) that contain every word of
** filter. *keys is a malloc'ed array of malloc'ed strings; free with fa_gen_free_list. */
fa_status fa_gen_list(fa_context *ctx, fa_gen *gen, const char *filter, int arch,
                      char ***keys, int *count);
/* The same, then every other key the built-in choice returns on arch (> 0):
** what the library may serve there. */
fa_status fa_gen_list_served(fa_context *ctx, fa_gen *gen, const char *filter, int arch,
                             char ***keys, int *count);
void fa_gen_free_list(char **keys, int count);

fa_status fa_gen_launch(fa_context *ctx, fa_gen *gen, const char *key, int arch,
                        fa_launch_info *out);

/* FA_OK if key can serve pr on arch, else FA_ERR_VARIANT with the reason. */
fa_status fa_gen_fits(fa_context *ctx, fa_gen *gen, const char *key,
                      const fa_gen_problem *pr, int arch);

/* The built-in heuristic choice: key and the reason, into the buffers. */
fa_status fa_gen_choose(fa_context *ctx, fa_gen *gen, const fa_gen_problem *pr, int arch,
                        char *key, size_t key_size, char *why, size_t why_size);

/* Canonical form of key, or FA_ERR_VARIANT if it is not one. */
fa_status fa_gen_check_key(fa_context *ctx, fa_gen *gen, const char *key, int arch);

#endif
