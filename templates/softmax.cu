// Template: the softmax of standard attention, between fa-bench's two cuBLAS GEMMs
// (bench/bench_std.c). It reads the score matrix S [B, Hq, Tq, Tk] (16-bit, already
// scaled: the first GEMM's alpha is the problem's scale), applies the softcap and
// fa.h's mask rules (the formula of templates/unfused.cu), and writes the probabilities
// P [B, Hq, Tq, Tk] in 16 bits, as a framework's softmax does: fp32 inside, one row
// per CTA, an online max/sum pass and a writing pass. A row that sees no key gets P = 0
// (so O = 0, as fa and the reference give). With cache = 1 the row's scores stay in
// shared memory (Tk floats) between the passes; else the second pass re-reads S.
// Slots, written as a dollar sign and a name in braces, are filled by gen/fa_gen.lua.

constexpr bool IS_BF16 = ${IS_BF16};

typedef unsigned int u32;
typedef unsigned short u16;
typedef long long i64;

// Mirrors struct bench_softmax_params in bench/bench_std.c.
struct Params {
  const u16 *s;
  u16 *p;
  const int *q_pos, *k_pos, *q_seg, *k_seg, *seqlens_q, *seqlens_k;
  int B, Tq, Tk, Hq, causal, window_left, window_right, cache;
  float cap;  // softcap, 0 = off
  int pad_;
};
static_assert(sizeof(Params) == 104, "Params must match bench_softmax_params");

__device__ __forceinline__ float to_f(u16 x) {
  if (IS_BF16) return __uint_as_float((u32)x << 16);
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
  return f;
}
__device__ __forceinline__ u16 to_h(float f) {
  u16 r;
  if (IS_BF16) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}

struct Row {
  int b, i, Tq, Tk, lo, hi;  // key interval of the index rules; hi < lo: none
  const int *q_pos, *k_pos, *q_seg, *k_seg;
  float cap;
  // The score of key j in log2 units, or -inf when j is masked.
  __device__ __forceinline__ float logit2(float s, int j) const {
    const float LOG2E = 1.4426950408889634f;
    if (cap > 0.f) s = cap * tanhf(s / cap);
    bool vis = j >= lo && j <= hi;
    if (q_pos) vis = vis && k_pos[(i64)b * Tk + j] <= q_pos[(i64)b * Tq + i];
    if (q_seg) {
      const int sq = q_seg[(i64)b * Tq + i];
      vis = vis && sq >= 0 && k_seg[(i64)b * Tk + j] == sq;
    }
    return vis ? s * LOG2E : -__int_as_float(0x7f800000);
  }
};

__device__ __forceinline__ void merge(float &m, float &l, float m2, float l2) {
  const float M = fmaxf(m, m2);
  if (M == -__int_as_float(0x7f800000)) { m = M; l = 0.f; return; }
  l = l * exp2f(m - M) + l2 * exp2f(m2 - M);
  m = M;
}

__device__ __forceinline__ void online(float &m, float &l, float x) {
  if (x == -__int_as_float(0x7f800000)) return;
  if (x > m) { l = l * exp2f(m - x) + 1.f; m = x; }
  else l += exp2f(x - m);
}

extern "C" __global__ void fa_softmax(const Params p) {
  extern __shared__ float cache[];  // Tk floats when p.cache
  __shared__ float red_m[32], red_l[32];
  const float NEG_INF = -__int_as_float(0x7f800000);
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int Tk = p.Tk;
  const i64 base = (((i64)b * p.Hq + h) * p.Tq + i) * Tk;
  const u16 *s = p.s + base;
  u16 *out = p.p + base;

  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int ia = i + (Lk - Lq);
  Row r;
  r.b = b; r.i = i; r.Tq = p.Tq; r.Tk = Tk; r.cap = p.cap;
  r.q_pos = p.q_pos; r.k_pos = p.k_pos; r.q_seg = p.q_seg; r.k_seg = p.k_seg;
  r.lo = 0;
  r.hi = i < Lq ? Lk - 1 : -1;
  if (p.causal) r.hi = min(r.hi, ia);
  if (p.window_right >= 0) r.hi = min(r.hi, ia + p.window_right);
  if (p.window_left >= 0) r.lo = max(r.lo, ia - p.window_left);

  // Pass 1: running max and sum (log2 units), eight keys per step.
  const bool vec = (Tk & 7) == 0;
  float m = NEG_INF, l = 0.f;
  for (int j0 = threadIdx.x * 8; j0 < Tk; j0 += blockDim.x * 8) {
    float x[8];
    if (vec) {
      const uint4 w = *reinterpret_cast<const uint4 *>(s + j0);
      const u32 ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int e = 0; e < 8; ++e) x[e] = r.logit2(to_f((u16)(ws[e >> 1] >> (16 * (e & 1)))), j0 + e);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) x[e] = j0 + e < Tk ? r.logit2(to_f(s[j0 + e]), j0 + e) : NEG_INF;
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      if (p.cache && j0 + e < Tk) cache[j0 + e] = x[e];
      online(m, l, x[e]);
    }
  }
  for (int o = 16; o; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), l2 = __shfl_xor_sync(0xffffffffu, l, o);
    merge(m, l, m2, l2);
  }
  if ((threadIdx.x & 31) == 0) { red_m[threadIdx.x >> 5] = m; red_l[threadIdx.x >> 5] = l; }
  __syncthreads();
  m = NEG_INF; l = 0.f;
  for (int w = 0; w < (int)(blockDim.x >> 5); ++w) merge(m, l, red_m[w], red_l[w]);
  const float inv = l > 0.f ? 1.f / l : 0.f;

  // Pass 2: P = exp2(x - m) / l, rounded to 16 bits.
  for (int j0 = threadIdx.x * 8; j0 < Tk; j0 += blockDim.x * 8) {
    float x[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const int j = j0 + e;
      if (j >= Tk) { x[e] = NEG_INF; continue; }
      x[e] = p.cache ? cache[j] : r.logit2(to_f(s[j]), j);
    }
    u16 y[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) y[e] = to_h(m == NEG_INF || x[e] == NEG_INF ? 0.f : exp2f(x[e] - m) * inv);
    if (vec) {
      uint4 w;
      w.x = y[0] | ((u32)y[1] << 16); w.y = y[2] | ((u32)y[3] << 16);
      w.z = y[4] | ((u32)y[5] << 16); w.w = y[6] | ((u32)y[7] << 16);
      *reinterpret_cast<uint4 *>(out + j0) = w;
    } else {
      for (int e = 0; e < 8 && j0 + e < Tk; ++e) out[j0 + e] = y[e];
    }
  }
}
