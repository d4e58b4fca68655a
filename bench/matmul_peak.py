#!/usr/bin/env python3
"""The card's measured bf16 matrix throughput: torch.matmul (cuBLAS) on square
bf16 matrices, median of CUDA-event timings. The reference that "fraction of
the card's bf16 matrix throughput" in docs/PERF.md divides by.
usage: matmul_peak.py [N ...]   (default 4096 8192 16384)"""
import sys
import torch

def main():
    sizes = [int(a) for a in sys.argv[1:]] or [4096, 8192, 16384]
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        for _ in range(10):
            a @ b
        times = []
        for _ in range(30):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            a @ b
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        times.sort()
        tf = 2.0 * n ** 3 / (times[len(times) // 2] * 1e-3) / 1e12
        best = max(best, tf)
        print(f"matmul bf16 {n}x{n}x{n}: {times[len(times) // 2]:.3f} ms, {tf:.0f} TFLOP/s")
    print(f"peak (best of the sizes): {best:.0f} TFLOP/s on {torch.cuda.get_device_name()}")

if __name__ == "__main__":
    main()
