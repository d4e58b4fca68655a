/*
** tune_args.c -- fa-tune's numeric arguments: a whole number or a finite
** number inside a range, or an architecture, else a usage message (never
** atoi's silent 0).
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tune.h"

int tune_arg_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  const long v = s ? strtol(s, &end, 10) : 0;
  if (!s || end == s || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "fa-tune %s: %s takes a whole number from %ld to %ld, not '%s'\n", cmd, opt, lo, hi, s ? s : "");
    return -1;
  }
  *out = (int)v;
  return 0;
}

int tune_arg_num(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  const double v = s ? strtod(s, &end) : 0;
  if (!s || end == s || *end || errno || !isfinite(v) || v < lo || v > hi) {
    fprintf(stderr, "fa-tune %s: %s takes a number from %g to %g, not '%s'\n", cmd, opt, lo, hi, s ? s : "");
    return -1;
  }
  *out = v;
  return 0;
}

int tune_arg_arch(const char *cmd, const char *opt, const char *s, int *out) {
  const char *p = s && !strncmp(s, "sm_", 3) ? s + 3 : s;
  char *end;
  errno = 0;
  const long v = p ? strtol(p, &end, 10) : 0;
  if (!p || end == p || (*end && strcmp(end, "a")) || errno || v < 80 || v > 999) {
    fprintf(stderr, "fa-tune %s: %s takes sm_80 or newer (sm_80, sm_86, sm_89, sm_90a, sm_100, sm_120), not '%s'\n",
            cmd, opt, s ? s : "");
    return -1;
  }
  *out = (int)v;
  return 0;
}
