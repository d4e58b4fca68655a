#!/usr/bin/env python3
"""Per shape, the time of every variant in `fa-tune bench --all` outputs, and
the best of the variants matching --b against the best of those matching --a
(a ratio > 1: B is faster). Each output lists a shape's '#' lines before its
table row, so lines are grouped in order.

  variants_ab.py --a '_g1$' --b '_persist' out1.txt [out2.txt ...]
"""
import argparse, math, re

ap = argparse.ArgumentParser()
ap.add_argument("--a", required=True, help="regex of the A variants (key, with the binary's tag)")
ap.add_argument("--b", required=True, help="regex of the B variants")
ap.add_argument("files", nargs="+", help="TAG=FILE or FILE; TAG is prefixed to the keys (TAG:key)")
args = ap.parse_args()

shapes = {}  # (B, Tq, Tk, H/K, d, causal) -> {tag:key: ms}
order = []
for f in args.files:
    tag, _, path = f.rpartition("=")
    pend = {}
    for line in open(path):
        m = re.match(r"#   (\S+) (\S+) ([0-9.]+) ms", line)
        if m:
            pend[(tag + ":" if tag else "") + m.group(2)] = float(m.group(3))
            continue
        if line.startswith("| ") and not line.startswith("| shape |") and pend:
            c = [x.strip() for x in line.strip().strip("|").split("|")]
            key = tuple(c[1:7])
            if key not in shapes:
                shapes[key] = {}
                order.append(key)
            shapes[key].update(pend)
            pend = {}

ra, rb = re.compile(args.a), re.compile(args.b)
print("| B | Tq | Tk | H/K | d | causal | best A | ms | best B | ms | A/B |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
logs = []
for key in order:
    v = shapes[key]
    a = min(((ms, k) for k, ms in v.items() if ra.search(k)), default=None)
    b = min(((ms, k) for k, ms in v.items() if rb.search(k)), default=None)
    if not a or not b:
        continue
    r = a[0] / b[0]
    logs.append(math.log(r))
    print("| %s | %s | %.4f | %s | %.4f | %.3f |" % (" | ".join(key), a[1], a[0], b[1], b[0], r))
if logs:
    print("\nA/B geometric mean over %d shapes: %.3f (min %.3f, max %.3f)" % (
        len(logs), math.exp(sum(logs) / len(logs)), math.exp(min(logs)), math.exp(max(logs))))
