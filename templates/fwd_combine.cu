// Fragment: fa_combine, the merge of split-KV partials, shared by the forward
// templates (fwd_sm80.cu, fwd_sm90.cu). gen/fa_gen.lua puts it after their
// text; it uses their D and the primitives of sm80_common.cu.

// Merges the split-KV partials: one warp per (batch, head, query) row.
// O = sum_s w_s O_s / sum_s w_s with w_s = exp(LSE_s - max LSE); a row that no
// split saw gets O = 0 and LSE = -inf.
extern "C" __global__ void __launch_bounds__(128) fa_combine(const Params p, const float *ws) {
  const i64 rows = (i64)p.B * p.Hq * p.Tq;
  const i64 r = (i64)blockIdx.x * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= rows) return;
  const int pos = (int)(r % p.Tq), hq = (int)((r / p.Tq) % p.Hq), b = (int)(r / ((i64)p.Tq * p.Hq));
  const float *lse = ws + rows * p.nsplit * D + r * p.nsplit;
  float m = NEG_INF;
  for (int s = 0; s < p.nsplit; ++s) m = fmaxf(m, lse[s]);
  float o[D / 32], wsum = 0.f;
#pragma unroll
  for (int x = 0; x < D / 32; ++x) o[x] = 0.f;
  if (m != NEG_INF) {
    for (int s = 0; s < p.nsplit; ++s) {
      const float w = fast_exp2((lse[s] - m) * LOG2E);
      wsum += w;
      const float *src = ws + (r * p.nsplit + s) * D;
#pragma unroll
      for (int x = 0; x < D / 32; ++x) o[x] += w * src[lane + 32 * x];
    }
  }
  const float inv = wsum > 0.f ? 1.f / wsum : 0.f;
  u16 *dst = p.o + b * p.o_sb + pos * p.o_ss + hq * p.o_sh;
#pragma unroll
  for (int x = 0; x < D / 32; ++x) dst[lane + 32 * x] = (u16)(pack2(o[x] * inv, 0.f) & 0xffffu);
  if (lane == 0 && p.lse) p.lse[((i64)b * p.Hq + hq) * p.Tq + pos] = wsum > 0.f ? m + logf(wsum) : NEG_INF;
}
