/*
** fa_nvrtc.c -- loads NVRTC at run time, compiles kernels to cubins, and reads
** ptxas' resource report from the compile log.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <nvrtc.h> /* types and enums only: nothing is linked */
#include "fa_int.h"
#include "fa_nvrtc.h"

/* X(name, typedef): every entry point we use, with the signature of <nvrtc.h>. */
typedef nvrtcResult (*nvrtc_version_fn)(int *, int *);
typedef nvrtcResult (*nvrtc_create_fn)(nvrtcProgram *, const char *, const char *, int,
                                       const char *const *, const char *const *);
typedef nvrtcResult (*nvrtc_compile_fn)(nvrtcProgram, int, const char *const *);
typedef nvrtcResult (*nvrtc_size_fn)(nvrtcProgram, size_t *);
typedef nvrtcResult (*nvrtc_get_fn)(nvrtcProgram, char *);
typedef nvrtcResult (*nvrtc_destroy_fn)(nvrtcProgram *);
typedef const char *(*nvrtc_errstr_fn)(nvrtcResult);

#define FA_NVRTC_FUNCS(X)                       \
  X(nvrtcVersion, nvrtc_version_fn)             \
  X(nvrtcCreateProgram, nvrtc_create_fn)        \
  X(nvrtcCompileProgram, nvrtc_compile_fn)      \
  X(nvrtcGetProgramLogSize, nvrtc_size_fn)      \
  X(nvrtcGetProgramLog, nvrtc_get_fn)           \
  X(nvrtcGetCUBINSize, nvrtc_size_fn)           \
  X(nvrtcGetCUBIN, nvrtc_get_fn)                \
  X(nvrtcDestroyProgram, nvrtc_destroy_fn)      \
  X(nvrtcGetErrorString, nvrtc_errstr_fn)

struct fa_nvrtc {
#define FA_NVRTC_FIELD_(name, type) type name;
  FA_NVRTC_FUNCS(FA_NVRTC_FIELD_)
#undef FA_NVRTC_FIELD_
  int version; /* major*1000 + minor*10 */
};

static fa_nvrtc nv_table;
static const fa_nvrtc *nv_loaded;
static char nv_why[1024];
static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

/* The sonames, newest first; 12 still compiles every arch we target. */
static const char *const nv_sonames[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
#define NV_NSONAMES (sizeof nv_sonames / sizeof nv_sonames[0])

/* Appends "what: detail" (or just detail) to nv_why, so the reason lists every attempt. */
static void why_add(const char *what, const char *detail) {
  size_t n = strlen(nv_why);
  if (n + 1 >= sizeof nv_why) return;
  snprintf(nv_why + n, sizeof nv_why - n, "%s%s%s%s", n ? "; " : "", what ? what : "",
           what ? ": " : "", detail ? detail : "?");
}

/* Resolves every entry point of handle h into nv_table; 0 on success. */
static int nv_resolve(void *h, const char *what) {
#define FA_NVRTC_RESOLVE_(name, type)                 \
  nv_table.name = (type)dlsym(h, #name);              \
  if (!nv_table.name) {                               \
    why_add(what, "lacks " #name);                    \
    return -1;                                        \
  }
  FA_NVRTC_FUNCS(FA_NVRTC_RESOLVE_)
#undef FA_NVRTC_RESOLVE_
  int major = 0, minor = 0;
  if (nv_table.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS || major <= 0) {
    why_add(what, "nvrtcVersion failed");
    return -1;
  }
  nv_table.version = major * 1000 + minor * 10;
  return 0;
}

/* dlopens path (a soname or a file) and resolves it; 0 on success. */
static int nv_try(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    why_add(e ? NULL : path, e ? e : "dlopen failed"); /* dlerror names the path */
    return -1;
  }
  if (nv_resolve(h, path) != 0) {
    dlclose(h); /* nothing of it was used */
    return -1;
  }
  return 0; /* the handle stays open for the life of the process */
}

/* Tries each soname inside directory dir; 0 on success. */
static int nv_try_dir(const char *dir) {
  char path[4096];
  for (size_t i = 0; i < NV_NSONAMES; i++) {
    int n = snprintf(path, sizeof path, "%s/%s", dir, nv_sonames[i]);
    if (n < 0 || (size_t)n >= sizeof path) continue;
    struct stat st;
    if (stat(path, &st) != 0) continue; /* absent: not worth a line in the reason */
    if (nv_try(path) == 0) return 0;
  }
  return -1;
}

/* $FA_NVRTC_PATH may name the library itself or the directory holding it. */
static int nv_try_env_path(void) {
  const char *p = getenv("FA_NVRTC_PATH");
  if (!p || !*p) return -1;
  struct stat st;
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (nv_try_dir(p) == 0) return 0;
    why_add(p, "no usable libnvrtc in this FA_NVRTC_PATH directory");
    return -1;
  }
  return nv_try(p);
}

static int nv_try_all(void) {
  if (nv_try_env_path() == 0) return 0;
  for (size_t i = 0; i < NV_NSONAMES; i++)
    if (nv_try(nv_sonames[i]) == 0) return 0;
  const char *home = getenv("CUDA_HOME");
  char dir[4096];
  if (home && *home) {
    int n = snprintf(dir, sizeof dir, "%s/lib64", home);
    if (n > 0 && (size_t)n < sizeof dir && nv_try_dir(dir) == 0) return 0;
  }
  return nv_try_dir("/usr/local/cuda/lib64");
}

static void nv_load_once(void) {
  const char *off = getenv("FA_NO_NVRTC");
  if (off && *off && strcmp(off, "0") != 0) {
    snprintf(nv_why, sizeof nv_why, "NVRTC is disabled by FA_NO_NVRTC");
    return;
  }
  static const char head[] = "no usable NVRTC: ";
  if (nv_try_all() != 0) {
    size_t n = strlen(nv_why);
    if (n + sizeof head > sizeof nv_why) n = sizeof nv_why - sizeof head;
    memmove(nv_why + sizeof head - 1, nv_why, n); /* prefix the list of attempts */
    memcpy(nv_why, head, sizeof head - 1);
    nv_why[n + sizeof head - 1] = '\0';
    return;
  }
  nv_why[0] = '\0';
  nv_loaded = &nv_table;
}

const fa_nvrtc *fa_nvrtc_load(char *why, size_t why_size) {
  pthread_once(&nv_once, nv_load_once);
  if (!nv_loaded && why && why_size) snprintf(why, why_size, "%s", nv_why);
  return nv_loaded;
}

int fa_nvrtc_version(const fa_nvrtc *nv) { return nv ? nv->version : 0; }

/* ---- Compiling ------------------------------------------------------------ */

#define NV_LOG_HEAD 3000 /* how much of a failed log goes into fa_errmsg */
#define NV_MAX_EXTRA 64

/* "sm_90a" for 90: the kernels use Hopper-only instructions (wgmma, setmaxnreg). */
static int arch_option(int arch, char *buf, size_t size) {
  if (arch < 10 || arch > 9999) return -1;
  int n = snprintf(buf, size, "--gpu-architecture=sm_%d%s", arch, arch == 90 ? "a" : "");
  return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The program's log, malloc'ed ("" when NVRTC gives none); NULL only on OOM. */
static char *program_log(const fa_nvrtc *nv, nvrtcProgram prog) {
  size_t n = 0;
  if (nv->nvrtcGetProgramLogSize(prog, &n) != NVRTC_SUCCESS) n = 0;
  char *log = malloc(n + 1);
  if (!log) return NULL;
  if (n == 0 || nv->nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS) n = 0;
  log[n] = '\0';
  return log;
}

/* Records a failed compile: the log's head goes into the error message. */
static fa_status compile_fail(fa_context *ctx, const fa_nvrtc *nv, nvrtcResult r,
                              const char *name, const char *target, const char *log) {
  const char *what = nv->nvrtcGetErrorString(r);
  if (r == NVRTC_ERROR_OUT_OF_MEMORY)
    return fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "NVRTC ran out of memory compiling %s", name);
  size_t len = log ? strlen(log) : 0;
  /* The usual cause: a GPU newer than this NVRTC. */
  char hint[160] = "";
  if (r == NVRTC_ERROR_INVALID_OPTION && log && strstr(log, "gpu-architecture"))
    snprintf(hint, sizeof hint, "\nNVRTC %d.%d may not know %s; a newer CUDA Toolkit's NVRTC (FA_NVRTC_PATH) would",
             nv->version / 1000, nv->version % 1000 / 10, target);
  return fa_err(ctx, FA_ERR_COMPILE, "%s for %s failed (%s):\n%.*s%s%s", name, target,
                what ? what : "?", NV_LOG_HEAD, log ? log : "",
                len > NV_LOG_HEAD ? "\n[log truncated]" : "", hint);
}

/* Copies the cubin of a compiled program out into malloc'ed memory. */
static fa_status take_cubin(fa_context *ctx, const fa_nvrtc *nv, nvrtcProgram prog,
                            const char *name, void **cubin, size_t *cubin_size) {
  size_t n = 0;
  nvrtcResult r = nv->nvrtcGetCUBINSize(prog, &n);
  if (r != NVRTC_SUCCESS || n == 0)
    return fa_err(ctx, FA_ERR_COMPILE, "%s: NVRTC produced no cubin (%s)", name,
                  r != NVRTC_SUCCESS ? nv->nvrtcGetErrorString(r) : "empty");
  void *buf = malloc(n);
  if (!buf) return fa_err(ctx, FA_ERR_OUT_OF_MEMORY, "%s: no memory for a %zu-byte cubin", name, n);
  r = nv->nvrtcGetCUBIN(prog, buf);
  if (r != NVRTC_SUCCESS) {
    free(buf);
    return fa_err(ctx, FA_ERR_COMPILE, "%s: nvrtcGetCUBIN failed (%s)", name,
                  nv->nvrtcGetErrorString(r));
  }
  *cubin = buf;
  *cubin_size = n;
  return FA_OK;
}

/* Builds the option list; returns the count, or -1 if extra_opts is too long. */
static int build_options(const char *arch_opt, const char *const *extra_opts,
                         const char **opts) {
  int n = 0;
  opts[n++] = arch_opt;
  opts[n++] = "-std=c++17";
  opts[n++] = "--ptxas-options=-v"; /* the resource report fa_nvrtc_resources reads */
  for (int i = 0; extra_opts && extra_opts[i]; i++) {
    if (i >= NV_MAX_EXTRA) return -1;
    opts[n++] = extra_opts[i];
  }
  return n;
}

fa_status fa_nvrtc_compile(fa_context *ctx, const fa_nvrtc *nv, const char *name,
                           const char *src, int arch, const char *const *extra_opts,
                           void **cubin, size_t *cubin_size, char **log) {
  if (log) *log = NULL;
  if (cubin) *cubin = NULL;
  if (cubin_size) *cubin_size = 0;
  if (!nv) return fa_err(ctx, FA_ERR_NO_NVRTC, "NVRTC is not loaded");
  if (!src || !cubin || !cubin_size)
    return fa_err(ctx, FA_ERR_NULL_ARGUMENT, "fa_nvrtc_compile: src, cubin and cubin_size are required");
  if (!name || !*name) name = "fa_kernel.cu";
  char arch_opt[64];
  if (arch_option(arch, arch_opt, sizeof arch_opt) != 0)
    return fa_err(ctx, FA_ERR_COMPILE, "%s: cannot compile for arch %d", name, arch);
  const char *opts[3 + NV_MAX_EXTRA];
  int nopts = build_options(arch_opt, extra_opts, opts);
  if (nopts < 0) return fa_err(ctx, FA_ERR_COMPILE, "%s: more than %d extra NVRTC options", name, NV_MAX_EXTRA);

  nvrtcProgram prog = NULL;
  nvrtcResult r = nv->nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
  const char *target = strchr(arch_opt, '=') + 1; /* "sm_90a" */
  if (r != NVRTC_SUCCESS) return compile_fail(ctx, nv, r, name, target, NULL);
  r = nv->nvrtcCompileProgram(prog, nopts, opts);
  char *text = program_log(nv, prog);
  fa_status s = r == NVRTC_SUCCESS ? take_cubin(ctx, nv, prog, name, cubin, cubin_size)
                                   : compile_fail(ctx, nv, r, name, target, text);
  nv->nvrtcDestroyProgram(&prog);
  if (log) *log = text;
  else free(text);
  return s;
}

/* ---- ptxas' resource report ----------------------------------------------------
** NVRTC 13 writes, per entry (other versions vary the spacing and the fields):
**   ptxas info    : Compiling entry function 'fa_fwd' for 'sm_90a'
**   ptxas info    : Function properties for fa_fwd
**   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
**   ptxas info    : Used 168 registers, used 1 barriers, 1024 bytes smem, 400 bytes cmem[0]
** "Function properties" blocks of non-inlined device functions may follow an
** entry's block, so the stack line counts only right after the entry's own header. */

/* The line after p (or the end of the string). */
static const char *next_line(const char *p) {
  const char *e = strchr(p, '\n');
  return e ? e + 1 : p + strlen(p);
}

/* The end of the line starting at p. */
static const char *line_end(const char *p) {
  const char *e = strchr(p, '\n');
  return e ? e : p + strlen(p);
}

/* s within [p, end), or NULL. */
static const char *find_in(const char *p, const char *end, const char *s) {
  size_t n = strlen(s);
  for (; p + n <= end; p++)
    if (strncmp(p, s, n) == 0) return p;
  return NULL;
}

/* Copies the quoted name after "Compiling entry function '" into out. */
static void entry_name(const char *q, char *out, size_t size) {
  size_t n = 0;
  while (q[n] && q[n] != '\'' && q[n] != '\n' && n + 1 < size) {
    out[n] = q[n];
    n++;
  }
  out[n] = '\0';
}

static const char entry_tag[] = "Compiling entry function '";
static const char props_tag[] = "Function properties for ";

/* The line reporting entry (NULL: the first entry), or NULL; its name goes into name. */
static const char *find_entry(const char *log, const char *entry, char *name, size_t size) {
  for (const char *p = strstr(log, entry_tag); p; p = strstr(p + 1, entry_tag)) {
    const char *q = p + sizeof entry_tag - 1;
    size_t n = entry ? strlen(entry) : 0;
    if (entry && !(strncmp(q, entry, n) == 0 && q[n] == '\'')) continue;
    entry_name(q, name, size);
    return p;
  }
  return NULL;
}

/* The integer right before word within [line, end), e.g. " bytes smem"; -1 if none. */
static int value_before(const char *line, const char *end, const char *word) {
  for (const char *w = find_in(line, end, word); w; w = find_in(w + 1, end, word)) {
    const char *d = w;
    while (d > line && isspace((unsigned char)d[-1])) d--;
    const char *e = d;
    while (d > line && isdigit((unsigned char)d[-1])) d--;
    if (d == e) continue;
    long v = 0;
    for (; d < e && v < 0x7fffffff; d++) v = v * 10 + (*d - '0');
    return v > 0x7fffffff ? 0x7fffffff : (int)v;
  }
  return -1;
}

/* Whether [p, end) opens a "Function properties for" block of name ("" = any). */
static int props_for(const char *p, const char *end, const char *name) {
  const char *t = find_in(p, end, props_tag);
  if (!t) return 0;
  if (!*name) return 1;
  t += sizeof props_tag - 1;
  size_t n = strlen(name);
  if ((size_t)(end - t) < n || strncmp(t, name, n) != 0) return 0;
  t += n;
  return t == end || isspace((unsigned char)*t) || *t == ':';
}

/* Reads the fields one line may carry into out. */
static void parse_line(const char *p, const char *end, int in_props, fa_kres *out, int *found) {
  int v;
  /* The first "Used" line counts: in a format without entry lines, the first kernel's. */
  if (!*found && find_in(p, end, "Used") && (v = value_before(p, end, " registers")) >= 0) {
    out->registers = v;
    if ((v = value_before(p, end, " bytes smem")) >= 0) out->smem_static_bytes = v;
    *found = 1;
  }
  if (!in_props) return;
  if ((v = value_before(p, end, " bytes stack frame")) >= 0) out->stack_bytes = v;
  if ((v = value_before(p, end, " bytes spill stores")) >= 0) out->spill_store_bytes = v;
  if ((v = value_before(p, end, " bytes spill loads")) >= 0) out->spill_load_bytes = v;
}

/* Where the report of entry starts. Without any "Compiling entry function"
** line (another ptxas format), the entry's properties block or, for
** entry == NULL, the whole log stands in. */
static const char *report_start(const char *log, const char *entry, char *name, size_t size) {
  const char *p = find_entry(log, entry, name, size);
  if (p || strstr(log, entry_tag)) return p ? next_line(p) : NULL;
  snprintf(name, size, "%s", entry ? entry : "");
  if (!entry) return log;
  for (p = strstr(log, props_tag); p; p = strstr(p + 1, props_tag)) {
    const char *ls = p;
    while (ls > log && ls[-1] != '\n') ls--;
    if (props_for(ls, line_end(p), name)) return ls;
  }
  return NULL;
}

int fa_nvrtc_resources(const char *log, const char *entry, fa_kres *out) {
  if (!log || !out) return -1;
  memset(out, 0, sizeof *out);
  char name[512];
  const char *p = report_start(log, entry, name, sizeof name);
  if (!p) return -1;
  int found = 0, in_props = 0;
  for (; *p; p = next_line(p)) {
    const char *end = line_end(p);
    if (find_in(p, end, "Compiling entry function")) break; /* the next entry's report */
    if (find_in(p, end, props_tag)) {
      in_props = props_for(p, end, name);
      continue;
    }
    parse_line(p, end, in_props, out, &found);
  }
  return found ? 0 : -1;
}

int fa_nvrtc_resources_all(const char *log, const char *const *entries, fa_kres *out) {
  if (!log || !entries || !out) return -1;
  memset(out, 0, sizeof *out);
  int any = 0;
  for (int i = 0; entries[i]; ++i) {
    fa_kres r;
    if (fa_nvrtc_resources(log, entries[i], &r) != 0) continue;
    if (!any || r.registers > out->registers) out->registers = r.registers;
    if (r.stack_bytes > out->stack_bytes) out->stack_bytes = r.stack_bytes;
    if (r.smem_static_bytes > out->smem_static_bytes) out->smem_static_bytes = r.smem_static_bytes;
    out->spill_store_bytes += r.spill_store_bytes;
    out->spill_load_bytes += r.spill_load_bytes;
    any = 1;
  }
  return any ? 0 : -1;
}
