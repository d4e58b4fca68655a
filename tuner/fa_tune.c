/*
** fa_tune.c -- fa-tune: lists, shows, compiles, verifies, benchmarks and
** tunes fa's kernels. `fa-tune --gpu auto` is the main job.
*/
#include <stdlib.h>
#include <string.h>
#include "fa_gen.h"
#include "tune.h"

static const char usage[] =
    "usage: fa-tune COMMAND [options]\n"
    "  list [WORDS...]              variant keys of the default space containing every word\n"
    "  show KEY                     the generated CUDA source of a variant\n"
    "  compile --arch sm_NN [--filter W | --key KEY ...] [-j N] [--out DIR] [--cache DIR]\n"
    "                               compile every variant fa may serve on sm_NN (sm_80, 86, 89, 90a,\n"
    "                               100, 120: the default space and the built-in choice's other keys),\n"
    "                               or each --key's, with NVRTC (no GPU); report registers, spills, shared\n"
    "                               memory; fail on errors or spills; --out keeps\n"
    "                               the cubins (DIR/KEY.cubin, for cuobjdump -sass); --cache fills\n"
    "                               that disk cache (FA_CACHE_DIR) for a GPU of this architecture\n"
    "  verify [--filter W] [--device N] [--as sm_NN] [--space] [--quiet]\n"
    "                               correctness sweep on the GPU against the fp64 reference, over\n"
    "                               every variant fa may serve there (--as: on sm_NN, those that\n"
    "                               run here too; --space: the default space's only)\n"
    "  bench [--grid seed|seed4|d256|gemma] [--filter W] [--reps N] [--rep-ms MS] [--json FILE] [--all]\n"
    "                               time every fitting variant per shape, report the best (as\n"
    "                               do_bench: at least N repetitions and MS ms, default 20 and 100);\n"
    "                               --splits N forces N split-KV slices (fa_plan_options.kv_splits)\n"
    "  --gpu auto|N [--grid default|gemma|seed|d256] [--budget MIN] [--db PATH] [--ship PATH] [--dry-run]\n"
    "                               the main job: tune the grid on the GPU into the user database\n"
    "                               (resumes; --ship writes a compact copy); without a GPU it\n"
    "                               compiles the default space and says what needs one\n"
    "  export --out DIR [--db PATH] [--gpu N]\n"
    "                               the winners' cubins and a manifest, for running without NVRTC\n"
    "Exit status: 0 success, 1 failure, 2 usage, 77 skipped (a GPU or NVRTC is missing).\n";

static int cmd_list(int argc, char **argv) {
  char filter[1024] = "";
  for (int i = 0; i < argc; ++i) {
    strncat(filter, argv[i], sizeof filter - strlen(filter) - 2);
    strcat(filter, " ");
  }
  fa_gen *gen;
  char **keys;
  int n;
  if (fa_gen_open(NULL, &gen) || fa_gen_list(NULL, gen, filter, 0, &keys, &n)) {
    fprintf(stderr, "fa-tune: %s\n", fa_errmsg(NULL));
    return 1;
  }
  for (int i = 0; i < n; ++i) puts(keys[i]);
  fa_gen_free_list(keys, n);
  fa_gen_close(gen);
  return 0;
}

static int cmd_show(int argc, char **argv) {
  if (argc != 1) { fputs(usage, stderr); return 2; }
  fa_gen *gen;
  char *src;
  if (fa_gen_open(NULL, &gen) || fa_gen_emit(NULL, gen, argv[0], &src)) {
    fprintf(stderr, "fa-tune: %s\n", fa_errmsg(NULL));
    return 1;
  }
  fputs(src, stdout);
  free(src);
  fa_gen_close(gen);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *c = argv[1];
  if (!strcmp(c, "list")) return cmd_list(argc - 2, argv + 2);
  if (!strcmp(c, "show")) return cmd_show(argc - 2, argv + 2);
  if (!strcmp(c, "compile")) return tune_cmd_compile(argc - 2, argv + 2);
  if (!strcmp(c, "verify")) return tune_cmd_verify(argc - 2, argv + 2);
  if (!strcmp(c, "bench")) return tune_cmd_bench(argc - 2, argv + 2);
  if (!strcmp(c, "--gpu")) return tune_cmd_tune(argc - 1, argv + 1);
  if (!strcmp(c, "tune")) return tune_cmd_tune(argc - 2, argv + 2);
  if (!strcmp(c, "export")) return tune_cmd_export(argc - 2, argv + 2);
  fprintf(stderr, "fa-tune: unknown command '%s'\n%s", c, usage);
  return 2;
}
