// Fragment: 16-bit conversions of the unfused baselines (templates/unfused.cu,
// templates/unfused_bwd.cu), which round where a framework's 16-bit tensors do.
// gen/fa_gen.lua puts it before those templates' text.

constexpr bool IS_BF16 = ${IS_BF16};

__device__ float to_f(u16 x) {
  if (IS_BF16) return __uint_as_float((u32)x << 16);
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
  return f;
}
__device__ u16 to_h(float f) {
  u16 r;
  if (IS_BF16) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}
__device__ float round16(float f) { return to_f(to_h(f)); }
