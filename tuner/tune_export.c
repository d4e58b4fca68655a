/*
** tune_export.c -- `fa-tune export --out DIR`: the tuned winners of this GPU
** as cubins (DIR/<key>.<sm_XX>.cubin), their table (DIR/tuning.db, which the
** runtime reads as a tuning layer when FA_EXPORT_DIR or export_dir names
** DIR) and a readable manifest (DIR/manifest.txt). The runtime then serves
** these kernels with NVRTC absent.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fa_ctx.h"
#include "fa_db.h"
#include "fa_gen.h"
#include "fa_kernel.h"
#include "tune.h"

typedef struct export_state {
  fa_context *ctx;
  fa_gen *gen;
  fa_db *out_db;
  FILE *manifest;
  const char *dir;
  char seen[512][160];
  int nseen, written, failed;
} export_state;

static void export_one(const char *variant, const fa_bucket *b, void *arg) {
  export_state *e = arg;
  char text[32];
  fa_db_set_winner(e->out_db, &e->ctx->gpu, b, variant, 0, 0,
                   fa_gen_text_hash(NULL, e->gen, variant, text, sizeof text) == FA_OK ? text : NULL);
  fprintf(e->manifest, "winner %s %s %d %d %d\n", variant, b->exact, b->tq, b->tk, b->bh);
  for (int i = 0; i < e->nseen; ++i)
    if (!strcmp(e->seen[i], variant)) return;
  if (e->nseen < 512) snprintf(e->seen[e->nseen++], sizeof e->seen[0], "%s", variant);
  char *src = NULL, arch[16], path[4600];
  void *cubin = NULL;
  size_t size = 0;
  fa_arch_name(e->ctx->arch, arch, sizeof arch);
  if (fa_gen_emit(NULL, e->gen, variant, &src) != FA_OK ||
      fa_nvrtc_compile(NULL, e->ctx->nvrtc, variant, src, e->ctx->arch, NULL, &cubin, &size, NULL) != FA_OK) {
    fprintf(stderr, "fa-tune export: %s: %s\n", variant, fa_errmsg(NULL));
    e->failed++;
  } else {
    snprintf(path, sizeof path, "%s/%s.%s.cubin", e->dir, variant, arch);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(cubin, 1, size, f) != size) e->failed++;
    else e->written++;
    if (f) fclose(f);
  }
  free(src);
  free(cubin);
}

int tune_cmd_export(int argc, char **argv) {
  const char *out = NULL, *db_path = NULL;
  int device = 0;
  for (int i = 0; i < argc; ++i) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--gpu") && i + 1 < argc) {
      if (tune_arg_int("export", "--gpu", argv[++i], 0, 1023, &device)) return 2;
    }
    else { fprintf(stderr, "fa-tune export: unknown argument '%s'\n", argv[i]); return 2; }
  }
  if (!out) { fprintf(stderr, "fa-tune export: --out DIR is required\n"); return 2; }
  char name[256];
  if (tune_dev_open(device, name, sizeof name)) {
    printf("SKIPPED: export names the GPU's winners and needs it: %s\n", name);
    return 77;
  }
  fa_context_options co;
  fa_context_options_init(&co);
  co.device = device;
  co.tuning_db = db_path;
  fa_context *ctx;
  if (fa_context_create(&co, &ctx) != FA_OK) { fprintf(stderr, "fa-tune export: %s\n", fa_errmsg(NULL)); return 1; }
  if (!ctx->nvrtc) { fprintf(stderr, "fa-tune export: needs NVRTC: %s\n", ctx->nvrtc_why); return 1; }
  mkdir(out, 0755);
  export_state e;
  memset(&e, 0, sizeof e);
  e.ctx = ctx;
  e.dir = out;
  char path[4600], why[4600];
  snprintf(path, sizeof path, "%s/tuning.db", out);
  remove(path);
  e.out_db = fa_db_open(path, 1, why, sizeof why);
  snprintf(path, sizeof path, "%s/manifest.txt", out);
  e.manifest = fopen(path, "w");
  if (!e.out_db || !e.manifest || fa_gen_open(NULL, &e.gen) != FA_OK) {
    fprintf(stderr, "fa-tune export: cannot write %s: %s\n", out, e.out_db ? "manifest" : why);
    return 1;
  }
  char arch[16];
  fprintf(e.manifest, "# fa export: tuned winners and their cubins; the runtime reads tuning.db beside this file\n");
  fprintf(e.manifest, "fa_version %s\ngpu %s\narch %s\nnvrtc %d\n", fa_version_string(), ctx->gpu.name,
          fa_arch_name(ctx->arch, arch, sizeof arch), ctx->gpu.nvrtc);
  /* Each bucket once, from the layer a lookup would use (the user's rows win). */
  const int n = fa_db_layers_each_winner(&ctx->db, &ctx->gpu, export_one, &e);
  fclose(e.manifest);
  fa_db_close(e.out_db);
  fa_gen_close(e.gen);
  printf("fa-tune export: %d winners, %d cubins written to %s, %d failed\n", n, e.written, out, e.failed);
  fa_context_destroy(ctx);
  return e.failed || !n ? 1 : 0;
}
