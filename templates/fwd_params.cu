// Fragment: the forward kernels' parameter block, shared by every template
// that fa_forward's parameters reach (fwd_sm80.cu, unfused.cu). gen/fa_gen.lua
// puts it before those templates' text.

typedef unsigned int u32;
typedef unsigned short u16;
typedef long long i64;
typedef unsigned long long u64;

// Mirrors struct fa_fwd_kparams in runtime/fa_kparams.h, field for field.
struct Params {
  const u16 *q, *k, *v;
  u16 *o;
  float *lse;
  const int *q_pos, *k_pos, *q_seg, *k_seg, *seqlens_q, *seqlens_k;
  i64 q_sb, q_ss, q_sh, k_sb, k_ss, k_sh, v_sb, v_ss, v_sh, o_sb, o_ss, o_sh;
  int B, Tq, Tk, Hq, Hkv, causal, window_left, window_right;
  float scale_log2;   // scale * log2(e), without softcap
  float cap_inv;      // scale / softcap
  float cap_log2;     // softcap * log2(e)
  int nsplit;         // key-range splits per query tile (split-KV); 1 = none
};
static_assert(sizeof(Params) == 232, "Params must match fa_fwd_kparams");

