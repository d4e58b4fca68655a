/*
** bench_csv.c -- fa-bench's CSV: one row per (shape, implementation), '#'
** lines for the run's notes (device, date, method). Missing numbers are empty
** fields; the status is the last field and never holds a comma.
*/
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

const char bench_csv_header[] =
    "grid,name,B,Tq,Tk,Hq,Hkv,d,causal,window,softcap,impl,ms_median,ms_min,ms_max,tflops,"
    "speedup_vs_std,peak_mib,err_max,err_mean,status";
#define NFIELDS 21

void bench_row_init(bench_row *r, const char *grid, const tune_shape *s, const char *impl) {
  memset(r, 0, sizeof *r);
  snprintf(r->grid, sizeof r->grid, "%s", grid);
  snprintf(r->name, sizeof r->name, "%s", s->name);
  snprintf(r->impl, sizeof r->impl, "%s", impl);
  const fa_problem *p = &s->p;
  r->B = p->batch; r->Tq = p->seqlen_q; r->Tk = p->seqlen_k;
  r->Hq = p->heads_q; r->Hkv = p->heads_kv; r->d = p->head_dim;
  r->causal = p->causal;
  r->window = p->window_left >= 0 ? p->window_left + 1 : 0;
  r->softcap = p->softcap;
  r->ms_median = r->ms_min = r->ms_max = r->tflops = r->speedup = NAN;
  r->peak_mib = r->err_max = r->err_mean = NAN;
  snprintf(r->status, sizeof r->status, "not run");
}

void bench_status_set(bench_row *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->status, sizeof r->status, fmt, ap);
  va_end(ap);
  for (char *c = r->status; *c; ++c) {
    if (*c == ',') *c = ';';
    else if (*c == '"') *c = '\'';
    else if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  }
}

int bench_rows_add(bench_rows *rs, const bench_row *r) {
  if (rs->n == rs->cap) {
    int cap = rs->cap ? rs->cap * 2 : 64;
    bench_row *v = realloc(rs->v, (size_t)cap * sizeof *v);
    if (!v) return -1;
    rs->v = v;
    rs->cap = cap;
  }
  rs->v[rs->n++] = *r;
  return 0;
}

int bench_rows_note(bench_rows *rs, const char *text) {
  char **v = realloc(rs->notes, (size_t)(rs->nnotes + 1) * sizeof *v);
  if (!v) return -1;
  rs->notes = v;
  size_t len = strlen(text);
  if (!(v[rs->nnotes] = malloc(len + 1))) return -1;
  memcpy(v[rs->nnotes++], text, len + 1);
  return 0;
}

void bench_rows_free(bench_rows *rs) {
  free(rs->v);
  for (int i = 0; i < rs->nnotes; ++i) free(rs->notes[i]);
  free(rs->notes);
  memset(rs, 0, sizeof *rs);
}

static void num(FILE *f, double x, const char *fmt) {
  fputc(',', f);
  if (isfinite(x)) fprintf(f, fmt, x);
  else if (isinf(x)) fputs("inf", f);
}

void bench_csv_write_row(FILE *f, const bench_row *r) {
  fprintf(f, "%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%g,%s", r->grid, r->name, r->B, r->Tq, r->Tk, r->Hq, r->Hkv, r->d,
          r->causal, r->window, r->softcap, r->impl);
  num(f, r->ms_median, "%.6g");
  num(f, r->ms_min, "%.6g");
  num(f, r->ms_max, "%.6g");
  num(f, r->tflops, "%.4g");
  num(f, r->speedup, "%.4g");
  num(f, r->peak_mib, "%.1f");
  num(f, r->err_max, "%.4g");
  num(f, r->err_mean, "%.4g");
  fprintf(f, ",%s\n", r->status);
}

static int field_int(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < -(1L << 31) || v > (1L << 31) - 1) return -1;
  *out = (int)v;
  return 0;
}

static int field_num(const char *s, double *out) {
  if (!*s) { *out = NAN; return 0; }
  char *end;
  *out = strtod(s, &end);
  return end == s || *end ? -1 : 0;
}

static int field_str(const char *s, char *out, size_t n) {
  if (strlen(s) >= n) return -1;
  memcpy(out, s, strlen(s) + 1);
  return 0;
}

int bench_csv_parse_row(const char *line, bench_row *r) {
  char buf[1024], *f[NFIELDS];
  size_t len = strcspn(line, "\r\n");
  if (len >= sizeof buf) return -1;
  memcpy(buf, line, len);
  buf[len] = 0;
  int k = 0;
  char *p = buf;
  for (; k < NFIELDS; ++k) {
    f[k] = p;
    char *c = k < NFIELDS - 1 ? strchr(p, ',') : NULL;
    if (!c) { ++k; break; }
    *c = 0;
    p = c + 1;
  }
  if (k != NFIELDS) return -1;
  memset(r, 0, sizeof *r);
  if (field_str(f[0], r->grid, sizeof r->grid) || field_str(f[1], r->name, sizeof r->name) || !r->grid[0] ||
      !r->name[0])
    return -1;
  int *ints[8] = {&r->B, &r->Tq, &r->Tk, &r->Hq, &r->Hkv, &r->d, &r->causal, &r->window};
  for (int i = 0; i < 8; ++i)
    if (field_int(f[2 + i], ints[i])) return -1;
  if (field_num(f[10], &r->softcap) || isnan(r->softcap)) return -1;
  if (field_str(f[11], r->impl, sizeof r->impl) || !r->impl[0]) return -1;
  double *nums[8] = {&r->ms_median, &r->ms_min, &r->ms_max, &r->tflops, &r->speedup, &r->peak_mib, &r->err_max,
                     &r->err_mean};
  for (int i = 0; i < 8; ++i)
    if (field_num(f[12 + i], nums[i])) return -1;
  if (field_str(f[20], r->status, sizeof r->status)) return -1;
  if (r->B <= 0 || r->Tq <= 0 || r->Tk <= 0 || r->Hq <= 0 || r->Hkv <= 0 || r->d <= 0) return -1;
  return 0;
}

int bench_csv_read(const char *path, bench_rows *rs, char *err, size_t n) {
  FILE *f = fopen(path, "r");
  if (!f) { snprintf(err, n, "cannot read %s", path); return -1; }
  char line[1024];
  int lineno = 0, header = 0;
  while (fgets(line, sizeof line, f)) {
    ++lineno;
    if (!strchr(line, '\n') && !feof(f)) { snprintf(err, n, "%s:%d: line too long", path, lineno); fclose(f); return -1; }
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#') {
      const char *t = line + 1;
      while (*t == ' ') ++t;
      bench_rows_note(rs, t);
      continue;
    }
    const char *t = line;
    while (isspace((unsigned char)*t)) ++t;
    if (!*t) continue;
    if (!header) {
      if (strcmp(line, bench_csv_header)) {
        snprintf(err, n, "%s:%d: not fa-bench's CSV header (expected '%s')", path, lineno, bench_csv_header);
        fclose(f);
        return -1;
      }
      header = 1;
      continue;
    }
    bench_row r;
    if (bench_csv_parse_row(line, &r) || bench_rows_add(rs, &r)) {
      snprintf(err, n, "%s:%d: malformed row", path, lineno);
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  if (!header) { snprintf(err, n, "%s: no header line", path); return -1; }
  return 0;
}
