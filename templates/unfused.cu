// Template: unfused attention in the kernels' precision, the baseline of
// FlashAttention's accuracy rule (fa's error may be at most twice this one's).
// It computes what a framework without flash attention computes: scores
// rounded to 16 bits as a GEMM output, softmax in fp32, P rounded to 16 bits,
// O = P V accumulated in fp32 and rounded. One CTA per (query, head, batch).
// Slots, written as a dollar sign and a name in braces, are filled by gen/fa_gen.lua.

// to_f, to_h, round16 and IS_BF16 come from templates/unfused_common.cu.

// Params (fa_forward's, so the same call data drives both) and the integer
// types come from templates/fwd_params.cu.

extern "C" __global__ void fa_unfused(const Params p, const int D) {
  extern __shared__ float s[];  // Tk scores
  __shared__ float red[32];
  const int i = blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int kvh = hq / (p.Hq / p.Hkv);
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const float LOG2E = 1.4426950408889634f;
  const float scale = p.scale_log2 / LOG2E, cap = p.cap_log2 / LOG2E;
  const u16 *q = p.q + b * p.q_sb + i * p.q_ss + hq * p.q_sh;
  const float NEG_INF = -__int_as_float(0x7f800000);

  float mx = NEG_INF;
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    const u16 *k = p.k + b * p.k_sb + j * p.k_ss + kvh * p.k_sh;
    float dot = 0.f;
    for (int x = 0; x < D; ++x) dot += to_f(q[x]) * to_f(k[x]);
    float sc = round16(dot) * scale;
    if (cap > 0.f) sc = cap * tanhf(sc / cap);
    const int ia = i + off;
    bool vis = i < Lq && j < Lk && (!p.causal || j <= ia) &&
               (p.window_left < 0 || j >= ia - p.window_left) &&
               (p.window_right < 0 || j <= ia + p.window_right);
    if (p.q_pos) vis = vis && p.k_pos[b * p.Tk + j] <= p.q_pos[b * p.Tq + i];
    if (p.q_seg) vis = vis && p.q_seg[b * p.Tq + i] >= 0 && p.k_seg[b * p.Tk + j] == p.q_seg[b * p.Tq + i];
    s[j] = vis ? sc : NEG_INF;
    mx = fmaxf(mx, s[j]);
  }
  for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
  __syncthreads();
  mx = NEG_INF;
  for (int w = 0; w < (int)(blockDim.x >> 5); ++w) mx = fmaxf(mx, red[w]);
  __syncthreads();
  float sum = 0.f;
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    float e = mx == NEG_INF ? 0.f : expf(s[j] - mx);
    s[j] = e;
    sum += e;
  }
  for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sum;
  __syncthreads();
  sum = 0.f;
  for (int w = 0; w < (int)(blockDim.x >> 5); ++w) sum += red[w];
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  for (int x = threadIdx.x; x < D; x += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < Lk; ++j) {
      if (s[j] == 0.f) continue;
      acc += round16(s[j] * inv) * to_f(p.v[b * p.v_sb + j * p.v_ss + kvh * p.v_sh + x]);
    }
    p.o[b * p.o_sb + i * p.o_ss + hq * p.o_sh + x] = to_h(acc);
  }
  if (threadIdx.x == 0 && p.lse)
    p.lse[((i64)b * p.Hq + hq) * p.Tq + i] = sum > 0.f ? mx + logf(sum) : NEG_INF;
}
