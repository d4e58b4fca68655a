/*
** test_nvrtc.c -- NVRTC loading, compiling and the ptxas resource parser.
** Usage: test_nvrtc absent   FA_NO_NVRTC=1 must make NVRTC absent
**        test_nvrtc present  compiles real kernels; exits 77 (skip) without NVRTC
** Each mode is its own process: NVRTC is loaded once per process.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fa_int.h"
#include "fa_nvrtc.h"

#include "check.h"

/* ---- The parser, on canned logs (needs no NVRTC) ------------------------------ */

/* NVRTC 13.0's report, with a non-inlined device function after k2. */
static const char *LOG13 =
    "ptxas info    : 0 bytes gmem\n"
    "ptxas info    : Compiling entry function 'fa_fwd' for 'sm_90a'\n"
    "ptxas info    : Function properties for fa_fwd\n"
    "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 168 registers, used 1 barriers, 1024 bytes smem, 400 bytes cmem[0]\n"
    "ptxas info    : Compile time = 1.929 ms\n"
    "ptxas info    : Compiling entry function 'fa_fwd2' for 'sm_90a'\n"
    "ptxas info    : Function properties for fa_fwd2\n"
    "ptxas         .     624 bytes stack frame, 268 bytes spill stores, 276 bytes spill loads\n"
    "ptxas info    : Used 24 registers, used 0 barriers, 624 bytes cumulative stack size, 360 bytes cmem[0]\n"
    "ptxas info    : Compile time = 23.019 ms\n"
    "ptxas info    : Function properties for _Z1gPfi\n"
    "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n";

/* An older ptxas: indented property line, smem before cmem, no barriers, CRLF. */
static const char *LOG_OLD =
    "ptxas info    : Compiling entry function 'k' for 'sm_80'\r\n"
    "ptxas info    : Function properties for k\r\n"
    "    16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\r\n"
    "ptxas info    : Used 9 registers, 2048 bytes smem, 364 bytes cmem[0]\r\n";

/* No entry lines at all. */
static const char *LOG_BARE =
    "ptxas info    : Function properties for solo\n"
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 40 registers, 0 bytes smem\n";

static void test_parser(void) {
  fa_kres r;
  CHECK(fa_nvrtc_resources(LOG13, "fa_fwd", &r) == 0);
  CHECK(r.registers == 168 && r.smem_static_bytes == 1024 && r.stack_bytes == 0 &&
        r.spill_store_bytes == 0 && r.spill_load_bytes == 0);
  CHECK(fa_nvrtc_resources(LOG13, NULL, &r) == 0 && r.registers == 168);
  CHECK(fa_nvrtc_resources(LOG13, "fa_fwd2", &r) == 0);
  CHECK(r.registers == 24 && r.stack_bytes == 624 && r.spill_store_bytes == 268 &&
        r.spill_load_bytes == 276 && r.smem_static_bytes == 0);
  CHECK(fa_nvrtc_resources(LOG13, "fa_fw", &r) == -1); /* a prefix is not a match */
  CHECK(fa_nvrtc_resources(LOG13, "_Z1gPfi", &r) == -1); /* not an entry */
  CHECK(fa_nvrtc_resources(LOG_OLD, "k", &r) == 0);
  CHECK(r.registers == 9 && r.smem_static_bytes == 2048 && r.stack_bytes == 16 &&
        r.spill_store_bytes == 8 && r.spill_load_bytes == 12);
  CHECK(fa_nvrtc_resources(LOG_BARE, "solo", &r) == 0 && r.registers == 40);
  CHECK(fa_nvrtc_resources(LOG_BARE, NULL, &r) == 0 && r.registers == 40);
  CHECK(fa_nvrtc_resources(LOG_BARE, "other", &r) == -1);
  CHECK(fa_nvrtc_resources("", NULL, &r) == -1);
  CHECK(fa_nvrtc_resources("garbage\n\n'Compiling entry function '", NULL, &r) == -1);
  CHECK(fa_nvrtc_resources(NULL, NULL, &r) == -1);
}

/* ---- Absent ------------------------------------------------------------------- */

static void test_absent(void) {
  setenv("FA_NO_NVRTC", "1", 1);
  char why[256] = "";
  CHECK(fa_nvrtc_load(why, sizeof why) == NULL);
  CHECK(why[0] != '\0');
  printf("  absent: %s\n", why);
  /* Loading is once per process: the answer stays the same. */
  unsetenv("FA_NO_NVRTC");
  CHECK(fa_nvrtc_load(NULL, 0) == NULL);
  void *cubin = (void *)1;
  size_t size = 1;
  CHECK(fa_nvrtc_compile(NULL, NULL, "x", "", 80, NULL, &cubin, &size, NULL) == FA_ERR_NO_NVRTC);
  CHECK(cubin == NULL && size == 0);
  CHECK(fa_nvrtc_version(NULL) == 0);
}

/* ---- Present ---------------------------------------------------------------------- */

static const char *TINY =
    "extern \"C\" __global__ void fa_test(float *x, int n) {\n"
    "  __shared__ float s[256];\n"
    "  int i = threadIdx.x;\n"
    "  s[i] = x[i];\n"
    "  __syncthreads();\n"
    "  if (i < n) x[i] = s[255 - i] * 2.0f;\n"
    "}\n";

/* Local arrays indexed at run time under a tight register cap: must spill. */
static const char *SPILLY =
    "extern \"C\" __global__ void spilly(float *x) {\n"
    "  float a[64];\n"
    "  for (int i = 0; i < 64; i++) a[i] = x[i * threadIdx.x];\n"
    "  float s = 0;\n"
    "  for (int i = 0; i < 64; i++) s += a[i] * a[63 - i] * x[i];\n"
    "  x[0] = a[x[1] > 0 ? (int)x[2] : 3] + s;\n"
    "}\n";

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void compile_tiny(const fa_nvrtc *nv, int arch) {
  void *cubin = NULL;
  size_t size = 0;
  char *log = NULL;
  double t0 = now();
  fa_status s = fa_nvrtc_compile(NULL, nv, "tiny.cu", TINY, arch, NULL, &cubin, &size, &log);
  double dt = now() - t0;
  CHECK(s == FA_OK);
  if (s != FA_OK) fprintf(stderr, "  %s\n", fa_errmsg(NULL));
  CHECK(cubin && size > 4 && memcmp(cubin, "\x7f" "ELF", 4) == 0);
  CHECK(log != NULL);
  fa_kres r;
  CHECK(log && fa_nvrtc_resources(log, "fa_test", &r) == 0);
  CHECK(r.registers > 0 && r.smem_static_bytes == 1024 && r.spill_store_bytes == 0);
  printf("  sm_%d: %zu-byte cubin, %d registers, %d bytes smem, %.3f s\n", arch, size,
         r.registers, r.smem_static_bytes, dt);
  free(cubin);
  free(log);
}

static void compile_spilly(const fa_nvrtc *nv) {
  const char *opts[] = {"--maxrregcount=24", NULL};
  void *cubin = NULL;
  size_t size = 0;
  char *log = NULL;
  CHECK(fa_nvrtc_compile(NULL, nv, "spilly.cu", SPILLY, 80, opts, &cubin, &size, &log) == FA_OK);
  fa_kres r;
  CHECK(log && fa_nvrtc_resources(log, NULL, &r) == 0);
  CHECK(r.registers > 0 && r.registers <= 24 && r.spill_store_bytes > 0 && r.stack_bytes > 0);
  free(cubin);
  free(log);
}

static void compile_broken(const fa_nvrtc *nv) {
  const char *src = "extern \"C\" __global__ void k(float *x) { x[0] = undefined_thing; }\n";
  void *cubin = (void *)1;
  size_t size = 1;
  char *log = NULL;
  fa_err_clear(NULL);
  CHECK(fa_nvrtc_compile(NULL, nv, "broken.cu", src, 80, NULL, &cubin, &size, &log) ==
        FA_ERR_COMPILE);
  CHECK(cubin == NULL && size == 0);
  CHECK(strstr(fa_errmsg(NULL), "undefined_thing") != NULL);
  CHECK(strstr(fa_errmsg(NULL), "broken.cu") != NULL);
  CHECK(log && strstr(log, "undefined_thing") != NULL);
  free(log);
  /* A bad option is a compile failure too, and the message says which. */
  const char *bad[] = {"--no-such-option", NULL};
  CHECK(fa_nvrtc_compile(NULL, nv, "tiny.cu", TINY, 80, bad, &cubin, &size, NULL) ==
        FA_ERR_COMPILE);
  CHECK(strstr(fa_errmsg(NULL), "no-such-option") != NULL);
  CHECK(strstr(fa_errmsg(NULL), "may not know") == NULL);
  /* An architecture this NVRTC does not know: the message says what to do. */
  CHECK(fa_nvrtc_compile(NULL, nv, "tiny.cu", TINY, 990, NULL, &cubin, &size, NULL) == FA_ERR_COMPILE);
  CHECK(strstr(fa_errmsg(NULL), "may not know sm_990") && strstr(fa_errmsg(NULL), "FA_NVRTC_PATH"));
}

static int test_present(void) {
  unsetenv("FA_NO_NVRTC");
  char why[1024] = "";
  const fa_nvrtc *nv = fa_nvrtc_load(why, sizeof why);
  if (!nv) {
    printf("SKIPPED: %s\n", why);
    return 77;
  }
  CHECK(fa_nvrtc_load(NULL, 0) == nv);
  int v = fa_nvrtc_version(nv);
  CHECK(v >= 11000);
  printf("  NVRTC %d.%d\n", v / 1000, v % 1000 / 10);
  compile_tiny(nv, 80);
  compile_tiny(nv, 90);
  compile_spilly(nv);
  compile_broken(nv);
  return -1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "absent") != 0 && strcmp(mode, "present") != 0) {
    fprintf(stderr, "usage: %s absent|present\n", argv[0]);
    return 1;
  }
  test_parser();
  if (!strcmp(mode, "absent")) {
    test_absent();
  } else {
    int rc = test_present();
    if (rc == 77) return 77;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
