/*
** fa_luastd.c -- stdio objects for the embedded Lua.
**
** Debian's liblua5.4.a is not position-independent: its references to glibc's
** stdin/stdout/stderr cannot be resolved from a shared library. These hidden
** definitions take those references instead. stdout points at stderr, so
** nothing Lua does can ever print to the host program's stdout.
*/
#define _GNU_SOURCE
#include <dlfcn.h>

void *stdin, *stdout, *stderr; /* hidden by -fvisibility=hidden */

__attribute__((constructor)) static void fa_luastd_init(void) {
  void **err = (void **)dlsym(RTLD_DEFAULT, "stderr");
  void **in = (void **)dlsym(RTLD_DEFAULT, "stdin");
  stderr = err ? *err : 0;
  stdout = stderr;
  stdin = in ? *in : 0;
}
