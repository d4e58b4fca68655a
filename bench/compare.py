#!/usr/bin/env python3
"""Joins fa-tune bench's JSON lines with peer_bench.py's (same run, same card)
and prints a markdown table of TFLOP/s and fa/peer ratios.
usage: compare.py FA.jsonl PEERS.jsonl [--mode fwd]"""
import json, sys

def load(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out

def key(r):
    return (r["name"], r["B"], r["Tq"], r["Tk"], r["H"], r["K"], r["d"], bool(r["causal"]))

def main():
    fa_path, peer_path = sys.argv[1], sys.argv[2]
    mode = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--mode" else "fwd"
    fa = {key(r): r for r in load(fa_path)}
    peers = {}
    names = []
    for r in load(peer_path):
        if r.get("mode") != mode:
            continue
        peers.setdefault(key(r), {})[r["peer"]] = r
        if r["peer"] not in names:
            names.append(r["peer"])
    head = "| shape | B | S (Tq/Tk) | H/K | d | causal | fa TFLOP/s | " + " | ".join(
        f"{n} TFLOP/s | fa/{n}" for n in names) + " | fa variant |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for k, r in fa.items():
        cells = []
        for n in names:
            p = peers.get(k, {}).get(n)
            if p and "tflops" in p:
                cells += [f"{p['tflops']:.0f}", f"{r['tflops'] / p['tflops']:.2f}"]
            else:
                cells += [("– (" + p["err"][:30] + ")") if p else "–", "–"]
        s = f"{k[2]}" if k[2] == k[3] else f"{k[2]}/{k[3]}"
        print(f"| {k[0]} | {k[1]} | {s} | {k[4]}/{k[5]} | {k[6]} | {'yes' if k[7] else 'no'} | "
              f"{r['tflops']:.0f} | " + " | ".join(cells) + f" | {r.get('variant', '')} |")

if __name__ == "__main__":
    main()
