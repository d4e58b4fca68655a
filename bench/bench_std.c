/*
** bench_std.c -- standard attention, the way a model without flash attention
** computes it: S = scale * Q K^T (cuBLAS batched GEMM, bf16 in, fp32
** accumulation, bf16 out), P = softmax(mask(softcap(S))) (templates/softmax.cu,
** compiled by NVRTC), O = P V (a second batched GEMM). S and P are whole
** [B, Hq, Tq, Tk] tensors in device memory. GQA: each query head's GEMM
** entry points at its kv head (pointer arrays, no repeated K/V copies).
**
** cuBLAS is loaded with dlopen like the driver (runtime/fa_cu.h): fa-bench
** links no CUDA library, and each entry point's typedef is checked against
** <cublas_api.h> at compile time, so a signature can never drift.
*/
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <cublas_api.h>
#include "bench.h"
#include "fa_gen.h"
#include "fa_nvrtc.h"

/* X(name, return type, parameters) */
#define BENCH_CUBLAS_FUNCS(X)                                                                            \
  X(cublasCreate_v2, cublasStatus_t, (cublasHandle_t *))                                                 \
  X(cublasDestroy_v2, cublasStatus_t, (cublasHandle_t))                                                  \
  X(cublasGetVersion_v2, cublasStatus_t, (cublasHandle_t, int *))                                        \
  X(cublasSetWorkspace_v2, cublasStatus_t, (cublasHandle_t, void *, size_t))                             \
  X(cublasSetStream_v2, cublasStatus_t, (cublasHandle_t, cudaStream_t))                                  \
  X(cublasGetStatusString, const char *, (cublasStatus_t))                                               \
  X(cublasGemmBatchedEx, cublasStatus_t,                                                                 \
    (cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *, const void *const[], \
     cudaDataType, int, const void *const[], cudaDataType, int, const void *, void *const[], cudaDataType,  \
     int, int, cublasComputeType_t, cublasGemmAlgo_t))

#define BENCH_PFN_(name, ret, params) typedef ret(*bench_pfn_##name) params;
BENCH_CUBLAS_FUNCS(BENCH_PFN_)
#undef BENCH_PFN_

#if defined(__GNUC__)
#define BENCH_CHECK_(name, ret, params)                                                        \
  _Static_assert(__builtin_types_compatible_p(__typeof__(&name), bench_pfn_##name),           \
                 #name "'s typedef differs from <cublas_api.h>");
BENCH_CUBLAS_FUNCS(BENCH_CHECK_)
#undef BENCH_CHECK_
#endif

/* Mirrors struct Params in templates/softmax.cu. */
typedef struct bench_softmax_params {
  uint64_t s, p;
  uint64_t q_pos, k_pos, q_seg, k_seg, seqlens_q, seqlens_k;
  int32_t B, Tq, Tk, Hq, causal, window_left, window_right, cache;
  float cap;
  int32_t pad_;
} bench_softmax_params;
_Static_assert(sizeof(bench_softmax_params) == 104, "must match templates/softmax.cu Params");

#define STD_WORKSPACE (32u << 20)   /* cuBLAS's recommended workspace on Hopper */
#define SOFTMAX_SMEM_MAX (96 * 1024) /* rows up to 24576 keys stay in shared memory */

struct bench_std {
#define BENCH_MEMBER_(name, ret, params) bench_pfn_##name name;
  BENCH_CUBLAS_FUNCS(BENCH_MEMBER_)
#undef BENCH_MEMBER_
  void *lib;
  cublasHandle_t handle;
  CUmodule mod;
  CUfunction softmax[2]; /* [bf16] */
  char describe[1400];
};

static void *open_cublas(char *path, size_t n) {
  const char *env = getenv("FA_CUBLAS_PATH");
  const char *home = getenv("CUDA_HOME");
  char a[1024] = "", b[1024] = "";
  if (home) {
    snprintf(a, sizeof a, "%s/lib64/libcublas.so.13", home);
    snprintf(b, sizeof b, "%s/lib64/libcublas.so.12", home);
  }
  const char *tries[] = {env, "libcublas.so.13", "libcublas.so.12", "libcublas.so", a[0] ? a : NULL,
                         b[0] ? b : NULL, "/usr/local/cuda/lib64/libcublas.so.13",
                         "/usr/local/cuda/lib64/libcublas.so.12"};
  for (size_t i = 0; i < sizeof tries / sizeof *tries; ++i) {
    if (!tries[i] || !tries[i][0]) continue;
    void *h = dlopen(tries[i], RTLD_NOW | RTLD_LOCAL);
    if (h) { snprintf(path, n, "%s", tries[i]); return h; }
  }
  return NULL;
}

/* The softmax kernel's cubin for arch. 0, 77 without NVRTC, 1 on failure. */
static int compile_softmax(int arch, int bf16, void **cubin, char *why, size_t n) {
  char nvwhy[256];
  const fa_nvrtc *nv = fa_nvrtc_load(nvwhy, sizeof nvwhy);
  if (!nv) { snprintf(why, n, "no NVRTC for the softmax kernel: %s", nvwhy); return 77; }
  fa_gen *gen;
  char *src = NULL;
  if (fa_gen_open(NULL, &gen) != FA_OK) { snprintf(why, n, "%s", fa_errmsg(NULL)); return 1; }
  fa_status s = fa_gen_emit_tool(NULL, gen, bf16 ? "softmax_bf16" : "softmax_fp16", &src);
  fa_gen_close(gen);
  if (s != FA_OK) { snprintf(why, n, "%s", fa_errmsg(NULL)); return 1; }
  size_t size;
  char *log = NULL;
  s = fa_nvrtc_compile(NULL, nv, "softmax", src, arch, NULL, cubin, &size, &log);
  free(src);
  if (s == FA_OK) {
    fa_kres kr;
    if (log && !fa_nvrtc_resources(log, "fa_softmax", &kr) && (kr.spill_store_bytes || kr.spill_load_bytes)) {
      snprintf(why, n, "the softmax kernel spills (%d bytes stored)", kr.spill_store_bytes);
      free(log);
      free(*cubin);
      return 1;
    }
  } else snprintf(why, n, "%s", fa_errmsg(NULL));
  free(log);
  return s == FA_OK ? 0 : 1;
}

int bench_std_compile_only(int arch, char *why, size_t n) {
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    void *cubin = NULL;
    int r = compile_softmax(arch, bf16, &cubin, why, n);
    free(cubin);
    if (r) return r;
  }
  return 0;
}

void bench_std_close(bench_std *st) {
  if (!st) return;
  if (st->handle) st->cublasDestroy_v2(st->handle);
  if (st->mod && tune_cu) tune_cu->cuModuleUnload(st->mod);
  /* The library stays loaded, as the driver does: unloading is never worth the risk. */
  free(st);
}

int bench_std_open(bench_std **out, int arch, char *why, size_t n) {
  *out = NULL;
  bench_std *st = calloc(1, sizeof *st);
  if (!st) { snprintf(why, n, "out of memory"); return -1; }
  char path[1100];
  st->lib = open_cublas(path, sizeof path);
  if (!st->lib) {
    snprintf(why, n, "no cuBLAS (libcublas.so.13/.12; set FA_CUBLAS_PATH): %s", dlerror());
    free(st);
    return -1;
  }
#define BENCH_RESOLVE_(name, ret, params)                                        \
  *(void **)&st->name = dlsym(st->lib, #name);                                   \
  if (!st->name) {                                                               \
    snprintf(why, n, "%s lacks %s", path, #name);                                \
    free(st);                                                                    \
    return -1;                                                                   \
  }
  BENCH_CUBLAS_FUNCS(BENCH_RESOLVE_)
#undef BENCH_RESOLVE_
  void *cubin = NULL;
  if (compile_softmax(arch, 1, &cubin, why, n)) { free(st); return -1; }
  CUresult r = tune_cu->cuModuleLoadData(&st->mod, cubin);
  free(cubin);
  if (r || tune_cu->cuModuleGetFunction(&st->softmax[1], st->mod, "fa_softmax") ||
      tune_cu->cuFuncSetAttribute(st->softmax[1], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, SOFTMAX_SMEM_MAX)) {
    snprintf(why, n, "loading the softmax kernel failed (%d)", (int)r);
    bench_std_close(st);
    return -1;
  }
  cublasStatus_t cs = st->cublasCreate_v2(&st->handle);
  if (cs != CUBLAS_STATUS_SUCCESS) {
    snprintf(why, n, "cublasCreate failed: %s", st->cublasGetStatusString(cs));
    st->handle = NULL;
    bench_std_close(st);
    return -1;
  }
  st->cublasSetStream_v2(st->handle, NULL);
  int ver = 0;
  st->cublasGetVersion_v2(st->handle, &ver);
  snprintf(st->describe, sizeof st->describe, "cuBLAS %d.%d.%d (%s), softmax kernel for sm_%d%s", ver / 10000,
           ver / 100 % 100, ver % 100, path, arch, arch == 90 ? "a" : "");
  *out = st;
  return 0;
}

const char *bench_std_describe(const bench_std *st) { return st ? st->describe : "unavailable"; }

double bench_std_score_bytes(const fa_problem *p) {
  return 2.0 * p->batch * p->heads_q * (double)p->seqlen_q * p->seqlen_k;
}

void bench_std_free(bench_std_bufs *b) {
  CUdeviceptr *v[4] = {&b->s, &b->p, &b->ptrs, &b->work};
  for (int i = 0; i < 4; ++i)
    if (*v[i]) { tune_cu->cuMemFree(*v[i]); *v[i] = 0; }
}

static int alloc_or(CUdeviceptr *p, size_t bytes, int *oom) {
  CUresult r = tune_cu->cuMemAlloc(p, bytes);
  if (r == CUDA_SUCCESS) return 0;
  *p = 0;
  *oom = r == CUDA_ERROR_OUT_OF_MEMORY;
  return -1;
}

int bench_std_alloc(bench_std *st, const tune_data *d, bench_std_bufs *b, char *why, size_t n) {
  (void)st;
  memset(b, 0, sizeof *b);
  const fa_problem *p = &d->shape->p;
  const double bytes = bench_std_score_bytes(p);
  const size_t nb = (size_t)p->batch * p->heads_q;
  int oom = 0;
  b->s_bytes = (size_t)bytes;
  if (bytes > (double)SIZE_MAX / 2 || alloc_or(&b->s, b->s_bytes, &oom) || alloc_or(&b->p, b->s_bytes, &oom) ||
      alloc_or(&b->ptrs, 6 * nb * sizeof(uint64_t), &oom) || alloc_or(&b->work, STD_WORKSPACE, &oom)) {
    if (bytes > (double)SIZE_MAX / 2) oom = 1;
    snprintf(why, n, oom ? "out of memory" : "cuMemAlloc failed");
    bench_std_free(b);
    return oom ? 1 : -1;
  }
  /* Pointer arrays: K, Q, S | V, P, O, one entry per (batch, q head). */
  uint64_t *h = malloc(6 * nb * sizeof *h);
  if (!h) { bench_std_free(b); snprintf(why, n, "out of memory (host)"); return -1; }
  const int grp = p->heads_q / p->heads_kv;
  const size_t e = fa_dtype_size(p->dtype);
  for (int bi = 0; bi < p->batch; ++bi)
    for (int hq = 0; hq < p->heads_q; ++hq) {
      const size_t z = (size_t)bi * p->heads_q + hq;
      const int kvh = hq / grp;
      const uint64_t srow = (uint64_t)z * p->seqlen_q * p->seqlen_k * e;
      h[0 * nb + z] = d->dk + (bi * p->k_stride[0] + kvh * p->k_stride[2]) * e;
      h[1 * nb + z] = d->dq + (bi * p->q_stride[0] + hq * p->q_stride[2]) * e;
      h[2 * nb + z] = b->s + srow;
      h[3 * nb + z] = d->dv + (bi * p->v_stride[0] + kvh * p->v_stride[2]) * e;
      h[4 * nb + z] = b->p + srow;
      h[5 * nb + z] = d->do_ + (bi * p->o_stride[0] + hq * p->o_stride[2]) * e;
    }
  CUresult r = tune_cu->cuMemcpyHtoD(b->ptrs, h, 6 * nb * sizeof *h);
  free(h);
  if (r) { bench_std_free(b); snprintf(why, n, "uploading the pointer arrays failed"); return -1; }
  return 0;
}

int bench_std_run(bench_std *st, const tune_data *d, bench_std_bufs *b) {
  const fa_problem *p = &d->shape->p;
  const int nb = p->batch * p->heads_q;
  const cudaDataType t = p->dtype == FA_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_16F;
  const void *const *arr = (const void *const *)(uintptr_t)b->ptrs;
  const float alpha = p->scale, one = 1.f, zero = 0.f;
  CUfunction softmax = st->softmax[p->dtype == FA_DTYPE_BF16];
  if (!softmax) return -1; /* fp16: not loaded (every grid is bf16) */
  if (st->cublasSetWorkspace_v2(st->handle, (void *)(uintptr_t)b->work, STD_WORKSPACE)) return -1;
  /* Row-major S [Tq, Tk] is column-major S^T = K Q^T: m = Tk, n = Tq, k = d. */
  cublasStatus_t cs = st->cublasGemmBatchedEx(
      st->handle, CUBLAS_OP_T, CUBLAS_OP_N, p->seqlen_k, p->seqlen_q, p->head_dim, &alpha, arr, t,
      (int)p->k_stride[1], arr + nb, t, (int)p->q_stride[1], &zero, (void *const *)(arr + 2 * nb), t, p->seqlen_k, nb,
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (cs != CUBLAS_STATUS_SUCCESS) return -1;
  bench_softmax_params sp;
  memset(&sp, 0, sizeof sp);
  sp.s = b->s; sp.p = b->p;
  if (p->features & FA_FEAT_POSITIONS) { sp.q_pos = d->dq_pos; sp.k_pos = d->dk_pos; }
  if (p->features & FA_FEAT_SEGMENTS) { sp.q_seg = d->dq_seg; sp.k_seg = d->dk_seg; }
  if (p->features & FA_FEAT_SEQLENS) { sp.seqlens_q = d->dseqlens_q; sp.seqlens_k = d->dseqlens_k; }
  sp.B = p->batch; sp.Tq = p->seqlen_q; sp.Tk = p->seqlen_k; sp.Hq = p->heads_q;
  sp.causal = p->causal; sp.window_left = p->window_left; sp.window_right = p->window_right;
  sp.cap = p->softcap;
  sp.cache = (size_t)p->seqlen_k * 4 <= SOFTMAX_SMEM_MAX;
  const unsigned threads = p->seqlen_k <= 1024 ? 128 : 256;
  void *args[] = {&sp};
  if (tune_cu->cuLaunchKernel(softmax, (unsigned)p->seqlen_q, (unsigned)p->heads_q, (unsigned)p->batch,
                              threads, 1, 1, sp.cache ? (unsigned)p->seqlen_k * 4 : 0, NULL, args, NULL))
    return -1;
  /* Row-major O [Tq, d] (row stride o_stride[1]) is column-major O^T = V^T P^T: m = d, n = Tq, k = Tk. */
  cs = st->cublasGemmBatchedEx(st->handle, CUBLAS_OP_N, CUBLAS_OP_N, p->head_dim, p->seqlen_q, p->seqlen_k, &one,
                               arr + 3 * nb, t, (int)p->v_stride[1], arr + 4 * nb, t, p->seqlen_k, &zero,
                               (void *const *)(arr + 5 * nb), t, (int)p->o_stride[1], nb, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT);
  return cs == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}
