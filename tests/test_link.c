/* test_link.c -- links libfa-runtime.so through fa.h alone; checks that a
** missing driver is a status, not a crash, and that nothing reaches stdout. */
#include <stdio.h>
#include <string.h>
#include "fa.h"

int main(void) {
  fa_context *ctx = NULL;
  fa_status s = fa_context_create(NULL, &ctx); /* FA_NO_DRIVER=1 is set by ctest */
  int ok = s == FA_ERR_NO_DEVICE && !ctx && strlen(fa_errmsg(NULL)) > 0 && fa_version() == FA_VERSION_HEX;
  fprintf(stderr, "status %s: %s\n", fa_status_name(s), fa_errmsg(NULL));
  printf("%d passed, %d failed\n", ok, !ok);
  return ok ? 0 : 1;
}
