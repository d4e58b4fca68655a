/*
** fa.h -- the public interface of libfa-runtime, and the whole of it.
**
** fa generates, compiles (NVRTC), tunes and serves flash-attention CUDA kernels
** for Gemma-family attention. An application links libfa-runtime and calls:
**
**   fa_context_create   once per process and device: driver, caches, tuning databases
**   fa_plan_create      once per attention problem: validates it and picks a kernel
**   fa_forward / fa_backward   as often as needed, on the caller's stream
**
** Conventions (as in sqlite3.h):
**   - Handles are opaque. Every *_create has a *_destroy; destroying NULL is a no-op.
**   - Every fallible call returns an fa_status. FA_OK is 0. fa_errmsg(ctx) gives the
**     detail of the last failure on that context (an NVRTC log, an SQLite message,
**     which field of a problem was wrong and why); fa_errmsg(NULL) gives the last
**     failure of a call on this thread that had no context to hold it.
**   - Device pointers are always borrowed: fa never frees or keeps them past a call.
**   - The library never exits, aborts, or writes to stdout.
**
** ABI policy: see docs/ABI.md. In short: within a major version, functions are
** only added; enums only gain values at the end; structs passed in carry
** struct_size as their first member, so old callers keep working when a struct
** grows at its end. Always fill a struct with its *_init function first.
*/
#ifndef FA_H
#define FA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FA_API __declspec(dllexport)
#elif defined(__GNUC__)
#define FA_API __attribute__((visibility("default")))
#else
#define FA_API
#endif

/* ---- Version ------------------------------------------------------------ */

#define FA_VERSION_MAJOR 0
#define FA_VERSION_MINOR 1
#define FA_VERSION_PATCH 0
#define FA_VERSION_HEX \
  ((FA_VERSION_MAJOR << 16) | (FA_VERSION_MINOR << 8) | FA_VERSION_PATCH)

/* The version of the library actually loaded, as FA_VERSION_HEX and as "0.1.0". */
FA_API unsigned fa_version(void);
FA_API const char *fa_version_string(void);

/* ---- Status codes --------------------------------------------------------- */

/* One X-macro makes the enum, fa_status_name() and fa_status_string(). */
#define FA_STATUS_MAP(X)                                                          \
  X(OK, "success")                                                                \
  X(ERR_NULL_ARGUMENT, "a required argument is NULL")                             \
  X(ERR_STRUCT_SIZE, "struct_size is not one this library knows")                 \
  X(ERR_SIZE, "a size (batch, length, heads) is zero, negative or too large")     \
  X(ERR_HEADS, "query heads are not a multiple of key/value heads")               \
  X(ERR_HEAD_DIM, "head_dim is not supported")                                    \
  X(ERR_DTYPE, "the element type is not supported")                               \
  X(ERR_STRIDE, "a stride is invalid: last dimension not contiguous, or overlap")  \
  X(ERR_NULL_POINTER, "a required device pointer is NULL")                        \
  X(ERR_ALIGNMENT, "a device pointer or stride is not 16-byte aligned")           \
  X(ERR_WINDOW, "a window bound is out of range")                                 \
  X(ERR_SCALE, "scale or softcap is not finite and positive")                     \
  X(ERR_OVERFLOW, "a size product overflows")                                     \
  X(ERR_FEATURE, "a feature flag is unknown, or its data pointer is missing")     \
  X(ERR_UNSUPPORTED, "the combination is valid but not supported yet")            \
  X(ERR_WORKSPACE, "the workspace is missing or too small")                       \
  X(ERR_NO_DEVICE, "no CUDA driver or GPU is available")                          \
  X(ERR_NO_NVRTC, "NVRTC is not available and no precompiled kernel matches")     \
  X(ERR_COMPILE, "a kernel failed to compile")                                    \
  X(ERR_GENERATOR, "the kernel generator failed")                                 \
  X(ERR_VARIANT, "the variant key is unknown or invalid for this problem")        \
  X(ERR_CUDA, "a CUDA driver call failed")                                        \
  X(ERR_OUT_OF_MEMORY, "out of memory")                                           \
  X(ERR_DATABASE, "the tuning database could not be used")                        \
  X(ERR_IO, "a file could not be read or written")                                \
  X(ERR_INTERNAL, "internal error (a bug in fa)")

typedef enum fa_status {
#define FA_STATUS_ENUM_(name, text) FA_##name,
  FA_STATUS_MAP(FA_STATUS_ENUM_)
#undef FA_STATUS_ENUM_
  FA_STATUS_COUNT_ /* not a status; grows as statuses are added */
} fa_status;

/* "FA_ERR_HEADS" for FA_ERR_HEADS; "FA_UNKNOWN" for a value outside the enum. */
FA_API const char *fa_status_name(fa_status s);
/* A one-line English description; never NULL. */
FA_API const char *fa_status_string(fa_status s);

/* ---- Context ------------------------------------------------------------------ */

typedef struct fa_context fa_context;

/* device: a CUDA device ordinal, or FA_DEVICE_NONE for a context that only
** generates and compiles (no GPU needed; arch then names the target). */
#define FA_DEVICE_NONE (-1)

/* Context flags. */
#define FA_CTX_NO_DISK_CACHE 0x1u /* keep compiled kernels in memory only */
#define FA_CTX_NO_TUNING_DB 0x2u  /* ignore tuning databases: heuristic picks */
#define FA_CTX_NO_NVRTC 0x4u      /* never compile: serve cached/exported cubins */

typedef struct fa_context_options {
  size_t struct_size;       /* sizeof(fa_context_options) */
  int device;               /* CUDA ordinal, or FA_DEVICE_NONE. Default 0 */
  int arch;                 /* with FA_DEVICE_NONE: target, e.g. 80 or 90. Default 80 */
  unsigned flags;           /* FA_CTX_* */
  const char *cache_dir;    /* NULL: $FA_CACHE_DIR, else $XDG_CACHE_HOME/fa, else ~/.cache/fa */
  const char *tuning_db;    /* user database; NULL: $FA_TUNING_DB, else $XDG_DATA_HOME/fa/tuning.db */
  const char *shipped_db;   /* read-only database; NULL: the installed tuning.db, if any */
  const char *export_dir;   /* precompiled cubins (fa-tune export); NULL: $FA_EXPORT_DIR */
} fa_context_options;

/* Fills *opt with the defaults above. The strings are copied by fa_context_create. */
FA_API void fa_context_options_init(fa_context_options *opt);

/* Creates a context. opt may be NULL for the defaults.
** On success *out holds a context the caller must fa_context_destroy().
** On failure *out is NULL and fa_errmsg(NULL) says why.
** Returns FA_OK, FA_ERR_NULL_ARGUMENT, FA_ERR_STRUCT_SIZE, FA_ERR_FEATURE (unknown
** flags), FA_ERR_UNSUPPORTED (FA_DEVICE_NONE with an arch below 80 or past 999),
** FA_ERR_NO_DEVICE (no driver, no GPU, a GPU older than sm_80, or no such
** ordinal), FA_ERR_CUDA, FA_ERR_OUT_OF_MEMORY.
** A missing NVRTC or an unusable tuning database is not a failure here: the
** context still serves precompiled kernels / heuristic choices, and
** fa_context_describe() says what it found. */
FA_API fa_status fa_context_create(const fa_context_options *opt, fa_context **out);

/* Releases the context and everything it cached. NULL is a no-op. Every plan
** made from the context must be destroyed first. */
FA_API void fa_context_destroy(fa_context *ctx);

/* The detail of the last failure on ctx (or, for ctx == NULL, on this thread).
** The string is owned by fa and valid until the next call on the same context
** (or thread). Never NULL; "" when there was no failure. */
FA_API const char *fa_errmsg(const fa_context *ctx);

/* A human-readable summary of the context: device name, compute capability,
** driver and NVRTC versions, cache directory, databases in use. Owned by ctx. */
FA_API const char *fa_context_describe(fa_context *ctx);

/* ---- Problem descriptor ------------------------------------------------------- */

typedef enum fa_dtype { FA_DTYPE_BF16 = 1, FA_DTYPE_FP16 = 2 } fa_dtype;

typedef enum fa_layout {
  FA_LAYOUT_BSHD = 0, /* [batch, seq, heads, head_dim]: FlashAttention, JAX */
  FA_LAYOUT_BHSD = 1  /* [batch, heads, seq, head_dim]: PyTorch SDPA */
} fa_layout;

/* Features whose data arrives with each call (fa_fwd_args). */
#define FA_FEAT_POSITIONS 0x1u /* int32 q_pos[B,Tq], k_pos[B,Tk]: visible iff k_pos <= q_pos */
#define FA_FEAT_SEGMENTS 0x2u  /* int32 q_seg[B,Tq], k_seg[B,Tk]: visible iff equal and >= 0 */
#define FA_FEAT_SEQLENS 0x4u   /* int32 seqlens_q[B], seqlens_k[B]: valid prefix of each row */
#define FA_FEAT_LSE 0x8u       /* write float lse[B,Hq,Tq] (natural log) */
#define FA_FEAT_ALL_ 0xfu

/* One attention problem. Fill with fa_problem_init(), then adjust.
**
** Index i is a query, j a key, both from 0. With Lq, Lk the valid lengths
** (seqlens, else Tq and Tk) and off = Lk - Lq (bottom-right alignment, as
** FlashAttention), key j is visible to query i iff all of:
**   i < Lq and j < Lk
**   causal:            j <= i + off
**   window_left >= 0:  j >= i + off - window_left
**   window_right >= 0: j <= i + off + window_right
**   FA_FEAT_POSITIONS: k_pos[j] <= q_pos[i]
**   FA_FEAT_SEGMENTS:  q_seg[i] >= 0 and k_seg[j] == q_seg[i]
** Score s = scale * q.k; with softcap > 0, s = softcap * tanh(s / softcap),
** applied before the mask. A query that sees no key gets O = 0, LSE = -inf and
** zero gradients, never NaN. docs/masks.md writes every Gemma/openpi mask this way. */
typedef struct fa_problem {
  size_t struct_size;    /* sizeof(fa_problem) */
  fa_dtype dtype;        /* q, k, v, o and their gradients */
  int32_t batch;         /* B */
  int32_t seqlen_q;      /* Tq: the buffers' sequence extent */
  int32_t seqlen_k;      /* Tk */
  int32_t heads_q;       /* Hq */
  int32_t heads_kv;      /* Hkv; Hq % Hkv == 0 (MHA, GQA, MQA) */
  int32_t head_dim;      /* d: 64, 128 or 256 */
  /* Element strides (not bytes) of batch, sequence and head; head_dim is contiguous. */
  int64_t q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  float scale;           /* applied to q.k; fa_problem_init sets 1/sqrt(d) */
  float softcap;         /* 0 = off */
  int32_t causal;        /* 0 or 1 */
  int32_t window_left;   /* -1 = unbounded */
  int32_t window_right;  /* -1 = unbounded */
  uint32_t features;     /* FA_FEAT_* */
} fa_problem;

/* Sets struct_size, the given sizes, packed strides for layout, scale 1/sqrt(d),
** no softcap, not causal, unbounded windows, no features. Returns FA_OK,
** FA_ERR_NULL_ARGUMENT, or FA_ERR_STRIDE for an unknown layout. Sizes are
** checked later, by fa_problem_check(). */
FA_API fa_status fa_problem_init(fa_problem *p, fa_dtype dtype, fa_layout layout,
                                 int32_t batch, int32_t seqlen_q, int32_t seqlen_k,
                                 int32_t heads_q, int32_t heads_kv, int32_t head_dim);

/* Validates every field without touching a GPU. ctx may be NULL (the message
** then goes to fa_errmsg(NULL)). The message names the field and the reason.
** Limits: batch <= 2^20, seqlen_q and seqlen_k <= 2^26, heads <= 2^16,
** windows < 2^30, batch*heads_q*seqlen_q < 2^31, each tensor < 2^62 bytes.
** Returns FA_OK or the first failure: FA_ERR_NULL_ARGUMENT, FA_ERR_STRUCT_SIZE,
** FA_ERR_SIZE, FA_ERR_HEADS, FA_ERR_HEAD_DIM, FA_ERR_DTYPE, FA_ERR_STRIDE,
** FA_ERR_ALIGNMENT, FA_ERR_WINDOW, FA_ERR_SCALE, FA_ERR_OVERFLOW, FA_ERR_FEATURE. */
FA_API fa_status fa_problem_check(fa_context *ctx, const fa_problem *p);

/* ---- Plans ------------------------------------------------------------------ */

typedef struct fa_plan fa_plan;

typedef struct fa_plan_options {
  size_t struct_size;    /* sizeof(fa_plan_options) */
  const char *variant;   /* NULL: tuned choice; else a forward variant key to force */
  const char *variant_bwd; /* NULL: tuned choice; else a backward variant key (needs FA_FEAT_LSE) */
  int deterministic;     /* backward: bitwise-reproducible gradients (no atomics) */
  int kv_splits;         /* split-KV slices: 0 = chosen by fa, 1 = never, N = N */
} fa_plan_options;

FA_API void fa_plan_options_init(fa_plan_options *opt);

/* Validates p, chooses the kernels (tuning database, then nearest tuned bucket,
** then a built-in heuristic), and loads them (memory cache, disk cache, export
** directory, then NVRTC). A problem with FA_FEAT_LSE (training) gets its
** backward kernels too. opt may be NULL. The problem is copied.
** A context made with FA_DEVICE_NONE compiles (warming the disk cache) but
** its plans cannot run. Safe to call from several threads on one context.
** Returns FA_OK, any fa_problem_check() status, FA_ERR_VARIANT (a forced key
** that is unknown or cannot serve p, or variant_bwd without FA_FEAT_LSE), FA_ERR_NO_NVRTC (no NVRTC and no cached
** or exported cubin), FA_ERR_COMPILE, FA_ERR_GENERATOR, FA_ERR_CUDA,
** FA_ERR_UNSUPPORTED (more than 65535 head groups or batch rows), FA_ERR_SIZE
** (kv_splits outside 0..64),
** FA_ERR_OUT_OF_MEMORY. On failure *out is NULL and fa_errmsg(ctx) says why. */
FA_API fa_status fa_plan_create(fa_context *ctx, const fa_problem *p,
                                const fa_plan_options *opt, fa_plan **out);

/* NULL is a no-op. */
FA_API void fa_plan_destroy(fa_plan *plan);

/* Which variants the plan runs and why (exact tuned bucket, nearest bucket,
** heuristic, forced), and where the cubin came from. Owned by the plan. */
FA_API const char *fa_plan_describe(const fa_plan *plan);

/* The forward variant key; owned by the plan. (The backward's is in
** fa_plan_describe().) */
FA_API const char *fa_plan_variant(const fa_plan *plan);

/* Device scratch bytes the forward and the backward need (0 = none). The
** forward needs scratch when it splits the keys (split-KV, chosen for problems
** too small to fill the GPU: decode, short queries). Pass it in
** fa_fwd_args.workspace; without it the plan uses scratch of its own, allocated
** at creation, and runs of that plan must then not overlap (one stream).
** The backward (problems with FA_FEAT_LSE) always needs its workspace, passed
** in fa_bwd_args.fwd.workspace: about 8 bytes per query row and head, plus
** 4*head_dim per row and head for the fp32 dQ accumulator unless
** deterministic (query rows rounded up to 64), plus fp32 dK/dV partials when a kv head's query heads are
** split over several CTAs (few kv heads). Linear in the sequence lengths. */
FA_API fa_status fa_plan_workspace(const fa_plan *plan, size_t *fwd_bytes,
                                   size_t *bwd_bytes);

/* ---- Running ------------------------------------------------------------------ */

/* Device pointers for one forward call; all borrowed. q, k, v, o are laid out
** by the plan's problem strides and must be 16-byte aligned. Pointers of
** features the problem did not declare are ignored. */
typedef struct fa_fwd_args {
  size_t struct_size;
  const void *q, *k, *v;
  void *o;
  float *lse;                      /* FA_FEAT_LSE: [B, Hq, Tq], contiguous */
  const int32_t *q_pos, *k_pos;    /* FA_FEAT_POSITIONS: [B, Tq], [B, Tk] */
  const int32_t *q_seg, *k_seg;    /* FA_FEAT_SEGMENTS: [B, Tq], [B, Tk] */
  const int32_t *seqlens_q, *seqlens_k; /* FA_FEAT_SEQLENS: [B] each */
  void *workspace;                 /* fa_plan_workspace() bytes */
  size_t workspace_bytes;
  void *stream;                    /* a CUstream; NULL = the default stream */
} fa_fwd_args;

FA_API void fa_fwd_args_init(fa_fwd_args *a);

/* Computes O (and LSE) asynchronously on a->stream. Every element of o (and
** lse) is written, rows past seqlens_q included (zeros, -inf). Needs no
** allocation and does not synchronise; one plan may be run from several
** threads at once (each with its own outputs).
** Returns FA_OK, FA_ERR_NULL_ARGUMENT, FA_ERR_STRUCT_SIZE, FA_ERR_NULL_POINTER,
** FA_ERR_ALIGNMENT, FA_ERR_WORKSPACE (a workspace smaller than
** fa_plan_workspace() says), FA_ERR_NO_DEVICE (a compile-only context), FA_ERR_CUDA. */
FA_API fa_status fa_forward(fa_plan *plan, const fa_fwd_args *a);

/* Backward: gradients from the forward's O and LSE and dO. The plan's problem
** must have FA_FEAT_LSE (its backward kernels are chosen and loaded with the
** plan). fwd holds q, k, v, o, lse and the mask data exactly as the forward
** call had them (o and lse are read), and the backward's workspace:
** fwd.workspace of at least fa_plan_workspace()'s bwd_bytes, 256-byte
** aligned, owned by the caller (nothing is allocated per call). dout uses o's
** strides; dq, dk, dv use q's, k's and v's. dk and dv are summed over each kv
** head's query heads (GQA/MQA). All pointers are borrowed. */
typedef struct fa_bwd_args {
  size_t struct_size;
  fa_fwd_args fwd;    /* the forward's arguments; fwd.workspace is the backward's */
  const void *dout;   /* o strides */
  void *dq, *dk, *dv; /* q, k, v strides; every element written */
} fa_bwd_args;

FA_API void fa_bwd_args_init(fa_bwd_args *a);

/* Computes dQ, dK, dV asynchronously on fwd.stream. Rows that see no key
** get zero gradients. With fa_plan_options.deterministic the result is
** bitwise identical run after run (dQ from its own pass, no atomics);
** otherwise dQ accumulates with fp32 atomic adds (faster, order-dependent in
** the last bits). Several calls of one plan may run at once only with
** distinct workspaces.
** Returns FA_OK, FA_ERR_NULL_ARGUMENT, FA_ERR_STRUCT_SIZE, FA_ERR_FEATURE
** (the problem has no FA_FEAT_LSE), FA_ERR_NULL_POINTER, FA_ERR_ALIGNMENT,
** FA_ERR_WORKSPACE (none, or smaller than fa_plan_workspace() says),
** FA_ERR_UNSUPPORTED (no backward variant fits this problem on this GPU, e.g.
** head_dim 256 where a block has 100 KB of shared memory; the plan's forward
** runs, and fa_plan_describe() says why), FA_ERR_NO_DEVICE (a compile-only
** context), FA_ERR_CUDA. */
FA_API fa_status fa_backward(fa_plan *plan, const fa_bwd_args *a);

#ifdef __cplusplus
}
#endif
#endif /* FA_H */
