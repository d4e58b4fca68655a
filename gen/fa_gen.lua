-- fa_gen.lua: the generator. Turns a variant (a point of fa_space.lua) into
-- its canonical key and its CUDA source. Loaded by libfa-runtime (embedded)
-- and by fa-tune; the C side provides fa_template(name) -> template text.
-- Emission is deterministic: same key, same bytes.

local S = require("fa_space")
local M = { space = S }

local GENERATOR = "gen/fa_gen.lua"

local function has_dtype(dt) return S.has(S.dtypes, dt) end

-- Each template's text is its fragments and its own text, in this order: the
-- text shared between templates lives once, in the fragments.
local PARTS = {
  ["fwd_sm80.cu"] = { "fwd_params.cu", "sm80_common.cu", "tile_bounds.cu", "fwd_tiles.cu", "fwd_sm80.cu",
    "fwd_combine.cu" },
  ["fwd_sm90.cu"] = { "fwd_params.cu", "sm80_common.cu", "sm90_common.cu", "tile_bounds.cu", "fwd_tiles.cu",
    "fwd_sm90.cu", "fwd_combine.cu" },
  ["bwd_sm80.cu"] = { "fwd_params.cu", "sm80_common.cu", "tile_bounds.cu", "bwd_common.cu", "bwd_sm80.cu" },
  ["bwd_sm90.cu"] = { "fwd_params.cu", "sm80_common.cu", "sm90_common.cu", "tile_bounds.cu", "bwd_common.cu",
    "bwd_sm90.cu" },
  ["unfused.cu"] = { "fwd_params.cu", "unfused_common.cu", "unfused.cu" },
  ["unfused_bwd.cu"] = { "fwd_params.cu", "unfused_common.cu", "unfused_bwd.cu" },
}
local function template_text(name)
  local parts = {}
  for _, part in ipairs(PARTS[name] or { name }) do parts[#parts + 1] = fa_template(part) end
  return table.concat(parts)
end

-- wgmma wrappers for one N: their operand lists (N/2 accumulators per thread)
-- are data, so the generator writes them. A from registers (a_in_regs, B
-- N-major: O += P V) or both from shared memory, K-major unless trans_a /
-- trans_b says M- or N-major (S = Q K^T: neither; the backward's dV += P^T dO:
-- B; dQ = dS K: both).
local function wgmma_fn(name, n, ab, a_in_regs, trans_a, trans_b)
  local nreg = n // 2
  local d, outs = {}, {}
  for i = 0, nreg - 1 do d[#d + 1] = "%" .. i end
  for j = 0, n // 8 - 1 do
    outs[#outs + 1] = ('"+f"(d[%d][0]), "+f"(d[%d][1]), "+f"(d[%d][2]), "+f"(d[%d][3])'):format(j, j, j, j)
  end
  local dlist = {}
  for i = 1, #d, 16 do dlist[#dlist + 1] = table.concat(d, ", ", i, math.min(i + 15, #d)) end
  local a_op, b_op, sc, ins, args, tail
  if a_in_regs then
    a_op = ("{%%%d, %%%d, %%%d, %%%d}"):format(nreg, nreg + 1, nreg + 2, nreg + 3)
    b_op, sc = nreg + 4, nreg + 5
    ins = '"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d)'
    args = "const u32 (&a)[4], u64 db"
    tail = "p, 1, 1, 1" -- scale-d, scale-a, scale-b, trans-b
  else
    a_op = "%" .. nreg
    b_op, sc = nreg + 1, nreg + 2
    ins = '"l"(da), "l"(db), "r"(scale_d)'
    args = "u64 da, u64 db"
    tail = ("p, 1, 1, %d, %d"):format(trans_a and 1 or 0, trans_b and 1 or 0) -- scale-d, scale-a, scale-b, trans-a, trans-b
  end
  return table.concat({
    ("__device__ __forceinline__ void %s(float (&d)[%d][4], %s, u32 scale_d) {"):format(name, n // 8, args),
    "  asm volatile(",
    ('    "{\\n .reg .pred p;\\n setp.ne.b32 p, %%%d, 0;\\n"'):format(sc),
    ('    "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {"'):format(n, ab, ab),
    '    "' .. table.concat(dlist, ', "\n    "') .. '}, "',
    ('    "%s, %%%d, %s;\\n}\\n"'):format(a_op, b_op, tail),
    "    : " .. table.concat(outs, ",\n      "),
    "    : " .. ins .. ");",
    "}",
  }, "\n")
end


-- key: <dir>_<family>_d<D>_<dtype>_m<BM>n<BN>_w<warps>_s<stages>_g<pack>[_persist][_pos][_seg][_softcap]
function M.key(v)
  local k = ("%s_%s_d%d_%s_m%dn%d_w%d_s%d_g%d"):format(v.dir, v.family, v.d, v.dtype, v.bm, v.bn,
    v.warps, v.stages, v.g)
  for _, f in ipairs(S.options) do
    if v[f] then k = k .. "_" .. f end
  end
  for _, f in ipairs(S.features) do
    if v[f] then k = k .. "_" .. f end
  end
  return k
end

-- Key -> variant table, or nil and the reason. Lossless: M.key(M.parse(k)) == k.
function M.parse(key)
  if type(key) ~= "string" then return nil, "key must be a string" end
  local dir, fam, d, dt, bm, bn, w, st, g, rest =
      key:match("^(%a+)_(sm%d+)_d(%d+)_(%w+)_m(%d+)n(%d+)_w(%d+)_s(%d+)_g(%d+)(.*)$")
  if not dir then return nil, ("'%s' is not a variant key (expected like %s)"):format(key,
      "fwd_sm80_d128_bf16_m128n64_w4_s2_g1_softcap") end
  local v = { dir = dir, family = fam, d = tonumber(d), dtype = dt, bm = tonumber(bm),
    bn = tonumber(bn), warps = tonumber(w), stages = tonumber(st), g = tonumber(g) }
  for word in rest:gmatch("_([^_]*)") do
    if not (S.has(S.features, word) or S.has(S.options, word)) or v[word] then
      return nil, ("unknown or repeated feature suffix '_%s' in '%s'"):format(word, key)
    end
    v[word] = true
  end
  if rest:gsub("_[^_]*", "") ~= "" then return nil, ("malformed feature suffix in '%s'"):format(key) end
  if M.key(v) ~= key then return nil, ("'%s' is not canonical (canonical: %s)"):format(key, M.key(v)) end
  return v
end

-- Calls fn with one element of each list, the last list varying fastest.
local function cross(lists, fn, i, vals)
  i, vals = i or 1, vals or {}
  if i > #lists then return fn(table.unpack(vals, 1, #lists)) end
  for _, x in ipairs(lists[i]) do
    vals[i] = x
    cross(lists, fn, i + 1, vals)
  end
end

local FAMILIES = { "sm80", "sm90" }

-- The default space, in a fixed order: forward variants, then backward.
function M.default_space()
  local out = {}
  local function add(v, fs)
    for _, f in ipairs(fs) do v[f] = true end
    return v
  end
  for _, row in ipairs(S.default) do
    cross({ row.d, row.dtype, FAMILIES }, function(d, dt, fam)
      local persists = fam == "sm90" and { false, true } or { false }
      cross({ S.fwd_tiles(fam, d), row.g, row.feats, persists }, function(t, g, fs, persist)
        local v = add({ dir = "fwd", family = fam, d = d, dtype = dt, bm = t[1], bn = t[2],
          warps = t[3], stages = 2, g = g, persist = persist or nil }, fs)
        -- a tile over a feature set's budget is left out of that row, and
        -- the persistent grid where the space does not offer it
        if fam == "sm80" or (S.check(v, nil) and (not persist or S.sm90_persist_tile(v))) then
          out[#out + 1] = v
        end
      end)
    end)
  end
  for _, row in ipairs(S.default_bwd) do
    cross({ row.d, row.dtype, FAMILIES }, function(d, dt, fam)
      cross({ S.bwd_tiles_of(fam, d), row.feats }, function(t, fs)
        local v = add({ dir = "bwd", family = fam, d = d, dtype = dt, bm = t[1], bn = t[2],
          warps = t[3], stages = t[4], g = 1 }, fs)
        -- a tile over a feature set's register budget is left out of that row
        if S.check(v, nil) then out[#out + 1] = v end
      end)
    end)
  end
  return out
end

-- Whether key is in the default space (the set fa-tune verifies), built once.
local default_keys
local function in_default_space(key)
  if not default_keys then
    default_keys = {}
    for _, v in ipairs(M.default_space()) do default_keys[M.key(v)] = true end
  end
  return default_keys[key] == true
end

-- Keys of the default space valid on arch (nil: any), containing every
-- whitespace-separated word of filter (nil or "": all).
function M.list(filter, arch)
  local words = {}
  for w in (filter or ""):gmatch("%S+") do words[#words + 1] = w end
  local keys = {}
  for _, v in ipairs(M.default_space()) do
    local k = M.key(v)
    local ok = S.check(v, arch)
    for _, w in ipairs(words) do
      if not k:find(w, 1, true) then ok = false end
    end
    if ok then keys[#keys + 1] = k end
  end
  return keys
end

-- Keys the library may serve on arch, containing every word of filter: the
-- default space's, then every other key the built-in choice returns there
-- (fp16 with softcap or tokens, GQA packs the space leaves out, tiles for
-- 99 KB parts), so that fa-tune compile and verify cover what users can get.
function M.served(filter, arch)
  local keys, seen = M.list(filter, arch), {}
  for _, k in ipairs(keys) do seen[k] = true end
  local words = {}
  for w in (filter or ""):gmatch("%S+") do words[#words + 1] = w end
  local off = { false, true }
  cross({ { "fwd", "bwd" }, S.head_dims, S.dtypes, off, off, off, { 1, 2, 4, 8 }, { 1, 4096 } },
    function(dir, d, dt, pos, seg, cap, group, tq)
      local k = M.choose({ dir = dir, d = d, dtype = dt, pos = pos, seg = seg, softcap = cap, group = group,
        tq = tq, tk = 4096 }, arch)
      local ok = k and not seen[k]
      for _, w in ipairs(words) do
        if ok and not k:find(w, 1, true) then ok = false end
      end
      if ok then
        seen[k] = true
        keys[#keys + 1] = k
      end
    end)
  return keys
end

local function fill(text, slots, tname)
  local missing
  local out = text:gsub("%${([%w_]+)}", function(name)
    local v = slots[name]
    if v == nil then missing = missing or name; return "" end
    return tostring(v)
  end)
  if missing then error(("template %s: no value for slot ${%s}"):format(tname, missing), 0) end
  return out
end

-- Source of a variant: a header naming the generator, then the filled template.
function M.emit(key)
  local v, err = M.parse(key)
  if not v then return nil, err end
  local ok, why = S.check(v, nil)
  if not ok then return nil, key .. ": " .. why end
  local tname = S.families[v.family].templates[v.dir]
  local text = template_text(tname)
  local slots = {
    D = v.d, BM = v.bm, BN = v.bn, WARPS = v.warps, STAGES = v.stages, G = v.g,
    IS_BF16 = tostring(v.dtype == "bf16"), HAS_POS = tostring(v.pos == true),
    HAS_SEG = tostring(v.seg == true), HAS_SOFTCAP = tostring(v.softcap == true),
    TABLE_MAX = v.dir == "fwd" and S.fwd_table(v) or S.TABLE_MAX, BNQ = S.bnq(v), DQ_TABLE = S.dq_table(v), P1W = v.dir == "bwd" and S.bwd_p1w(v) or 0,
    DQ_TILED = tostring(v.dir == "bwd" and (S.bwd_dq_bulk(v) or v.family == "sm90" and S.sm90_bwd_dq_stage(v))),
  }
  if v.family == "sm90" and v.dir == "bwd" then
    local ab = v.dtype == "bf16" and "bf16" or "f16"
    local n1, n2, n3 = S.sm90_bwd_n(v)
    -- dK, dV: A from shared memory (wgmma_2) or registers (wgmma_2r); the template picks one
    slots.WGMMA = table.concat({ wgmma_fn("wgmma_1", n1, ab, false), wgmma_fn("wgmma_2", n2, ab, false, false, true),
      wgmma_fn("wgmma_2r", n2, ab, true),
      wgmma_fn("wgmma_3", n3, ab, false, true, true) }, "\n\n")
    slots.PINGPONG = tostring(S.sm90_bwd_pingpong(v))
    slots.LAZY_DKV = tostring(S.sm90_bwd_lazy_dkv(v))
    slots.DQ_TURN = tostring(S.sm90_bwd_dq_turn(v))
    slots.PRODUCER = tostring(S.sm90_bwd_producer(v))
    slots.DQ_STAGE = tostring(S.sm90_bwd_dq_stage(v))
    slots.SMEM = S.bwd_smem(v)  -- the launch's shared memory, which the layout must fit
  elseif v.family == "sm90" then
    local ab = v.dtype == "bf16" and "bf16" or "f16"
    slots.WGMMA = wgmma_fn("wgmma_s", v.bn, ab, false) .. "\n\n" .. wgmma_fn("wgmma_o", v.d, ab, true)
    slots.REG_CONSUMER, slots.REG_PRODUCER = S.sm90_consumer_regs(v)
    slots.PINGPONG = tostring(S.sm90_pingpong(v))
    slots.CTAS_PER_SM = S.sm90_ctas_per_sm(v)
    slots.PERSIST = tostring(v.persist == true)
    slots.UNIFORM_WARP = tostring(S.sm90_uniform_warp(v))
  end
  if v.family == "sm90" and v.dir == "fwd" then
    slots.TMA_STORE = tostring(S.sm90_tma_store(v))
    slots.SNAKE = tostring(S.sm90_snake(v))
    slots.MAX_SLACK = ("%.1ff"):format(S.sm90_max_slack(v))
  end
  local body = fill(text, slots, tname)
  return ("// Generated by %s from templates/%s. Variant %s. Do not edit.\n"):format(GENERATOR,
    tname, key) .. body
end

-- Source of a tool kernel that is not a tuned variant: "unfused_bf16", the
-- accuracy baseline of fa-tune verify.
function M.emit_tool(name)
  local kind, dt = name:match("^(%a+)_(%w+)$")
  -- unfused, unfusedbwd: verify's baselines; softmax: fa-bench's standard attention
  local tools = { unfused = "unfused.cu", unfusedbwd = "unfused_bwd.cu", softmax = "softmax.cu" }
  local tname = tools[kind or ""]
  if not tname or not has_dtype(dt) then return nil, ("unknown tool kernel '%s'"):format(name) end
  local body = fill(template_text(tname), { IS_BF16 = tostring(dt == "bf16") }, tname)
  return ("// Generated by %s from templates/%s: %s. Do not edit.\n"):format(GENERATOR, tname, name) .. body
end

-- What the C side needs to launch a variant.
function M.launch(key, arch)
  local v, err = M.parse(key)
  if not v then return nil, err end
  local ok, why = S.check(v, arch)
  if not ok then return nil, key .. ": " .. why end
  local bwd = v.dir == "bwd"
  return { threads = S.threads(v), smem = bwd and S.bwd_smem(v) or S.smem_bytes(v),
    smem2 = bwd and S.bwd_dq_smem(v) or 0, bwd = bwd,
    tma = v.family == "sm90" and (not bwd or S.sm90_bwd_producer(v)),
    kb_order = bwd and v.family == "sm90", bm = v.bm, bn = v.bn, g = v.g, d = v.d,
    persist = v.persist and S.sm90_ctas_per_sm(v) or 0,
    tma_store = v.family == "sm90" and not bwd and S.sm90_tma_store(v),
    dtype = v.dtype, pos = v.pos == true, seg = v.seg == true, softcap = v.softcap == true }
end

-- The GPU's own shared-memory limit for arch (cuDeviceGetAttribute's opt-in
-- maximum), in place of the table's: variants past it are invalid there.
function M.set_smem_limit(arch, bytes)
  if math.type(arch) == "integer" and math.type(bytes) == "integer" and bytes > 0 then S.smem_limit[arch] = bytes end
end

-- Can variant key serve problem pr (a table from the C side: d, dtype, group,
-- pos, seg, softcap)? Returns true, or false and the reason.
function M.fits(key, pr, arch)
  local v, err = M.parse(key)
  if not v then return false, err end
  local ok, why = S.check(v, arch)
  if not ok then return false, why end
  local dir = pr.dir or "fwd"
  if v.dir ~= dir then return false, ("a %s variant, the plan needs %s"):format(v.dir, dir) end
  if v.d ~= pr.d then return false, ("head_dim %d, problem has %d"):format(v.d, pr.d) end
  if v.dtype ~= pr.dtype then return false, ("dtype %s, problem has %s"):format(v.dtype, pr.dtype) end
  if pr.group % v.g ~= 0 then
    return false, ("GQA pack %d does not divide the group of %d query heads per kv head"):format(v.g, pr.group)
  end
  for _, f in ipairs(S.features) do
    if (v[f] == true) ~= (pr[f] == true) then
      return false, ("feature '%s' %s in the variant, %s in the problem"):format(f,
        v[f] and "on" or "off", pr[f] and "on" or "off")
    end
  end
  return true
end

-- A built-in choice that is always valid: used when no tuning result applies.
function M.choose(pr, arch)
  if pr.dir == "bwd" then
    local last = ""
    for _, fam in ipairs(arch == 90 and S.SM90_BWD_FIRST and { "sm90", "sm80" } or { "sm80" }) do
      for _, t in ipairs(S.bwd_tiles_of(fam, pr.d)) do
        local v = { dir = "bwd", family = fam, d = pr.d, dtype = pr.dtype, bm = t[1], bn = t[2],
          warps = t[3], stages = t[4], g = 1, pos = pr.pos or nil, seg = pr.seg or nil, softcap = pr.softcap or nil }
        local ok, why = S.check(v, arch)
        if ok and not S.bwd_first_choice(v) then ok, why = false, "not a first choice until it has run on a GPU" end
        if ok then
          return M.key(v), ("heuristic: first %s backward tile of the %d-dim list that fits sm_%s"):format(fam, pr.d,
            tostring(arch))
        end
        last = (" (the last tried, %s: %s)"):format(M.key(v), why)
      end
    end
    return nil, ("no backward variant fits head_dim %s on sm_%s%s"):format(tostring(pr.d), tostring(arch), last)
  end
  -- Pack query heads when one kv head's queries are too few to fill a tile.
  local g = 1
  for _, c in ipairs({ 8, 4, 2 }) do
    if pr.group % c == 0 and pr.tq * 8 < 128 * c then g = c; break end
  end
  -- On sm_90a the Hopper family first: on the H100 it ran the forward 1.1-2.3x
  -- faster than sm80 on every shape of the original grid (docs/PERF.md).
  local fams = arch == 90 and { "sm90", "sm80" } or { "sm80" }
  for _, fam in ipairs(fams) do
    for pass = 1, 2 do
      for _, t in ipairs(S.fwd_tiles(fam, pr.d)) do
        local v = { dir = "fwd", family = fam, d = pr.d, dtype = pr.dtype, bm = t[1], bn = t[2],
          warps = t[3], stages = 2, g = pass == 1 and g or 1, pos = pr.pos or nil, seg = pr.seg or nil,
          softcap = pr.softcap or nil }
        if S.check(v, arch) then
          if fam == "sm90" and S.sm90_prefer_persist(v) then
            local pv = { persist = true }
            for k, x in pairs(v) do pv[k] = x end
            if in_default_space(M.key(pv)) and S.check(pv, arch) then v = pv end  -- one the sweep covers
          end
          return M.key(v), ("heuristic: first %s tile of the %d-dim list that fits sm_%s, GQA pack %d%s"):format(
            fam, pr.d, tostring(arch), v.g, v.persist and ", persistent grid" or "")
        end
      end
    end
  end
  return nil, ("no variant fits head_dim %s on sm_%s"):format(tostring(pr.d), tostring(arch))
end

return M
