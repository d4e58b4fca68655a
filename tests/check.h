/*
** check.h -- the tests' checks: count passes and failures, print each failure
** with its place, and end with the line ctest and CI read ("N passed, N failed").
*/
#ifndef FA_TEST_CHECK_H
#define FA_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (cond) {                                                          \
      passed++;                                                          \
    } else {                                                             \
      failed++;                                                          \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
    }                                                                    \
  } while (0)

/* A check with a printf-style message on failure. */
#define CHECKM(cond, ...)                                                \
  do {                                                                   \
    if (cond) {                                                          \
      passed++;                                                          \
    } else {                                                             \
      failed++;                                                          \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                      \
      fputc('\n', stderr);                                               \
    }                                                                    \
  } while (0)

#endif
