#!/usr/bin/env python3
"""fa beside its peers, in one process, on identical inputs (issue #5).

Loads libfa-runtime through ctypes and, for every shape, runs on the same bf16
tensors: fa (fa_forward on PyTorch's current stream), PyTorch SDPA with the
FLASH_ATTENTION and CUDNN_ATTENTION backends, and FlexAttention (torch.compile'd;
the only peer here with softcap, sliding windows and openpi's block masks).
It checks that every peer agrees with fa, times each implementation with
triton.testing.do_bench (median), and writes one table and CSV of ratios.

Modes (--modes, default fwd; "fwd,fwdbwd" runs both, each shape's modes on the same inputs):
  fwd     the forward alone: fa_forward; a peer's attention call.
  fwdbwd  forward and backward, timed together as peer_bench.py does: fa_forward (with
          FA_FEAT_LSE, so the plan loads the backward kernels) then fa_backward into dq, dk,
          dv; a peer's f().backward(dO) on requires_grad inputs. dO is one random bf16
          tensor shared by all. O and the gradients are compared with fa's; peak_mib is the
          extra memory of one forward+backward call (see below). --deterministic asks fa
          for bitwise-reproducible gradients (fa_plan_options.deterministic).

Usage (on the GPU machine, from the repository root, build/ built or carried):
  python3 bench/peers.py --grid seed4 --csv out/seed4.csv --md out/seed4.md
  python3 bench/peers.py --grid d256,gemma --peers flex,cudnn --json out/g.jsonl
  python3 bench/peers.py --grid seed --modes fwd,fwdbwd --peers flash,cudnn --md out/s.md
  python3 bench/peers.py --shapes my.jsonl      # one JSON object a line (keys below)
  python3 bench/peers.py --list --grid gemma    # the shapes, fa descriptors and work; no GPU
  python3 bench/peers.py --selftest             # no torch, no GPU: bindings, grids, counts, writers

Shapes use peer_bench.py's keys: name, B, Tq, Tk, H (query heads), K (kv heads), d,
causal, window (W: a query sees keys at distance < W; 0 = none), softcap, blocks (openpi
block lengths covering the keys, prefix first: block-causal), holes ([start, end) key
ranges that are padding), scale (None = d**-0.5, which is 1/16 for d = 256).
Queries are the last Tq tokens of the Tk keys (bottom-right alignment).

fa's descriptor for a shape (docs/masks.md):
  blocks          -> FA_FEAT_POSITIONS, k_pos = block index of each key, q_pos = k_pos[Tk-Tq:]
                     (the causal flag is not used with blocks, as in peer_bench.py)
  holes           -> FA_FEAT_SEGMENTS, k_seg = -1 inside a hole else 0, q_seg = 0
  causal          -> causal = 1 (without blocks)
  window W        -> window_left = W - 1; without causal and blocks also window_right = W - 1
  softcap, scale  -> softcap, scale
Agreement is judged on the query rows that see at least one key (fa writes 0 for a row
that sees none, SDPA writes NaN); the number of excluded rows is reported per shape.
TFLOP/s counts useful work only: 4 * B * H * d * (visible (q, k) pairs of one row and head),
times 3.5 for fwdbwd (as peer_bench.py).

fwdbwd agreement: O as in fwd; dq, dk, dv each within GRAD_RTOL (2e-2) of fa's max |grad|
(dq over the rows that see a key, dk and dv over every element). fa must write every
element of dq, dk, dv (they start as NaN) and 0 in dq's rows without keys.
peak_mib (fwdbwd): what one forward+backward call needs beyond its inputs q, k, v, dO.
A peer: torch.cuda.max_memory_allocated() over the call (gradients reset to None first)
less the memory allocated before it; that covers O, LSE, dq, dk, dv and the peer's scratch.
fa: its workspaces (allocated once, outside the call; also given alone as workspace_mib)
+ the O, LSE, dq, dk, dv buffers the caller holds + the same peak delta over the call
(0 when fa allocates nothing, as it should).
"""
import argparse
import csv
import ctypes
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_LIB = os.path.join(REPO, "build", "libfa-runtime.so")
PEERS = ("flash", "cudnn", "flex")
TOL = 2e-2  # max abs difference allowed between a peer's bf16 output and fa's
GRAD_RTOL = 2e-2  # fwdbwd: max |peer - fa| of dq, dk, dv allowed, relative to fa's max |grad|
MODES = ("fwd", "fwdbwd")
WORK_FACTOR = {"fwd": 1.0, "fwdbwd": 3.5}  # useful work of a mode over the forward's (peer_bench.py)
MIB = float(1 << 20)

# ---------------------------------------------------------------------------------------
# ctypes mirrors of fa.h: exactly the structs and functions this script uses.
# Field for field as in the header: size_t struct_size first, enums as c_int, int32,
# int64, float, every pointer as c_void_p.
# ---------------------------------------------------------------------------------------

FA_STATUS_NAMES = (
    "OK", "ERR_NULL_ARGUMENT", "ERR_STRUCT_SIZE", "ERR_SIZE", "ERR_HEADS", "ERR_HEAD_DIM",
    "ERR_DTYPE", "ERR_STRIDE", "ERR_NULL_POINTER", "ERR_ALIGNMENT", "ERR_WINDOW", "ERR_SCALE",
    "ERR_OVERFLOW", "ERR_FEATURE", "ERR_UNSUPPORTED", "ERR_WORKSPACE", "ERR_NO_DEVICE",
    "ERR_NO_NVRTC", "ERR_COMPILE", "ERR_GENERATOR", "ERR_VARIANT", "ERR_CUDA",
    "ERR_OUT_OF_MEMORY", "ERR_DATABASE", "ERR_IO", "ERR_INTERNAL")
ST = {n: i for i, n in enumerate(FA_STATUS_NAMES)}  # "ERR_HEADS" -> 4

FA_DEVICE_NONE = -1
FA_CTX_NO_DISK_CACHE, FA_CTX_NO_TUNING_DB, FA_CTX_NO_NVRTC = 0x1, 0x2, 0x4
FA_DTYPE_BF16, FA_DTYPE_FP16 = 1, 2
FA_LAYOUT_BSHD, FA_LAYOUT_BHSD = 0, 1
FA_FEAT_POSITIONS, FA_FEAT_SEGMENTS, FA_FEAT_SEQLENS, FA_FEAT_LSE = 0x1, 0x2, 0x4, 0x8
FA_FEAT_ALL_ = 0xF

c_size_t, c_int, c_uint, c_int32, c_uint32, c_int64, c_float, c_void_p = (
    ctypes.c_size_t, ctypes.c_int, ctypes.c_uint, ctypes.c_int32, ctypes.c_uint32,
    ctypes.c_int64, ctypes.c_float, ctypes.c_void_p)


class FaContextOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("device", c_int), ("arch", c_int), ("flags", c_uint),
                ("cache_dir", c_void_p), ("tuning_db", c_void_p), ("shipped_db", c_void_p),
                ("export_dir", c_void_p)]


class FaProblem(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("dtype", c_int),
                ("batch", c_int32), ("seqlen_q", c_int32), ("seqlen_k", c_int32),
                ("heads_q", c_int32), ("heads_kv", c_int32), ("head_dim", c_int32),
                ("q_stride", c_int64 * 3), ("k_stride", c_int64 * 3),
                ("v_stride", c_int64 * 3), ("o_stride", c_int64 * 3),
                ("scale", c_float), ("softcap", c_float), ("causal", c_int32),
                ("window_left", c_int32), ("window_right", c_int32), ("features", c_uint32)]


class FaPlanOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("variant", c_void_p), ("variant_bwd", c_void_p),
                ("deterministic", c_int),
                ("kv_splits", c_int)]


class FaFwdArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("q", c_void_p), ("k", c_void_p), ("v", c_void_p),
                ("o", c_void_p), ("lse", c_void_p), ("q_pos", c_void_p), ("k_pos", c_void_p),
                ("q_seg", c_void_p), ("k_seg", c_void_p), ("seqlens_q", c_void_p),
                ("seqlens_k", c_void_p), ("workspace", c_void_p), ("workspace_bytes", c_size_t),
                ("stream", c_void_p)]


class FaBwdArgs(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("fwd", FaFwdArgs), ("dout", c_void_p), ("dq", c_void_p),
                ("dk", c_void_p), ("dv", c_void_p)]


MIRRORS = (("fa_context_options", FaContextOptions, "fa_context_options_init"),
           ("fa_problem", FaProblem, "fa_problem_init"),
           ("fa_plan_options", FaPlanOptions, "fa_plan_options_init"),
           ("fa_fwd_args", FaFwdArgs, "fa_fwd_args_init"),
           ("fa_bwd_args", FaBwdArgs, "fa_bwd_args_init"))


class FaError(RuntimeError):
    def __init__(self, status, msg):
        self.status = status  # fa_errmsg() already starts with the status name
        super().__init__(msg if msg.startswith(status_name(status)) else f"{status_name(status)}: {msg}")


def status_name(s):
    return "FA_" + FA_STATUS_NAMES[s] if 0 <= s < len(FA_STATUS_NAMES) else f"FA_UNKNOWN({s})"


class FaLib:
    """libfa-runtime through ctypes. Construction loads it and checks the mirrors."""

    def __init__(self, path, check=True):
        if not os.path.exists(path):
            raise SystemExit(f"peers.py: {path} does not exist; build it with "
                             f"`cmake -S {REPO} -B {REPO}/build && cmake --build {REPO}/build -j` "
                             "or pass --lib")
        self.path = path
        L = self.L = ctypes.CDLL(path)
        P = ctypes.POINTER

        def fn(name, res, *args):
            f = getattr(L, name)
            f.restype, f.argtypes = res, list(args)
            return f

        fn("fa_version", c_uint)
        fn("fa_version_string", ctypes.c_char_p)
        fn("fa_status_name", ctypes.c_char_p, c_int)
        fn("fa_status_string", ctypes.c_char_p, c_int)
        fn("fa_context_options_init", None, c_void_p)
        fn("fa_context_create", c_int, c_void_p, P(c_void_p))
        fn("fa_context_destroy", None, c_void_p)
        fn("fa_context_describe", ctypes.c_char_p, c_void_p)
        fn("fa_errmsg", ctypes.c_char_p, c_void_p)
        fn("fa_problem_init", c_int, c_void_p, c_int, c_int, c_int32, c_int32, c_int32, c_int32,
           c_int32, c_int32)
        fn("fa_problem_check", c_int, c_void_p, c_void_p)
        fn("fa_plan_options_init", None, c_void_p)
        fn("fa_plan_create", c_int, c_void_p, c_void_p, c_void_p, P(c_void_p))
        fn("fa_plan_destroy", None, c_void_p)
        fn("fa_plan_describe", ctypes.c_char_p, c_void_p)
        fn("fa_plan_variant", ctypes.c_char_p, c_void_p)
        fn("fa_plan_workspace", c_int, c_void_p, P(c_size_t), P(c_size_t))
        fn("fa_fwd_args_init", None, c_void_p)
        fn("fa_forward", c_int, c_void_p, c_void_p)
        fn("fa_bwd_args_init", None, c_void_p)
        fn("fa_backward", c_int, c_void_p, c_void_p)
        if check:
            bad = self.mirror_mismatches()
            if bad:
                raise SystemExit("peers.py: the ctypes mirrors of fa.h do not match " + path + ":\n  "
                                 + "\n  ".join(bad) + "\nUpdate the mirrors in bench/peers.py to fa.h.")

    # -- ABI -----------------------------------------------------------------------------
    def c_struct_size(self, init_name):
        """What the C *_init function writes into struct_size (= sizeof in C). The init
        writes into a large zeroed scratch buffer, so a too-small mirror cannot overflow."""
        buf = ctypes.create_string_buffer(4096)
        f = getattr(self.L, init_name)
        if init_name == "fa_problem_init":
            f(ctypes.addressof(buf), FA_DTYPE_BF16, FA_LAYOUT_BSHD, 1, 1, 1, 1, 1, 64)
        else:
            f(ctypes.addressof(buf))
        return c_size_t.from_buffer(buf).value

    def mirror_mismatches(self):
        out = []
        for cname, mirror, init in MIRRORS:
            c = self.c_struct_size(init)
            if c != ctypes.sizeof(mirror):
                out.append(f"sizeof({cname}) is {c} in the library, ctypes.sizeof({mirror.__name__}) "
                           f"is {ctypes.sizeof(mirror)}")
        return out

    def version(self):
        return self.L.fa_version_string().decode()

    def errmsg(self, ctx=None):
        return self.L.fa_errmsg(ctx).decode(errors="replace")

    def check(self, status, ctx=None):
        if status != 0:
            raise FaError(status, self.errmsg(ctx))

    # -- objects ---------------------------------------------------------------------------
    def context_create(self, device, flags=0, arch=0):
        opt = FaContextOptions()
        self.L.fa_context_options_init(ctypes.addressof(opt))
        opt.device, opt.flags = device, flags
        if arch:
            opt.arch = arch
        out = c_void_p()
        self.check(self.L.fa_context_create(ctypes.addressof(opt), ctypes.byref(out)))
        return out.value

    def context_describe(self, ctx):
        return self.L.fa_context_describe(ctx).decode(errors="replace")

    def problem(self, s, desc):
        p = FaProblem()
        self.check(self.L.fa_problem_init(ctypes.addressof(p), FA_DTYPE_BF16, FA_LAYOUT_BSHD, s["B"], s["Tq"],
                                          s["Tk"], s["H"], s["K"], s["d"]))
        p.scale, p.softcap = desc["scale"], desc["softcap"]
        p.causal, p.window_left, p.window_right = desc["causal"], desc["window_left"], desc["window_right"]
        p.features = desc["features"]
        return p

    def plan_create(self, ctx, p, deterministic=False):
        opt = FaPlanOptions()
        self.L.fa_plan_options_init(ctypes.addressof(opt))
        if deterministic:
            opt.deterministic = 1
        out = c_void_p()
        self.check(self.L.fa_plan_create(ctx, ctypes.addressof(p), ctypes.addressof(opt), ctypes.byref(out)), ctx)
        return out.value

    def plan_describe(self, plan):
        return self.L.fa_plan_describe(plan).decode(errors="replace")

    def plan_variant(self, plan):
        return self.L.fa_plan_variant(plan).decode(errors="replace")

    def plan_workspace(self, plan):
        """(forward bytes, backward bytes)."""
        f, b = c_size_t(), c_size_t()
        self.check(self.L.fa_plan_workspace(plan, ctypes.byref(f), ctypes.byref(b)))
        return f.value, b.value


# ---------------------------------------------------------------------------------------
# Shapes and grids
# ---------------------------------------------------------------------------------------

SHAPE_KEYS = ("name", "B", "Tq", "Tk", "H", "K", "d", "causal", "window", "softcap", "blocks", "holes", "scale")


def shape(B, Tq, Tk, H, K, d, causal=True, window=0, softcap=0.0, blocks=None, holes=None, scale=None, name=""):
    return dict(name=name, B=B, Tq=Tq, Tk=Tk, H=H, K=K, d=d, causal=bool(causal), window=int(window or 0),
                softcap=float(softcap or 0.0), blocks=list(blocks) if blocks else None,
                holes=[list(h) for h in holes] if holes else None, scale=scale)


def grid_seed(batches=(1, 4, 8, 16)):
    """The original request's sweep: d 128, heads 32/32 and 32/8, S 512..8192, causal and not."""
    out = []
    for H, K in ((32, 32), (32, 8)):
        for B in batches:
            for S in (512, 1024, 2048, 4096, 8192):
                for causal in (True, False):
                    out.append(shape(B, S, S, H, K, 128, causal, name=f"seed_{H}x{K}"))
    return out


def grid_d256():
    """The anchors' d = 256 rows: batch 4, MQA 8/1 and MHA 16/16, S 512..8192, causal and not."""
    out = []
    for H, K in ((8, 1), (16, 16)):
        for S in (512, 1024, 2048, 4096, 8192):
            for causal in (True, False):
                out.append(shape(4, S, S, H, K, 256, causal, name=f"d256_{H}x{K}"))
    return out


def grid_gemma():
    """shared/workloads.md's 11 rows, exactly as peer_bench.py's grid_gemma states them."""
    pi0 = [816, 1, 50]
    return [
        shape(32, 867, 867, 8, 1, 256, False, blocks=pi0, holes=[[512, 768]], name="pi0_train"),
        shape(32, 1018, 1018, 8, 1, 256, False, blocks=[968, 50], name="pi05_train"),
        shape(1, 816, 816, 8, 1, 256, False, holes=[[512, 768]], name="pi0_prefill"),
        shape(1, 51, 867, 8, 1, 256, False, blocks=pi0, holes=[[512, 768]], name="pi0_denoise"),
        shape(8, 4160, 4160, 8, 1, 256, False, blocks=[4096, 64], name="paligemma_896"),
        shape(4, 8192, 8192, 8, 4, 256, True, softcap=50.0, name="gemma2_2b_global"),
        shape(4, 8192, 8192, 8, 4, 256, True, window=4096, softcap=50.0, name="gemma2_2b_local"),
        shape(2, 8192, 8192, 32, 16, 128, True, softcap=50.0, scale=144 ** -0.5, name="gemma2_27b"),
        shape(1, 32768, 32768, 16, 8, 256, True, window=1024, name="gemma3_12b_local"),
        shape(8, 4096, 4096, 16, 16, 256, True, name="gemma_7b"),
        shape(1, 8192, 8192, 10, 1, 256, True, window=2048, name="recurrentgemma"),
    ]


GRIDS = {"seed": grid_seed, "seed4": lambda: grid_seed((4,)), "d256": grid_d256, "gemma": grid_gemma}


def load_shapes(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            obj = json.loads(line)
            unknown = set(obj) - set(SHAPE_KEYS)
            if unknown:
                raise SystemExit(f"{path}:{n}: unknown keys {sorted(unknown)}; known: {', '.join(SHAPE_KEYS)}")
            out.append(shape(**obj))
    return out


def validate(s):
    """A reason the shape is malformed, or None."""
    Tq, Tk = s["Tq"], s["Tk"]
    if min(s["B"], Tq, Tk, s["H"], s["K"], s["d"]) <= 0:
        return "sizes must be positive"
    if s["blocks"]:
        if sum(s["blocks"]) != Tk or min(s["blocks"]) <= 0:
            return f"blocks {s['blocks']} must be positive and cover the {Tk} keys"
        if Tq > Tk:
            return "blocks need Tq <= Tk (queries are the last Tq tokens)"
    for a, b in s["holes"] or []:
        if not 0 <= a <= b <= Tk:
            return f"hole [{a}, {b}) is outside [0, {Tk})"
    if s["window"] < 0:
        return "window must be >= 0"
    return None


def shape_scale(s):
    return float(s["scale"]) if s["scale"] else s["d"] ** -0.5


def fa_desc(s, mode="fwd"):
    """fa's descriptor for a shape (docs/masks.md): problem fields and per-row mask arrays
    (one batch row; every row of the batch is the same). fwdbwd adds FA_FEAT_LSE: the
    backward reads the forward's LSE, and only such a plan loads the backward kernels."""
    Tq, Tk, W = s["Tq"], s["Tk"], s["window"]
    off = Tk - Tq
    d = dict(scale=shape_scale(s), softcap=s["softcap"], causal=0, window_left=-1, window_right=-1,
             features=FA_FEAT_LSE if mode == "fwdbwd" else 0, q_pos=None, k_pos=None, q_seg=None, k_seg=None)
    if s["blocks"]:
        kpos = []
        for i, n in enumerate(s["blocks"]):
            kpos += [i] * n
        d["features"] |= FA_FEAT_POSITIONS
        d["k_pos"], d["q_pos"] = kpos, kpos[off:]
    elif s["causal"]:
        d["causal"] = 1
    if s["holes"]:
        kseg = [0] * Tk
        for a, b in s["holes"]:
            kseg[a:b] = [-1] * (b - a)
        d["features"] |= FA_FEAT_SEGMENTS
        d["k_seg"], d["q_seg"] = kseg, [0] * Tq
    if W:
        d["window_left"] = W - 1
        if not (s["causal"] or s["blocks"]):
            d["window_right"] = W - 1
    return d


def mask_text(s):
    parts = []
    if s["blocks"]:
        parts.append("blocks " + "+".join(map(str, s["blocks"])))
    elif s["causal"]:
        parts.append("causal")
    if s["holes"]:
        parts.append("holes " + ",".join(f"{a}:{b}" for a, b in s["holes"]))
    if s["window"]:
        parts.append(f"window {s['window']}")
    if s["softcap"]:
        parts.append(f"softcap {s['softcap']:g}")
    return " ".join(parts) or "full"


def desc_text(d):
    f = "|".join(n for n, b in (("POSITIONS", FA_FEAT_POSITIONS), ("SEGMENTS", FA_FEAT_SEGMENTS), ("LSE", FA_FEAT_LSE))
                 if d["features"] & b) or "0"
    return (f"causal={d['causal']} window={d['window_left']}/{d['window_right']} softcap={d['softcap']:g} "
            f"scale={d['scale']:.6g} features={f}")


# ---------------------------------------------------------------------------------------
# Visible (q, k) pairs: per query row of one batch row and one head
# ---------------------------------------------------------------------------------------

def row_counts(s):
    """Visible keys of each query row, O(Tq + Tk). With blocks the key positions are
    non-decreasing, so the keys a query's position admits are a prefix; every rule is then
    an interval of key indices, less the holes inside it (prefix sums)."""
    Tq, Tk, W = s["Tq"], s["Tk"], s["window"]
    off = Tk - Tq
    valid_before = [0] * (Tk + 1)  # valid keys in [0, j)
    hole = bytearray(Tk)
    for a, b in s["holes"] or []:
        for j in range(a, b):
            hole[j] = 1
    for j in range(Tk):
        valid_before[j + 1] = valid_before[j] + (0 if hole[j] else 1)
    block_end = None
    if s["blocks"]:
        block_end, acc = [], 0  # block_end_of_key[j] = end (exclusive) of j's block
        for n in s["blocks"]:
            acc += n
            block_end += [acc] * n
    two_sided = bool(W) and not (s["causal"] or s["blocks"])
    out = [0] * Tq
    for i in range(Tq):
        qa = i + off  # the query's key index
        lo, hi = 0, Tk - 1
        if block_end is not None:
            hi = block_end[qa] - 1
        elif s["causal"]:
            hi = min(hi, qa)
        if W:
            lo = max(lo, qa - W + 1)
            if two_sided:
                hi = min(hi, qa + W - 1)
        if hi >= lo:
            out[i] = valid_before[hi + 1] - valid_before[lo]
    return out


def visible_pairs(s):
    """Exact count for one batch row and one head; closed forms where they are plain."""
    Tq, Tk, W = s["Tq"], s["Tk"], s["window"]
    if not (s["blocks"] or s["holes"] or W):
        if not s["causal"]:
            return Tq * Tk
        if Tq == Tk:
            return Tq * (Tq + 1) // 2
    if not (s["blocks"] or s["holes"]) and s["causal"] and Tq == Tk and W:
        n = min(W, Tq)  # rows 0..n-1 see i+1 keys, the rest W
        return n * (n + 1) // 2 + (Tq - n) * W
    return sum(row_counts(s))


def brute_counts_peer(s):
    """The peers' mask, pair by pair, as peer_bench.py's mask_dense / FlexAttention mask_mod
    state it: pos = block index (blocks), token index (causal) or 0; valid = not in a hole."""
    Tq, Tk, W = s["Tq"], s["Tk"], s["window"]
    off = Tk - Tq
    bl = None
    if s["blocks"]:
        bl = []
        for i, n in enumerate(s["blocks"]):
            bl += [i] * n

    def pos(j):
        return bl[j] if bl is not None else (j if s["causal"] else 0)

    holes = s["holes"] or []
    out = []
    for i in range(Tq):
        qa, n = i + off, 0
        for j in range(Tk):
            m = pos(j) <= pos(qa) and not any(a <= j < b for a, b in holes)
            if m and W:
                m = (qa - j) < W if (s["causal"] or s["blocks"]) else abs(qa - j) < W
            n += m
        out.append(n)
    return out


def brute_counts_fa(s, d=None):
    """fa's rule of docs/masks.md, pair by pair, on the descriptor fa_desc() gives."""
    d = d or fa_desc(s)
    Tq, Tk = s["Tq"], s["Tk"]
    off = Tk - Tq
    out = []
    for i in range(Tq):
        n = 0
        for j in range(Tk):
            v = True
            if d["causal"]:
                v = v and j <= i + off
            if d["window_left"] >= 0:
                v = v and j >= i + off - d["window_left"]
            if d["window_right"] >= 0:
                v = v and j <= i + off + d["window_right"]
            if d["features"] & FA_FEAT_POSITIONS:
                v = v and d["k_pos"][j] <= d["q_pos"][i]
            if d["features"] & FA_FEAT_SEGMENTS:
                v = v and d["q_seg"][i] >= 0 and d["k_seg"][j] == d["q_seg"][i]
            n += v
        out.append(n)
    return out


def sdpa_reason(s):
    """None if SDPA (flash, cudnn) can express the mask, else why not."""
    why = [w for w, c in (("softcap", s["softcap"]), ("window", s["window"]), ("blocks", s["blocks"]),
                          ("holes", s["holes"])) if c]
    if why:
        return "SDPA cannot express " + "/".join(why)
    if s["causal"] and s["Tq"] != s["Tk"]:
        return "SDPA's is_causal is top-left aligned (Tq != Tk)"
    return None


# ---------------------------------------------------------------------------------------
# Results: CSV and markdown
# ---------------------------------------------------------------------------------------

def _fmt(x, spec):
    return "" if x is None else format(x, spec)


def only_fwd(modes):
    """The forward alone: today's outputs, column for column (no mode column or section)."""
    return tuple(modes) == ("fwd",)


def parse_modes(text):
    """--modes: "fwd", "fwdbwd" or "fwd,fwdbwd" -> a tuple in the order given; ValueError else."""
    modes = tuple(m for m in text.split(",") if m)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"--modes {text!r}: a comma list of distinct {', '.join(MODES)}")
    return modes


def csv_columns(peers, modes=("fwd",)):
    bwd = "fwdbwd" in modes
    cols = ["name"] + ([] if only_fwd(modes) else ["mode"])
    cols += ["B", "Tq", "Tk", "H", "K", "d", "causal", "window", "softcap", "blocks", "holes", "scale",
             "mask", "fa_desc", "visible_pairs", "rows_without_keys", "fa_ms", "fa_tflops"]
    cols += (["fa_peak_mib", "fa_workspace_mib"] if bwd else []) + ["fa_variant", "fa_err"]
    for p in peers:
        cols += [f"{p}_ms", f"{p}_tflops", f"fa_over_{p}"] + ([f"{p}_peak_mib"] if bwd else [])
        cols += [f"{p}_max_abs_diff", f"{p}_rel_diff"]
        cols += [f"{p}_dq_diff", f"{p}_dk_diff", f"{p}_dv_diff", f"{p}_grad_rel_diff"] if bwd else []
        cols += [f"{p}_agree", f"{p}_layout", f"{p}_err"]
    return cols + ["agree"]


def agree_flag(r, peers):
    fails = [p for p in peers if r["peers"].get(p, {}).get("agree") is False]
    if "ms" in r["fa"] and r["fa"].get("err"):  # fa ran but its own output check failed
        fails.insert(0, "fa")
    ran = [p for p in peers if r["peers"].get(p, {}).get("agree") is not None]
    if fails:
        return "FAIL " + ",".join(fails)
    return "ok" if ran else "n/a"


def csv_row(r, peers, modes=("fwd",)):
    s, fa = r["shape"], r["fa"]
    row = {k: s[k] for k in SHAPE_KEYS}
    row["mode"] = r.get("mode", "fwd")
    row["blocks"] = "+".join(map(str, s["blocks"])) if s["blocks"] else ""
    row["holes"] = ",".join(f"{a}:{b}" for a, b in s["holes"]) if s["holes"] else ""
    row["scale"] = f"{shape_scale(s):.6g}"
    row["causal"] = int(s["causal"])
    row.update(mask=mask_text(s), fa_desc=r.get("fa_desc", ""), visible_pairs=r["pairs"],
               rows_without_keys=r["rows_without_keys"], fa_ms=_fmt(fa.get("ms"), ".4f"),
               fa_tflops=_fmt(fa.get("tflops"), ".2f"), fa_peak_mib=_fmt(fa.get("peak_mib"), ".1f"),
               fa_workspace_mib=_fmt(fa.get("workspace_mib"), ".1f"), fa_variant=fa.get("variant", ""),
               fa_err=fa.get("err", ""))
    for p in peers:
        q = r["peers"].get(p, {})
        a = q.get("agree")
        row.update({f"{p}_ms": _fmt(q.get("ms"), ".4f"), f"{p}_tflops": _fmt(q.get("tflops"), ".2f"),
                    f"fa_over_{p}": _fmt(q.get("ratio"), ".3f"), f"{p}_peak_mib": _fmt(q.get("peak_mib"), ".1f"),
                    f"{p}_max_abs_diff": _fmt(q.get("max_abs_diff"), ".3e"),
                    f"{p}_rel_diff": _fmt(q.get("rel_diff"), ".3e"),
                    f"{p}_dq_diff": _fmt(q.get("dq_diff"), ".3e"), f"{p}_dk_diff": _fmt(q.get("dk_diff"), ".3e"),
                    f"{p}_dv_diff": _fmt(q.get("dv_diff"), ".3e"),
                    f"{p}_grad_rel_diff": _fmt(q.get("grad_rel_diff"), ".3e"),
                    f"{p}_agree": "" if a is None else ("pass" if a else "FAIL"),
                    f"{p}_layout": q.get("layout", "") + "".join("+" + k for k in q.get("kernel_options") or {}),
                    f"{p}_err": q.get("err", "")})
    row["agree"] = agree_flag(r, peers)
    return {c: row[c] for c in csv_columns(peers, modes)}


def write_csv(path, results, peers, modes=("fwd",)):
    cols = csv_columns(peers, modes)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in results:
            w.writerow(csv_row(r, peers, modes))


def json_row(r, modes=("fwd",)):
    """One result as a JSON line; a forward-only run keeps today's keys (no "mode")."""
    return json.dumps({k: v for k, v in r.items() if k != "mode" or not only_fwd(modes)})


def _cell(text):
    return str(text).replace("|", "/").replace("\n", " ")


MODE_TITLE = {"fwd": "Forward", "fwdbwd": "Forward + backward"}


def _md_table(results, peers, mode):
    bwd = mode == "fwdbwd"
    head = ["shape", "B", "Tq/Tk", "H/K", "d", "mask", "fa ms", "fa TFLOP/s"] + (["fa MiB"] if bwd else [])
    for p in peers:
        head += [f"{p} TFLOP/s", f"fa/{p}"] + ([f"{p} MiB"] if bwd else [])
    head.append("agree")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mib = lambda x: "–" if x.get("peak_mib") is None else f"{x['peak_mib']:.0f}"
    for r in results:
        s, fa = r["shape"], r["fa"]
        tt = f"{s['Tq']}" if s["Tq"] == s["Tk"] else f"{s['Tq']}/{s['Tk']}"
        cells = [s["name"], s["B"], tt, f"{s['H']}/{s['K']}", s["d"], mask_text(s)]
        if "ms" in fa:
            cells += [f"{fa['ms']:.3f}", f"{fa['tflops']:.0f}"]
        else:
            cells += ["–", "– (" + _cell(fa.get("err", "?"))[:40] + ")"]
        if bwd:
            cells.append(mib(fa))
        for p in peers:
            q = r["peers"].get(p, {})
            if "tflops" in q:
                cells += [f"{q['tflops']:.0f}", f"{q['ratio']:.2f}" if q.get("ratio") is not None else "–"]
            else:
                cells += ["– (" + _cell(q.get("err", "not run"))[:40] + ")", "–"]
            if bwd:
                cells.append(mib(q))
        cells.append(agree_flag(r, peers))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def markdown(results, peers, header="", modes=("fwd",)):
    lines = []
    if header:
        lines += [header, ""]
    if only_fwd(modes):
        sections = [("fwd", results)]
    else:
        sections = [(m, [r for r in results if r.get("mode", "fwd") == m]) for m in modes]
    for m, rs in sections:
        if not only_fwd(modes):
            lines += [f"### {MODE_TITLE[m]}", ""]
        lines += _md_table(rs, peers, m) + [""]
    lines += [f"fa/peer is fa's TFLOP/s over the peer's (> 1: fa is faster). TFLOP/s = 4*B*H*d*visible pairs / time. "
              f"agree: every peer's max |peer - fa| <= {TOL:g} over the query rows that see at least one key "
              "(rows that see none are excluded: fa writes 0 there, SDPA NaN)."]
    if "fwdbwd" in modes:
        lines.append(f"Forward + backward: one forward and one backward (peers: f().backward(dO)); TFLOP/s counts "
                     f"3.5 times the forward's work. agree also needs each of dq, dk, dv within {GRAD_RTOL:g} x fa's "
                     "max |grad| (dq over the rows that see a key). MiB: peak extra memory of one forward+backward "
                     "beyond q, k, v, dO: for a peer, the rise of torch.cuda.max_memory_allocated() over the call "
                     "(O, LSE, gradients, scratch); for fa, its workspaces + its O, LSE, dq, dk, dv buffers + that "
                     "rise.")
    first = sections[0][1]
    excl = [f"{r['shape']['name']} ({r['rows_without_keys']} of {r['shape']['Tq']})" for r in first
            if r["rows_without_keys"]]
    if excl:
        lines.append("Rows without keys excluded: " + ", ".join(excl) + ".")
    forced = [f"{p} on {r['shape']['name']}" + ("" if only_fwd(modes) else f" ({r.get('mode', 'fwd')})")
              for r in results for p in peers if r["peers"].get(p, {}).get("kernel_options")]
    if forced:
        lines.append("Ran with kernel_options FORCE_USE_FLEX_ATTENTION (the default kernel choice failed): "
                     + ", ".join(forced) + ".")
    return "\n".join(lines) + "\n"


def write_outputs(a, results, peers, header, modes=("fwd",)):
    if a.csv:
        write_csv(a.csv, results, peers, modes)
    if a.md:
        with open(a.md, "w") as f:
            f.write(markdown(results, peers, header, modes))


# ---------------------------------------------------------------------------------------
# The GPU run (torch is imported here only)
# ---------------------------------------------------------------------------------------

class Bench:
    def __init__(self, a):
        import torch
        import torch.nn.functional as F
        from triton.testing import do_bench
        self.torch, self.F, self.do_bench, self.a = torch, F, do_bench, a
        if not torch.cuda.is_available():
            raise SystemExit("peers.py: torch sees no CUDA device")
        torch.cuda.init()
        self.dev = torch.device("cuda", torch.cuda.current_device())
        torch.empty(1, device=self.dev)  # PyTorch's (primary) context first; fa binds the same one
        self.lib = FaLib(a.lib)
        self.ctx = self.lib.context_create(torch.cuda.current_device())
        self._flex = None
        self._flex_err = None

    def header(self):
        t = self.torch
        import triton
        a = self.a
        return (f"# {t.cuda.get_device_name(self.dev)}; torch {t.__version__}, cuDNN {t.backends.cudnn.version()}, "
                f"triton {triton.__version__}; fa {self.lib.version()} ({self.lib.path})\n"
                f"# {self.lib.context_describe(self.ctx)}"
                + ("" if only_fwd(a.modes) else f"\n# modes {','.join(a.modes)}; fa backward: "
                   + ("deterministic" if a.deterministic else "atomic dQ")))

    def flex(self):
        if self._flex is None and self._flex_err is None:
            try:
                from torch.nn.attention.flex_attention import flex_attention, create_block_mask
                self._flex = (self.torch.compile(flex_attention, dynamic=False), create_block_mask)
            except Exception as e:  # older torch
                self._flex_err = f"FlexAttention unavailable: {short(e)}"
        return self._flex

    def time(self, fn):
        return self.do_bench(fn, warmup=self.a.warmup, rep=self.a.rep, return_mode="median")

    def peak_rise(self, fn):
        """Bytes by which torch.cuda.max_memory_allocated() rises over one call of fn, above what
        was allocated before it."""
        torch = self.torch
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated(self.dev)
        torch.cuda.reset_peak_memory_stats(self.dev)
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(self.dev) - before

    def run_shape(self, s, idx, mode="fwd"):
        torch = self.torch
        B, Tq, Tk, H, K, d = s["B"], s["Tq"], s["Tk"], s["H"], s["K"], s["d"]
        bwd = mode == "fwdbwd"
        desc = fa_desc(s, mode)
        counts = row_counts(s)
        pairs = visible_pairs(s)
        work = 4.0 * B * H * d * pairs * WORK_FACTOR[mode]
        r = dict(shape=s, mode=mode, pairs=pairs, rows_without_keys=sum(1 for c in counts if c == 0), fa={}, peers={},
                 fa_desc=desc_text(desc))
        g = torch.Generator(device=self.dev)
        g.manual_seed(self.a.seed * 1000003 + idx)  # every mode of a shape: the same q, k, v
        bf = torch.bfloat16
        q = torch.randn(B, Tq, H, d, device=self.dev, dtype=bf, generator=g)  # BSHD, contiguous
        k = torch.randn(B, Tk, K, d, device=self.dev, dtype=bf, generator=g)
        v = torch.randn(B, Tk, K, d, device=self.dev, dtype=bf, generator=g)
        dout = torch.randn(B, Tq, H, d, device=self.dev, dtype=bf, generator=g) if bwd else None  # dO, o's layout
        rows = torch.tensor([c > 0 for c in counts], device=self.dev)
        all_rows = r["rows_without_keys"] == 0
        fo = self.run_fa(s, desc, q, k, v, work, r, dout)
        if fo is not None:
            o = fo["o"]
            if not bool(torch.isfinite(o).all()):
                r["fa"]["err"] = "fa wrote non-finite values (or left the NaN poison)"
            elif not all_rows and bool(o[:, ~rows].ne(0).any()):
                r["fa"]["err"] = "fa's rows without keys are not 0"
            if bwd and not r["fa"].get("err"):
                bad = [n for n in ("dq", "dk", "dv") if not bool(torch.isfinite(fo[n]).all())]
                if bad:
                    r["fa"]["err"] = f"fa wrote non-finite {'/'.join(bad)} (or left the NaN poison)"
                elif not all_rows and bool(fo["dq"][:, ~rows].ne(0).any()):
                    r["fa"]["err"] = "fa's dq rows without keys are not 0"
            del o
        for p in self.a.peers:
            try:
                res = self.run_peer(p, s, q, k, v, fo, rows, all_rows, work, dout)
            except Exception as e:  # one peer's refusal is a result too
                res = dict(err=short(e))
            if "tflops" in res and r["fa"].get("tflops"):
                res["ratio"] = r["fa"]["tflops"] / res["tflops"]
            r["peers"][p] = res
            torch.cuda.empty_cache()
        del q, k, v, fo, dout
        torch.cuda.empty_cache()
        return r

    def run_fa(self, s, desc, q, k, v, work, r, dout=None):
        """Times fa_forward, or (dout given: fwdbwd) fa_forward then fa_backward. Returns fa's
        outputs, dict(o=) or dict(o=, dq=, dk=, dv=), or None where fa failed (r["fa"]["err"])."""
        torch, lib = self.torch, self.lib
        bwd = dout is not None
        plan = None
        try:
            p = lib.problem(s, desc)
            t0 = time.time()
            plan = lib.plan_create(self.ctx, p, deterministic=bwd and self.a.deterministic)
            r["fa"]["plan_s"] = round(time.time() - t0, 2)
            r["fa"]["variant"] = lib.plan_variant(plan)
            print(f"  fa plan: {lib.plan_describe(plan)}", flush=True)
            keep = []
            a = FaFwdArgs()
            lib.L.fa_fwd_args_init(ctypes.addressof(a))
            o = torch.full_like(q, float("nan"))  # poison: fa must write every element
            a.q, a.k, a.v, a.o = q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr()
            B = s["B"]

            def i32(x):
                t = torch.tensor(x, dtype=torch.int32, device=self.dev).repeat(B, 1).contiguous()
                keep.append(t)
                return t.data_ptr()

            if desc["features"] & FA_FEAT_POSITIONS:
                a.q_pos, a.k_pos = i32(desc["q_pos"]), i32(desc["k_pos"])
            if desc["features"] & FA_FEAT_SEGMENTS:
                a.q_seg, a.k_seg = i32(desc["q_seg"]), i32(desc["k_seg"])
            ws, ws_bwd = lib.plan_workspace(plan)
            if ws:
                wt = torch.empty(ws, dtype=torch.uint8, device=self.dev)
                keep.append(wt)
                a.workspace, a.workspace_bytes = wt.data_ptr(), ws
            a.stream = torch.cuda.current_stream(self.dev).cuda_stream
            out = dict(o=o)
            fwd, pl, ap = lib.L.fa_forward, c_void_p(plan), ctypes.addressof(a)
            if bwd:
                lse = torch.empty(B, s["H"], s["Tq"], dtype=torch.float32, device=self.dev)  # [B, Hq, Tq] contiguous
                a.lse = lse.data_ptr()
                # The backward's arguments: a copy of the forward's (q, k, v, o, lse, mask arrays,
                # stream), with the backward's own workspace, then dO and the gradients.
                ba = FaBwdArgs()
                lib.L.fa_bwd_args_init(ctypes.addressof(ba))
                ba.fwd = a
                wb = torch.empty(max(ws_bwd, 256), dtype=torch.uint8, device=self.dev)  # never NULL
                if wb.data_ptr() % 256:
                    raise RuntimeError(f"the backward's workspace {wb.data_ptr():#x} is not 256-byte aligned")
                ba.fwd.workspace, ba.fwd.workspace_bytes = wb.data_ptr(), wb.numel()
                keep += [lse, wb]
                nan = float("nan")  # poison: fa must write every element of dq, dk, dv
                out.update(dq=torch.full_like(q, nan), dk=torch.full_like(k, nan), dv=torch.full_like(v, nan))
                ba.dout, ba.dq, ba.dk, ba.dv = (dout.data_ptr(), out["dq"].data_ptr(), out["dk"].data_ptr(),
                                                out["dv"].data_ptr())
                bwd_f, bp = lib.L.fa_backward, ctypes.addressof(ba)

                def fn():
                    st = fwd(pl, ap)
                    if st:
                        raise FaError(st, lib.errmsg(self.ctx))
                    st = bwd_f(pl, bp)
                    if st:
                        raise FaError(st, lib.errmsg(self.ctx))
            else:
                def fn():
                    st = fwd(pl, ap)
                    if st:
                        raise FaError(st, lib.errmsg(self.ctx))

            fn()
            torch.cuda.synchronize()
            if bwd:
                # fa allocates nothing per call: its extra memory is the workspaces and the
                # buffers the caller holds for O, LSE, dq, dk, dv (a peer allocates those inside).
                rise = self.peak_rise(fn)
                held = sum(x.numel() * x.element_size() for x in (o, lse, out["dq"], out["dk"], out["dv"]))
                r["fa"].update(workspace_mib=(ws + ws_bwd) / MIB, buffers_mib=held / MIB, rise_mib=rise / MIB,
                               peak_mib=(ws + ws_bwd + held + rise) / MIB)
                if self.a.deterministic:
                    r["fa"]["deterministic"] = True
            ms = self.time(fn)
            torch.cuda.synchronize()
            r["fa"].update(ms=ms, tflops=work / ms / 1e9)
            del keep
            return out
        except Exception as e:
            r["fa"]["err"] = short(e)
            print(f"  fa: {r['fa']['err']}", flush=True)
            return None
        finally:
            if plan:
                lib.L.fa_plan_destroy(plan)

    def peer_fn(self, peer, s, qs, ks, vs, kernel_options=None):
        """A callable on BHSD tensors (qs, ks, vs unless others are passed), or raises
        ValueError(reason)."""
        torch, F = self.torch, self.F
        scale, gqa = shape_scale(s), s["H"] != s["K"]
        if peer in ("flash", "cudnn"):
            why = sdpa_reason(s)
            if why:
                raise ValueError(why)
            causal = s["causal"]
            return lambda q_=qs, k_=ks, v_=vs: F.scaled_dot_product_attention(q_, k_, v_, is_causal=causal, scale=scale,
                                                                              enable_gqa=gqa)
        if peer != "flex":
            raise ValueError(f"unknown peer {peer}")
        fx = self.flex()
        if fx is None:
            raise ValueError(self._flex_err)
        flex, create_block_mask = fx
        Tq, Tk, W, cap = s["Tq"], s["Tk"], s["window"], s["softcap"]
        off = Tk - Tq
        dev = self.dev
        # The peers' mask (peer_bench.py): positions (block index, else token index when
        # causal), key validity (holes), window W on query-minus-key distance.
        if s["blocks"]:
            kpos = torch.tensor(fa_desc(s)["k_pos"], device=dev, dtype=torch.int32)
            qpos = kpos[off:].contiguous()
            base = lambda qi, ki: kpos[ki] <= qpos[qi]
        elif s["causal"]:
            base = lambda qi, ki: ki <= qi + off
        else:
            base = None
        valid = None
        if s["holes"]:
            valid = torch.ones(Tk, device=dev, dtype=torch.bool)
            for a_, b_ in s["holes"]:
                valid[a_:b_] = False
        two_sided = bool(W) and not (s["causal"] or s["blocks"])

        def mask_mod(b, h, qi, ki):
            m = base(qi, ki) if base else (ki >= 0)
            if valid is not None:
                m = m & valid[ki]
            if W:
                m = m & ((qi + off - ki) < W)
                if two_sided:
                    m = m & ((ki - qi - off) < W)
            return m

        bm = create_block_mask(mask_mod, None, None, Tq, Tk, device=dev)
        score_mod = (lambda sc, b, h, qi, ki: cap * torch.tanh(sc / cap)) if cap else None
        ko = kernel_options or None
        return lambda q_=qs, k_=ks, v_=vs: flex(q_, k_, v_, score_mod=score_mod, block_mask=bm, scale=scale,
                                                 enable_gqa=gqa, kernel_options=ko)

    def run_peer(self, peer, s, q, k, v, fo, rows, all_rows, work, dout=None):
        """Times one peer on fa's inputs and compares it with fa's outputs fo (None: fa failed).
        dout given (fwdbwd): the peer's f().backward(dO) on requires_grad inputs, as peer_bench.py."""
        torch = self.torch
        bwd = dout is not None
        o = fo["o"] if fo else None
        if peer == "flex":
            torch._dynamo.reset()  # a fresh compile per shape, as peer_bench.py
        ctxm = _null
        if peer in ("flash", "cudnn"):
            from torch.nn.attention import sdpa_kernel, SDPBackend
            be = SDPBackend.FLASH_ATTENTION if peer == "flash" else SDPBackend.CUDNN_ATTENTION
            ctxm = lambda: sdpa_kernel(be)
        # --layout view: BHSD views of fa's BSHD tensors (no copy), and a contiguous BHSD copy,
        # made once outside the timed region, only if the peer refuses the views.
        # copy: the copy only. best: both, the faster one counts.
        # FlexAttention: the layout stays; if the default kernel choice fails (its decoding
        # kernel for short Tq, say), the main kernel is forced once (FORCE_USE_FLEX_ATTENTION).
        # fwdbwd: the gradients land in leaves of fa's layout (view: BSHD tensors sharing fa's
        # inputs' memory, transposed inside each call) or of the copies (BHSD); dO likewise.
        layouts = ["copy"] if self.a.layout == "copy" else ["view", "copy"]
        if peer == "flex":
            lay = layouts[0]
            attempts = [(lay, None), (lay, {"FORCE_USE_FLEX_ATTENTION": True})]
            if self.a.layout == "best":
                attempts = [("view", None), ("copy", None)]
        else:
            attempts = [(lay, None) for lay in layouts]
        best, errs = None, []
        for layout, kopt in attempts:
            if best is not None and kopt:
                break
            if kopt and peer == "flex":
                torch._dynamo.reset()
            if layout == "view":
                xs = [x.detach().requires_grad_(bwd) for x in (q, k, v)]
                bhsd = lambda: [x.transpose(1, 2) for x in xs]
                dos = dout.transpose(1, 2) if bwd else None
            else:
                xs = [x.transpose(1, 2).contiguous().requires_grad_(bwd) for x in (q, k, v)]
                bhsd = lambda: xs
                dos = dout.transpose(1, 2).contiguous() if bwd else None
            qs, ks, vs = bhsd()
            try:
                fn = self.peer_fn(peer, s, qs, ks, vs, kopt)
            except ValueError as e:  # the peer cannot express this mask
                return dict(err=str(e))
            if bwd:
                call = lambda: fn(*bhsd())
                step = lambda: call().backward(dos)
            else:
                call = step = fn
            out = None
            try:
                with ctxm():
                    t0 = time.time()
                    out = call()
                    if bwd:
                        out.backward(dos)
                    torch.cuda.synchronize()
                    res = dict(layout=layout, first_call_s=round(time.time() - t0, 2))
                    if kopt:
                        res["kernel_options"] = kopt
                    if o is not None:
                        res.update(compare(torch, o, out, rows, all_rows))
                        if bwd:
                            res.update(compare_grads(torch, fo, peer_grads(xs, layout), rows, all_rows))
                            res["agree"] = res["agree"] and res["grad_agree"]
                    else:
                        res["note"] = "no fa output to compare"
                    out = None
                    if bwd:
                        for x in xs:
                            x.grad = None  # the measured call allocates the gradients, as a training step does
                        res["peak_mib"] = self.peak_rise(step) / MIB
                    res["ms"] = self.time(step)
            except Exception as e:
                errs.append(f"{layout}{' ' + json.dumps(kopt) if kopt else ''}: {short(e)}")
                torch.cuda.empty_cache()
                continue
            finally:  # drop the leaves and their gradients (fn holds qs, ks, vs) before the next layout
                qs = ks = vs = xs = dos = fn = call = step = out = None
            if best is not None:  # best of two layouts: both must agree
                for key in DIFF_KEYS:
                    if key in res or key in best:
                        res[key] = max(res.get(key, 0), best.get(key, 0))
                for key in ("agree", "grad_agree"):
                    if key in res or key in best:
                        res[key] = res.get(key, True) and best.get(key, True)
                res["other_layout_ms"] = best["ms"]
                if res["ms"] >= best["ms"]:
                    best.update({key: res[key] for key in DIFF_KEYS + ("agree", "grad_agree") if key in res},
                                other_layout_ms=res["ms"])
                    res = best
            best = res
            if self.a.layout != "best":
                break
        if best is None:
            return dict(err="; ".join(errs))
        if errs:
            best["note"] = "; ".join(errs)
        best["tflops"] = work / best["ms"] / 1e9
        return best


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


DIFF_KEYS = ("max_abs_diff", "rel_diff", "dq_diff", "dk_diff", "dv_diff", "grad_rel_diff")


def _max_diff(torch, x, y, rows=None):
    """(max |x - y|, max |x|), batch row by batch row, over the rows (dim 1) that rows selects
    (None: all); None where y is non-finite there. x and y have the same shape."""
    md = mx = 0.0
    for b in range(x.shape[0]):
        xb, yb = (x[b], y[b]) if rows is None else (x[b][rows], y[b][rows])
        if not bool(torch.isfinite(yb).all()):
            return None
        if xb.numel():
            md = max(md, float((xb.float() - yb.float()).abs().max()))
            mx = max(mx, float(xb.float().abs().max()))
    return md, mx


def compare(torch, o, out, rows, all_rows):
    """max |peer - fa| and max |fa| over the rows that see a key; o is BSHD, out BHSD."""
    d = _max_diff(torch, o, out.transpose(1, 2), None if all_rows else rows)
    if d is None:
        return dict(max_abs_diff=float("inf"), rel_diff=float("inf"), agree=False, note="non-finite peer output")
    md, mx = d
    return dict(max_abs_diff=md, rel_diff=md / mx if mx else 0.0, agree=md <= TOL)


def peer_grads(xs, layout):
    """A peer's dq, dk, dv as BSHD tensors (views), from its leaves (BSHD for view, BHSD for copy)."""
    g = [x.grad if x.grad is None or layout == "view" else x.grad.transpose(1, 2) for x in xs]
    return dict(dq=g[0], dk=g[1], dv=g[2])


def compare_grads(torch, fo, pg, rows, all_rows):
    """fwdbwd: max |peer - fa| of dq, dk, dv (all BSHD), each within GRAD_RTOL x fa's max |grad|;
    dq over the rows that see a key, dk and dv over every element. grad_rel_diff: the largest
    of the three max differences over fa's max |grad|."""
    res, rel, ok = {}, 0.0, True
    for n in ("dq", "dk", "dv"):
        if pg[n] is None:
            return dict(res, grad_agree=False, grad_note=f"the peer left no {n}")
        d = _max_diff(torch, fo[n], pg[n], rows if n == "dq" and not all_rows else None)
        if d is None:
            res[f"{n}_diff"] = float("inf")
            return dict(res, grad_rel_diff=float("inf"), grad_agree=False, grad_note=f"non-finite peer {n}")
        md, mx = d
        res[f"{n}_diff"] = md
        rel = max(rel, md / mx if mx else (0.0 if md == 0 else float("inf")))
        ok = ok and md <= GRAD_RTOL * mx
    res.update(grad_rel_diff=rel, grad_agree=ok)
    return res


def short(e):
    t = str(e).strip()
    return (t.splitlines()[0][:200] if t else type(e).__name__)


def progress_line(r, peers, modes=("fwd",)):
    fa = r["fa"]
    mib = lambda x: f" {x['peak_mib']:.0f} MiB" if "peak_mib" in x else ""
    line = "  " + ("" if only_fwd(modes) else f"{r.get('mode', 'fwd')} ")
    line += f"fa {fa['ms']:.3f} ms {fa['tflops']:.0f} TFLOP/s{mib(fa)}" if "ms" in fa else f"fa – {fa.get('err')}"
    for p in peers:
        q = r["peers"].get(p, {})
        if "ms" in q:
            line += (f" | {p} {q['ms']:.3f} ms {q['tflops']:.0f}{mib(q)}"
                     + (f" diff {q['max_abs_diff']:.2e}" if "max_abs_diff" in q else "")
                     + (f" grad {q['grad_rel_diff']:.2e}" if "grad_rel_diff" in q else "")
                     + (f" {'pass' if q['agree'] else 'FAIL'}" if "agree" in q else ""))
        else:
            line += f" | {p} – {q.get('err', '')[:60]}"
    return line


def run(a, shapes):
    b = Bench(a)
    header = b.header()
    print(header, flush=True)
    results = []
    jf = open(a.json, "w") if a.json else None
    try:
        for i, s in enumerate(shapes):
            why = validate(s)
            print(f"[{i + 1}/{len(shapes)}] {s['name']} B{s['B']} Tq{s['Tq']} Tk{s['Tk']} H{s['H']}/{s['K']} d{s['d']} "
                  f"{mask_text(s)}", flush=True)
            for mode in a.modes:
                if why:
                    r = dict(shape=s, mode=mode, pairs=0, rows_without_keys=0, fa=dict(err=why),
                             peers={p: dict(err=why) for p in a.peers})
                else:
                    r = b.run_shape(s, i, mode)
                results.append(r)
                print(progress_line(r, a.peers, a.modes), flush=True)
                if jf:
                    jf.write(json_row(r, a.modes) + "\n")
                    jf.flush()
                write_outputs(a, results, a.peers, header, a.modes)
    finally:
        if jf:
            jf.close()
        b.lib.L.fa_context_destroy(b.ctx)
    print()
    print(markdown(results, a.peers, header, a.modes))
    fails = [r["shape"]["name"] + ("" if only_fwd(a.modes) else f" ({r['mode']})")
             for r in results if agree_flag(r, a.peers).startswith("FAIL")]
    if fails:
        print(f"disagreement on: {', '.join(fails)}")
    return 1 if fails else 0


# ---------------------------------------------------------------------------------------
# CPU-only self-test (no torch, no GPU, no numpy)
# ---------------------------------------------------------------------------------------

class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


def _natural_layout(mirror):
    """Offsets ctypes gave the mirror against C's natural layout, field by field."""
    errs, end, maxal = [], 0, 1
    for name, typ in mirror._fields_:
        al = ctypes.alignment(typ)
        maxal = max(maxal, al)
        want = (end + al - 1) // al * al
        got = getattr(mirror, name).offset
        if got != want:
            errs.append(f"{mirror.__name__}.{name} at {got}, C puts it at {want}")
        end = got + ctypes.sizeof(typ)
    size = (end + maxal - 1) // maxal * maxal
    if size != ctypes.sizeof(mirror):
        errs.append(f"{mirror.__name__}: size {ctypes.sizeof(mirror)}, C gives {size}")
    if mirror._fields_[0][0] != "struct_size" or getattr(mirror, "struct_size").offset != 0:
        errs.append(f"{mirror.__name__}: struct_size is not the first member")
    return errs


def selftest_abi(ck, lib_path):
    if not ck(os.path.exists(lib_path), "library exists", lib_path):
        return
    lib = FaLib(lib_path, check=False)
    L = lib.L
    ck(lib.version() == "0.1.0" or lib.version().startswith("0."), "fa_version_string", lib.version())
    # struct sizes as the C *_init functions write them
    for cname, mirror, init in MIRRORS:
        c = lib.c_struct_size(init)
        ck(c == ctypes.sizeof(mirror), f"sizeof({cname})", f"C {c}, ctypes {ctypes.sizeof(mirror)}")
        errs = _natural_layout(mirror)
        ck(not errs, f"{cname} offsets", "; ".join(errs))
    ck(not lib.mirror_mismatches(), "mirror_mismatches() empty")
    # LP64 layout as written in fa.h
    ck((FaProblem.q_stride.offset, FaProblem.scale.offset, FaProblem.features.offset, ctypes.sizeof(FaProblem))
       == (40, 136, 156, 160), "fa_problem LP64 offsets")
    ck((FaFwdArgs.workspace_bytes.offset, FaFwdArgs.stream.offset, ctypes.sizeof(FaFwdArgs)) == (104, 112, 120),
       "fa_fwd_args LP64 offsets")
    ck((FaBwdArgs.fwd.offset, FaBwdArgs.dout.offset, FaBwdArgs.dv.offset, ctypes.sizeof(FaBwdArgs))
       == (8, 128, 152, 160), "fa_bwd_args LP64 offsets")
    # status names: the mirror's table against the library and the header
    names = [L.fa_status_name(i).decode() for i in range(len(FA_STATUS_NAMES) + 1)]
    ck(names[:-1] == ["FA_" + n for n in FA_STATUS_NAMES], "status names match fa_status_name", str(names))
    ck(names[-1] == "FA_UNKNOWN", "status table has no extra entries", names[-1])
    hdr = os.path.join(REPO, "runtime", "include", "fa.h")
    if os.path.exists(hdr):
        import re
        txt = open(hdr).read()
        hn = re.findall(r"^\s*X\((\w+),", txt, re.M)
        ck(tuple(hn) == FA_STATUS_NAMES, "status names match fa.h's FA_STATUS_MAP", str(hn))
        for cname, mirror, _ in MIRRORS:
            m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), txt, re.S)
            body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S) if m else ""
            fields = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                head = re.match(r"^((?:const\s+)?[\w]+(?:\s+[\w]+)?)\s+(.*)$", decl)
                for part in head.group(2).split(","):
                    nm = re.sub(r"[*\s]|\[\d+\]", "", part)
                    fields.append(nm)
            ck(fields == [f for f, _ in mirror._fields_], f"{cname} field names and order match fa.h", str(fields))
    # fa_problem_init writes every field where the mirror reads it
    p = FaProblem()
    ctypes.memset(ctypes.addressof(p), 0xAB, ctypes.sizeof(p))
    st = L.fa_problem_init(ctypes.addressof(p), FA_DTYPE_BF16, FA_LAYOUT_BSHD, 3, 5, 7, 6, 2, 128)
    ck(st == 0, "fa_problem_init BSHD", status_name(st))
    got = (p.struct_size, p.dtype, p.batch, p.seqlen_q, p.seqlen_k, p.heads_q, p.heads_kv, p.head_dim,
           tuple(p.q_stride), tuple(p.k_stride), tuple(p.v_stride), tuple(p.o_stride),
           p.softcap, p.causal, p.window_left, p.window_right, p.features)
    want = (160, 1, 3, 5, 7, 6, 2, 128, (5 * 6 * 128, 6 * 128, 128), (7 * 2 * 128, 2 * 128, 128),
            (7 * 2 * 128, 2 * 128, 128), (5 * 6 * 128, 6 * 128, 128), 0.0, 0, -1, -1, 0)
    ck(got == want, "fa_problem_init fields read back", f"{got} != {want}")
    ck(abs(p.scale - 128 ** -0.5) < 1e-7, "fa_problem_init scale", str(p.scale))
    p2 = FaProblem()
    L.fa_problem_init(ctypes.addressof(p2), FA_DTYPE_FP16, FA_LAYOUT_BHSD, 2, 9, 11, 4, 4, 64)
    ck((p2.dtype, tuple(p2.q_stride), tuple(p2.k_stride)) == (2, (4 * 9 * 64, 64, 9 * 64), (4 * 11 * 64, 64, 11 * 64)),
       "fa_problem_init BHSD strides", f"{p2.dtype} {tuple(p2.q_stride)} {tuple(p2.k_stride)}")
    # fa_problem_check sees each field the mirror writes (no GPU; ctx NULL)
    ck(L.fa_problem_check(None, ctypes.addressof(p)) == 0, "fa_problem_check accepts the init'ed problem", lib.errmsg())
    cases = [
        ("struct_size", lambda x: setattr(x, "struct_size", 168), "ERR_STRUCT_SIZE", "struct_size"),
        ("dtype", lambda x: setattr(x, "dtype", 7), "ERR_DTYPE", "dtype"),
        ("batch", lambda x: setattr(x, "batch", 0), "ERR_SIZE", "batch"),
        ("seqlen_k", lambda x: setattr(x, "seqlen_k", -3), "ERR_SIZE", "seqlen_k"),
        ("heads_q", lambda x: setattr(x, "heads_q", 7), "ERR_HEADS", "heads_q"),
        ("head_dim", lambda x: setattr(x, "head_dim", 96), "ERR_HEAD_DIM", "head_dim"),
        ("q_stride", lambda x: x.q_stride.__setitem__(1, 64), "ERR_STRIDE", "q_stride"),
        ("o_stride", lambda x: x.o_stride.__setitem__(0, 12), "ERR_ALIGNMENT", "o_stride"),
        ("v_stride", lambda x: x.v_stride.__setitem__(2, 0), "ERR_STRIDE", "v_stride"),
        ("k_stride", lambda x: x.k_stride.__setitem__(1, 4), "ERR_ALIGNMENT", "k_stride"),
        ("window_left", lambda x: setattr(x, "window_left", -2), "ERR_WINDOW", "window_left"),
        ("window_right", lambda x: setattr(x, "window_right", -2), "ERR_WINDOW", "window_right"),
        ("scale", lambda x: setattr(x, "scale", -1.0), "ERR_SCALE", "scale"),
        ("softcap", lambda x: setattr(x, "softcap", float("inf")), "ERR_SCALE", "softcap"),
        ("causal", lambda x: setattr(x, "causal", 2), "ERR_FEATURE", "causal"),
        ("features", lambda x: setattr(x, "features", 0x100), "ERR_FEATURE", "features"),
    ]
    for field, mutate, want_st, word in cases:
        x = FaProblem.from_buffer_copy(p)
        mutate(x)
        st = L.fa_problem_check(None, ctypes.addressof(x))
        msg = lib.errmsg()
        ck(st == ST[want_st] and word in msg, f"fa_problem_check sees {field}", f"{status_name(st)}: {msg}")
    ok = FaProblem.from_buffer_copy(p)
    ok.window_left, ok.window_right, ok.causal, ok.softcap, ok.features = 4095, 255, 1, 50.0, FA_FEAT_ALL_
    ck(L.fa_problem_check(None, ctypes.addressof(ok)) == 0, "fa_problem_check accepts set fields", lib.errmsg())
    # fa_context_options: a compile-only context (no GPU) shows device, arch, flags and the paths
    with tempfile.TemporaryDirectory() as tmp:
        def ctx_with(**kw):
            opt = FaContextOptions()
            L.fa_context_options_init(ctypes.addressof(opt))
            dflt = (opt.device, opt.arch, opt.flags, opt.cache_dir, opt.tuning_db, opt.shipped_db, opt.export_dir)
            keep = []
            for k_, v_ in kw.items():
                if isinstance(v_, str):
                    b_ = ctypes.create_string_buffer(v_.encode())
                    keep.append(b_)
                    v_ = ctypes.addressof(b_)
                setattr(opt, k_, v_)
            out = c_void_p()
            st_ = L.fa_context_create(ctypes.addressof(opt), ctypes.byref(out))
            desc = L.fa_context_describe(out.value).decode() if st_ == 0 else lib.errmsg()
            if st_ == 0:
                L.fa_context_destroy(out.value)
            return st_, desc, dflt

        st, desc, dflt = ctx_with(device=FA_DEVICE_NONE, arch=90,
                                  flags=FA_CTX_NO_NVRTC | FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB)
        ck(dflt == (0, 80, 0, None, None, None, None), "fa_context_options_init defaults", str(dflt))
        ck(st == 0, "fa_context_create compile-only", desc)
        ck("sm_90" in desc and "FA_CTX_NO_NVRTC" in desc and "disk cache: off" in desc
           and "FA_CTX_NO_TUNING_DB" in desc, "context options arch/flags reach the library", desc)
        exp = os.path.join(tmp, "export")
        os.makedirs(exp)
        with open(os.path.join(exp, "manifest.txt"), "w") as f:
            f.write(f"fa_version {lib.version()}\n")
        st, desc, _ = ctx_with(device=FA_DEVICE_NONE, flags=FA_CTX_NO_NVRTC, cache_dir=os.path.join(tmp, "cache"),
                               tuning_db=os.path.join(tmp, "user.db"), shipped_db=os.path.join(tmp, "ship.db"),
                               export_dir=exp)
        for field, text in (("cache_dir", f"disk cache: {tmp}/cache;"), ("tuning_db", f"user {tmp}/user.db"),
                            ("shipped_db", f"shipped {tmp}/ship.db"), ("export_dir", f"export dir: {exp};")):
            ck(st == 0 and text in desc, f"context option {field} reaches the library", desc)
        bad = FaContextOptions()
        L.fa_context_options_init(ctypes.addressof(bad))
        bad.struct_size += 8
        out = c_void_p()
        st = L.fa_context_create(ctypes.addressof(bad), ctypes.byref(out))
        ck(st == ST["ERR_STRUCT_SIZE"] and not out.value, "fa_context_create refuses a wrong struct_size", status_name(st))
        # fa_plan_options: a forced variant the generator does not know reaches it
        cx = lib.context_create(FA_DEVICE_NONE, flags=FA_CTX_NO_NVRTC | FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB)
        po = FaPlanOptions()
        ctypes.memset(ctypes.addressof(po), 0xCD, ctypes.sizeof(po))
        L.fa_plan_options_init(ctypes.addressof(po))
        ck((po.struct_size, po.variant, po.variant_bwd, po.deterministic, po.kv_splits) == (32, None, None, 0, 0),
           "fa_plan_options_init defaults", str((po.struct_size, po.variant, po.variant_bwd, po.deterministic, po.kv_splits)))
        vb = ctypes.create_string_buffer(b"fwd_bogus_variant_key")
        po.variant = ctypes.addressof(vb)
        plan = c_void_p()
        st = L.fa_plan_create(cx, ctypes.addressof(p), ctypes.addressof(po), ctypes.byref(plan))
        msg = lib.errmsg(cx)
        ck(st == ST["ERR_VARIANT"] and "bogus" in msg and not plan.value, "plan options' variant reaches the library",
           f"{status_name(st)}: {msg}")
        po2 = FaPlanOptions()
        L.fa_plan_options_init(ctypes.addressof(po2))
        po2.struct_size = 24
        st = L.fa_plan_create(cx, ctypes.addressof(p), ctypes.addressof(po2), ctypes.byref(plan))
        ck(st == ST["ERR_STRUCT_SIZE"], "fa_plan_create refuses a wrong struct_size", status_name(st))
        L.fa_context_destroy(cx)
    # fa_fwd_args_init zeroes every field
    fa_ = FaFwdArgs()
    ctypes.memset(ctypes.addressof(fa_), 0xEF, ctypes.sizeof(fa_))
    L.fa_fwd_args_init(ctypes.addressof(fa_))
    vals = [getattr(fa_, n) for n, _ in FaFwdArgs._fields_[1:]]
    ck(fa_.struct_size == 120 and all(x in (None, 0) for x in vals), "fa_fwd_args_init", str(vals))
    ck(L.fa_forward(None, ctypes.addressof(fa_)) == ST["ERR_NULL_ARGUMENT"], "fa_forward(NULL plan)")
    # fa_bwd_args_init zeroes every field and initialises the embedded fa_fwd_args
    ba = FaBwdArgs()
    ctypes.memset(ctypes.addressof(ba), 0xEF, ctypes.sizeof(ba))
    L.fa_bwd_args_init(ctypes.addressof(ba))
    vals = [getattr(ba, n) for n in ("dout", "dq", "dk", "dv")]
    vals += [getattr(ba.fwd, n) for n, _ in FaFwdArgs._fields_[1:]]
    ck(ba.struct_size == 160 and ba.fwd.struct_size == 120 and all(x in (None, 0) for x in vals), "fa_bwd_args_init",
       str((ba.struct_size, ba.fwd.struct_size, vals)))
    ck(L.fa_backward(None, ctypes.addressof(ba)) == ST["ERR_NULL_ARGUMENT"], "fa_backward(NULL plan)")
    # run_fa's copy of the forward's arguments into the backward's: a copy, not a reference
    fa_.q, fa_.lse, fa_.stream = 0x1000, 0x2000, 0x3000
    ba.fwd = fa_
    ba.fwd.workspace = 0x4000
    ck((ba.fwd.q, ba.fwd.lse, ba.fwd.stream, ba.fwd.struct_size, fa_.workspace) == (0x1000, 0x2000, 0x3000, 120, None),
       "fa_bwd_args.fwd = fa_fwd_args copies")


def selftest_backward(ck, lib_path):
    """fa_backward's argument checks through the FaBwdArgs mirror, on a plan of a compile-only
    context (needs NVRTC to build the kernels, about 2 s; skipped without it). Every pointer is
    a made-up address: a plan without a device checks its arguments and never launches."""
    if not os.path.exists(lib_path):
        return
    lib = FaLib(lib_path, check=False)
    L = lib.L
    cx = lib.context_create(FA_DEVICE_NONE, flags=FA_CTX_NO_DISK_CACHE | FA_CTX_NO_TUNING_DB, arch=80)
    plans = []
    try:
        s = shape(1, 64, 64, 2, 1, 64, True)
        try:
            plan = lib.plan_create(cx, lib.problem(s, fa_desc(s, "fwdbwd")))
        except FaError as e:
            print(f"SKIP fa_backward argument checks: no backward plan without a GPU here ({short(e)})")
            return
        plans.append(plan)
        ws, ws_bwd = lib.plan_workspace(plan)
        ck(ws_bwd > 0 and "atomic dQ" in lib.plan_describe(plan),
           "an FA_FEAT_LSE plan has a backward and its workspace", f"{ws_bwd} {lib.plan_describe(plan)}")
        det = lib.plan_create(cx, lib.problem(s, fa_desc(s, "fwdbwd")), deterministic=True)
        plans.append(det)
        ck("deterministic dQ" in lib.plan_describe(det) and lib.plan_workspace(det)[1] < ws_bwd,
           "plan options' deterministic reaches the library", lib.plan_describe(det))
        fwd_only = lib.plan_create(cx, lib.problem(s, fa_desc(s)))
        plans.append(fwd_only)
        ck(lib.plan_workspace(fwd_only)[1] == 0, "a plan without FA_FEAT_LSE has no backward workspace")
        ba = FaBwdArgs()
        L.fa_bwd_args_init(ctypes.addressof(ba))
        st = L.fa_backward(fwd_only, ctypes.addressof(ba))
        ck(st == ST["ERR_FEATURE"], "fa_backward refuses a plan without FA_FEAT_LSE", status_name(st))
        wsp = 0x7f0000000000  # 256-byte aligned
        full = dict(q=0x100000, k=0x200000, v=0x300000, o=0x400000, lse=0x500000, workspace=wsp,
                    workspace_bytes=ws_bwd, dout=0x600000, dq=0x700000, dk=0x800000, dv=0x900000)

        def bwd_with(**kw):
            x = FaBwdArgs()
            L.fa_bwd_args_init(ctypes.addressof(x))
            for n, val in dict(full, **kw).items():
                setattr(x.fwd if n in ("q", "k", "v", "o", "lse", "workspace", "workspace_bytes") else x, n, val)
            st_ = L.fa_backward(plan, ctypes.addressof(x))
            return st_, lib.errmsg(cx)

        st, msg = bwd_with()
        ck(st == ST["ERR_NO_DEVICE"], "fa_backward accepts the mirror's arguments (then has no device)",
           f"{status_name(st)}: {msg}")
        for field, val, want_st, word in (
                ("q", None, "ERR_NULL_POINTER", "q is NULL"), ("o", 0x400008, "ERR_ALIGNMENT", "o (0x400008)"),
                ("lse", None, "ERR_NULL_POINTER", "lse is NULL"), ("dout", None, "ERR_NULL_POINTER", "dout is NULL"),
                ("dq", None, "ERR_NULL_POINTER", "dq is NULL"), ("dk", 0x800004, "ERR_ALIGNMENT", "dk (0x800004)"),
                ("dv", None, "ERR_NULL_POINTER", "dv is NULL"), ("workspace", None, "ERR_WORKSPACE", "fwd.workspace"),
                ("workspace_bytes", ws_bwd - 1, "ERR_WORKSPACE", f"workspace_bytes is {ws_bwd - 1}"),
                ("workspace", wsp + 16, "ERR_ALIGNMENT", "256-byte")):
            st, msg = bwd_with(**{field: val})
            ck(st == ST[want_st] and word in msg, f"fa_backward sees fa_bwd_args {field}", f"{status_name(st)}: {msg}")
        x = FaBwdArgs()
        L.fa_bwd_args_init(ctypes.addressof(x))
        x.struct_size += 8
        st = L.fa_backward(plan, ctypes.addressof(x))
        ck(st == ST["ERR_STRUCT_SIZE"], "fa_backward refuses a wrong struct_size", status_name(st))
    finally:
        for pl in plans:
            L.fa_plan_destroy(pl)
        L.fa_context_destroy(cx)



def selftest_grids(ck, lib_path):
    n = {k: len(f()) for k, f in GRIDS.items()}
    ck(n == {"seed": 80, "seed4": 20, "d256": 20, "gemma": 11}, "grid sizes", str(n))
    ck(all(s["B"] == 4 for s in GRIDS["seed4"]()), "seed4 is batch 4")
    ck(sum(s["causal"] for s in grid_seed()) == 40, "seed: half causal")
    ck({(s["H"], s["K"], s["d"]) for s in grid_d256()} == {(8, 1, 256), (16, 16, 256)}, "d256 heads")
    ck(sorted({s["Tq"] for s in grid_d256()}) == [512, 1024, 2048, 4096, 8192], "d256 lengths")
    g = {s["name"]: s for s in grid_gemma()}
    ck(list(g) == ["pi0_train", "pi05_train", "pi0_prefill", "pi0_denoise", "paligemma_896", "gemma2_2b_global",
                   "gemma2_2b_local", "gemma2_27b", "gemma3_12b_local", "gemma_7b", "recurrentgemma"], "gemma names")
    # the descriptors docs/masks.md and fa-tune's grid give
    want = {  # name: (causal, window_left, window_right, softcap, scale, features)
        "pi0_train": (0, -1, -1, 0.0, 1 / 16, FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS),
        "pi05_train": (0, -1, -1, 0.0, 1 / 16, FA_FEAT_POSITIONS),
        "pi0_prefill": (0, -1, -1, 0.0, 1 / 16, FA_FEAT_SEGMENTS),
        "pi0_denoise": (0, -1, -1, 0.0, 1 / 16, FA_FEAT_POSITIONS | FA_FEAT_SEGMENTS),
        "paligemma_896": (0, -1, -1, 0.0, 1 / 16, FA_FEAT_POSITIONS),
        "gemma2_2b_global": (1, -1, -1, 50.0, 1 / 16, 0),
        "gemma2_2b_local": (1, 4095, -1, 50.0, 1 / 16, 0),
        "gemma2_27b": (1, -1, -1, 50.0, 1 / 12, 0),
        "gemma3_12b_local": (1, 1023, -1, 0.0, 1 / 16, 0),
        "gemma_7b": (1, -1, -1, 0.0, 1 / 16, 0),
        "recurrentgemma": (1, 2047, -1, 0.0, 1 / 16, 0),
    }
    for name, w in want.items():
        d = fa_desc(g[name])
        got = (d["causal"], d["window_left"], d["window_right"], d["softcap"], round(d["scale"], 9), d["features"])
        ck(got == w[:4] + (round(w[4], 9),) + w[5:], f"fa descriptor of {name}", f"{got} != {w}")
    d = fa_desc(g["pi0_denoise"])
    ck(d["q_pos"] == [1] + [2] * 50 and d["k_pos"] == [0] * 816 + [1] + [2] * 50, "pi0_denoise positions (masks.md 5)")
    ck(d["q_seg"] == [0] * 51 and d["k_seg"] == [0] * 512 + [-1] * 256 + [0] * 48 + [0] * 51,
       "pi0_denoise segments (masks.md 5)")
    ck(all(validate(s) is None for ss in GRIDS.values() for s in ss()), "every grid shape is well-formed")
    # SDPA can express exactly the plain rows
    ck(all(sdpa_reason(s) is None for s in grid_seed() + grid_d256()), "SDPA expresses seed and d256")
    ck([n for n, s in g.items() if sdpa_reason(s) is None] == ["gemma_7b"], "SDPA expresses only gemma_7b of gemma")
    ck(sdpa_reason(shape(1, 5, 9, 1, 1, 64, True)) is not None and sdpa_reason(shape(1, 5, 9, 1, 1, 64, False)) is None,
       "SDPA: causal needs Tq == Tk")
    # every grid shape's descriptor passes fa_problem_check
    if os.path.exists(lib_path):
        lib = FaLib(lib_path, check=False)
        bad = []
        for ss in GRIDS.values():
            for s in ss():
                for mode in MODES:
                    p = lib.problem(s, fa_desc(s, mode))
                    if lib.L.fa_problem_check(None, ctypes.addressof(p)):
                        bad.append(f"{s['name']} {mode}: {lib.errmsg()}")
        ck(not bad, "fa_problem_check accepts every grid shape, both modes", "; ".join(bad[:3]))
    # --shapes files
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(dict(name="x", B=2, Tq=64, Tk=128, H=4, K=2, d=64, causal=True, window=16)) + "\n\n")
            f.write("# comment\n" + json.dumps(dict(name="y", B=1, Tq=10, Tk=10, H=1, K=1, d=128, blocks=[6, 4],
                                                        holes=[[1, 3]])) + "\n")
        ss = load_shapes(path)
        ck(len(ss) == 2 and ss[0]["window"] == 16 and ss[1]["blocks"] == [6, 4] and ss[1]["causal"] is True,
           "load_shapes", str(ss))
        repo_shapes = os.path.join(HERE, "shapes_seed4_d256.jsonl")
        if os.path.exists(repo_shapes):
            rs = load_shapes(repo_shapes)
            key = lambda s: (s["name"], s["B"], s["Tq"], s["Tk"], s["H"], s["K"], s["d"], s["causal"])
            ck(sorted(map(key, rs)) == sorted(map(key, GRIDS["seed4"]() + grid_d256())),
               "bench/shapes_seed4_d256.jsonl is seed4 + d256")


def _small_shapes(rng):
    fixed = [
        shape(1, 37, 37, 1, 1, 64, True),
        shape(1, 37, 37, 1, 1, 64, False),
        shape(1, 13, 40, 1, 1, 64, True),              # Tq < Tk, bottom-right causal
        shape(1, 40, 13, 1, 1, 64, True),              # Tq > Tk: the first rows see nothing
        shape(1, 40, 13, 1, 1, 64, False, window=4),   # two-sided window, Tq > Tk
        shape(1, 50, 50, 1, 1, 64, True, window=7),
        shape(1, 50, 50, 1, 1, 64, False, window=7),
        shape(1, 20, 50, 1, 1, 64, False, window=9),
        shape(1, 30, 30, 1, 1, 64, False, holes=[[5, 12], [20, 21]]),
        shape(1, 30, 30, 1, 1, 64, True, holes=[[0, 4], [25, 30]]),
        shape(1, 9, 30, 1, 1, 64, False, blocks=[20, 1, 9], holes=[[8, 15]]),  # pi0_denoise in small
        shape(1, 30, 30, 1, 1, 64, False, blocks=[20, 1, 9], holes=[[8, 15]]),  # pi0_train in small
        shape(1, 30, 30, 1, 1, 64, False, blocks=[25, 5]),
        shape(1, 30, 30, 1, 1, 64, False, blocks=[10, 10, 10], window=6),
        shape(1, 30, 30, 1, 1, 64, False, holes=[[0, 30]]),  # no key at all
        shape(1, 30, 30, 1, 1, 64, True, window=1),
    ]
    rand = []
    for _ in range(60):
        Tk = rng.randint(1, 48)
        blocks = None
        if rng.random() < 0.4:
            cuts = sorted(rng.sample(range(1, Tk), min(rng.randint(0, 3), Tk - 1))) if Tk > 1 else []
            edges = [0] + cuts + [Tk]
            blocks = [b - a for a, b in zip(edges, edges[1:])]
        Tq = rng.randint(1, Tk) if blocks else rng.randint(1, 48)
        holes = None
        if rng.random() < 0.5:
            a = rng.randint(0, Tk)
            holes = [[a, rng.randint(a, Tk)]]
        rand.append(shape(1, Tq, Tk, 1, 1, 64, rng.random() < 0.5, window=rng.choice([0, 0, 1, 3, 8, 100]),
                          blocks=blocks, holes=holes))
    return fixed + rand


def selftest_counts(ck):
    rng = random.Random(5)
    bad = []
    for s in _small_shapes(rng):
        fast, bp, bf = row_counts(s), brute_counts_peer(s), brute_counts_fa(s)
        if not (fast == bp == bf and visible_pairs(s) == sum(bp)):
            bad.append(f"{s} fast {sum(fast)} peer {sum(bp)} fa {sum(bf)} closed {visible_pairs(s)}")
    ck(not bad, "row counts = brute force (peer mask) = brute force (fa rule), 76 small masks", "; ".join(bad[:2]))
    s = shape(1, 40, 13, 1, 1, 64, True)
    ck(row_counts(s)[:27] == [0] * 27 and row_counts(s)[27] == 1, "Tq > Tk causal: rows without keys")
    # closed forms against the per-row count
    for s in (shape(1, 777, 777, 1, 1, 64, True), shape(1, 300, 500, 1, 1, 64, False),
              shape(1, 900, 900, 1, 1, 64, True, window=128), shape(1, 100, 100, 1, 1, 64, True, window=400)):
        ck(visible_pairs(s) == sum(row_counts(s)), f"closed form {mask_text(s)} {s['Tq']}x{s['Tk']}")
    # the openpi rows of the gemma grid, pair by pair (the big plain ones analytically)
    g = {s["name"]: s for s in grid_gemma()}
    for name in ("pi0_train", "pi0_prefill", "pi0_denoise"):
        s = g[name]
        ck(visible_pairs(s) == sum(brute_counts_peer(s)) == sum(brute_counts_fa(s)), f"{name} pairs by brute force")
    exp = {
        "pi0_train": 816 * 560 + 561 + 50 * 611,   # prefix sees 560 valid prefix keys; state 561; actions 611
        "pi05_train": 968 * 968 + 50 * 1018,
        "pi0_prefill": 816 * 560,
        "pi0_denoise": 561 + 50 * 611,
        "paligemma_896": 4096 * 4096 + 64 * 4160,
        "gemma2_2b_global": 8192 * 8193 // 2,
        "gemma2_2b_local": 4096 * 4097 // 2 + 4096 * 4096,
        "gemma2_27b": 8192 * 8193 // 2,
        "gemma3_12b_local": 1024 * 1025 // 2 + (32768 - 1024) * 1024,
        "gemma_7b": 4096 * 4097 // 2,
        "recurrentgemma": 2048 * 2049 // 2 + (8192 - 2048) * 2048,
    }
    got = {n: visible_pairs(s) for n, s in g.items()}
    ck(got == exp, "gemma grid pairs", str({n: (got[n], exp[n]) for n in got if got[n] != exp[n]}))
    ck(sum(row_counts(g["gemma2_2b_local"])) == exp["gemma2_2b_local"], "gemma2_2b_local per-row = closed form")


def _fake_results():
    g = grid_gemma()
    r1 = dict(shape=g[9], pairs=visible_pairs(g[9]), rows_without_keys=0, fa_desc=desc_text(fa_desc(g[9])),
              fa=dict(ms=1.5, tflops=300.0, variant="fwd_sm90_d256_bf16_m128n64_w8_s2_g1"),
              peers=dict(flash=dict(ms=2.0, tflops=225.0, ratio=300 / 225, max_abs_diff=3e-3, rel_diff=1e-3, agree=True,
                                    layout="view"),
                         cudnn=dict(ms=1.0, tflops=450.0, ratio=300 / 450, max_abs_diff=5e-2, rel_diff=2e-2, agree=False,
                                    layout="copy"),
                         flex=dict(err="boom | with a pipe")))
    r2 = dict(shape=g[0], pairs=visible_pairs(g[0]), rows_without_keys=3, fa_desc=desc_text(fa_desc(g[0])),
              fa=dict(err="FA_ERR_COMPILE: nope"),
              peers=dict(flash=dict(err="SDPA cannot express blocks/holes"), cudnn=dict(err="SDPA cannot express blocks/holes"),
                         flex=dict(ms=3.0, tflops=100.0, note="no fa output to compare", layout="view",
                                   kernel_options={"FORCE_USE_FLEX_ATTENTION": True})))
    return [r1, r2]


def selftest_writers(ck):
    res = _fake_results()
    with tempfile.TemporaryDirectory() as tmp:
        class A:
            csv = os.path.join(tmp, "out.csv")
            md = os.path.join(tmp, "out.md")
        write_outputs(A, res, list(PEERS), "# fake header")
        with open(A.csv, newline="") as f:
            rows = list(csv.DictReader(f))
        ck(len(rows) == 2, "csv rows", str(len(rows)))
        ck(list(rows[0]) == csv_columns(list(PEERS)), "csv header")
        r = rows[0]
        ck(r["fa_over_flash"] == "1.333" and r["fa_over_cudnn"] == "0.667" and r["fa_over_flex"] == "", "csv ratios",
           str((r["fa_over_flash"], r["fa_over_cudnn"], r["fa_over_flex"])))
        ck(r["flash_agree"] == "pass" and r["cudnn_agree"] == "FAIL" and r["agree"] == "FAIL cudnn", "csv agreement")
        ck(r["visible_pairs"] == str(4096 * 4097 // 2) and r["flex_err"] == "boom | with a pipe", "csv fields")
        ck(rows[1]["fa_err"].startswith("FA_ERR_COMPILE") and rows[1]["agree"] == "n/a" and rows[1]["blocks"] == "816+1+50"
           and rows[1]["holes"] == "512:768", "csv row without fa")
        md = open(A.md).read().splitlines()
        table = [l for l in md if l.startswith("|")]
        ncol = 8 + 2 * len(PEERS) + 1
        ck(len(table) == 4 and all(l.count("|") == ncol + 1 for l in table), "markdown table shape",
           "\n".join(table))
        ck(md[0] == "# fake header", "markdown header")
        ck("| 300 | 225 | 1.33 | 450 | 0.67 |" in table[2] and table[2].rstrip().endswith("FAIL cudnn |"),
           "markdown cells", table[2])
        ck("– (boom / with a pipe)" in table[2], "markdown escapes pipes", table[2])
        ck(any("Rows without keys excluded: pi0_train (3 of 867)" in l for l in md), "markdown notes excluded rows")
        ck(any("FORCE_USE_FLEX_ATTENTION" in l and "flex on pi0_train" in l for l in md), "markdown notes forced flex")
        ck(rows[1]["flex_layout"] == "view+FORCE_USE_FLEX_ATTENTION", "csv notes forced flex", rows[1]["flex_layout"])


def _fake_fwdbwd(r):
    """A fwdbwd result of the same shape as the fwd result r."""
    out = json.loads(json.dumps(r))
    out.update(shape=r["shape"], mode="fwdbwd", fa_desc=desc_text(fa_desc(r["shape"], "fwdbwd")))
    if "ms" in out["fa"]:
        out["fa"].update(ms=5.0, tflops=315.0, peak_mib=1536.0, workspace_mib=36.5, buffers_mib=1499.5, rise_mib=0.0)
    for p, q in out["peers"].items():
        if "ms" in q:
            q.update(peak_mib=2048.0, dq_diff=1e-3, dk_diff=2e-3, dv_diff=3e-3, grad_rel_diff=4e-3, grad_agree=True)
    return out


def selftest_modes(ck):
    ck(parse_modes("fwd") == ("fwd",) and parse_modes("fwdbwd") == ("fwdbwd",)
       and parse_modes("fwd,fwdbwd") == ("fwd", "fwdbwd"), "parse_modes")
    accepted = []
    for bad in ("", "bwd", "fwd,fwd", "fwd,bwd"):
        try:
            parse_modes(bad)
            accepted.append(bad)
        except ValueError:
            pass
    ck(not accepted, "parse_modes refuses unknown and repeated modes", str(accepted))
    s = grid_gemma()[0]
    f0, f1 = fa_desc(s)["features"], fa_desc(s, "fwdbwd")["features"]
    ck(f1 == f0 | FA_FEAT_LSE and not f0 & FA_FEAT_LSE, "fwdbwd descriptors add FA_FEAT_LSE, fwd ones do not")
    ck(desc_text(fa_desc(s, "fwdbwd")).endswith("features=POSITIONS|SEGMENTS|LSE"), "desc_text names LSE",
       desc_text(fa_desc(s, "fwdbwd")))
    ck(WORK_FACTOR == {"fwd": 1.0, "fwdbwd": 3.5}, "fwd+bwd counts 3.5 forwards, as peer_bench.py")
    fwd = _fake_results()
    for r in fwd:
        r["mode"] = "fwd"
    both = [x for r in fwd for x in (r, _fake_fwdbwd(r))]
    peers = list(PEERS)
    with tempfile.TemporaryDirectory() as tmp:
        class A:
            csv = os.path.join(tmp, "out.csv")
            md = os.path.join(tmp, "out.md")
        # --modes fwd: results that carry a mode write what a forward-only run always wrote
        write_outputs(A, fwd, peers, "# h", ("fwd",))
        one = (open(A.csv).read(), open(A.md).read())
        plain = [{k: v for k, v in r.items() if k != "mode"} for r in fwd]
        write_outputs(A, plain, peers, "# h")
        ck(one == (open(A.csv).read(), open(A.md).read()), "--modes fwd outputs are the forward-only ones")
        ck(json_row(fwd[0], ("fwd",)) == json.dumps(plain[0])
           and '"mode": "fwdbwd"' in json_row(both[1], ("fwd", "fwdbwd")), "json rows: mode only where there are several")
        write_outputs(A, both, peers, "# h", ("fwd", "fwdbwd"))
        with open(A.csv, newline="") as f:
            rows = list(csv.DictReader(f))
        cols = csv_columns(peers, ("fwd", "fwdbwd"))
        ck(list(rows[0]) == cols and cols[1] == "mode" and "fa_peak_mib" in cols and "flash_dq_diff" in cols,
           "csv header with modes")
        ck([r["mode"] for r in rows] == ["fwd", "fwdbwd", "fwd", "fwdbwd"], "csv: one row per shape and mode")
        r = rows[1]
        ck((r["fa_peak_mib"], r["fa_workspace_mib"], r["flash_peak_mib"], r["flash_dv_diff"], r["flash_grad_rel_diff"])
           == ("1536.0", "36.5", "2048.0", "3.000e-03", "4.000e-03"), "csv fwdbwd fields", str(r))
        ck(rows[0]["fa_peak_mib"] == "" and rows[0]["flash_dq_diff"] == "", "csv fwd rows leave fwdbwd fields empty")
        ck(r["fa_desc"].endswith("features=LSE") and r["fa_over_flash"] == "1.333", "csv fwdbwd desc and ratio",
           str((r["fa_desc"], r["fa_over_flash"])))
        md = open(A.md).read().splitlines()
        ck("### Forward" in md and "### Forward + backward" in md, "markdown: one section per mode")
        fwd_md = one[1].splitlines()
        fwd_table = [l for l in fwd_md if l.startswith("|")]
        i = md.index("### Forward")
        ck(md[i + 2:i + 2 + len(fwd_table)] == fwd_table, "markdown: the forward section is the forward-only table")
        j = md.index("### Forward + backward")
        bt = [l for l in md[j:] if l.startswith("|")]
        ncol = 9 + 3 * len(peers) + 1
        ck(len(bt) == 4 and all(l.count("|") == ncol + 1 for l in bt), "markdown fwdbwd table shape", "\n".join(bt))
        ck("| 5.000 | 315 | 1536 | 225 | 1.33 | 2048 |" in bt[2], "markdown fwdbwd cells", bt[2])
        ck(sum("Rows without keys excluded" in l for l in md) == 1, "markdown: excluded rows noted once")
        ck(any("flex on pi0_train (fwdbwd)" in l for l in md), "markdown: forced flex names the mode")
    line = progress_line(both[1], peers, ("fwd", "fwdbwd"))
    ck(line.startswith("  fwdbwd fa 5.000 ms 315 TFLOP/s 1536 MiB | flash 2.000 ms 225 2048 MiB diff 3.00e-03 grad "
                       "4.00e-03 pass"), "progress line fwdbwd", line)
    ck(progress_line(fwd[0], peers).startswith("  fa 1.500 ms 300 TFLOP/s | flash 2.000 ms 225 diff 3.00e-03 pass"),
       "progress line fwd", progress_line(fwd[0], peers))


def selftest(lib_path):
    ck = Checker()
    for part in (lambda: selftest_abi(ck, lib_path), lambda: selftest_backward(ck, lib_path),
                 lambda: selftest_grids(ck, lib_path), lambda: selftest_counts(ck), lambda: selftest_writers(ck),
                 lambda: selftest_modes(ck)):
        try:
            part()
        except Exception as e:  # a crash in one part is one failure, the rest still runs
            import traceback
            traceback.print_exc()
            ck(False, "selftest part raised", short(e))
    ck("torch" not in sys.modules, "torch was not imported")
    print(f"{ck.passed} passed, {ck.failed} failed")
    return 0 if ck.failed == 0 else 1


# ---------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", help="comma list of: " + ", ".join(GRIDS))
    ap.add_argument("--shapes", action="append", default=[], help="JSON-lines shape file (repeatable)")
    ap.add_argument("--filter", default="", help="keep shapes whose name contains this")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma list of: flash, cudnn, flex")
    ap.add_argument("--modes", default="fwd",
                    help="comma list of: fwd (forward), fwdbwd (forward + backward) (default: %(default)s)")
    ap.add_argument("--deterministic", action="store_true",
                    help="fwdbwd: fa's deterministic backward (fa_plan_options.deterministic = 1)")
    ap.add_argument("--lib", default=DEFAULT_LIB, help="libfa-runtime.so (default: %(default)s)")
    ap.add_argument("--csv", help="write the CSV of ratios here")
    ap.add_argument("--md", help="write the markdown table here")
    ap.add_argument("--json", help="write one JSON object per shape (and mode) here")
    ap.add_argument("--layout", choices=("view", "copy", "best"), default="view",
                    help="peers' BHSD inputs: transposed views of fa's BSHD tensors (copies if refused), "
                         "contiguous copies, or the faster of both (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="random inputs' seed")
    ap.add_argument("--warmup", type=int, default=25, help="do_bench warm-up, ms")
    ap.add_argument("--rep", type=int, default=100, help="do_bench repetitions, ms")
    ap.add_argument("--list", action="store_true", help="print the shapes, fa descriptors and work; no GPU")
    ap.add_argument("--selftest", action="store_true", help="CPU-only checks (no torch, no GPU)")
    a = ap.parse_args(argv)
    if a.selftest:
        return selftest(a.lib)
    shapes = []
    for gname in (a.grid.split(",") if a.grid else []):
        if gname not in GRIDS:
            ap.error(f"unknown grid {gname!r}; known: {', '.join(GRIDS)}")
        shapes += GRIDS[gname]()
    for path in a.shapes:
        shapes += load_shapes(path)
    shapes = [s for s in shapes if a.filter in s["name"]]
    if not shapes:
        ap.error("give --grid or --shapes (and a --filter that keeps some)")
    try:
        a.modes = parse_modes(a.modes)
    except ValueError as e:
        ap.error(str(e))
    a.peers = [p for p in a.peers.split(",") if p]
    for p in a.peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r}; known: {', '.join(PEERS)}")
    for path in (a.csv, a.md, a.json):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    if a.list:
        for s in shapes:
            why = validate(s)
            if why:
                print(f"{s['name']}: INVALID {why}")
                continue
            pairs = visible_pairs(s)
            empty = sum(1 for c in row_counts(s) if c == 0)
            print(f"{s['name']:18} B{s['B']:<3} Tq{s['Tq']:<6} Tk{s['Tk']:<6} H{s['H']}/{s['K']:<3} d{s['d']:<4} "
                  f"{mask_text(s):28} | fa: {desc_text(fa_desc(s))} | pairs {pairs} "
                  f"({4.0 * s['B'] * s['H'] * s['d'] * pairs / 1e12:.3f} TFLOP"
                  + (f"; fwd+bwd {4.0 * WORK_FACTOR['fwdbwd'] * s['B'] * s['H'] * s['d'] * pairs / 1e12:.3f}"
                     if "fwdbwd" in a.modes else "") + ")"
                  + (f", {empty} rows without keys" if empty else "")
                  + ("" if sdpa_reason(s) is None else f" | {sdpa_reason(s)}"))
        return 0
    return run(a, shapes)


if __name__ == "__main__":
    sys.exit(main())
