/*
** test_shard.c -- the multi-GPU tuner's split of a grid (tuner/tune_shapes.c,
** tune_shard): each worker keeps the shapes it owns, so the split must be
** complete (every shape tuned), disjoint (none twice), the same in every
** worker process (they compute it independently), and balanced by cost.
*/
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "tune_shapes.h"

#define MAX 256

static double cost(const tune_shape *s) {
  return (double)tune_visible_pairs(s) * s->p.heads_q * s->p.head_dim;
}

static double costs[MAX];  /* per shape, once: token masks make the pair count slow */

static void check_split(const tune_shape *s, int n, int parts, const char *what) {
  int owner[MAX], again[MAX], count[MAX];
  double load[64] = {0}, biggest = 0;
  memset(count, 0, sizeof count);
  tune_shard(s, n, parts, owner);
  tune_shard(s, n, parts, again);
  CHECKM(!memcmp(owner, again, (size_t)n * sizeof *owner), "%s/%d: two splits differ", what, parts);
  /* What the workers do: worker k keeps the shapes with owner == k. */
  for (int k = 0; k < parts; ++k)
    for (int i = 0; i < n; ++i)
      if (owner[i] == k) count[i]++, load[k] += costs[i];
  int missing = 0, twice = 0, outside = 0;
  for (int i = 0; i < n; ++i) {
    missing += count[i] == 0;
    twice += count[i] > 1;
    outside += owner[i] < 0 || owner[i] >= parts;
    if (costs[i] > biggest) biggest = costs[i];
  }
  CHECKM(!missing && !twice && !outside, "%s/%d: %d missing, %d twice, %d out of range", what, parts, missing, twice,
         outside);
  double lo = load[0], hi = load[0];
  for (int k = 1; k < parts; ++k) {
    if (load[k] < lo) lo = load[k];
    if (load[k] > hi) hi = load[k];
  }
  /* Longest first to the least loaded: no worker exceeds another by more than one shape's cost. */
  CHECKM(hi - lo <= biggest * (1 + 1e-12), "%s/%d: loads %.3g..%.3g, largest shape %.3g", what, parts, lo, hi,
         biggest);
}

int main(void) {
  static tune_shape s[MAX];
  int n = 0;
  n += tune_grid("gemma", s + n, MAX - n);
  n += tune_grid("seed", s + n, MAX - n);
  n += tune_grid("d256", s + n, MAX - n);
  CHECKM(n >= 100, "default grid: %d shapes", n);
  for (int i = 0; i < n; ++i) costs[i] = cost(&s[i]);
  const int parts[] = {1, 2, 3, 8};  /* each split costs a second: token shapes' pair counts */
  for (int i = 0; i < 4; ++i) check_split(s, n, parts[i], "default grid");
  check_split(s, 3, 8, "fewer shapes than workers");
  check_split(s, 0, 4, "no shapes");
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
