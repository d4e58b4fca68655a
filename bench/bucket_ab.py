#!/usr/bin/env python3
"""Per tuning bucket, the best measurement of the variants matching --a against
the best of those matching --b (> 1: B is faster), from a tuning database's
measurements table, and the geometric mean over the buckets that have both.
A tuning run times every candidate of a bucket in one process, so this is an
A/B from the same run.

  bucket_ab.py tuning.db --gpu H200 --bucket 'bwd%pos%' --a _w8_ --b _w12_ --since 2026-12-05T00:00:00Z
"""
import argparse, math, re, sqlite3

ap = argparse.ArgumentParser()
ap.add_argument("db")
ap.add_argument("--gpu", default="", help="a part of the GPU's name")
ap.add_argument("--bucket", default="%", help="SQL LIKE pattern of the buckets' exact part (%% for several)")
ap.add_argument("--a", required=True, help="regex of the A variants")
ap.add_argument("--b", required=True, help="regex of the B variants")
ap.add_argument("--since", default="", help="only measurements taken at or after this UTC time (ISO 8601)")
args = ap.parse_args()

c = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
rows = c.execute(
    "select b.exact, b.tq, b.tk, b.bh, m.shape, m.variant, m.median_ms from measurements m "
    "join buckets b on b.id = m.bucket_id join gpus g on g.id = m.gpu_id "
    "where g.name like ? and b.exact like ? and m.at >= ? and m.median_ms > 0",
    (f"%{args.gpu}%", args.bucket, args.since)).fetchall()
ra, rb = re.compile(args.a), re.compile(args.b)
best = {}  # bucket -> {"a": (ms, variant), "b": ...}
for exact, tq, tk, bh, shape, variant, ms in rows:
    k = (exact, tq, tk, bh, shape)
    for side, r in (("a", ra), ("b", rb)):
        if r.search(variant) and (side not in best.setdefault(k, {}) or ms < best[k][side][0]):
            best[k][side] = (ms, variant)
print("| bucket | tq | tk | bh | shape | best A | ms | best B | ms | A/B |")
print("|---|---|---|---|---|---|---|---|---|---|")
logs = []
for k in sorted(best):
    v = best[k]
    if "a" in v and "b" in v:
        r = v["a"][0] / v["b"][0]
        logs.append(math.log(r))
        print("| %s | %d | %d | %d | %s | %s | %.4f | %s | %.4f | %.3f |" % (*k, v["a"][1], v["a"][0], v["b"][1], v["b"][0], r))
if logs:
    print("\nA/B geometric mean over %d buckets: %.3f (min %.3f, max %.3f)" % (
        len(logs), math.exp(sum(logs) / len(logs)), math.exp(min(logs)), math.exp(max(logs))))
else:
    print("\nno bucket has both A and B measurements")
