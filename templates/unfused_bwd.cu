// Template: unfused attention backward in the kernels' precision, the baseline
// of FlashAttention's accuracy rule for dQ, dK and dV. It computes what a
// framework's autograd computes for unfused attention in 16-bit tensors:
// scores, P, dP and dS rounded to 16 bits as GEMM or elementwise outputs,
// reductions in fp32. P and dS go to an fp32 scratch [B, Hq, Tq, Tk]
// (quadratic: this is a test tool). Slots are filled by gen/fa_gen.lua.

// to_f, to_h, round16 and IS_BF16 come from templates/unfused_common.cu.

struct UArgs {
  const u16 *dout;    // o strides
  u16 *dq, *dk, *dv;  // q, k, v strides
  float *P, *dS;      // [B, Hq, Tq, Tk]
};

__device__ float block_sum(float v, float *red) {
  for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float s = 0.f;
  for (int w = 0; w < (int)(blockDim.x >> 5); ++w) s += red[w];
  return s;
}

// One CTA per (query, head, batch): P, dS of the row into scratch, and dQ.
extern "C" __global__ void fa_unfused_bwd_q(const Params p, const UArgs u, const int D) {
  extern __shared__ float s[];  // [Tk] scores, then P; [Tk] tanh values
  float *th = s + p.Tk;
  __shared__ float red[32];
  const int i = blockIdx.x, hq = blockIdx.y, b = blockIdx.z;
  const int kvh = hq / (p.Hq / p.Hkv);
  const int Lq = p.seqlens_q ? min(p.seqlens_q[b], p.Tq) : p.Tq;
  const int Lk = p.seqlens_k ? min(p.seqlens_k[b], p.Tk) : p.Tk;
  const int off = Lk - Lq;
  const float LOG2E = 1.4426950408889634f;
  const float scale = p.scale_log2 / LOG2E, cap = p.cap_log2 / LOG2E;
  const u16 *q = p.q + b * p.q_sb + i * p.q_ss + hq * p.q_sh;
  const u16 *go = u.dout + b * p.o_sb + i * p.o_ss + hq * p.o_sh;
  const float NEG_INF = -__int_as_float(0x7f800000);
  const i64 prow = (((i64)b * p.Hq + hq) * p.Tq + i) * p.Tk;

  float mx = NEG_INF;
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    const u16 *k = p.k + b * p.k_sb + j * p.k_ss + kvh * p.k_sh;
    float dot = 0.f;
    for (int x = 0; x < D; ++x) dot += to_f(q[x]) * to_f(k[x]);
    float sc = round16(round16(dot) * scale);
    th[j] = 0.f;
    if (cap > 0.f) { th[j] = tanhf(sc / cap); sc = round16(cap * th[j]); }
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
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
  __syncthreads();
  mx = NEG_INF;
  for (int w = 0; w < (int)(blockDim.x >> 5); ++w) mx = fmaxf(mx, red[w]);
  float sum = 0.f;
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    const float e = mx == NEG_INF ? 0.f : expf(s[j] - mx);
    s[j] = e;
    sum += e;
  }
  sum = block_sum(sum, red);
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  // P rounded, dP = dO V^T rounded, and D = sum P dP (softmax backward).
  float dsum = 0.f;
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    const float P = round16(s[j] * inv);
    const u16 *v = p.v + b * p.v_sb + j * p.v_ss + kvh * p.v_sh;
    float dp = 0.f;
    if (P != 0.f)
      for (int x = 0; x < D; ++x) dp += to_f(go[x]) * to_f(v[x]);
    dp = round16(dp);
    s[j] = P;
    u.P[prow + j] = P;
    u.dS[prow + j] = dp;  // dP for now
    dsum += P * dp;
  }
  dsum = block_sum(dsum, red);
  for (int j = threadIdx.x; j < p.Tk; j += blockDim.x) {
    float ds = round16(s[j] * (u.dS[prow + j] - dsum));
    if (cap > 0.f) ds = round16(ds * (1.f - th[j] * th[j]));
    ds = round16(ds * scale);
    u.dS[prow + j] = ds;
  }
  __syncthreads();
  for (int x = threadIdx.x; x < D; x += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < Lk; ++j) {
      const float ds = u.dS[prow + j];
      if (ds != 0.f) acc += ds * to_f(p.k[b * p.k_sb + j * p.k_ss + kvh * p.k_sh + x]);
    }
    u.dq[b * p.q_sb + i * p.q_ss + hq * p.q_sh + x] = to_h(acc);
  }
}

// One CTA per (key, kv head, batch): dK and dV summed over the group's heads.
extern "C" __global__ void fa_unfused_bwd_kv(const Params p, const UArgs u, const int D) {
  const int j = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int group = p.Hq / p.Hkv;
  for (int x = threadIdx.x; x < D; x += blockDim.x) {
    float dk = 0.f, dv = 0.f;
    for (int hq = kvh * group; hq < (kvh + 1) * group; ++hq)
      for (int i = 0; i < p.Tq; ++i) {
        const i64 at = (((i64)b * p.Hq + hq) * p.Tq + i) * p.Tk + j;
        const float P = u.P[at], ds = u.dS[at];
        if (P != 0.f) dv += P * to_f(u.dout[b * p.o_sb + i * p.o_ss + hq * p.o_sh + x]);
        if (ds != 0.f) dk += ds * to_f(p.q[b * p.q_sb + i * p.q_ss + hq * p.q_sh + x]);
      }
    u.dk[b * p.k_sb + j * p.k_ss + kvh * p.k_sh + x] = to_h(dk);
    u.dv[b * p.v_sb + j * p.v_ss + kvh * p.v_sh + x] = to_h(dv);
  }
}
