/*
** fa_kparams.h -- kernel parameter blocks, mirrored field for field by the
** Params structs in templates/ (each side checks the size).
*/
#ifndef FA_KPARAMS_H
#define FA_KPARAMS_H

#include <stdint.h>

typedef struct fa_fwd_kparams {
  uint64_t q, k, v, o, lse;
  uint64_t q_pos, k_pos, q_seg, k_seg, seqlens_q, seqlens_k;
  int64_t q_sb, q_ss, q_sh, k_sb, k_ss, k_sh, v_sb, v_ss, v_sh, o_sb, o_ss, o_sh;
  int32_t B, Tq, Tk, Hq, Hkv, causal, window_left, window_right;
  float scale_log2; /* scale * log2(e) */
  float cap_inv;    /* scale / softcap */
  float cap_log2;   /* softcap * log2(e) */
  int32_t nsplit;   /* split-KV slices per query tile; 1 = none */
} fa_fwd_kparams;

_Static_assert(sizeof(fa_fwd_kparams) == 232, "must match templates/fwd_sm80.cu Params");

/* The backward's own parameters (templates/bwd_sm80.cu BwdParams); the
** forward block above carries q, k, v, o (read), lse (read) and the masks. */
typedef struct fa_bwd_kparams {
  uint64_t dout, dq, dk, dv;
  uint64_t lse2, dsum, dqacc, dkvacc; /* workspace regions */
  float scale;
  int32_t hsplit;  /* CTAs sharing one kv head's query heads */
  int32_t kb_slow; /* fa_bwd_dkdv's grid: key blocks in z (1) or in x (0) */
  int32_t pad;
} fa_bwd_kparams;

_Static_assert(sizeof(fa_bwd_kparams) == 80, "must match templates/bwd_common.cu BwdParams");

struct fa_problem;
/* Fills every field that depends on the problem alone (strides, sizes, mask
** rules, scale and softcap); pointers are zero. */
void fa_kparams_fill(fa_fwd_kparams *kp, const struct fa_problem *p);

#endif
