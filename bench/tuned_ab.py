#!/usr/bin/env python3
"""Per-shape ratio of two `fa-tune bench --json` runs of the same grid: A's ms / B's ms
(> 1: B is faster), and the geometric mean over the shapes, optionally only those whose
name, causal flag or variant match. Usage: tuned_ab.py A.jsonl B.jsonl [--causal 0|1]"""
import argparse, json, math

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--causal", type=int, choices=(0, 1))
args = ap.parse_args()
a, b = ([json.loads(l) for l in open(f)] for f in (args.a, args.b))
key = lambda x: (x["name"], x["B"], x["Tq"], x["Tk"], x["H"], x["K"], x["d"], x["causal"])
bb = {key(y): y for y in b}
logs = []
print("| shape | B | Tq/Tk | H/K | d | causal | variant | A ms | B ms | A/B |")
print("|---|---|---|---|---|---|---|---|---|---|")
for x in a:
    y = bb.get(key(x))
    if not y or (args.causal is not None and x["causal"] != bool(args.causal)):
        continue
    r = x["ms"] / y["ms"]
    logs.append(math.log(r))
    print("| %s | %d | %d/%d | %d/%d | %d | %s | %s | %.4f | %.4f | %.3f |" % (
        x["name"], x["B"], x["Tq"], x["Tk"], x["H"], x["K"], x["d"], "causal" if x["causal"] else "-",
        y["variant"], x["ms"], y["ms"], r))
if logs:
    print("geometric mean A/B over %d: %.3f (min %.3f, max %.3f)" % (
        len(logs), math.exp(sum(logs) / len(logs)), math.exp(min(logs)), math.exp(max(logs))))
