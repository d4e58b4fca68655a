/*
** fa_gen.c -- runs the embedded Lua generator. Only the base, string, table
** and math libraries are opened: the generator has no file or OS access and
** gets its templates through fa_template(name).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include "fa_dcache.h"
#include "fa_embed.h"
#include "fa_gen.h"
#include "fa_int.h"

/* A variant's text hash, kept once formed: emission is deterministic, and a
** plan's tuned choice asks for it on every fa_plan_create (0.6 ms to emit). */
typedef struct text_memo { char key[160], hash[17]; } text_memo;

struct fa_gen {
  lua_State *L;
  text_memo *memo;
  int nmemo, cap;
};

static const fa_embedded_file *embedded_find(const char *name) {
  for (const fa_embedded_file *f = fa_embedded; f->name; ++f)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static int l_template(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const fa_embedded_file *f = embedded_find(name);
  if (!f) return luaL_error(L, "no embedded template '%s'", name);
  lua_pushlstring(L, f->text, f->size);
  return 1;
}

/* package.preload[mod] = loader of the embedded mod.lua */
static int l_preload(lua_State *L) {
  const char *file = lua_tostring(L, lua_upvalueindex(1));
  const fa_embedded_file *f = embedded_find(file);
  if (!f) return luaL_error(L, "no embedded file '%s'", file);
  if (luaL_loadbuffer(L, f->text, f->size, file) != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  return 1;
}

static void open_lib(lua_State *L, const char *name, lua_CFunction fn) {
  luaL_requiref(L, name, fn, 1);
  lua_pop(L, 1);
}

fa_status fa_gen_open(fa_context *ctx, fa_gen **out) {
  if (!out) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_open: out is NULL");
  *out = NULL;
  fa_gen *g = calloc(1, sizeof *g);
  if (!g) return fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "generator state");
  lua_State *L = luaL_newstate();
  if (!L) { free(g); return fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "Lua state"); }
  open_lib(L, "_G", luaopen_base);
  open_lib(L, LUA_LOADLIBNAME, luaopen_package);
  open_lib(L, LUA_STRLIBNAME, luaopen_string);
  open_lib(L, LUA_TABLIBNAME, luaopen_table);
  open_lib(L, LUA_MATHLIBNAME, luaopen_math);
  /* No printing, no loading of outside code. */
  lua_pushnil(L); lua_setglobal(L, "print");
  lua_pushnil(L); lua_setglobal(L, "dofile");
  lua_pushnil(L); lua_setglobal(L, "loadfile");
  lua_pushcfunction(L, l_template);
  lua_setglobal(L, "fa_template");
  /* Only the preload searcher stays: embedded modules, never files. */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  for (lua_Integer i = luaL_len(L, -1); i > 1; --i) {
    lua_pushnil(L);
    lua_rawseti(L, -2, i);
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  for (const fa_embedded_file *f = fa_embedded; f->name; ++f) {
    size_t n = strlen(f->name);
    if (n < 5 || strcmp(f->name + n - 4, ".lua") != 0) continue;
    lua_pushlstring(L, f->name, n - 4);
    lua_pushstring(L, f->name);
    lua_pushcclosure(L, l_preload, 1);
    lua_settable(L, -3);
  }
  lua_pop(L, 2);
  lua_getglobal(L, "require");
  lua_pushstring(L, "fa_gen");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fa_status s = fa_err(ctx, FA_ERR_GENERATOR, "loading gen/fa_gen.lua: %s", lua_tostring(L, -1));
    lua_close(L);
    free(g);
    return s;
  }
  lua_setglobal(L, "FA_GEN");
  g->L = L;
  *out = g;
  return FA_OK;
}

void fa_gen_close(fa_gen *g) {
  if (!g) return;
  if (g->L) lua_close(g->L);
  free(g->memo);
  free(g);
}

void fa_gen_set_smem_limit(fa_gen *g, int arch, int bytes) {
  if (!g || arch <= 0 || bytes <= 0) return;
  lua_State *L = g->L;
  int top = lua_gettop(L);
  lua_getglobal(L, "FA_GEN");
  lua_getfield(L, -1, "set_smem_limit");
  lua_pushinteger(L, arch);
  lua_pushinteger(L, bytes);
  (void)lua_pcall(L, 2, 0, 0); /* on integers it cannot fail, short of memory: the table's figure stays */
  lua_settop(L, top);
}

/* Pushes FA_GEN[fn] and returns the stack top before it, for restoring. */
static int push_fn(lua_State *L, const char *fn) {
  int top = lua_gettop(L);
  lua_getglobal(L, "FA_GEN");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  return top;
}

/* Calls with nargs pushed; on a Lua error reports FA_ERR_GENERATOR. */
static fa_status call(fa_context *ctx, lua_State *L, const char *fn, int nargs, int nres) {
  if (lua_pcall(L, nargs, nres, 0) != LUA_OK)
    return fa_err(ctx, FA_ERR_GENERATOR, "generator %s: %s", fn, lua_tostring(L, -1));
  return FA_OK;
}

static fa_status emit_with(fa_context *ctx, fa_gen *g, const char *fn, const char *key, char **src) {
  if (!g || !key || !src) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_emit: NULL argument");
  lua_State *L = g->L;
  int top = push_fn(L, fn);
  lua_pushstring(L, key);
  fa_status s = call(ctx, L, fn, 1, 2);
  if (s == FA_OK) {
    size_t n;
    const char *text = lua_tolstring(L, -2, &n);
    if (!text) {
      s = fa_err(ctx, FA_ERR_VARIANT, "%s", lua_tostring(L, -1));
    } else if (!(*src = malloc(n + 1))) {
      s = fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "source of %s", key);
    } else {
      memcpy(*src, text, n + 1);
    }
  }
  lua_settop(L, top);
  return s;
}

fa_status fa_gen_emit(fa_context *ctx, fa_gen *g, const char *key, char **src) {
  return emit_with(ctx, g, "emit", key, src);
}

fa_status fa_gen_text_hash(fa_context *ctx, fa_gen *g, const char *key, char *out, size_t n) {
  for (int i = 0; i < g->nmemo; ++i)
    if (!strcmp(g->memo[i].key, key)) { snprintf(out, n, "%s", g->memo[i].hash); return FA_OK; }
  char *src = NULL, hash[17] = "";
  fa_status s = fa_gen_emit(ctx, g, key, &src);
  if (s == FA_OK)
    snprintf(hash, sizeof hash, "%016llx",
             (unsigned long long)fa_hash64_str(fa_hash64_str(FA_HASH_SEED, src), fa_version_string()));
  free(src);
  snprintf(out, n, "%s", hash);
  if (s != FA_OK || strlen(key) >= sizeof g->memo[0].key) return s;
  if (g->nmemo == g->cap) {  /* best effort: without room it is formed again next time */
    text_memo *m = realloc(g->memo, (size_t)(g->cap ? 2 * g->cap : 64) * sizeof *m);
    if (!m) return s;
    g->memo = m;
    g->cap = g->cap ? 2 * g->cap : 64;
  }
  snprintf(g->memo[g->nmemo].key, sizeof g->memo[0].key, "%s", key);
  memcpy(g->memo[g->nmemo++].hash, hash, sizeof hash);
  return s;
}

fa_status fa_gen_emit_tool(fa_context *ctx, fa_gen *g, const char *name, char **src) {
  return emit_with(ctx, g, "emit_tool", name, src);
}

void fa_gen_free_list(char **keys, int count) {
  if (!keys) return;
  for (int i = 0; i < count; ++i) free(keys[i]);
  free(keys);
}

/* The keys that the generator's function fn (list, served) returns. */
static fa_status key_list(fa_context *ctx, fa_gen *g, const char *fn, const char *filter, int arch, char ***keys,
                          int *count) {
  if (!g || !keys || !count) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_%s: NULL argument", fn);
  *keys = NULL;
  *count = 0;
  lua_State *L = g->L;
  int top = push_fn(L, fn);
  lua_pushstring(L, filter ? filter : "");
  if (arch > 0) lua_pushinteger(L, arch); else lua_pushnil(L);
  fa_status s = call(ctx, L, fn, 2, 1);
  if (s == FA_OK) {
    int n = (int)luaL_len(L, -1);
    char **out = calloc((size_t)n + 1, sizeof *out);
    if (!out) s = fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "key list");
    for (int i = 0; s == FA_OK && i < n; ++i) {
      lua_rawgeti(L, -1, i + 1);
      out[i] = strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
      if (!out[i]) s = fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "key list");
    }
    if (s == FA_OK) { *keys = out; *count = n; }
    else fa_gen_free_list(out, n);
  }
  lua_settop(L, top);
  return s;
}

fa_status fa_gen_list(fa_context *ctx, fa_gen *g, const char *filter, int arch, char ***keys, int *count) {
  return key_list(ctx, g, "list", filter, arch, keys, count);
}

fa_status fa_gen_list_served(fa_context *ctx, fa_gen *g, const char *filter, int arch, char ***keys, int *count) {
  if (arch <= 0) return fa_err(ctx, FA_ERR_VARIANT, "fa_gen_list_served needs an arch");
  return key_list(ctx, g, "served", filter, arch, keys, count);
}

static int get_int(lua_State *L, int idx, const char *field) {
  lua_getfield(L, idx, field);
  int v = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

fa_status fa_gen_launch(fa_context *ctx, fa_gen *g, const char *key, int arch, fa_launch_info *out) {
  if (!g || !key || !out) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_launch: NULL argument");
  lua_State *L = g->L;
  int top = push_fn(L, "launch");
  lua_pushstring(L, key);
  if (arch > 0) lua_pushinteger(L, arch); else lua_pushnil(L);
  fa_status s = call(ctx, L, "launch", 2, 2);
  if (s == FA_OK && !lua_istable(L, -2)) {
    s = fa_err(ctx, FA_ERR_VARIANT, "%s", lua_tostring(L, -1));
  } else if (s == FA_OK) {
    memset(out, 0, sizeof *out);
    out->threads = get_int(L, -2, "threads");
    out->smem = get_int(L, -2, "smem");
    out->bm = get_int(L, -2, "bm");
    out->bn = get_int(L, -2, "bn");
    out->g = get_int(L, -2, "g");
    out->d = get_int(L, -2, "d");
    out->pos = get_int(L, -2, "pos");
    out->seg = get_int(L, -2, "seg");
    out->softcap = get_int(L, -2, "softcap");
    out->bwd = get_int(L, -2, "bwd");
    out->smem2 = get_int(L, -2, "smem2");
    out->tma = get_int(L, -2, "tma");
    out->kb_order = get_int(L, -2, "kb_order");
    out->persist = get_int(L, -2, "persist");
    out->tma_store = get_int(L, -2, "tma_store");
    lua_getfield(L, -2, "dtype");
    strncpy(out->dtype, lua_tostring(L, -1) ? lua_tostring(L, -1) : "", sizeof out->dtype - 1);
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return s;
}

static void push_problem(lua_State *L, const fa_gen_problem *pr) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, pr->d); lua_setfield(L, -2, "d");
  lua_pushstring(L, pr->dtype); lua_setfield(L, -2, "dtype");
  lua_pushinteger(L, pr->group); lua_setfield(L, -2, "group");
  lua_pushinteger(L, pr->tq); lua_setfield(L, -2, "tq");
  lua_pushinteger(L, pr->tk); lua_setfield(L, -2, "tk");
  lua_pushboolean(L, pr->pos); lua_setfield(L, -2, "pos");
  lua_pushboolean(L, pr->seg); lua_setfield(L, -2, "seg");
  lua_pushboolean(L, pr->softcap); lua_setfield(L, -2, "softcap");
  lua_pushstring(L, pr->bwd ? "bwd" : "fwd"); lua_setfield(L, -2, "dir");
}

fa_status fa_gen_fits(fa_context *ctx, fa_gen *g, const char *key, const fa_gen_problem *pr, int arch) {
  if (!g || !key || !pr) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_fits: NULL argument");
  lua_State *L = g->L;
  int top = push_fn(L, "fits");
  lua_pushstring(L, key);
  push_problem(L, pr);
  if (arch > 0) lua_pushinteger(L, arch); else lua_pushnil(L);
  fa_status s = call(ctx, L, "fits", 3, 2);
  if (s == FA_OK && !lua_toboolean(L, -2))
    s = fa_err(ctx, FA_ERR_VARIANT, "variant %s cannot serve this problem: %s", key, lua_tostring(L, -1));
  lua_settop(L, top);
  return s;
}

fa_status fa_gen_choose(fa_context *ctx, fa_gen *g, const fa_gen_problem *pr, int arch, char *key,
                        size_t key_size, char *why, size_t why_size) {
  if (!g || !pr || !key) return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_gen_choose: NULL argument");
  lua_State *L = g->L;
  int top = push_fn(L, "choose");
  push_problem(L, pr);
  if (arch > 0) lua_pushinteger(L, arch); else lua_pushnil(L);
  fa_status s = call(ctx, L, "choose", 2, 2);
  if (s == FA_OK && !lua_isstring(L, -2)) {
    s = fa_err(ctx, FA_ERR_VARIANT, "%s", lua_tostring(L, -1));
  } else if (s == FA_OK) {
    snprintf(key, key_size, "%s", lua_tostring(L, -2));
    if (why && why_size) snprintf(why, why_size, "%s", lua_tostring(L, -1));
  }
  lua_settop(L, top);
  return s;
}

fa_status fa_gen_check_key(fa_context *ctx, fa_gen *g, const char *key, int arch) {
  fa_launch_info info;
  return fa_gen_launch(ctx, g, key, arch, &info);
}

void fa_gen_problem_from(const fa_problem *p, fa_gen_problem *out) {
  memset(out, 0, sizeof *out);
  out->d = p->head_dim;
  out->dtype = fa_dtype_name(p->dtype);
  out->group = p->heads_kv > 0 ? p->heads_q / p->heads_kv : 1;
  out->tq = p->seqlen_q;
  out->tk = p->seqlen_k;
  out->pos = (p->features & FA_FEAT_POSITIONS) != 0;
  out->seg = (p->features & FA_FEAT_SEGMENTS) != 0;
  out->softcap = p->softcap > 0.f;
}
