-- fa_space.lua: the variant space as data, and the constraints on it.
-- Every kernel fa can build is one point of this space; its canonical key
-- (fa_gen.lua) names it everywhere: source file, caches, database, tests, logs.

local S = {}

-- Kernel families. Each names its template and the GPUs it runs on.
-- sm80: mma.sync, runs on every GPU since Ampere. sm90: wgmma, TMA and warp
-- specialization, sm_90a only (Hopper's instructions are not in later GPUs).
S.families = {
  sm80 = { templates = { fwd = "fwd_sm80.cu", bwd = "bwd_sm80.cu" }, min_arch = 80 },
  sm90 = { templates = { fwd = "fwd_sm90.cu", bwd = "bwd_sm90.cu" }, min_arch = 90, max_arch = 90 },
}

S.head_dims = { 64, 128, 256 }
S.dtypes = { "bf16", "fp16" }
-- Mask/score features compiled in, in key order. Causal, windows, seqlens
-- and LSE are run-time arguments: they only set loop bounds and the few
-- boundary tiles that need a per-element mask, so compiling them out saves
-- nothing; positions, segments and softcap cost per-element work.
S.features = { "pos", "seg", "softcap" }
-- Kernel options, in key order after the GQA pack: how a variant runs, not
-- what it computes (a problem never asks for them). persist: a grid of one
-- CTA per SM slot walking the work items (sm90 forward, no positions or
-- segments, whose bounds tables are built once per CTA).
S.options = { "persist" }

-- Shared memory a CTA may use, by compute capability (bytes, the opt-in
-- maximum of the CUDA programming guide's table). A context on a GPU replaces
-- its arch's entry with the device's own figure (M.set_smem_limit); an arch
-- not listed gets the smallest, 99 KB, so that its tiles fit every part
-- (sm_120 GeForce and sm_121 parts have 99 KB, where a d256 tile of 160 KB
-- would not launch).
-- S.SM90_SMEM shapes the sm90 variants' text; it never follows the device.
S.SM90_SMEM = 232448
S.smem_limit = { [80] = 166912, [86] = 101376, [87] = 166912, [89] = 101376, [90] = S.SM90_SMEM,
                 [100] = 232448, [103] = 232448, [120] = 101376, [121] = 101376 }
-- The least any part fa serves allows: 99 KB (sm_86, sm_89, sm_120, sm_121).
S.SMEM_SMALL = 101376
S.SMEM_LIMIT_UNKNOWN = S.SMEM_SMALL
function S.smem_limit_of(arch) return S.smem_limit[arch] or S.SMEM_LIMIT_UNKNOWN end
S.TABLE_MAX = 256   -- key tiles whose position/segment bounds a CTA keeps in smem
-- A bounds table's tiles: TABLE_MAX, or fewer where an sm80 kernel with
-- positions or segments (base bytes without the table, extra entries beside
-- it) fits the 99 KB parts only with a shorter one; tiles past a table take
-- the per-element mask. Without this, those parts had no forward with tokens
-- at d128 and d256 and no d128 backward with tokens (1040 and 1024 bytes over).
local function bounds_table(v, base, extra)
  if v.family ~= "sm80" or not (v.pos or v.seg) then return S.TABLE_MAX end
  if base + (S.TABLE_MAX + extra) * 16 <= S.SMEM_SMALL then return S.TABLE_MAX end
  local n = (S.SMEM_SMALL - base) // 16 - extra
  return n >= 64 and n or S.TABLE_MAX
end
-- The sm80 forward's key tiles with bounds (one more entry: the query tile's):
-- 191 for d128 m128n64 w8 and d256 m64n32 w4 (12224 and 6112 keys).
function S.fwd_table(v)
  return bounds_table(v, v.bm * v.d * 2 + 2 * v.stages * v.bn * v.d * 2, 1)
end
-- Register budget: accumulators per thread, O (MR*d/2) plus S (MR*BN/2),
-- where MR = BM/(16*warps) row blocks per warp. Measured with ptxas for
-- sm_90a (2026-11-25, 255 registers available): 176 fit (d128 MR2 BN48: 234
-- registers), 192 spilled (d128 MR2 BN64: 48-72 bytes); with positions or
-- segments 144 fit and 160 spilled (d256 BN64: 8-20 bytes).
-- Softcap's tanh adds live values too: with the split-KV epilogue, d128 MR2
-- BN48 softcap spilled 12 bytes (sm_90a) and 44 (sm_80), so softcap gets 160.
S.ACC_BUDGET = 176
S.ACC_BUDGET_SOFTCAP = 160
S.ACC_BUDGET_TOK = 144
-- Register budget per thread: accumulators (O: d/2, S: BN/2 per 16-row block)
-- plus about 40 for fragments, addresses and row state. Measured with ptxas
-- for sm_90a (2026-11-25): d128 with two row blocks per warp (BM128 w4) spilled
-- 56-72 bytes at 255 registers; d256 BN64 with one block used 254, no spill.
S.REG_BUDGET = 208

-- Tile shapes {BM, BN, warps} tried per head_dim. BM/(16*warps) query blocks
-- per warp. Chosen to keep accumulators within registers (see check()).
S.tiles = {
  [64]  = { {128, 64, 4}, {128, 32, 4}, {128, 128, 8}, {64, 64, 4} },
  [128] = { {128, 48, 4}, {128, 32, 4}, {128, 64, 8}, {128, 128, 8} },
  [256] = { {64, 64, 4}, {128, 64, 8}, {64, 32, 4}, {128, 32, 8} },
}

-- Hopper tiles {BM, BN, warps}: 4 producer warps and 4 per consumer
-- warpgroup of 64 rows (BM = 64 * (warps/4 - 1)). With one consumer
-- warpgroup (8 warps) two CTAs share an SM, so one's start and epilogue run
-- under the other's products. On the H100 (2026-11-25, fa-tune, same run)
-- d128 m64n64 w8 won the causal S=512 buckets (218 against 198 TFLOP/s for
-- m128n128 w12 at B*H=512; 171 against 157 at 128) and lost from S=2048 on
-- (2048: 484 against 562; 4096: 467 against 622). d256 64x64 (one CTA per
-- SM) makes twice the CTAs of the 128-row tiles on small grids: on the H200
-- (2026-12-02, fa-tune, m64 call) it won Pi0 prefill (B=1, 816 tokens, 8
-- heads: 0.023 against 0.027 ms) and Pi0 denoise (0.0232 against 0.0248).
S.tiles_sm90 = {
  [64]  = { {128, 128, 12}, {192, 96, 16}, {64, 128, 8} },
  [128] = { {128, 128, 12}, {128, 176, 12}, {128, 96, 12}, {64, 80, 8}, {64, 64, 8} },
  [256] = { {128, 80, 12}, {128, 64, 12}, {64, 64, 8} },
}
function S.fwd_tiles(family, d)
  return (family == "sm90" and S.tiles_sm90 or S.tiles)[d] or {}
end

-- Backward tiles {BM, BN, warps, stages}: a CTA owns BN keys and steps
-- through BM queries. Registers per thread: S^T and dP^T (BN*BM*2/threads)
-- plus dK and dV (BN*d*2/threads). Measured with ptxas (sm_90a and sm_80,
-- 2026-11-25, fa_bwd_dkdv, phase 1 in chunks): 192 fit (d128 m64n64 w4, 252
-- registers), with positions/segments too since their element test reads a
-- visibility bitmask built per partial tile (before it, 128 spilled 20 bytes
-- and d256 m64n64 w8 with tokens 92-100); d128 m64n128 w8 (192) spilled 56
-- bytes, d256 m64n32 w4 (160) 404 (its dQ phase runs 256 columns per warp),
-- BM 128 4-8 bytes. d256 has one-stage tiles for sm_80's smaller shared
-- memory. On the H100, d128 m64n64 w4 (two CTAs per SM since the full L1 carveout) ran fwd+bwd at
-- 219.6 TFLOP/s against 187.1 for m64n64 w8 (S=4096, one call, before that carveout); it comes first.
S.bwd_tiles = {
  [64]  = { {64, 128, 8, 2}, {64, 64, 8, 2}, {64, 64, 4, 2} },
  [128] = { {64, 64, 4, 2}, {64, 64, 8, 2}, {64, 64, 4, 1}, {64, 32, 8, 2} },
  [256] = { {64, 64, 8, 2}, {64, 32, 8, 2}, {64, 64, 8, 1}, {64, 32, 8, 1}, {64, 16, 4, 1} },
}
-- Hopper backward tiles {BM, BN, warps, stages}: two warpgroups (no producer;
-- cp.async loads), 64 queries per step; BN = 128 gives each warpgroup its own
-- 64 keys, BN = 64 has them split the queries (S^T, dP^T) and then the columns
-- (dK, dV). Measured with ptxas (sm_90a, 2026-11-25): d128 m64n128 with S^T,
-- dP^T unchunked (192 accumulator registers, see check_sm90_bwd) spilled 160
-- bytes, in 32-query chunks (160) none; one-stage tiles with two CTAs per SM
-- (128 registers) spilled 40 (d128 m64n64).
-- The 12-warp tiles add a producer warpgroup (S.sm90_bwd_producer) and come
-- first for the built-in choice: on the H200 (2026-12-04, bprod, bprod3) they ran
-- fwd+bwd 1.08-1.15x the 8-warp ones at d64 and d128 and 1.25-1.35x at d256;
-- with positions and segments they wait for a GPU run (S.bwd_first_choice).
S.bwd_tiles_sm90 = {
  [64]  = { {64, 128, 12, 2}, {64, 128, 8, 2} },
  [128] = { {64, 128, 12, 2}, {64, 128, 8, 2}, {64, 64, 12, 2}, {64, 64, 8, 2} },
  [256] = { {64, 64, 12, 2}, {64, 64, 8, 2} },
}
function S.bwd_tiles_of(family, d)
  return (family == "sm90" and S.bwd_tiles_sm90 or S.bwd_tiles)[d] or {}
end
-- Whether the built-in choice on sm_90a takes the Hopper backward first. On
-- the H100 (2026-11-25, fa-tune bench --mode fwdbwd --all, one call) it ran
-- every shape of the seed4 and d256 grids faster than the best sm80 tile:
-- d128 m64n128 1.05-1.45x (S=8192: 348 against 246 TFLOP/s), d256 m64n64
-- 1.12-1.30x (docs/perf/2026-11-25_bwd_sm90/).
S.SM90_BWD_FIRST = true
-- wgmma N of the three products of an sm90 backward variant: S^T and dP^T
-- (queries per warpgroup), dK and dV (columns per warpgroup), dQ (64-column
-- chunks).
function S.sm90_bwd_n(v)
  local nwg = 2  -- consumer warpgroups
  local qw = nwg // (v.bn // 64)
  local n1 = v.bm // qw
  if v.d >= 128 then n1 = math.min(n1, 32) end  -- in chunks of 32 queries beside d/2 + d/2 of dK, dV
  return n1, v.d // qw, 64
end
-- Whether the sm90 backward's two warpgroups take turns issuing their
-- products (as the forward's consumers do), so that one's exp2 and dS run
-- under the other's products; lock-step they kept the tensor pipe 31% busy
-- (Nsight Compute, H200, 2026-12-02, docs/PERF.md section N.1). With turns,
-- against a twin without, same call (H200, 2026-12-03, bpp): fwd+bwd d128
-- m64n128 1.052-1.055x (10 shapes), d64 and d256 1.017x, d128 m64n64 1.000x.
function S.sm90_bwd_pingpong(v) return true end
-- Whether dQ's product takes a turn too. Where the warpgroups share a key
-- group (BN = 64: d128 m64n64, d256) it ran faster without one; where each
-- owns its keys, with. H200, 2026-12-03 (bx, against a twin without the turn,
-- two rounds, fwd+bwd): d128 m64n64 1.028x and 1.027x without it (10 shapes),
-- d256 1.012x and 1.009x (3); d128 m64n128 0.970x and 0.973x, d64 0.981x.
function S.sm90_bwd_dq_turn(v) return v.bn == 128 end
-- Whether a chunk's dK, dV products are left running under the next chunk's
-- S^T, dP^T issue (the warpgroup owns its keys: P^T, dS^T from registers).
-- H200, 2026-12-03 (blazy, on top of turns): fwd+bwd d128 m64n128 1.014x, d64
-- 1.026x. Not with positions or segments: d128 m64n128 pos_seg spilled 76
-- bytes (ptxas, sm_90a).
function S.sm90_bwd_lazy_dkv(v) return not (v.pos or v.seg) end
-- Whether an sm90 backward variant has a producer warpgroup (12 warps): one
-- thread loads K, V once and each step's Q, dO by TMA, completing on
-- mbarriers, its lanes the step's lse2 and dsum, and the two consumer
-- warpgroups take the registers it gives back (setmaxnreg: 24 and 240, the
-- 64512 the CTA launched with at 168 each). Without it every thread issues
-- the step's cp.async copies and three CTA barriers per step line the
-- warpgroups up. ptxas (sm_90a,
-- 2026-12-03): the step capped at 240 registers spilled 20 bytes (d128
-- m64n128) with the copies in it and none without. H200, 2026-12-04 (bprod,
-- fwd+bwd against the 8-warp tiles of the commit before, two rounds): d128
-- m64n128 1.100x and 1.102x (10 shapes), m64n64 1.158x, d64 1.141x, d256 1.01x.
function S.sm90_bwd_producer(v) return v.warps == 12 end
-- With positions or segments the producer also names each step's item (head,
-- query tile, class: hidden tiles are skipped) in a slot of the stage and
-- loads the queries' positions and segments beside lse2; the consumers build
-- a partial tile's bit mask from them. Every 12-warp variant with tokens
-- compiles without spills (ptxas, sm_90a, 2026-12-04: at d256 only once the
-- tiles' classes were computed before the warpgroups part, a byte per tile,
-- and the producer's walk had no divisions). They have not run on a GPU yet:
-- until `fa-tune verify` passes with them the built-in choice keeps the
-- 8-warp tiles for tokens (tuning may still pick them: it checks first), and
-- S.SM90_BWD_TOK_PRODUCER = false takes them out of the space altogether
-- (should they fail on the GPU before they are fixed).
S.SM90_BWD_TOK_PRODUCER = true
S.SM90_BWD_TOK_PRODUCER_FIRST = false
-- The d256 m64n16 tile (4 warps, one stage; 16-key dQ tiles) is the one d256
-- backward that fits 99 KB parts (sm_86, sm_89, sm_120): 86528 bytes (91408
-- with tokens), 98304 for fa_bwd_dq (101376 with tokens: S.dq_table). ptxas
-- (sm_80, sm_89, sm_90a, sm_120, 2026-12-05): no spills once its Q/dO copy kept two
-- swizzle bases (a swizzle per row spilled 56 bytes) and its dQ phase ran one
-- 64-column chunk at a time. It has not run on a GPU: the built-in choice
-- skips it until `fa-tune verify` passes with it (it runs on any sm_80+ part).
S.SM80_BWD_N16_FIRST = false
function S.bwd_first_choice(v)
  if v.family == "sm90" and S.sm90_bwd_producer(v) and (v.pos or v.seg) then return S.SM90_BWD_TOK_PRODUCER_FIRST end
  if v.family == "sm80" and v.bn == 16 then return S.SM80_BWD_N16_FIRST end
  return true
end
-- Whether dQ's bulk reductions stage in the step's dO and Q tiles, where
-- shared memory has no room for buffers of their own (d256): after phase 2
-- each warpgroup's 128 columns of both are free until the producer refills the
-- stage, which the reductions' warp releases a step late. H200, 2026-12-04
-- (bprod3, fwd+bwd against the same tile with vector reductions, two rounds):
-- 1.305x and 1.306x (1.253-1.346, five d256 shapes).
function S.sm90_bwd_dq_stage(v)
  return S.sm90_bwd_producer(v) and not S.bwd_dq_bulk(v) and v.d // 2 == 128
end
S.BWD_ACC_BUDGET = 192
S.BWD_ACC_BUDGET_TOK = 192  -- kept apart: the token masks were the first to spill
-- Phase 1 of the backward (S^T and dP^T) runs in chunks of this many query
-- columns per warp. Whole (64 for d128 m64n64 w4) ran fwd+bwd 4.5% faster
-- than 32-column chunks on the H100 (226 against 216 TFLOP/s, S=8192), but
-- spilled with one stage or positions/segments; those keep 32.
function S.bwd_p1w(v)
  if v.family == "sm90" then
    local n1 = S.sm90_bwd_n(v)  -- the chunk of S^T, dP^T columns
    return n1
  end
  local cw = v.bm // (v.warps // (v.bn // 16))
  if v.stages == 2 and not (v.pos or v.seg) then return cw end
  return math.min(cw, 32)
end

-- Keys per tile of the deterministic dQ kernel (64 query rows, 4 warps); 16
-- beside the 16-key d256 tile, whose pair must fit 99 KB parts (98304 bytes),
-- and in the sm80 family at d256 with tokens and softcap: with 32-key tiles,
-- positions and softcap, ptxas (sm_80, 2026-12-05) spilled 8 bytes at 254
-- registers (with 16, 250 and none).
function S.bnq(v)
  if v.d ~= 256 then return 64 end
  return (v.bn == 16 or v.family == "sm80" and v.softcap and (v.pos or v.seg)) and 16 or 32
end
-- fa_bwd_dq's key tiles with position/segment bounds in shared memory (later
-- ones take the per-element mask): 192 for the sm80 family's d128 (12288
-- keys) and beside the 16-key d256 tile (3072 keys), so that with tokens it
-- fits 99 KB (101376 bytes).
function S.dq_table(v)
  return bounds_table(v, 2 * 64 * v.d * 2 + 4 * S.bnq(v) * v.d * 2, 0)
end

-- The default space: what fa-tune compiles, verifies and tunes. Rows are
-- crossed (every d x dtype x tile x g x feature set). GQA packing g > 1 is
-- for the short-query, many-heads-per-kv shapes of workloads.md (d256 MQA).
S.default = {
  { d = { 64, 128, 256 }, dtype = { "bf16", "fp16" }, g = { 1 }, feats = { {} } },
  { d = { 64, 128, 256 }, dtype = { "bf16" }, g = { 1 }, feats = { { "softcap" }, { "pos", "seg" } } },
  { d = { 256 }, dtype = { "bf16" }, g = { 2, 4, 8 }, feats = { {}, { "pos", "seg" } } },
  -- openpi's masks one at a time: Pi0.5 (positions), Pi0 prefill (segments).
  { d = { 256 }, dtype = { "bf16" }, g = { 1, 8 }, feats = { { "pos" }, { "seg" } } },
  { d = { 128, 256 }, dtype = { "bf16" }, g = { 2 }, feats = { { "softcap" } } },
}

-- Backward variants: every head_dim and dtype, then the mask features.
S.default_bwd = {
  { d = { 64, 128, 256 }, dtype = { "bf16", "fp16" }, feats = { {} } },
  { d = { 64, 128, 256 }, dtype = { "bf16" }, feats = { { "softcap" }, { "pos", "seg" } } },
  { d = { 256 }, dtype = { "bf16" }, feats = { { "pos" }, { "seg" } } },
}

local function has(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end
S.has = has

function S.smem_bytes(v)
  local esz = 2
  local tok = v.pos or v.seg
  if v.dir == "bwd" then  -- the larger of fa_bwd_dkdv's and fa_bwd_dq's
    return math.max(S.bwd_smem(v), S.bwd_dq_smem(v))
  end
  if v.family == "sm90" then  -- 1024 to align the swizzled tiles, 256 for the mbarriers
    return S.sm90_fwd_smem(v) + (S.sm90_o_buffer(v) and v.bm * v.d * esz or 0)
  end
  return v.bm * v.d * esz + 2 * v.stages * v.bn * v.d * esz + (tok and (S.fwd_table(v) + 1) * 16 or 0)
end

-- fa_bwd_dkdv's token data: the bounds of the query tiles and the key block,
-- the queries' positions and segments per stage (with a producer then each
-- stage's slot: head, first row, class; and a byte per query tile, its class),
-- the keys' and a partial tile's bit mask.
local function bwd_tok_smem(v)
  if not (v.pos or v.seg) then return 0 end
  local prod = v.family == "sm90" and S.sm90_bwd_producer(v)
  return (S.TABLE_MAX + 1) * 16 + 2 * v.stages * v.bm * 4 + (prod and v.stages * 16 + S.TABLE_MAX or 0) + 2 * v.bn * 4 +
      v.bn * v.bm // 8
end
-- fa_bwd_dkdv: K, V; Q, dO per stage; P^T, dS^T; lse2, dsum per stage; the
-- token data (sm90: 1024 more to align the swizzled tiles, 64 for the
-- producer's mbarriers).
local function bwd_smem_base(v)
  return (v.family == "sm90" and 1024 or 0) + (v.family == "sm90" and S.sm90_bwd_producer(v) and 64 or 0) +
      2 * v.bn * v.d * 2 + 2 * v.stages * v.bm * v.d * 2 + 2 * v.bn * v.bm * 2 + 2 * v.stages * v.bm * 4 + bwd_tok_smem(v)
end
-- Whether an sm90 backward adds dQ by bulk reductions: each warpgroup writes
-- its 64x64 fp32 chunk of dS K to a 16 KB buffer of its own and one thread
-- adds it to the accumulator (cp.reduce.async.bulk), instead of 16 vector
-- reductions per thread. On the H200 (2026-12-02, Nsight Compute, d128
-- m64n128, B=4 H=32 S=4096) those reductions held 20% of the kernel's stall
-- samples; with the bulk ones fwd+bwd ran 1.052-1.064x (10 d128 shapes, one
-- call, against the commit before). The accumulator is then tiled
-- (bwd_common.cu: dq_at). d256 m64n64 has no room for the buffers (215 KB
-- without them).
function S.bwd_dq_bulk(v)
  return v.family == "sm90" and bwd_smem_base(v) + 2 * 64 * 64 * 4 <= S.SM90_SMEM
end
function S.bwd_smem(v)
  return bwd_smem_base(v) + (S.bwd_dq_bulk(v) and 2 * 64 * 64 * 4 or 0)
end
-- fa_bwd_dq: Q, dO (64 rows); K, V double-buffered; key tile bounds.
function S.bwd_dq_smem(v)
  local tok = v.pos or v.seg
  return 2 * 64 * v.d * 2 + 4 * S.bnq(v) * v.d * 2 + (tok and S.dq_table(v) * 16 or 0)
end

function S.threads(v) return v.warps * 32 end

-- Whether an sm90 variant's two consumer warpgroups take turns at the tensor
-- cores (ping-pong). On the H100 (2026-11-25, one call, forward, against the
-- same kernel without turns, timed with a sync per repetition): d128 +1%
-- (S=8192) to +10% (S=8192 causal), +4-6% at S=2048, d256 m128n80 -2%
-- (S=4096). On the H200 (2026-12-01, one call, fa-tune bench --all, timed as
-- do_bench) d256 m128n80 with turns ran faster on all 20 shapes of the d256
-- grid: +1.7% (S=8192) to +8.5% (S=512), geometric mean +3.9%. The persistent
-- d256 tiles keep none: with turns they spilled 32 bytes (ptxas, g2-g8).
function S.sm90_pingpong(v) return v.warps == 12 and (v.d <= 128 or not v.persist) end

-- Whether an sm90 forward writes O by TMA from shared memory (a bulk store per
-- warpgroup and 64 columns) rather than with 16-byte stores of every thread.
-- ptxas (sm_90a, 2026-12-02) spilled 16 bytes with the TMA store in d64
-- m192n96 softcap, whose three consumer warpgroups have 160 registers each:
-- softcap tiles with fewer than 240 keep the 16-byte stores. The persistent
-- grid loads the next item's Q into the Q buffer meanwhile, so it stores by
-- TMA only from a buffer of its own, where that fits (else from registers).
function S.sm90_tma_store(v)
  return (not v.persist or S.sm90_o_buffer(v)) and not (v.softcap and S.sm90_consumer_regs(v) < 240)
end
-- Whether the persistent grid's walk reverses every other round, so that a
-- CTA's causal tiles even out. On the H200 (2026-12-02, snake call, d128
-- m128n128 persistent, against the plain stride): causal 1.054-1.108x, not
-- causal 0.986-1.010x; d256 persistent 1.035x over 20 shapes.
function S.sm90_snake(v) return true end
-- Whether the forward's warp index goes through a shuffle, so that ptxas knows
-- it is warp-uniform and keeps the wgmma descriptors built from it in uniform
-- registers (sm_90a, ptxas 13.0): d128 m128n128 R2UR 48 -> 13 (plain) and
-- 100 -> 67 (persistent), 32 and 24 instructions fewer, the key loop the same.
-- H200, 2026-12-03 (udesc, against a twin without, two rounds): d128 persistent
-- 1.003, 1.010, plain 1.004, 1.006 (ten shapes); d256 0.997-1.014 (three). Off
-- where it spilled: persistent with softcap or d256 (4-40 bytes). The backward
-- with it (and descriptors by one add) ran d128 m64n128 0.974x, so it has none.
function S.sm90_uniform_warp(v)
  return not (v.persist and (v.softcap or v.d == 256))
end
-- The persistent grid's own O buffer: BM x d more shared memory, where it
-- fits. On the H200 (2026-12-02, obuf call, d128 m128n128, ten shapes) it ran
-- 1.011-1.072x faster than O from registers (geometric mean 1.043); a second
-- Q buffer beside it (the next item's Q loaded earlier) made that 1.035.
function S.sm90_o_buffer(v)
  return v.persist == true and S.sm90_fwd_smem(v) + v.bm * v.d * 2 <= S.SM90_SMEM
end
-- The sm90 forward's shared memory without that buffer: 1024 to align the
-- swizzled tiles, Q, K and V, 256 for the mbarriers, the tile bounds.
function S.sm90_fwd_smem(v)
  local tok = v.pos or v.seg
  return 1024 + v.bm * v.d * 2 + 2 * v.stages * v.bn * v.d * 2 + 256 + (tok and (S.TABLE_MAX + 1) * 16 or 0)
end

-- How far (in exp2 units) a tile's row max may pass the running max before
-- the max moves and O is rescaled: 0 rescales on every rise (most tiles of
-- random data, since any of a warp's 16 rows counts); 8 keeps P below 256
-- (bf16 and fp16 hold it at their usual relative precision; the fp32 sum is
-- far from overflow).
function S.sm90_max_slack(v) return 8 end

-- Consumer registers of an sm90 variant (setmaxnreg), as gen/fa_gen.lua sets
-- them. setmaxnreg only moves registers within the CTA's allocation at launch
-- (__launch_bounds__'s cap, a multiple of 8 per thread); an increase beyond it
-- waits for ever: with the producer at 32 and the consumers at 240 (65536
-- against 64512 for 384 threads) every persistent kernel hung on the H200.
function S.sm90_consumer_regs(v)
  local warps = v.warps
  local nc = warps // 4 - 1
  local prod = 24
  local threads = warps * 32
  local pool = (65536 // S.sm90_ctas_per_sm(v) // threads) // 8 * 8 * threads
  return math.min(240, ((pool - prod * 128) // (nc * 128)) // 8 * 8), prod
end
-- Tiles the default space also offers with a persistent grid: the two-consumer
-- tiles, where one CTA holds the SM and its start and epilogue are otherwise
-- bare.
function S.sm90_persist_tile(v) return v.warps == 12 end
-- Whether the built-in heuristic (no tuning data for the GPU) takes a tile's
-- persistent grid: d128 without positions or segments. On the H200
-- (2026-12-02, the tuner's measurements of the snake call, 80 d128 buckets)
-- m128n128 persistent ran 1.067x faster than its plain grid (geometric mean,
-- 0.926-1.324, faster in 72) and won 71 of them; d256's persistent tiles lost
-- to the plain grid (0.927, same call).
function S.sm90_prefer_persist(v)
  return v.d == 128 and S.sm90_persist_tile(v) and not (v.pos or v.seg)
end
-- CTAs an SM runs at once (the register cap at entry, __launch_bounds__):
-- two of one consumer warpgroup where their shared memory fits (228 KiB per
-- SM, 1 KiB of it per CTA); d256's O alone needs 128 registers per thread.
function S.sm90_ctas_per_sm(v)
  return (v.warps == 8 and 2 * (S.sm90_fwd_smem(v) + 1024) <= 233472) and 2 or 1
end
-- Per consumer thread: O (d/2), S (BN/2), P as bf16 pairs (BN/4), and the
-- rest: addresses, row state, the mask. Measured with ptxas (sm_90a,
-- 2026-11-25, S of the next tile in flight during P V): d64 m192n128 (128 +
-- 160 available) spilled 56-64 bytes, d128 m128n176 softcap (196 + 240) 4-8;
-- d256 m128n80 softcap (188 + 240) fit.
S.SM90_REG_OVERHEAD = 40
S.SM90_REG_OVERHEAD_SOFTCAP = 48
-- The persistent grid keeps the work item's indices: ptxas (sm_90a,
-- 2026-12-01) spilled 12 bytes for d128 m128n176 (236 + 240) and 28 for d256
-- m128n80 softcap (236), none for d256 m128n80 (228).
S.SM90_REG_OVERHEAD_PERSIST = 8

local function check_sm90(v)
  if v.persist and (v.pos or v.seg) then
    return false, "persist: positions and segments build their bounds tables once per CTA (not persistent)"
  end
  if v.warps ~= 8 and v.warps ~= 12 and v.warps ~= 16 then
    return false, ("warps %d not in {8,12,16} (producer + 1, 2 or 3 consumer warpgroups)"):format(v.warps)
  end
  if v.bm ~= 64 * (v.warps // 4 - 1) then
    return false, ("BM %d must be 64 rows per consumer warpgroup (%d with %d warps)"):format(v.bm, 64 * (v.warps // 4 - 1), v.warps)
  end
  if v.bn % 16 ~= 0 or v.bn < 16 or v.bn > 256 then return false, ("BN %d must be a multiple of 16 in 16..256 (wgmma N)"):format(v.bn) end
  if v.stages ~= 2 then return false, ("stages %d: only 2 is built"):format(v.stages) end
  if v.g < 1 or v.g > 16 or v.bm % v.g ~= 0 then
    return false, ("GQA pack %d must be 1..16 and divide BM %d"):format(v.g, v.bm)
  end
  local regs = S.sm90_consumer_regs(v)
  local over = (v.softcap and S.SM90_REG_OVERHEAD_SOFTCAP or S.SM90_REG_OVERHEAD) +
      (v.persist and S.SM90_REG_OVERHEAD_PERSIST or 0)
  local need = v.d // 2 + v.bn // 2 + v.bn // 4 + over
  if need > regs then
    return false, ("a consumer thread needs about %d registers (O %d + S %d + P %d + %d), over its %d: it would spill"):format(
      need, v.d // 2, v.bn // 2, v.bn // 4, over, regs)
  end
  return true
end

local function check_sm90_bwd(v)
  if v.warps ~= 8 and v.warps ~= 12 then
    return false, ("warps %d: the Hopper backward has two consumer warpgroups, with a producer one or not (8 or 12)"):format(v.warps)
  end
  if v.warps == 12 and (v.pos or v.seg) and not S.SM90_BWD_TOK_PRODUCER then
    return false, "12 warps with positions or segments: switched off (S.SM90_BWD_TOK_PRODUCER)"
  end
  if v.bm ~= 64 then return false, ("BM %d: the Hopper backward steps 64 queries"):format(v.bm) end
  if v.bn ~= 64 and v.bn ~= 128 then return false, ("BN %d not in {64,128}"):format(v.bn) end
  if v.stages ~= 1 and v.stages ~= 2 then return false, ("stages %d not in {1,2}"):format(v.stages) end
  if v.g ~= 1 then return false, "backward variants do not pack query heads (g must be 1)" end
  local n1, n2 = S.sm90_bwd_n(v)
  if n2 % 64 ~= 0 then
    return false, ("dK/dV columns per warpgroup %d: a multiple of 64 (one swizzle block) is needed"):format(n2)
  end
  -- dK, dV (n2/2 each) and S^T, dP^T (n1/2 each) per thread
  if n1 + n2 > S.SM90_BWD_ACC_BUDGET then
    return false, ("accumulators need %d registers per thread, over %d: it would spill"):format(n1 + n2,
      S.SM90_BWD_ACC_BUDGET)
  end
  return true
end
S.SM90_BWD_ACC_BUDGET = 160

local function check_bwd(v)
  if not has({ 64, 128 }, v.bm) then return false, ("BM %d not in {64,128}"):format(v.bm) end
  if not has({ 16, 32, 64, 128 }, v.bn) then return false, ("BN %d not in {16,32,64,128}"):format(v.bn) end
  if v.bn // 16 > v.warps or v.warps % (v.bn // 16) ~= 0 then
    return false, ("BN %d: its %d row blocks must divide the %d warps"):format(v.bn, v.bn // 16, v.warps)
  end
  if v.bm // 16 > v.warps then
    return false, ("BM %d: %d row blocks for dQ exceed the %d warps"):format(v.bm, v.bm // 16, v.warps)
  end
  if v.stages ~= 1 and v.stages ~= 2 then return false, ("stages %d not in {1,2}"):format(v.stages) end
  if v.g ~= 1 then return false, "backward variants do not pack query heads (g must be 1)" end
  local acc = (v.bn * v.bm * 2 + v.bn * v.d * 2) // (v.warps * 32)
  local tok = v.pos or v.seg
  local budget = tok and S.BWD_ACC_BUDGET_TOK or S.BWD_ACC_BUDGET
  if acc > budget then
    return false, ("accumulators need %d registers per thread (S/dP %d + dK/dV %d), over the %d that fit%s: it would spill")
        :format(acc, v.bn * v.bm * 2 // (v.warps * 32), v.bn * v.d * 2 // (v.warps * 32), budget,
          tok and " with positions/segments" or "")
  end
  return true
end

-- Returns true, or false and the reason, for a variant on compute capability arch.
function S.check(v, arch)
  local fam = S.families[v.family]
  if not fam then return false, ("unknown family '%s'"):format(tostring(v.family)) end
  if not fam.templates[v.dir] then return false, ("family %s has no '%s' kernels"):format(v.family, v.dir) end
  if not has(S.head_dims, v.d) then return false, ("head_dim %d not in {64,128,256}"):format(v.d) end
  if not has(S.dtypes, v.dtype) then return false, ("dtype '%s' not in {bf16,fp16}"):format(v.dtype) end
  if v.persist and v.family ~= "sm90" then return false, "persist: only the sm90 family has a persistent grid" end
  if v.persist and v.dir ~= "fwd" then return false, "persist: only the forward has a persistent grid" end
  if v.family == "sm90" then
    local ok, why = (v.dir == "bwd" and check_sm90_bwd or check_sm90)(v)
    if not ok then return false, why end
    return S.check_arch(v, arch, fam)
  end
  if v.warps ~= 4 and v.warps ~= 8 then return false, ("warps %d not in {4,8}"):format(v.warps) end
  if v.dir == "bwd" then
    local ok, why = check_bwd(v)
    if not ok then return false, why end
    return S.check_arch(v, arch, fam)
  end
  if v.bm % (16 * v.warps) ~= 0 then
    return false, ("BM %d is not a multiple of 16 rows x %d warps"):format(v.bm, v.warps)
  end
  local mr = v.bm // (16 * v.warps)
  if mr > 2 then return false, ("BM %d gives %d row blocks per warp (max 2)"):format(v.bm, mr) end
  if not has({ 32, 48, 64, 96, 128 }, v.bn) then return false, ("BN %d not in {32,48,64,96,128}"):format(v.bn) end
  if v.stages ~= 2 then return false, ("stages %d: only 2 is built"):format(v.stages) end
  if v.g < 1 or v.g > 16 or v.bm % v.g ~= 0 then
    return false, ("GQA pack %d must be 1..16 and divide BM %d"):format(v.g, v.bm)
  end
  local acc = mr * (v.d // 2 + v.bn // 2)
  local budget = (v.pos or v.seg) and S.ACC_BUDGET_TOK or v.softcap and S.ACC_BUDGET_SOFTCAP or S.ACC_BUDGET
  if acc > budget then
    return false, ("accumulators need %d registers per thread (O %d + S %d), over the %d that fit%s: it would spill")
        :format(acc, mr * v.d // 2, mr * v.bn // 2, budget, (v.pos or v.seg) and " with positions/segments" or v.softcap and " with softcap" or "")
  end
  return S.check_arch(v, arch, fam)
end

function S.check_arch(v, arch, fam)
  if arch then
    if arch < fam.min_arch then return false, ("family %s needs sm_%d+"):format(v.family, fam.min_arch) end
    if fam.max_arch and arch > fam.max_arch then
      return false, ("family %s runs on sm_%da only"):format(v.family, fam.max_arch)
    end
    local lim = S.smem_limit_of(arch)
    local need = S.smem_bytes(v)
    if need > lim then
      return false, ("needs %d bytes of shared memory, sm_%d allows %d"):format(need, arch, lim)
    end
  end
  return true
end

return S
