/* consumer.c -- an application built against an installed fa (tests/test_install.sh):
** fa.h alone, no driver (FA_NO_DRIVER=1), and, where PREFIX is given, the shipped
** tuning.db found under that prefix beside the shared library. */
#include <stdio.h>
#include <string.h>
#include <fa.h>

static int failed;
static void check(int ok, const char *what, const char *detail) {
  fprintf(stderr, "%s: %s%s%s\n", ok ? "ok" : "FAILED", what, detail ? ": " : "", detail ? detail : "");
  failed += !ok;
}

int main(int argc, char **argv) {
  const char *prefix = argc > 1 ? argv[1] : NULL;
  check(fa_version() == FA_VERSION_HEX, "the loaded library is the header's version", fa_version_string());

  fa_context *ctx = NULL;
  fa_status s = fa_context_create(NULL, &ctx);
  check(s == FA_ERR_NO_DEVICE && !ctx, "no driver is a status", fa_errmsg(NULL));

  /* A compile-only context: the embedded generator runs; NVRTC is refused. */
  fa_context_options o;
  fa_context_options_init(&o);
  o.device = FA_DEVICE_NONE;
  o.arch = 90;
  o.flags = FA_CTX_NO_NVRTC | FA_CTX_NO_DISK_CACHE;
  s = fa_context_create(&o, &ctx);
  check(s == FA_OK, "compile-only context", s == FA_OK ? fa_context_describe(ctx) : fa_errmsg(NULL));
  if (s == FA_OK && prefix) {
    char want[4096];
    snprintf(want, sizeof want, "shipped %s/", prefix);
    const char *d = fa_context_describe(ctx);
    check(strstr(d, want) && strstr(d, "share/fa/tuning.db"), "the shipped tuning.db under the prefix", want);
  }
  if (s == FA_OK) {
    fa_problem p;
    fa_problem_init(&p, FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 257, 257, 8, 1, 256);
    p.causal = 1;
    p.softcap = 50.f;
    fa_plan *plan = NULL;
    s = fa_plan_create(ctx, &p, NULL, &plan);
    check(s == FA_ERR_NO_NVRTC && !plan, "a plan without NVRTC or cubins is a status", fa_errmsg(ctx));
    fa_plan_destroy(plan);
  }
  fa_context_destroy(ctx);
  fa_context_destroy(NULL);
  printf("%d failed\n", failed);
  return failed != 0;
}
