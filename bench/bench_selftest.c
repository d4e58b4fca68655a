/*
** bench_selftest.c -- `fa-bench --selftest [FIXTURE]`: fa-bench's CPU side
** without a GPU: argument parsing, grid expansion, --shape specs, check
** problems, work counts, the CSV, thresholds, KV-cache sizes, and the report
** and plot script written from a recorded CSV (bench/testdata/fixture.csv).
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench.h"

static int passed, failed;
#define CHECK(cond, ...)                          \
  do {                                            \
    if (cond) passed++;                           \
    else {                                        \
      failed++;                                   \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                        \
      printf("\n");                               \
    }                                             \
  } while (0)

static int parse(bench_opts *o, char *err, int argc, ...) {
  char *argv[32];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc && i < 32; ++i) argv[i] = va_arg(ap, char *);
  va_end(ap);
  return bench_parse_args(argc, argv, o, err, 512);
}

static int count_if(const bench_opts *o, const char *name_part, int B, int S, int causal) {
  int n = 0;
  for (int i = 0; i < o->ncases; ++i) {
    const fa_problem *p = &o->cases[i].shape.p;
    if (name_part && !strstr(o->cases[i].shape.name, name_part)) continue;
    if (B && p->batch != B) continue;
    if (S && p->seqlen_q != S) continue;
    if (causal >= 0 && p->causal != causal) continue;
    n++;
  }
  return n;
}

static void test_args(void) {
  bench_opts o;
  char err[512];
  CHECK(parse(&o, err, 2, "--grid", "seed") == 0 && o.ncases == 80, "seed grid: %d shapes", o.ncases);
  CHECK(count_if(&o, "seed_32x32", 0, 0, -1) == 40 && count_if(&o, "seed_32x8", 0, 0, -1) == 40, "seed head configs");
  CHECK(count_if(&o, NULL, 0, 0, 1) == 40, "seed: half causal");
  static const int Bs[4] = {1, 4, 8, 16};
  for (int b = 0; b < 4; ++b) CHECK(count_if(&o, NULL, Bs[b], 0, -1) == 20, "seed B=%d", Bs[b]);
  for (int S = 512; S <= 8192; S *= 2) CHECK(count_if(&o, NULL, 0, S, -1) == 16, "seed S=%d", S);
  int ok = 1;
  for (int i = 0; i < o.ncases; ++i) {
    const fa_problem *p = &o.cases[i].shape.p;
    ok &= p->head_dim == 128 && p->seqlen_q == p->seqlen_k && p->heads_q == 32 && (p->heads_kv == 32 || p->heads_kv == 8) &&
          !strcmp(o.cases[i].grid, "seed") && !(p->features & FA_FEAT_LSE) && fa_problem_check(NULL, p) == FA_OK;
  }
  CHECK(ok, "seed shapes are d128, square, 32/32 or 32/8, valid");
  bench_opts_free(&o);

  CHECK(parse(&o, err, 2, "--grid", "gemma") == 0 && o.ncases == 18, "gemma grid: %d shapes", o.ncases);
  CHECK(count_if(&o, "pi0fast_decode", 0, 1, 1) == 3 && count_if(&o, "gemma3_4b_decode", 16, 1, 1) == 4,
        "gemma grid has the decode rows 7 and 12");
  CHECK(count_if(&o, "gemma2_2b_local", 4, 8192, 1) == 1 && count_if(&o, "pi0_denoise", 1, 51, 0) == 1, "gemma rows");
  ok = 1;
  for (int i = 0; i < o.ncases; ++i) {
    const fa_problem *p = &o.cases[i].shape.p;
    ok &= fa_problem_check(NULL, p) == FA_OK && !strcmp(o.cases[i].grid, "gemma");
    if (p->head_dim == 256) ok &= p->scale == 1.f / 16;
  }
  CHECK(ok, "gemma shapes valid, d256 scale 1/16");
  for (int i = 0; i < o.ncases; ++i)
    if (strstr(o.cases[i].shape.name, "gemma3_4b_decode_local"))
      CHECK(o.cases[i].shape.p.window_left == 1023 && o.cases[i].shape.p.heads_kv == 4, "gemma3 local window");
  bench_opts_free(&o);

  CHECK(parse(&o, err, 0) == 0 && o.ncases == 98, "default: seed + gemma (%d)", o.ncases);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 2, "--grid", "all") == 0 && o.ncases == 98, "all: %d", o.ncases);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 4, "--grid", "seed", "--filter", "32x8") == 0 && o.ncases == 40, "filter: %d", o.ncases);
  bench_opts_free(&o);

  CHECK(parse(&o, err, 2, "--shape", "4,8192,8192,8,4,256,causal,softcap=50,window=4096") == 0 && o.ncases == 1,
        "--shape: %s", err);
  if (o.ncases == 1) {
    const fa_problem *p = &o.cases[0].shape.p;
    CHECK(p->batch == 4 && p->seqlen_q == 8192 && p->seqlen_k == 8192 && p->heads_q == 8 && p->heads_kv == 4 &&
              p->head_dim == 256 && p->causal == 1 && p->softcap == 50.f && p->window_left == 4095 &&
              p->scale == 1.f / 16 && !strcmp(o.cases[0].grid, "shape"),
          "--shape fields");
    CHECK(!strchr(o.cases[0].shape.name, ','), "shape name has no comma: %s", o.cases[0].shape.name);
  }
  bench_opts_free(&o);
  CHECK(parse(&o, err, 4, "--shape", "1,64,64,8,8,128,scale=0.5", "--grid", "seed") == 0 && o.ncases == 81 &&
            o.cases[0].shape.p.scale == 0.5f, "--shape and --grid together");
  bench_opts_free(&o);
  static const char *bad[] = {"4,8192", "4,8,8,8,3,128", "1,64,64,8,8,128,bogus", "1,64,64,8,8,96",
                              "1,64,64,8,8,128,window=0", "1,64,64,8,8,128,softcap=x", "1,64,64,8,8,128,,causal",
                              "0,64,64,8,8,128"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
    CHECK(parse(&o, err, 2, "--shape", bad[i]) == 2 && strstr(err, "bad --shape"), "bad shape '%s' refused", bad[i]);
    bench_opts_free(&o);
  }
  CHECK(parse(&o, err, 2, "--grid", "nope") == 2 && strstr(err, "unknown grid"), "unknown grid: %s", err);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 2, "--reps", "0") == 2, "--reps 0 refused");
  bench_opts_free(&o);
  CHECK(parse(&o, err, 1, "--out") == 2 && strstr(err, "needs a value"), "--out without a value: %s", err);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 1, "--bogus") == 2 && strstr(err, "unknown argument"), "unknown argument: %s", err);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 7, "--reps", "5", "--no-std", "--no-check", "--device", "1", "--heuristic") == 0 && o.reps == 5 &&
            o.no_std && o.no_check && o.device == 1 && o.tuned < 0,
        "measuring options");
  bench_opts_free(&o);

  char csv[512], md[512], plots[512];
  CHECK(parse(&o, err, 2, "--out", "x/y") == 0, "--out");
  bench_resolve_outputs(&o, csv, md, plots, sizeof csv);
  CHECK(!strcmp(csv, "x/y/fa-bench.csv") && !strcmp(md, "x/y/fa-bench.md") && !strcmp(plots, "x/y/plots"),
        "--out: %s %s %s", csv, md, plots);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 0) == 0, "no args");
  bench_resolve_outputs(&o, csv, md, plots, sizeof csv);
  CHECK(!strcmp(csv, "fa-bench-out/fa-bench.csv") && !strcmp(plots, "fa-bench-out/plots"), "defaults: %s", csv);
  bench_opts_free(&o);
  CHECK(parse(&o, err, 4, "--report-from", "runs/a.csv", "--md", "r.md") == 0 && o.report_from && o.ncases == 0,
        "--report-from measures nothing");
  bench_resolve_outputs(&o, csv, md, plots, sizeof csv);
  CHECK(!strcmp(csv, "runs/a.csv") && !strcmp(md, "r.md") && !strcmp(plots, "runs/plots"), "--report-from: %s %s %s",
        csv, md, plots);
  bench_opts_free(&o);
}

static void test_check_shapes(void) {
  bench_case c[BENCH_MAX_CASES];
  tune_shape cs;
  int n = bench_grid("seed", c, BENCH_MAX_CASES);
  for (int i = 0; i < n; ++i) {
    const fa_problem *p = &c[i].shape.p;
    if (p->seqlen_q != 8192 || p->heads_kv != 8) continue;
    CHECK(bench_check_shape_of(&c[i].shape, 1024, &cs) == 1 && cs.p.seqlen_q == 1024 && cs.p.seqlen_k == 1024 &&
              cs.p.batch == 1 && cs.p.heads_q == 4 && cs.p.heads_kv == 1 && cs.p.causal == p->causal &&
              cs.p.scale == p->scale && fa_problem_check(NULL, &cs.p) == FA_OK,
          "seed check problem");
    break;
  }
  n = bench_grid("gemma", c, BENCH_MAX_CASES);
  int seen = 0;
  for (int i = 0; i < n; ++i) {
    const tune_shape *s = &c[i].shape;
    int capped = bench_check_shape_of(s, 1024, &cs);
    CHECK(fa_problem_check(NULL, &cs.p) == FA_OK && cs.p.features == s->p.features && cs.p.softcap == s->p.softcap &&
              cs.p.seqlen_k <= 1024 && cs.p.seqlen_q <= 1024,
          "check problem of %s valid", s->name);
    if (!strcmp(s->name, "paligemma_896")) {
      seen++;
      CHECK(capped && cs.blocks[0] == 960 && cs.blocks[1] == 64 && cs.nblocks == 2, "paligemma blocks %d %d",
            cs.blocks[0], cs.blocks[1]);
    }
    if (!strcmp(s->name, "gemma2_2b_local")) {
      seen++;
      CHECK(cs.p.window_left == 511 && cs.p.softcap == 50.f && cs.p.heads_q == 2, "window shrunk: %d",
            cs.p.window_left);
    }
    if (!strcmp(s->name, "pi0_denoise")) {
      seen++;
      CHECK(!capped && cs.p.seqlen_q == 51 && cs.p.seqlen_k == 867 && cs.hole_lo == 512 && cs.p.heads_q == 8,
            "pi0 denoise kept whole");
    }
    if (!strcmp(s->name, "pi0fast_decode")) {
      seen++;
      CHECK(capped && cs.seqlen_k[0] == 1024 && cs.seqlen_k[1] == 1024 && cs.seqlen_k[2] == 1020 && cs.seqlen_q[0] == 1,
            "decode seqlens clipped");
    }
  }
  CHECK(seen == 6, "gemma check shapes seen (%d)", seen);
  /* Work: causal 512 x 512 has 512*513/2 visible pairs per head and batch row. */
  tune_shape s;
  CHECK(bench_parse_shape("2,512,512,4,2,64,causal", &s) == 0, "shape");
  CHECK(bench_work(&s) == 4.0 * 4 * 64 * 2 * (512.0 * 513 / 2), "causal work %g", bench_work(&s));
  CHECK(bench_parse_shape("1,1,1000,8,1,256,causal,window=100", &s) == 0 && bench_work(&s) == 4.0 * 8 * 256 * 100,
        "decode window work %g", bench_work(&s));
  CHECK(bench_std_score_bytes(&s.p) == 2.0 * 8 * 1000, "score bytes");
}

static void test_csv(void) {
  tune_shape s;
  bench_parse_shape("4,8192,8192,8,4,256,causal,softcap=50,window=4096", &s);
  bench_row r, q;
  bench_row_init(&r, "shape", &s, "fa");
  r.ms_median = 3.25; r.ms_min = 3.125; r.ms_max = 3.5; r.tflops = 140.5; r.speedup = 4.5; r.peak_mib = 1042;
  r.err_max = 3.9e-3; r.err_mean = INFINITY;
  bench_status_set(&r, "error: a, b\nc");
  CHECK(!strchr(r.status, ',') && !strchr(r.status, '\n'), "status sanitised: %s", r.status);
  bench_status_set(&r, "ok");
  char path[] = "/tmp/fa-bench-selftest-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  CHECK(f != NULL, "temp file");
  if (!f) return;
  fprintf(f, "# a note\n%s\n", bench_csv_header);
  bench_csv_write_row(f, &r);
  bench_row_init(&q, "shape", &s, "std");
  bench_status_set(&q, "oom: scores and P need 8.00 GiB");
  bench_csv_write_row(f, &q);
  fclose(f);
  bench_rows rs;
  memset(&rs, 0, sizeof rs);
  char err[512];
  CHECK(bench_csv_read(path, &rs, err, sizeof err) == 0 && rs.n == 2 && rs.nnotes == 1 && !strcmp(rs.notes[0], "a note"),
        "CSV read back: %s", err);
  if (rs.n == 2) {
    const bench_row *a = &rs.v[0], *b = &rs.v[1];
    CHECK(bench_same_shape(a, &r) && a->window == 4096 && a->softcap == 50 && a->ms_median == 3.25 &&
              a->ms_min == 3.125 && a->tflops == 140.5 && a->peak_mib == 1042 && isinf(a->err_mean) &&
              !strcmp(a->status, "ok") && !strcmp(a->impl, "fa"),
          "row round trip");
    CHECK(isnan(b->ms_median) && isnan(b->peak_mib) && !strncmp(b->status, "oom", 3) && bench_std_of(&rs, a) == b,
          "std row: empty numbers, joined");
  }
  bench_rows_free(&rs);
  unlink(path);
  static const char *bad[] = {"seed,x,1,2,3,4,5,6,0,0,0,fa,1,1,1,1,1,1,1,1",          /* 20 fields */
                              "seed,x,1,2,3,4,5,6,0,0,0,fa,1,1,1,1,1,1,1,zz,ok",     /* bad number */
                              "seed,x,0,2,3,4,5,6,0,0,0,fa,1,1,1,1,1,1,1,1,ok",      /* B = 0 */
                              "seed,x,1,2.5,3,4,5,6,0,0,0,fa,1,1,1,1,1,1,1,1,ok",    /* non-integer */
                              ",x,1,2,3,4,5,6,0,0,0,fa,1,1,1,1,1,1,1,1,ok"};         /* no grid */
  for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) CHECK(bench_csv_parse_row(bad[i], &q) != 0, "bad row %zu", i);
  CHECK(bench_csv_parse_row("seed,x,1,2,3,4,5,6,0,0,0,fa,,,,,,,,,skipped\r\n", &q) == 0 && isnan(q.ms_median) &&
            !strcmp(q.status, "skipped"),
        "empty numbers, CRLF");
}

static int file_has(const char *path, const char *what) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return strstr(buf, what) != NULL;
}

static void test_fixture(const char *fixture) {
  bench_rows rs;
  memset(&rs, 0, sizeof rs);
  char err[512];
  CHECK(bench_csv_read(fixture, &rs, err, sizeof err) == 0 && rs.n == 88, "fixture read (%d rows): %s", rs.n, err);
  CHECK(rs.nnotes >= 1 && strstr(rs.notes[0], "FIXTURE"), "fixture labelled");
  /* Thresholds, as the fixture was made: std wins 32/32 B=1 at 512 (causal), 512 and 1024 (full). */
  bench_row like;
  memset(&like, 0, sizeof like);
  snprintf(like.grid, sizeof like.grid, "seed");
  snprintf(like.name, sizeof like.name, "seed_32x32");
  like.Hq = 32; like.Hkv = 32; like.d = 128; like.B = 1; like.causal = 1; like.Tq = like.Tk = 512;
  int oom, t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 1024 && oom == 0, "32/32 B1 causal threshold %d oom %d", t, oom);
  like.causal = 0;
  t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 2048, "32/32 B1 full threshold %d", t);
  like.B = 16;
  t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 512 && oom == 8192, "32/32 B16 full threshold %d oom %d", t, oom);
  like.Hkv = 8; like.B = 1;
  snprintf(like.name, sizeof like.name, "seed_32x8");
  t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 512, "32/8 B1 threshold %d", t);
  like.B = 4;
  t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 0, "no series at B=4: %d", t);
  like.B = 1;
  snprintf(like.name, sizeof like.name, "seed_other");
  t = bench_threshold(&rs, &like, &oom);
  CHECK(t == 0, "another name is another series: %d", t);
  bench_family fams[16];
  int nf = bench_families(&rs, fams, 16);
  CHECK(nf == 4 && fams[0].nB == 2 && !strcmp(fams[0].base, "seed_32x32_d128_causal"), "families: %d %s", nf,
        nf ? fams[0].base : "");
  /* KV cache: Gemma 2B, 1 kv head x 256: 1 KiB per token and layer, 18 KiB over 18 layers. */
  CHECK(bench_kv_bytes_per_token_layer(1, 256) == 1024, "kv bytes per token");
  CHECK(bench_kv_sequence_bytes(18, 18, 1, 256, 0, 1274) == 18.0 * 1024 * 1274, "pi0-fast sequence");
  CHECK(bench_kv_sequence_bytes(34, 5, 4, 256, 1024, 32768) == 4096.0 * (5 * 32768 + 29 * 1024), "gemma3 local");

  /* The report and plot script from the fixture, in a temporary directory. */
  char dir[] = "/tmp/fa-bench-report-XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "temp dir");
  char md[600], plots[600], gp[700], dat[800];
  snprintf(md, sizeof md, "%s/report.md", dir);
  snprintf(plots, sizeof plots, "%s/plots", dir);
  int made = 1;
  CHECK(bench_plots(&rs, plots, 1, &made) == 12 && made == 0, "12 plots scripted, not drawn");
  snprintf(gp, sizeof gp, "%s/plots.gp", plots);
  CHECK(file_has(gp, "set output \"seed_32x8_d128_full_memory.png\"") && file_has(gp, "title \"std B=16\"") &&
            file_has(gp, "set logscale x 2"),
        "plot script");
  snprintf(dat, sizeof dat, "%s/data/seed_32x32_d128_causal_std_B16.dat", plots);
  CHECK(file_has(dat, "\n8192 ? ? ?\n") && file_has(dat, "\n512 "), "std data: OOM point missing");
  CHECK(bench_write_markdown(md, &rs, "plots", 0) == 0, "markdown written");
  CHECK(file_has(md, "## Grid `seed`") && file_has(md, "## Grid `gemma`") && file_has(md, "## Grid `shape`"), "grids");
  CHECK(file_has(md, "**out of memory** (scores + P alone: 128.00 GiB)"), "OOM said");
  CHECK(file_has(md, "| 32/32 heads, d 128, full | 1 | from S=2048 |"), "threshold row");
  CHECK(file_has(md, "- **32/32 heads, d 128**: flash faster from S=2048 at every batch and mask measured"),
        "head configuration threshold");
  CHECK(file_has(md, "(plots/seed_32x32_d128_causal_time.png)") && file_has(md, "gnuplot plots.gp"), "plot links");
  CHECK(file_has(md, "| 7 | Pi0-FAST decode: Gemma 2B backbone | 18 | 1 x 256 | 1.0 KiB | 18.0 KiB | 1274 | 22.4 MiB | 32 | 716.6 MiB |"),
        "KV-cache row");
  CHECK(file_has(md, "| 2.52x |") && file_has(md, "| skipped |") && file_has(md, "FIXTURE"), "speedup, skipped, notes");
  CHECK(file_has(md, "3.90e-03 / 2.10e-04"), "errors");
  /* The terminal table and thresholds print without trouble. */
  FILE *devnull = fopen("/dev/null", "w");
  if (devnull) {
    bench_table_header(devnull);
    for (int i = 0; i + 1 < rs.n; i += 2) bench_table_row(devnull, &rs.v[i], bench_std_of(&rs, &rs.v[i]));
    bench_thresholds_text(devnull, &rs);
    fclose(devnull);
  }
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) printf("note: could not remove %s\n", dir);
  bench_rows_free(&rs);
}

int bench_selftest(const char *fixture) {
  test_args();
  test_check_shapes();
  test_csv();
  if (fixture) test_fixture(fixture);
  else printf("note: no fixture given: the report test needs bench/testdata/fixture.csv\n");
  printf("fa-bench selftest: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
