#!/usr/bin/env bash
# Device calls on the H200 (2026-12-01), each writing under $OUT:
#   sweep  the correctness sweep over every variant, the API tests on the GPU, the host time
#          per call, the card's bf16 matrix throughput; then forward+backward on the original
#          grid and the Gemma d=256 shapes (fa-tune bench --tuned beside peer_bench.py, FA2 and
#          cuDNN) and, as a second harness, bench/peers.py on four long causal shapes
#          (bench/shapes_crosscheck.jsonl), forward and forward+backward, fa beside FA2.
#   peers  the sweep again, the cross-harness check again (fa-tune bench now times as do_bench),
#          forward and forward+backward on the same grid beside FA2 and cuDNN, bench/peers.py on the Gemma
#          grid (every peer, FlexAttention included), forward and forward+backward, with the
#          peak extra memory at S = 8192.
#   final  both grids again beside the peers, the runtime's selection from the committed tuning.db.
#   persist  the sm90 forward's persistent grid (and, in build/fa-tune-pp, d256 with turns):
#          verify every sm90 forward variant, then each against its plain-grid twin per
#          shape (fa-tune bench --all), and cuDNN's forward on the same shapes.
#   ptune  the persistent grid in one call: a smoke run (a hang ends the call), verify every sm90
#          forward variant, the forward re-tuned (the H200's forward winners dropped from a copy
#          of tuning.db, fa-tune --gpu auto --no-bwd), then the forward grid with that
#          selection beside FA2 and cuDNN, and d256 with turns (build/fa-tune-pp) A/B.
#          build/fa-tune-pp: this tree built apart with S.sm90_pingpong true for every
#          12-warp tile (the d256 change of the pp phase, tried first as a second binary).
#   pp     d256 with turns (ping-pong) in the shipped code: smoke, verify every sm90 forward
#          variant, the H200's d256 forward winners re-tuned, the forward grid with the tuned
#          selection beside FA2 and cuDNN, the Gemma grid's forward beside every peer, host time.
#   tune   fa-tune --gpu auto on the default grid, forward and backward, into a user database
#          that starts as the shipped tuning.db (its H100 rows stay), shipped compact as
#          $OUT tuning.db; then the winners exported and run with NVRTC made unavailable, the
#          tuned selection from the shipped file alone, and the host time per call.
#   prof   the softcap MUFU twins (bench/build_alt.sh: h2, h2e1, h2e2, e1) verified and timed
#          against this build on softcap shapes, then Nsight Compute on fa's d128 forward
#          (plain and persistent, S = 2048 and 4096) and cuDNN's on the same shapes, the
#          warp stalls per SASS line of fa's plain kernel, and the export run without NVRTC.
#   tma    O stored by TMA (plain grid): smoke, verify every sm90 forward variant, the API tests,
#          this build against build/fa-tune-notma (bench/build_alt.sh) on the d128 and d256
#          two-consumer tiles, host time, then the forward grid beside FA2 and cuDNN.
#   epi    stmatrix epilogue, wgmma descriptors by one add, the running max moved only past a
#          slack of 8: smoke, verify, API tests, this build against build/fa-tune-slack0 (slack
#          0) and build/fa-tune-tma (the commit before), then the forward grid beside the peers.
#   retune the forward after this session's kernel changes: smoke, every H200 forward winner
#          re-tuned (texts changed), the forward grid beside FA2 and cuDNN, the Gemma grid's
#          forward beside every peer, host time.
#   xitem  the persistent grid crossing items (two Q buffers: the next item's first S beside this
#          item's last P V and epilogue) and the tensor maps kept per plan: smoke, verify every
#          sm90 forward variant, the API tests, this build against build/fa-tune-main (the commit
#          before, REV=48d0803 bench/build_alt.sh main ''), host time per call.
#   lpt    the plain grid's launch order (fwd_grid_item, reverted; lpt: chunks of 16 head
#          pairs, tile-major, heavy causal tiles first): smoke, verify every forward variant, the
#          API tests, this build against build/fa-tune-main (the order before) per variant on
#          seed4 and d256 and with the tuned selection on seed4, d256 and the Gemma grid.
#          lpt2: the same with chunks of about two waves, causal only.
#   last   the session's final state (templates as the committed tuning.db was tuned with, the
#          tensor maps kept per plan): the whole sweep, the API tests, host time, the export run
#          without NVRTC, the forward grid beside FA2 and cuDNN, the Gemma grid beside every peer.
#   splits the openpi rows (segments; Pi0 prefill's 102 CTAs leave the card half idle) timed
#          with every fitting variant at each forced split-KV count (fa-tune bench --splits N)
#          and at fa's choice (0): the data for choose_splits.
#   stune  after the split-KV bound (runtime/fa_plan.c choose_splits): the H200's forward
#          winners of the position/segment buckets re-tuned, the Gemma grid beside every peer.
#   fb     forward+backward on both grids with the re-tuned tuning.db beside FA2 and cuDNN, the
#          winners exported and run with NVRTC made unavailable.
#   qs     three forward changes at once: the partial tiles' mask as one key range per row, a
#          third K/V stage (m128n128), and (build/fa-tune-rsq) Q in registers for S = Q K^T:
#          smoke, verify every sm90 forward variant (and the m128n128 ones of fa-tune-rsq), the API
#          tests, then per variant this build, fa-tune-rsq and fa-tune-main (the commit before)
#          on ten d128 shapes and three causal d256 ones.
#   slope  where the forward's time goes: Tq = 2048 against Tk = 512..8192 (d128 32/32, d256
#          16/16, not causal; bench/shapes_slope.jsonl), fa's plain and persistent tiles and
#          cuDNN and FA2, so that time = a + b * Tk splits per-CTA overhead from the key loop;
#          then Nsight Compute on fa's d128 S=2048 kernel (pipes, stalls per SASS line).
#   trace  SM 0's work items timed inside the kernel (build/fa-tune-trace, bench/trace/): d128
#          m128n128 plain and persistent at Tq = 2048, Tk = 512 and 2048; and build/fa-tune-pf
#          (the tensor maps prefetched at entry) against this build on the qs phase's shapes.
#   diag   the key loop's parts: twins of d128 m128n128 without the softmax (nosm), without its
#          exp2 (nomufu), without P V (nopv), without turns (noturn), each timed at Tq = 2048
#          and Tk = 512..8192 beside this build, so the slopes say what bounds the loop.
#   wfix   P V's wait after the softmax (ptxas had scheduled it first): smoke, the whole sweep,
#          the API tests, then this build against build/fa-tune-prev (the commit before) per
#          variant on the qs phase's d128 shapes and the d256 grid, and with the tuned selection
#          on the Gemma grid.
#   final3 after wfix: every H200 forward winner re-tuned (the texts changed), the forward grid
#          beside FA2 and cuDNN, the export run without NVRTC, host time, the Gemma grid beside
#          every peer.
#   again  the forward grid beside FA2 and cuDNN once more (a second sample of final3's table).
#   obuf   the persistent grid's O in a buffer of its own (TMA store under the next item) and the
#          next item's Q in a second buffer: smoke, verify every sm90 forward variant (and the
#          persistent ones of build/fa-tune-q1, one Q buffer), the API tests, then per variant
#          this build, fa-tune-q1 and fa-tune-prev (the commit before) on the ten d128 shapes.
#   snake  the persistent walk reversing every other round (build/fa-tune-nosnake: not): smoke,
#          verify the persistent variants, per variant both builds on the ten d128 shapes and
#          the d256 grid; the sm90 backward with dP's wait after the exp2 against
#          build/fa-tune-oldbwd (the commit before): verify, then per variant on the d128 shapes
#          and four d256 ones; then every H200 forward winner re-tuned with the faster forward.
#   final4 after snake (its re-tuned tuning.db, the backward's change reverted): smoke, verify
#          every sm90 forward variant, the API tests, the forward grid beside FA2 and cuDNN, the
#          export run without NVRTC, host time, the Gemma grid beside every peer.
#   again4 a second sample after final4: the forward grid beside FA2 and cuDNN, the Gemma grid
#          beside every peer, forward+backward on the forward grid beside FA2 and cuDNN.
#   m64    the d256 one-consumer tile (m64n64 w8, one CTA per SM) added to the space: smoke,
#          verify its variants, the API tests, the H200's d256 forward winners re-tuned, the
#          Gemma grid beside every peer, the forward grid beside FA2 and cuDNN, the export run
#          without NVRTC.
#   check  the final state's correctness: fa-tune verify over every variant of both families,
#          forward and backward, and the API tests on the GPU.
#   close  the three d128 rows nearest cuDNN (bench/shapes_d128_close.jsonl), fa's tuned selection
#          and peer_bench.py's cuDNN and FA2 in turn, four rounds in one call: the spread of
#          each from round to round.
#   dqbulk the sm90 backward's dQ by bulk reductions from shared memory (a tiled accumulator):
#          smoke, verify every backward variant, the API tests, then every sm90 backward variant
#          of this build and of build/fa-tune-prev (REV=<the commit before> bench/build_alt.sh prev '')
#          on the ten d128 shapes and three d256 ones (forward+backward), Nsight Compute on d128.
#          The second run (after dqdbg): the same with build/fa-tune-t2 beside, then retune_bwd.
#   dqdbg  why the first dqbulk run failed verify where query heads were split: this build and two
#          twins built by hand (t1: per-thread reductions into the tiled layout; t2: a full wait
#          after every bulk reduction), verify on the d128 m64n128 backward variants.
#   bwdfin the backward re-tune resumed from .tune/user.db (carried), then forward+backward on
#          both grids beside FA2 and cuDNN, the export run without NVRTC.
#   bwdtune2 the re-tune resumed again with the disk cache filled on the CPU machine
#          (fa-tune compile --arch sm_90a --cache .tune/cache90, carried).
#   bprof  Nsight Compute on the sm90 backward (d128 m64n128 plain and causal, d256 m64n64, B=4 S=4096) and on cuDNN's backward kernels for the same shapes; the stall samples per SASS line of the d128 fa_bwd_dkdv.
#   gqa    d128 GQA packing in the space: build/fa-tune-gqa first, with
#          bench/build_alt.sh gqa 'table.insert(S.default, { d = { 128 }, dtype = { "bf16" }, g = { 2, 4 }, feats = { {} } })'
#          (its 14 new sm90 variants compile for sm_90a without spills, 2026-12-02); then verify
#          them and time every d128 variant of that build on the seed4 32/8 rows (group 4);
#          then the API tests, and fa-bench on the seed grid with the heuristic and the tuned selection.
#   cut    (ran at commit 1797a63, since reverted: its fa-tune had --no-workspace) the persistent
#          grid's last round cut over the keys (stream-K, where every item has the same key
#          tiles; only in a caller's workspace): smoke, verify every sm90 forward variant (small
#          persistent grids of 3 and 5 CTAs cut mid-item), the API tests, then the tuned
#          selection on seed4 with a workspace, without one (no cut) and in build/fa-tune-prev
#          (REV=32822dd bench/build_alt.sh prev ''), twice, and cuDNN's forward on seed4's shapes.
#   check5 after the cut's revert: smoke, the whole sweep (both families; persistent variants
#          also on grids of 3 and 5 CTAs), the API tests, the 53 H200 backward buckets whose
#          winners had no text hash re-tuned (disk cache: build/tests/cache90, filled on the CPU
#          machine), the export run without NVRTC, then the three d128 rows nearest cuDNN, four
#          rounds as in close.
#   dqkeys (ran at commit 6a4eef9, since reverted) the sm90 backward's dQ split by keys where each warpgroup owns its keys (d64 and d128
#          m64n128), its barrier between the phases then per warpgroup: smoke, verify every sm90
#          backward variant, the API tests, then every sm90 backward variant of this build and of
#          build/fa-tune-cols (bench/build_alt.sh cols 'function S.bwd_dq_keys(v) return false end':
#          dQ by columns, as before) on the ten d128 shapes and two d64 ones, forward+backward, twice.
#   gemmabwd the Gemma grid forward+backward beside FA2, cuDNN and FlexAttention (run as this
#          phase's command line by hand on 2026-12-03, after bfin; logs under gemmabwd/).
#   blazy  the RS2 backward's dK, dV products left running under the next chunk's S^T, dP^T (their
#          wait folded into the next S^T wait) against build/fa-tune-pp1 (b09d8ac), d128 and d64
#          m64n128, forward+backward, twice; then, if it won by 0.5%, the backward re-tuned with
#          it, else bfin's grid with fa-tune-pp1.
#   bfin   forward+backward on the seed4 and d256 grids with the re-tuned selection beside FA2 and
#          cuDNN; the export run with NVRTC made unavailable.
#   bmerge the sm90 backward's step with one CTA barrier (the next item's copies issued after the
#          barrier that ends the previous step) against two (build/fa-tune-pp1: REV=b09d8ac
#          bench/build_alt.sh pp1 ''), as in bpp; then the backward re-tuned with whichever won.
#   bpp    the sm90 backward's warpgroups taking turns at the tensor cores: smoke, verify every sm90
#          backward variant, the API tests, then every sm90 backward variant of this build and of
#          build/fa-tune-nopp (bench/build_alt.sh nopp 'function S.sm90_bwd_pingpong(v) return
#          false end': lock-step, as before) on the ten d128 shapes, two d64 and three d256 ones,
#          forward+backward, twice.
#   final5 the session's final state for issue 7's table: the forward grid (seed4 and the d256
#          shapes) beside FA2 and cuDNN, the Gemma grid beside every peer, the card's bf16 matrix
#          throughput (bench/matmul_peak.py), host time per call.
#   udesc  the warp index by a shuffle (S.sm90_uniform_warp: wgmma descriptors in uniform
#          registers): smoke, verify every sm90 variant, the API tests, then this build against
#          build/fa-tune-main (REV=5bb1d69 bench/build_alt.sh main ''), the forward's d128
#          m128n128 and d256 m128n80 variants on the ten d128 and three d256 A/B shapes, and
#          every sm90 backward variant as in bpp, forward+backward, twice each.
#   ufwd   the H200's forward winners re-tuned (every sm90 forward text changed: the warp index by
#          a shuffle kept for the forward only), then the forward grid beside FA2 and cuDNN.
#   vcheck the final state in one call: verify every sm90 variant, the API tests, the forward
#          grid beside FA2 and cuDNN.
#   ufin   the Gemma grid beside every peer, the export run without NVRTC, host time per call,
#          the three d128 rows nearest cuDNN four times.
#   bdp    the sm90 backward's dP^T wait behind a vote over the chunk's P (tried in the snake call
#          before the warpgroups took turns, 0.98x then): smoke, verify every sm90 backward
#          variant, the API tests, then this build against build/fa-tune-base (REV=6229a69
#          bench/build_alt.sh base '') on the ten d128 and two d64 shapes, forward+backward, twice.
#   bdpfin after bx's second call (dQ without a turn where the warpgroups share a key group):
#          the H200's backward winners re-tuned, then forward+backward on both grids beside FA2
#          and cuDNN.
#   dfin   after bdpfin's tuning.db is committed: the export run with NVRTC made unavailable, then
#          the Gemma grid forward+backward beside every peer (as gemmabwd).
#   bx     backward twins against this build (bench/build_alt.sh NAME '' on an edited tree), every
#          sm90 backward variant on the ten d128, two d64 and three d256 shapes, forward+backward,
#          twice each (ab_NAME.md: this build as B over the twin as A): w0, both S^T and dP^T
#          waited for before the exp2; dqnt, dQ's product issued without a turn. Second call
#          (CHECK=1 TWINS='base p2nt p1nt', after S.sm90_bwd_dq_turn): smoke, verify every sm90
#          backward variant and the API tests first; base is the commit before (REV=6229a69);
#          p2nt and p1nt leave out the turn of phase 2 and of phase 1 where the warpgroups share
#          a key group.
#   bprod  the sm90 backward with a producer warpgroup (12 warps: TMA loads on mbarriers, the
#          consumers at 240 registers, their barriers named): smoke (a hang ends the call), verify
#          every sm90 backward variant, the API tests, then every sm90 backward variant of this
#          build and of build/fa-tune-main (REV=main bench/build_alt.sh main '') on the ten d128,
#          two d64 and three d256 shapes, forward+backward, twice: ab.md the 8-warp tiles against
#          the commit before's (their text changed too), ab_w12.md the 12-warp ones against those.
#   bprod2 two changes to the producer variants: dS^T in two tiles by step parity where P^T stays
#          in registers (no barrier ends a step: d64, d128 m64n128) and d256's dQ by bulk
#          reductions staged in the step's dO and Q tiles: smoke, verify every sm90 backward
#          variant, the API tests, then the 12-warp variants of this build and of
#          build/fa-tune-prod1 (REV=<bprod's commit> bench/build_alt.sh prod1 '') as in bprod.
#          (d256 faulted: its barriers lay past the shared memory it was given; dS^T in two tiles
#          ran 0.99x and was dropped.)
#   bprod3 d256's dQ staged in the step's dO and Q tiles, the barriers' offset fixed: smoke, verify
#          every sm90 backward variant, the API tests, the d256 12-warp variant against
#          build/fa-tune-prod1 on five d256 shapes, twice; if it won and verify passed, the
#          H200's backward winners re-tuned (retune_bwd).
#   ptok   the 12-warp backward with positions and segments (the producer names each step's
#          item in a slot; 2026-12-04, compiled only): smoke on the d256 pos_seg one (a hang ends
#          the call), verify every 12-warp sm90 backward variant, the API tests; if verify passed,
#          the H200's backward winners re-tuned (every sm90 backward text changed) and tok.md
#          from that run's measurements: per bucket the best 12-warp token tile as B over the
#          best 8-warp one as A (bench/bucket_ab.py), then the API tests with the new selection.
#   ptune  the re-tune alone, should ptok's have been cut short.
#   pfin   after bprod3's tuning.db is committed: forward+backward on both grids beside FA2 and
#          cuDNN, the export run with NVRTC made unavailable, the Gemma grid forward+backward
#          beside every peer (as gemmabwd).
set -u
# Everything lands in one folder, packed into $OUT/<phase>.tgz at exit ($OUT takes 8 files).
F=/tmp/fa-out/${1:-sweep}; mkdir -p "$F"
pack() { tar czf "${OUT:-/tmp}/${PHASE}.tgz" -C "$F" .; }
PHASE=${1:-sweep}; trap pack EXIT
export PYTHONUNBUFFERED=1 FA_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; pack; }  # packed after each step: a kill keeps what ran
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.limit --format=csv | tee "$F/gpu.txt"
grid() {  # $1 = fwd|fwdbwd: fa's tuned selection and the peers on the original grid + d256
  for g in seed4 d256; do
    timeout 150 ./build/fa-tune bench --grid $g --mode $1 --tuned --reps 10 --json "$F/fa_$1_$g.jsonl" > "$F/fa_$1_$g.txt" 2>&1
  done
  cat "$F/fa_$1_seed4.jsonl" "$F/fa_$1_d256.jsonl" > "$F/fa_$1.jsonl"
  stamp "fa $1 grid"
  timeout 240 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes $1 --peers flash,cudnn \
    --json "$F/peers_$1.jsonl" > "$F/peers_$1.txt" 2>&1
  stamp "peer_bench $1 rc=$?"
  python3 bench/compare.py "$F/fa_$1.jsonl" "$F/peers_$1.jsonl" --mode $1 > "$F/compare_$1.md"
}
cross() {  # four long causal shapes in both harnesses, the SM clock and power sampled every 100 ms
  nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -lms 100 > "$F/cross_clocks.csv" 2>&1 &
  local smi=$!
  timeout 150 python3 bench/peers.py --shapes bench/shapes_crosscheck.jsonl --modes fwd,fwdbwd --peers flash --rep 100 \
    --md "$F/cross_peers.md" --json "$F/cross_peers.jsonl" > "$F/cross_peers_log.txt" 2>&1
  stamp "peers.py crosscheck rc=$?"
  # The same shapes in fa-tune bench: this build against the last session's (build/fa-tune-old,
  # carried: a repeated input block, dO = Q, a sync after each repetition), same call.
  cs="--shape 4,8192,8192,8,1,256,causal --shape 4,4096,4096,8,1,256,causal --shape 4,8192,8192,16,16,256,causal --shape 4,8192,8192,32,8,128,causal"
  for m in fwd fwdbwd; do for b in fa-tune fa-tune-old; do
    echo "== $b $m"; timeout 60 ./build/$b bench $cs --mode $m --tuned --reps 20 | grep "^| [ds]"
  done; done > "$F/cross_fatune.txt" 2>&1
  stamp "fa-tune crosscheck"
  kill $smi 2>/dev/null
}
sm90_checks() {  # every sm90 forward variant against the reference, and the API tests on the GPU
  timeout 150 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$F/verify.txt" 2>&1
  stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
  timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
}
ab() {  # $1 binary, $2 grid, $3 filter, $4 output tag, $5 timeout: every fitting variant timed
  timeout $5 ./build/$1 bench --grid $2 --filter "$3" --all --reps 10 > "$F/ab_$4.txt" 2>&1; stamp "ab $4 rc=$?"
}
retune_fwd() {  # $1: an SQL condition on buckets.exact; the H200's forward winners there dropped, re-tuned
  mkdir -p /tmp/tune && cp tuning.db /tmp/tune/user.db
  python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute(\"delete from winners where gpu_id in (select id from gpus where name like '%H200%') and bucket_id in (select id from buckets where exact not like 'bwd%' and ($1))\"); c.commit(); print('winners left:', c.execute('select count(*) from winners').fetchone()[0])"
  timeout 330 ./build/fa-tune --gpu auto --no-bwd --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
  stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -8
  cp "$F/tuning.db" tuning.db
}
retune_bwd() {  # the H200's backward winners dropped and re-tuned (the forward buckets keep theirs)
  mkdir -p /tmp/tune && cp tuning.db /tmp/tune/user.db
  python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute(\"delete from winners where gpu_id in (select id from gpus where name like '%H200%') and bucket_id in (select id from buckets where exact like 'bwd%')\"); c.commit(); print('winners left:', c.execute('select count(*) from winners').fetchone()[0])"
  timeout ${1:-330} ./build/fa-tune --gpu auto --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
  stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -8
  [ -f "$F/tuning.db" ] || cp /tmp/tune/user.db "$F/tuning_partial.db"  # a run cut short resumes from this
}
close_rows() {  # the three d128 rows nearest cuDNN: fa's tuned selection and peer_bench.py in turn, four rounds
  local SC="--shape 4,2048,2048,32,32,128 --shape 4,2048,2048,32,8,128 --shape 4,4096,4096,32,8,128"
  for r in 1 2 3 4; do
    timeout 40 ./build/fa-tune bench $SC --mode fwd --tuned --reps 10 --json "$F/fa_$r.jsonl" > "$F/fa_$r.txt" 2>&1
    timeout 60 python3 .peers/peer_bench.py --shapes bench/shapes_d128_close.jsonl --modes fwd --peers flash,cudnn \
      --json "$F/peers_$r.jsonl" > "$F/peers_$r.txt" 2>&1
    python3 bench/compare.py "$F/fa_$r.jsonl" "$F/peers_$r.jsonl" --mode fwd > "$F/compare_$r.md"
    stamp "round $r"; grep "^| shape_" "$F/compare_$r.md" | cut -c1-150
  done
}
smoke() {  # $1: a variant filter; a hang (timeout) ends the call
  timeout ${SMOKE_S:-40} ./build/fa-tune verify --filter "$1" > "$F/smoke.txt" 2>&1
  local rc=$?; stamp "smoke rc=$rc"; tail -1 "$F/smoke.txt"; [ $rc = 124 ] && exit 1
}
d128_ab_shapes() {  # the ten d128 shapes of the qs, trace and wfix A/B runs, as --shape flags
  for c in "" ",causal"; do
    for s in 2048 4096 8192; do echo -n " --shape 4,$s,$s,32,32,128$c"; done
    for s in 2048 4096; do echo -n " --shape 4,$s,$s,32,8,128$c"; done
  done
}
export_nonvrtc() {  # the winners exported, then the Gemma grid run from the export with NVRTC made unavailable
  ./build/fa-tune export --out /tmp/fa-export --db tuning.db > "$F/export.txt" 2>&1; tail -1 "$F/export.txt"
  FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
    timeout 40 ./build/fa-tune bench --grid gemma --tuned --mode fwd --reps 5 --rep-ms 0 > "$F/nonvrtc.txt" 2>&1
  stamp "no nvrtc rc=$?"; echo "plans from export: $(grep -c "kernel from export" "$F/nonvrtc.txt"), from nvrtc: $(grep -ci "kernel from nvrtc" "$F/nonvrtc.txt")"
}
host_time() {  # host time per fa_forward of a cached plan, three runs
  for r in 1 2 3; do ./build/fa-tune bench --grid seed4 --host; done > "$F/host.txt" 2>&1; grep "host time" "$F/host.txt"
}
persist_ab() {  # $1 label, $2 A's and $3 B's `bench --all` output: persistent against persistent, B's against its plain grid, best against best
  echo "== $1: persistent"; python3 bench/variants_ab.py --a '^a:.*_persist$' --b '^b:.*_persist$' "a=$2" "b=$3"
  echo "== $1: B's persistent against its plain grid"; python3 bench/variants_ab.py --a '^b:.*_g[0-9]$' --b '^b:.*_persist$' "b=$3"
  echo "== $1: best variant"; python3 bench/variants_ab.py --a '^a:' --b '^b:' "a=$2" "b=$3"
}
gemma_fwd() {  # the Gemma grid's forward beside every peer (bench/peers.py)
  timeout ${1:-150} python3 bench/peers.py --grid gemma --modes fwd --rep 50 --csv "$F/peers_gemma.csv" \
    --md "$F/peers_gemma.md" --json "$F/peers_gemma.jsonl" > "$F/peers_gemma_log.txt" 2>&1
  stamp "gemma rc=$?"; cut -c1-260 "$F/peers_gemma.md"
}
D64_AB="--shape 4,4096,4096,16,16,64 --shape 4,4096,4096,16,16,64,causal"
D256_AB="--shape 4,4096,4096,8,1,256 --shape 4,4096,4096,8,1,256,causal --shape 4,4096,4096,16,16,256"
checks() {  # $1 smoke variant, $2 verify filter, $3 its timeout: smoke, verify, the API tests; nf = verify's FAIL lines, vrc its status
  smoke "$1"
  timeout "$3" ./build/fa-tune verify --filter "$2" --quiet > "$F/verify.txt" 2>&1
  vrc=$?; stamp "verify rc=$vrc"; tail -1 "$F/verify.txt"; nf=$(grep -c FAIL "$F/verify.txt")
  timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
}
bwd_check() { checks bwd_sm90_d128_bf16_m64n128_w8_s2_g1 bwd_sm90 150; }
carried_cache() {  # the disk cache filled on the CPU machine (fa-tune compile --arch sm_90a --cache .tune/cache90)
  mkdir -p /tmp/fa-cache && cp .tune/cache90/* /tmp/fa-cache/
}
# This build (B) against build/$1 (A): every backward variant matching $2 on the shapes $4,
# forward+backward, two rounds; ab.md has a table per round and pattern ($5...), titled $3.
bwd_twin_ab() {
  local twin=$1 filter=$2 what=$3 sh=$4; shift 4
  for r in 1 2; do for b in fa-tune $twin; do
    timeout ${ABT:-120} ./build/$b bench $sh --mode fwdbwd --filter $filter --all --reps 10 > "$F/ab_${b}_$r.txt" 2>&1; stamp "ab $b $r rc=$?"
  done; done
  { for r in 1 2; do for t in "$@"; do
      echo "== round $r: $t, $what"
      python3 bench/variants_ab.py --a "^a:.*$t" --b "^b:.*$t" "a=$F/ab_${twin}_$r.txt" "b=$F/ab_fa-tune_$r.txt"
    done; done; } > "$F/ab.md" 2>&1
  grep "==\|geometric" "$F/ab.md"
}
ab_winner() {  # fa-tune if ab.md's geometric means average at least $2, else $1
  python3 - "$F/ab.md" "$1" "$2" <<'P'
import re, sys, math
g = [float(m) for m in re.findall(r"geometric mean over \d+ shapes: ([0-9.]+)", open(sys.argv[1]).read())]
print("fa-tune" if g and math.prod(g) ** (1 / len(g)) >= float(sys.argv[3]) else sys.argv[2])
P
}
case ${1:-sweep} in
  bwdtune2)  # the backward re-tune resumed once more from .tune/user.db (58 of 111 done), the disk cache
             # filled beforehand on the CPU machine (fa-tune compile --arch sm_90a --cache, carried in .tune/cache90)
    mkdir -p /tmp/tune && cp .tune/user.db /tmp/tune/user.db && carried_cache
    timeout 215 ./build/fa-tune --gpu auto --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -6; grep -c "kernel from nvrtc" "$F/tune.txt"
    if [ ! -f "$F/tuning.db" ]; then
      python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute('pragma wal_checkpoint(TRUNCATE)'); c.execute(\"vacuum into '$F/tuning_partial.db'\")"
      stamp "partial saved"
    fi ;;
  bwdfin)  # the backward re-tune resumed (.tune/user.db, carried: the dqbulk call's partial run), then
           # forward+backward on both grids with that selection beside cuDNN, the export without NVRTC
    mkdir -p /tmp/tune && cp .tune/user.db /tmp/tune/user.db
    timeout 200 ./build/fa-tune --gpu auto --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -6
    [ -f "$F/tuning.db" ] && cp "$F/tuning.db" tuning.db
    for g in seed4 d256; do
      timeout 120 ./build/fa-tune bench --grid $g --mode fwdbwd --tuned --reps 10 --json "$F/fa_fwdbwd_$g.jsonl" > "$F/fa_fwdbwd_$g.txt" 2>&1
      stamp "fa $g rc=$?"
    done
    cat "$F/fa_fwdbwd_seed4.jsonl" "$F/fa_fwdbwd_d256.jsonl" > "$F/fa_fwdbwd.jsonl"
    timeout 170 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes fwdbwd --peers flash,cudnn \
      --json "$F/peers_fwdbwd.jsonl" > "$F/peers_fwdbwd.txt" 2>&1
    stamp "peer_bench rc=$?"
    python3 bench/compare.py "$F/fa_fwdbwd.jsonl" "$F/peers_fwdbwd.jsonl" --mode fwdbwd > "$F/compare_fwdbwd.md"
    tail -4 "$F/compare_fwdbwd.md"
    export_nonvrtc ;;
  dqdbg)  # why dqbulk's verify failed with split head groups: twins built by hand (not kept)
    for b in fa-tune fa-tune-t1 fa-tune-t2; do
      timeout 60 ./build/$b verify --filter "bwd_sm90_d128_bf16_m64n128_w8_s2_g1" > "$F/verify_$b.txt" 2>&1
      stamp "$b verify rc=$?"; grep -c FAIL "$F/verify_$b.txt"; grep " atom " "$F/verify_$b.txt" | head -8 | cut -c1-140
    done ;;
  final5)
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    gemma_fwd 170
    timeout 60 python3 bench/matmul_peak.py > "$F/matmul_peak.txt" 2>&1; tail -1 "$F/matmul_peak.txt"
    host_time ;;
  dfin)
    carried_cache
    export_nonvrtc
    ;&
  gemmabwd)  # the Gemma grid's forward+backward beside every peer (bench/peers.py)
    timeout ${GEMMA_S:-270} python3 bench/peers.py --grid gemma --modes fwdbwd --rep 20 --md "$F/peers_gemma_fwdbwd.md" \
      --json "$F/peers_gemma_fwdbwd.jsonl" > "$F/peers_gemma_fwdbwd_log.txt" 2>&1
    stamp "gemma fwdbwd rc=$?"; cut -c1-220 "$F/peers_gemma_fwdbwd.md" ;;
  blazy)
    bwd_check
    bwd_twin_ab fa-tune-pp1 m64n128 "the dK, dV wait left to the next chunk (B) against after each chunk (A)" \
      "$(d128_ab_shapes) $D64_AB" 'd128' 'd64'
    win=$(ab_winner fa-tune-pp1 1.005); echo "winner $win (verify FAIL lines: $nf)"
    if [ "$nf" = 0 ] && [ "$win" = fa-tune ]; then retune_bwd 330
    else cp build/fa-tune-pp1 build/fa-tune; grid fwdbwd; tail -4 "$F/compare_fwdbwd.md"; export_nonvrtc; fi ;;
  udesc)
    carried_cache
    checks d128_bf16_m128n128_w12_s2_g1_persist sm90 200
    FSH="$(d128_ab_shapes)"
    for r in 1 2; do for b in fa-tune fa-tune-main; do
      timeout 90 ./build/$b bench $FSH --mode fwd --filter "sm90 d128_bf16_m128n128" --all --reps 10 > "$F/fab_${b}_$r.txt" 2>&1
      timeout 60 ./build/$b bench $D256_AB --mode fwd --filter "sm90 d256_bf16_m128n80" --all --reps 10 >> "$F/fab_${b}_$r.txt" 2>&1
      stamp "fwd ab $b $r rc=$?"
    done; done
    { for r in 1 2; do for t in 'd128.*_persist' 'd128.*_g1' 'd256.*_persist' 'd256.*_g[0-9]'; do
        echo "== round $r: forward $t$, the warp index by a shuffle (B) against plain (A)"
        python3 bench/variants_ab.py --a "^a:.*$t\$" --b "^b:.*$t\$" "a=$F/fab_fa-tune-main_$r.txt" "b=$F/fab_fa-tune_$r.txt"
      done; done; } > "$F/fab.md" 2>&1
    grep "==\|geometric" "$F/fab.md"
    bwd_twin_ab fa-tune-main sm90 "the warp index by a shuffle (B) against plain (A)" \
      "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256'
    echo "verify FAIL lines: $nf" ;;
  ufwd)
    carried_cache
    retune_fwd "1"
    grid fwd; cut -c1-220 "$F/compare_fwd.md" ;;
  vcheck)  # the committed state in one call: verify every sm90 variant, the API tests, the forward grid beside FA2 and cuDNN
    carried_cache
    checks d128_bf16_m128n128_w12_s2_g1_persist sm90 200
    grid fwd; cut -c1-220 "$F/compare_fwd.md" ;;
  ufin)  # after ufwd's tuning.db is committed
    gemma_fwd 150
    export_nonvrtc
    host_time
    close_rows ;;
  bdp)
    carried_cache
    bwd_check
    bwd_twin_ab fa-tune-base sm90 "dP^T's wait behind a vote (B) against before (A)" \
      "$(d128_ab_shapes) $D64_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64'
    echo "winner $(ab_winner fa-tune-base 1.005) (verify FAIL lines: $nf)" ;;
  bx)
    carried_cache
    [ -n "${CHECK:-}" ] && bwd_check
    for tw in ${TWINS:-w0 dqnt}; do
      bwd_twin_ab fa-tune-$tw sm90 "this build (B) against $tw (A)" \
        "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256'
      mv "$F/ab.md" "$F/ab_$tw.md"
    done ;;
  bprod)
    carried_cache
    checks bwd_sm90_d128_bf16_m64n128_w12_s2_g1 bwd_sm90 200
    ABT=200 bwd_twin_ab fa-tune-main sm90 "this build (B) against the commit before (A), 8 warps" \
      "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128.*_w8' 'd128.*m64n64.*_w8' 'd64.*_w8' 'd256.*_w8'
    { for r in 1 2; do for t in 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256'; do
        echo "== round $r: $t, the producer warpgroup (B, 12 warps) against the commit before's 8 warps (A)"
        python3 bench/variants_ab.py --a "^a:.*$t.*_w8" --b "^b:.*$t.*_w12" "a=$F/ab_fa-tune-main_$r.txt" "b=$F/ab_fa-tune_$r.txt"
      done; done; } > "$F/ab_w12.md" 2>&1
    grep "==\|geometric" "$F/ab_w12.md" ;;
  bprod2)
    carried_cache
    checks bwd_sm90_d256_bf16_m64n64_w12_s2_g1 bwd_sm90 200
    bwd_twin_ab fa-tune-prod1 w12 "this build (B) against bprod's (A), 12 warps" \
      "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256' ;;
  bprod3)
    carried_cache
    checks bwd_sm90_d256_bf16_m64n64_w12_s2_g1 bwd_sm90 200
    bwd_twin_ab fa-tune-prod1 w12 "d256's dQ staged in dO, Q (B) against by vector reductions (A), 12 warps" \
      "$D256_AB --shape 4,2048,2048,16,16,256,causal --shape 4,8192,8192,8,1,256,causal" 'd256'
    win=$(ab_winner fa-tune-prod1 1.005); echo "winner $win (verify FAIL lines: $nf)"
    if [ "$nf" = 0 ] && [ "$win" = fa-tune ]; then retune_bwd 420; fi ;;
  ptok)
    carried_cache
    since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    SMOKE_S=90 checks bwd_sm90_d256_bf16_m64n64_w12_s2_g1_pos_seg "bwd_sm90 w12" 240
    if [ "$nf" = 0 ] && [ "$vrc" = 0 ]; then
      retune_bwd 330
      db=$F/tuning.db; [ -f "$db" ] || db=$F/tuning_partial.db
      { python3 bench/bucket_ab.py "$db" --gpu H200 --bucket 'bwd%' --since "$since" \
          --a '_w8_s2_g1_(pos|seg)' --b '_w12_s2_g1_(pos|seg)'
        python3 bench/bucket_ab.py "$db" --gpu H200 --bucket 'bwd%' --since "$since" --a '_w8_' --b '_w12_' | tail -1
      } > "$F/tok.md" 2>&1; cat "$F/tok.md"
      cp "$db" tuning.db
      timeout 60 ./build/tests/test_api gpu > "$F/api_gpu2.txt" 2>&1; stamp "api gpu (re-tuned) rc=$?"; tail -1 "$F/api_gpu2.txt"
    fi ;;
  vall)  # every variant fa may serve on this GPU (the default space and the built-in choice's other
          # keys, fa_gen_list_served), against the reference; then the API tests
    [ -d .tune/cache90 ] && carried_cache
    timeout ${VALL_S:-450} ./build/fa-tune verify > "$F/verify_all.txt" 2>&1
    stamp "verify all rc=$?"; tail -1 "$F/verify_all.txt"; echo "FAIL lines: $(grep -c FAIL "$F/verify_all.txt")"
    grep FAIL "$F/verify_all.txt" | head -20
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt" ;;
  v89tok)  # what fa serves an sm_89 (sm80 family; runs here too), then this GPU's backward buckets with
           # positions or segments re-tuned (the 12-warp producer tiles now among them), and w8 against w12 there
    timeout 200 ./build/fa-tune verify --as sm_89 > "$F/verify_89.txt" 2>&1
    stamp "verify --as sm_89 rc=$?"; tail -1 "$F/verify_89.txt"; echo "FAIL lines: $(grep -c FAIL "$F/verify_89.txt")"
    grep FAIL "$F/verify_89.txt" | head -10
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -o 'H[0-9]*')
    since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    mkdir -p /tmp/tune && cp tuning.db /tmp/tune/user.db
    python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute(\"delete from winners where gpu_id in (select id from gpus where name like '%$gpu%') and bucket_id in (select id from buckets where exact like 'bwd%' and (exact like '%pos%' or exact like '%seg%'))\"); c.commit()"
    timeout ${TUNE_S:-300} ./build/fa-tune --gpu auto --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune ($gpu) rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -6
    [ -f "$F/tuning.db" ] || cp /tmp/tune/user.db "$F/tuning_partial.db"
    db=$F/tuning.db; [ -f "$db" ] || db=$F/tuning_partial.db
    { python3 bench/bucket_ab.py "$db" --gpu "$gpu" --bucket 'bwd%' --since "$since" \
        --a '_w8_s2_g1_(pos|seg)' --b '_w12_s2_g1_(pos|seg)'
      python3 bench/bucket_ab.py "$db" --gpu "$gpu" --bucket 'bwd%' --since "$since" --a '_w8_' --b '_w12_' | tail -1
    } > "$F/tok.md" 2>&1; cat "$F/tok.md" ;;
  pn16)  # the 99 KB GPUs' kernels (sm80 family, which runs here too): the d256 m64n16 backward,
          # then what fa serves an sm_89 with positions or segments (tables made shorter for 99 KB:
          # fwd_table, dq_table; tokkeys_17x12500 goes past them)
    timeout 200 ./build/fa-tune verify --filter m64n16 > "$F/verify_n16.txt" 2>&1
    stamp "verify m64n16 rc=$?"; tail -1 "$F/verify_n16.txt"; grep -c FAIL "$F/verify_n16.txt"
    for w in pos seg; do
      timeout 200 ./build/fa-tune verify --as sm_89 --filter "$w" > "$F/verify_89_$w.txt" 2>&1
      stamp "verify --as sm_89 $w rc=$?"; tail -1 "$F/verify_89_$w.txt"; grep -c FAIL "$F/verify_89_$w.txt"
    done ;;
  ptune)
    carried_cache
    retune_bwd 420
    [ -f "$F/tuning.db" ] && cp "$F/tuning.db" tuning.db
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt" ;;
  pfin)
    carried_cache
    grid fwdbwd; tail -4 "$F/compare_fwdbwd.md"
    export_nonvrtc
    GEMMA_S=300 bash "$0" gemmabwd; cp -r /tmp/fa-out/gemmabwd "$F/" ;;
  bdpfin)
    carried_cache
    retune_bwd 330
    grid fwdbwd; tail -4 "$F/compare_fwdbwd.md" ;;
  bfin)  # after bmerge's tuning.db is committed: forward+backward on both grids beside FA2 and cuDNN,
          # the export without NVRTC
    grid fwdbwd; tail -4 "$F/compare_fwdbwd.md"
    export_nonvrtc ;;
  bmerge)
    bwd_check
    bwd_twin_ab fa-tune-pp1 sm90 "one barrier per step (B) against two (A)" \
      "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256'
    # The backward re-tuned with the build that won (all 18 variants' geometric mean over both rounds)
    win=$(ab_winner fa-tune-pp1 1.0); echo "re-tune with $win (verify FAIL lines: $nf)"
    if [ "$nf" = 0 ]; then [ "$win" = fa-tune-pp1 ] && cp build/fa-tune-pp1 build/fa-tune; retune_bwd 330; fi ;;
  bpp)
    bwd_check
    bwd_twin_ab fa-tune-nopp sm90 "turns (B) against lock-step (A)" \
      "$(d128_ab_shapes) $D64_AB $D256_AB" 'd128.*m64n128' 'd128.*m64n64' 'd64' 'd256' ;;
  dqkeys)
    smoke bwd_sm90_d128_bf16_m64n128_w8_s2_g1
    timeout 150 ./build/fa-tune verify --filter bwd_sm90 --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    SH="$(d128_ab_shapes) --shape 4,4096,4096,16,16,64 --shape 4,4096,4096,16,16,64,causal"
    for r in 1 2; do for b in fa-tune fa-tune-cols; do
      timeout 100 ./build/$b bench $SH --mode fwdbwd --filter sm90 --all --reps 10 > "$F/ab_${b}_$r.txt" 2>&1; stamp "ab $b $r rc=$?"
    done; done
    { for r in 1 2; do
        echo "== round $r: dQ by keys (B) against by columns (A), d128 m64n128"
        python3 bench/variants_ab.py --a '^a:.*d128.*m64n128' --b '^b:.*d128.*m64n128' "a=$F/ab_fa-tune-cols_$r.txt" "b=$F/ab_fa-tune_$r.txt"
        echo "== round $r: d64 m64n128 (by keys in both; B: the barrier per warpgroup)"
        python3 bench/variants_ab.py --a '^a:.*d64.*m64n128' --b '^b:.*d64.*m64n128' "a=$F/ab_fa-tune-cols_$r.txt" "b=$F/ab_fa-tune_$r.txt" | tail -3
        echo "== round $r: d128 m64n64 (unchanged in both)"
        python3 bench/variants_ab.py --a '^a:.*m64n64' --b '^b:.*m64n64' "a=$F/ab_fa-tune-cols_$r.txt" "b=$F/ab_fa-tune_$r.txt" | tail -1
      done; } > "$F/ab.md" 2>&1
    grep "==\|geometric" "$F/ab.md" ;;
  dqbulk)  # (second run: the full wait at the end; build/fa-tune-t2 waits after every reduction)
    smoke bwd_sm90_d128_bf16_m64n128_w8_s2_g1
    timeout 150 ./build/fa-tune verify --filter bwd --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; nf=$(grep -c FAIL "$F/verify.txt"); echo "FAIL lines: $nf"
    timeout 60 ./build/fa-tune-t2 verify --filter bwd_sm90 --quiet > "$F/verify_t2.txt" 2>&1
    stamp "t2 verify rc=$?"; tail -1 "$F/verify_t2.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    SH="$(d128_ab_shapes) --shape 4,2048,2048,8,1,256 --shape 4,4096,4096,8,1,256,causal --shape 4,4096,4096,16,16,256"
    for b in fa-tune fa-tune-t2 fa-tune-prev; do
      timeout 150 ./build/$b bench $SH --mode fwdbwd --filter sm90 --all --reps 10 > "$F/ab_$b.txt" 2>&1; stamp "ab $b rc=$?"
    done
    { for b in fa-tune fa-tune-t2; do
        echo "== $b: dQ by bulk reductions (B) against vector reductions (A, the commit before)"
        python3 bench/variants_ab.py --a '^a:' --b '^b:' "a=$F/ab_fa-tune-prev.txt" "b=$F/ab_$b.txt"
        echo "== $b: d128 m64n128 only"
        python3 bench/variants_ab.py --a '^a:.*m64n128' --b '^b:.*m64n128' "a=$F/ab_fa-tune-prev.txt" "b=$F/ab_$b.txt" | tail -1
      done; } > "$F/ab.md" 2>&1
    grep "==\|geometric" "$F/ab.md"
    if [ "$nf" = 0 ]; then retune_bwd; fi ;;
  bprof)
    NCU="ncu --clock-control none --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis"
    NCU="$NCU --metrics regex:sm__pipe_.*_cycles_active.avg.pct_of_peak_sustained_active,regex:sm__inst_executed_pipe_.*avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active"
    for sh in "4,4096,4096,32,32,128 d128_bf16_m64n128" "4,4096,4096,32,32,128,causal d128_bf16_m64n128" "4,4096,4096,8,1,256 d256_bf16_m64n64"; do
      set -- $sh
      timeout 120 $NCU -k regex:fa_bwd -s 8 -c 4 ./build/fa-tune bench --mode fwdbwd --shape $1 --filter "sm90_$2" --reps 1 --rep-ms 0 >> "$F/ncu_fa.txt" 2>&1
      stamp "ncu fa $sh rc=$?"
    done
    cat > /tmp/cudnn_bwd.py <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
for (H, Hk, d, causal) in ((32, 32, 128, False), (32, 32, 128, True), (8, 1, 256, False)):
    q = torch.randn(4, H, 4096, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(4, H, 4096, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn_like(k, requires_grad=True)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        for _ in range(2):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal); o.backward(torch.randn_like(o))
    torch.cuda.synchronize()
PY
    timeout 200 $NCU -k "regex:cudnn|bprop|dgrad|flash|sdpa|dot" -c 30 python3 /tmp/cudnn_bwd.py > "$F/ncu_cudnn.txt" 2>&1; stamp "ncu cudnn rc=$?"
    grep -E "^  [a-zA-Z_]+.*\(|Duration|Grid Size|Block Size|Registers Per|Dynamic Shared Memory Per|Warp Cycles Per Issued|issue_active|pipe_tensor_op_hmma|pipe_tensor_cycles|L2 Hit|Mem Busy|Max Bandwidth|DRAM Throughput" "$F/ncu_fa.txt" "$F/ncu_cudnn.txt" | cut -c1-200 | head -220
    timeout 150 ncu --clock-control none --section SourceCounters --section WarpStateStats --page source --print-source sass --csv -k fa_bwd_dkdv -s 2 -c 1 \
      ./build/fa-tune bench --mode fwdbwd --shape 4,4096,4096,32,32,128 --filter sm90_d128_bf16_m64n128 --reps 1 --rep-ms 0 > "$F/src.csv" 2>&1
    stamp "ncu source rc=$?"; wc -l "$F/src.csv"; gzip -f "$F/src.csv" ;;
  cut)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    timeout 240 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    for r in 1 2; do
      timeout 60 ./build/fa-tune bench --grid seed4 --tuned --reps 10 --json "$F/cut_ws_$r.jsonl" > "$F/cut_ws_$r.txt" 2>&1
      timeout 60 ./build/fa-tune bench --grid seed4 --tuned --reps 10 --no-workspace --json "$F/cut_nows_$r.jsonl" > "$F/cut_nows_$r.txt" 2>&1
      timeout 60 ./build/fa-tune-prev bench --grid seed4 --tuned --reps 10 --json "$F/cut_prev_$r.jsonl" > "$F/cut_prev_$r.txt" 2>&1
      stamp "cut round $r"
    done
    for r in 1 2; do
      echo "== round $r: no workspace (A) against the cut (B), not causal"
      python3 bench/tuned_ab.py "$F/cut_nows_$r.jsonl" "$F/cut_ws_$r.jsonl" --causal 0
      echo "== round $r: no workspace (A) against a workspace (B), causal (never cut)"
      python3 bench/tuned_ab.py "$F/cut_nows_$r.jsonl" "$F/cut_ws_$r.jsonl" --causal 1 | tail -1
      echo "== round $r: the commit before (A) against this build without a workspace (B)"
      python3 bench/tuned_ab.py "$F/cut_prev_$r.jsonl" "$F/cut_nows_$r.jsonl"
    done > "$F/cut.md"; grep "==\|geometric" "$F/cut.md"
    grep '"d": 128' bench/shapes_seed4_d256.jsonl > /tmp/seed4.jsonl
    timeout 150 python3 .peers/peer_bench.py --shapes /tmp/seed4.jsonl --modes fwd --peers cudnn \
      --json "$F/peers_fwd.jsonl" > "$F/peers_fwd.txt" 2>&1
    stamp "peer_bench rc=$?"
    for v in ws_2 nows_2; do
      python3 bench/compare.py "$F/cut_$v.jsonl" "$F/peers_fwd.jsonl" --mode fwd > "$F/compare_$v.md"
    done
    cut -c1-200 "$F/compare_ws_2.md" | head -40 ;;
  gqa)
    timeout 120 ./build/fa-tune-gqa verify --filter "fwd_sm90_d128_bf16 _g" --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    S8=""; for c in "" ",causal"; do for s in 1024 2048 4096 8192; do S8="$S8 --shape 4,$s,$s,32,8,128$c"; done; done
    timeout 150 ./build/fa-tune-gqa bench $S8 --filter fwd_sm90_d128_bf16 --all --reps 10 > "$F/ab_gqa.txt" 2>&1; stamp "ab rc=$?"
    { echo "== packed (g2, g4; B) against unpacked (g1; A), same build"
      python3 bench/variants_ab.py --a '^b:.*_g1(_persist)?$' --b '^b:.*_g[24](_persist)?$' "b=$F/ab_gqa.txt"; } > "$F/ab.md" 2>&1
    grep "==\|geometric" "$F/ab.md"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    for m in heuristic tuned; do
      a=""; [ $m = heuristic ] && a=--heuristic
      timeout 150 ./build/bench/fa-bench --grid seed --no-std --no-check $a --out "$F/bench_$m" > "$F/bench_$m.txt" 2>&1
      stamp "fa-bench $m rc=$?"
    done ;;
  check5)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    timeout 300 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    mkdir -p /tmp/tune /tmp/fa-cache && cp tuning.db /tmp/tune/user.db && cp -r build/tests/cache90/. /tmp/fa-cache/
    python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute(\"delete from winners where text_hash is null and gpu_id in (select id from gpus where name like '%H200%') and bucket_id in (select id from buckets where exact like 'bwd%')\"); c.commit(); print('winners left:', c.execute('select count(*) from winners').fetchone()[0])"
    timeout 200 ./build/fa-tune --gpu auto --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -6; grep -c "kernel from nvrtc" "$F/tune.txt"
    if [ -f "$F/tuning.db" ]; then cp "$F/tuning.db" tuning.db; else
      python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute('pragma wal_checkpoint(TRUNCATE)'); c.execute(\"vacuum into '$F/tuning_partial.db'\")"
      stamp "partial saved"
    fi
    export_nonvrtc
    close_rows ;;
  close)
    close_rows ;;
  check)
    timeout 300 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt" ;;
  m64)
    smoke d256_bf16_m64n64_w8_s2_g1
    timeout 60 ./build/fa-tune verify --filter fwd_sm90_d256_bf16_m64 --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    retune_fwd "exact like '%d256%'"
    gemma_fwd 100
    grid fwd
    cut -c1-220 "$F/compare_fwd.md" | grep "d256\|shape"
    export_nonvrtc ;;
  again4)
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    gemma_fwd 100
    grid fwdbwd
    cut -c1-220 "$F/compare_fwdbwd.md" ;;
  final4)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    sm90_checks
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    export_nonvrtc
    host_time
    gemma_fwd 100 ;;
  snake)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    timeout 60 ./build/fa-tune verify --filter persist --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    SH=$(d128_ab_shapes)
    for b in fa-tune fa-tune-nosnake; do
      timeout 90 ./build/$b bench $SH --filter d128_bf16_m128n --all --reps 10 > "$F/ab_d128_$b.txt" 2>&1; stamp "ab d128 $b rc=$?"
      timeout 60 ./build/$b bench --grid d256 --filter m128n80_w12_s2_g --all --reps 10 > "$F/ab_d256_$b.txt" 2>&1; stamp "ab d256 $b rc=$?"
    done
    for t in d128 d256; do persist_ab "$t snake (B), not (A)" "$F/ab_${t}_fa-tune-nosnake.txt" "$F/ab_${t}_fa-tune.txt"; done > "$F/ab.md" 2>&1
    grep "==\|geometric" "$F/ab.md"
    timeout 90 ./build/fa-tune verify --filter bwd_sm90 --quiet > "$F/verify_bwd.txt" 2>&1
    stamp "verify bwd rc=$?"; tail -1 "$F/verify_bwd.txt"
    SB="$SH --shape 4,2048,2048,16,16,256 --shape 4,2048,2048,16,16,256,causal --shape 4,4096,4096,8,1,256 --shape 4,4096,4096,8,1,256,causal"
    for b in fa-tune fa-tune-oldbwd; do
      timeout 90 ./build/$b bench $SB --mode fwdbwd --filter bwd_sm90 --all --reps 10 > "$F/ab_bwd_$b.txt" 2>&1; stamp "ab bwd $b rc=$?"
    done
    { echo "== sm90 backward, dP's wait after the exp2 (B) against before (A)"
      python3 bench/variants_ab.py --a '^a:' --b '^b:' "a=$F/ab_bwd_fa-tune-oldbwd.txt" "b=$F/ab_bwd_fa-tune.txt"
      for k in d128_bf16_m64n128 d128_bf16_m64n64 d256_bf16_m64n64; do
        echo "== $k (B new, A before)"
        python3 bench/variants_ab.py --a "^a:.*${k}_w8_s2_g1$" --b "^b:.*${k}_w8_s2_g1$" "a=$F/ab_bwd_fa-tune-oldbwd.txt" "b=$F/ab_bwd_fa-tune.txt"
      done; } > "$F/ab_bwd.md" 2>&1; grep "==\|geometric" "$F/ab_bwd.md"
    # the build whose persistent d128 ran faster is re-tuned
    g=$(awk '/== d128 snake/{f=1} f && /geometric/{sub(/.*shapes: /, ""); print $1; exit}' "$F/ab.md")
    if awk "BEGIN{exit !($g < 0.995)}"; then echo "re-tuned: nosnake"; cp build/fa-tune-nosnake build/fa-tune; else echo "re-tuned: snake"; fi
    retune_fwd "1" ;;
  obuf)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    timeout 150 ./build/fa-tune verify --filter fwd_sm90 --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    timeout 60 ./build/fa-tune-q1 verify --filter persist --quiet > "$F/verify_q1.txt" 2>&1
    stamp "verify q1 rc=$?"; tail -1 "$F/verify_q1.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    SH=$(d128_ab_shapes)
    for b in fa-tune fa-tune-q1 fa-tune-prev; do
      timeout 90 ./build/$b bench $SH --filter d128_bf16_m128n --all --reps 10 > "$F/ab_d128_$b.txt" 2>&1; stamp "ab d128 $b rc=$?"
    done
    for b in fa-tune fa-tune-q1; do persist_ab "$b (B), the commit before (A)" "$F/ab_d128_fa-tune-prev.txt" "$F/ab_d128_$b.txt"; done > "$F/ab.md" 2>&1
    grep "==\|geometric" "$F/ab.md" ;;
  again)
    grid fwd
    cut -c1-220 "$F/compare_fwd.md" ;;
  final3)
    retune_fwd "1"
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    export_nonvrtc
    host_time
    gemma_fwd 100 ;;
  wfix)
    smoke d128_bf16_m128n128_w12_s2_g1
    timeout 230 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    SH=$(d128_ab_shapes)
    for b in fa-tune fa-tune-prev; do
      timeout 90 ./build/$b bench $SH --filter d128_bf16_m128n --all --reps 10 > "$F/ab_d128_$b.txt" 2>&1; stamp "ab d128 $b rc=$?"
      timeout 60 ./build/$b bench --grid d256 --filter m128n80_w12_s2_g1 --all --reps 10 > "$F/ab_d256_$b.txt" 2>&1; stamp "ab d256 $b rc=$?"
      timeout 60 ./build/$b bench --grid gemma --tuned --reps 10 --json "$F/tuned_gemma_$b.jsonl" > "$F/tuned_gemma_$b.txt" 2>&1; stamp "tuned gemma $b rc=$?"
    done
    {
      for t in d128 d256; do for k in '_g1$' '_persist$'; do
        echo "== $t $k: wait after the softmax (B) against the commit before (A)"
        python3 bench/variants_ab.py --a "^a:.*$k" --b "^b:.*$k" "a=$F/ab_${t}_fa-tune-prev.txt" "b=$F/ab_${t}_fa-tune.txt"
      done; done
      echo "== d128 best variant of each build"
      python3 bench/variants_ab.py --a "^a:" --b "^b:" "a=$F/ab_d128_fa-tune-prev.txt" "b=$F/ab_d128_fa-tune.txt"
      echo "== Gemma grid, tuned selection: this build (B) against the commit before (A)"
      python3 - "$F/tuned_gemma_fa-tune-prev.jsonl" "$F/tuned_gemma_fa-tune.jsonl" <<'PY'
import json, math, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
logs = []
for x, y in zip(a, b):
    r = x["ms"] / y["ms"]; logs.append(math.log(r))
    print("| %s | %s | %.4f | %.4f | %.3f |" % (x["name"], x["variant"], x["ms"], y["ms"], r))
if logs: print("geometric mean A/B over %d: %.3f (min %.3f, max %.3f)" % (len(logs), math.exp(sum(logs) / len(logs)), math.exp(min(logs)), math.exp(max(logs))))
PY
    } > "$F/ab.md" 2>&1; grep "==\|geometric" "$F/ab.md" ;;
  diag)
    S1=""; for tk in 512 1024 2048 4096 8192; do S1="$S1 --shape 4,2048,$tk,32,32,128"; done
    for b in fa-tune fa-tune-nosm fa-tune-nomufu fa-tune-nopv fa-tune-noturn fa-tune; do
      timeout 90 ./build/$b bench $S1 --filter d128_bf16_m128n128_w12_s2_g1 --all --reps 10 > "$F/diag_$b.txt" 2>&1; stamp "diag $b rc=$?"
      grep "^#   " "$F/diag_$b.txt" | cut -c1-130
    done ;;
  trace)
    for tk in 512 2048; do for k in g1 g1_persist; do
      timeout 60 ./build/fa-tune-trace bench --shape 4,2048,$tk,32,32,128 --filter "fwd_sm90_d128_bf16_m128n128_w12_s2_$k" --reps 3 --rep-ms 0 > "$F/trace_${tk}_$k.txt" 2>&1
      stamp "trace $tk $k rc=$?"; grep -c TRACE "$F/trace_${tk}_$k.txt"
    done; done
    SH=$(d128_ab_shapes)
    for b in fa-tune fa-tune-pf; do
      timeout 120 ./build/$b bench $SH --filter d128_bf16_m128n128_w12_s2_g1 --all --reps 10 > "$F/ab_d128_$b.txt" 2>&1; stamp "ab d128 $b rc=$?"
    done
    for k in g1 g1_persist; do
      echo "== $k: tensor maps prefetched (B) against not (A)"
      python3 bench/variants_ab.py --a "^a:.*_$k\$" --b "^b:.*_$k\$" "a=$F/ab_d128_fa-tune.txt" "b=$F/ab_d128_fa-tune-pf.txt"
    done > "$F/ab.md" 2>&1; grep "==\|geometric" "$F/ab.md" ;;
  slope)
    S1="" S2=""
    for tk in 512 1024 2048 4096 8192; do S1="$S1 --shape 4,2048,$tk,32,32,128"; S2="$S2 --shape 4,2048,$tk,16,16,256"; done
    timeout 120 ./build/fa-tune bench $S1 --filter d128_bf16_m128n128_w12_s2_g1 --all --reps 20 > "$F/slope_d128.txt" 2>&1; stamp "slope d128 rc=$?"
    timeout 120 ./build/fa-tune bench $S2 --filter d256_bf16_m128n80_w12_s2_g1 --all --reps 20 > "$F/slope_d256.txt" 2>&1; stamp "slope d256 rc=$?"
    timeout 150 python3 .peers/peer_bench.py --shapes bench/shapes_slope.jsonl --modes fwd --peers flash,cudnn \
      --json "$F/peers_slope.jsonl" > "$F/peers_slope.txt" 2>&1; stamp "peers rc=$?"
    grep "^#   " "$F/slope_d128.txt" "$F/slope_d256.txt" | cut -c1-150; grep -v "^#" "$F/peers_slope.jsonl" | cut -c1-250
    NCU="ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section LaunchStats"
    NCU="$NCU --metrics regex:sm__pipe_.*_cycles_active.avg.pct_of_peak_sustained_active,regex:sm__inst_executed_pipe_.*avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__cycles_elapsed.avg.per_second"
    timeout 90 $NCU -k fa_fwd -s 2 -c 1 ./build/fa-tune bench --shape 4,2048,2048,32,32,128 --filter fwd_sm90_d128_bf16_m128n128_w12_s2_g1 --reps 1 --rep-ms 0 > "$F/ncu_fa.txt" 2>&1
    stamp "ncu rc=$?"; grep -E "Duration|pipe_tensor_cycles|issue_active|per_second|pipe_xu |pipe_alu |pipe_fma |pipe_uniform " "$F/ncu_fa.txt" | cut -c1-160
    timeout 120 ncu --clock-control none --section SourceCounters --section WarpStateStats --page source --print-source sass --csv -k fa_fwd -s 2 -c 1 \
      ./build/fa-tune bench --shape 4,2048,2048,32,32,128 --filter fwd_sm90_d128_bf16_m128n128_w12_s2_g1 --reps 1 --rep-ms 0 > "$F/src.csv" 2>&1
    stamp "ncu source rc=$?"; gzip "$F/src.csv"; ls -la "$F" ;;
  qs)
    smoke d128_bf16_m128n128_w12_s3_g1
    sm90_checks
    for f in fwd_sm90_d128_bf16_m128n128 fwd_sm90_d64_bf16_m128n128; do
      timeout 60 ./build/fa-tune-rsq verify --filter $f --quiet
    done > "$F/verify_rsq.txt" 2>&1; stamp "verify rsq rc=$?"; grep "^verify:" "$F/verify_rsq.txt"
    SH=$(d128_ab_shapes)
    D2="--shape 4,2048,2048,16,16,256,causal --shape 4,4096,4096,16,16,256,causal --shape 4,2048,2048,8,1,256,causal"
    for b in fa-tune fa-tune-rsq fa-tune-main; do
      timeout 150 ./build/$b bench $SH --filter d128_bf16_m128n128_w12 --all --reps 10 > "$F/ab_d128_$b.txt" 2>&1; stamp "ab d128 $b rc=$?"
    done
    for b in fa-tune fa-tune-main; do
      timeout 60 ./build/$b bench $D2 --filter d256_bf16_m128n80_w12_s2_g1 --all --reps 10 > "$F/ab_d256_$b.txt" 2>&1; stamp "ab d256 $b rc=$?"
    done
    {
      for k in s2_g1 s2_g1_persist; do
        echo "== $k: range mask (B) against the commit before (A)"
        python3 bench/variants_ab.py --a "^a:.*_$k\$" --b "^b:.*_$k\$" "a=$F/ab_d128_fa-tune-main.txt" "b=$F/ab_d128_fa-tune.txt"
      done
      echo "== d256 m128n80 causal: range mask (B) against the commit before (A)"
      python3 bench/variants_ab.py --a '^a:' --b '^b:' "a=$F/ab_d256_fa-tune-main.txt" "b=$F/ab_d256_fa-tune.txt"
      for k in g1 g1_persist; do
        echo "== $k: three stages (B) against two (A)"
        python3 bench/variants_ab.py --a "_s2_$k\$" --b "_s3_$k\$" "$F/ab_d128_fa-tune.txt"
      done
      for k in s2_g1 s2_g1_persist s3_g1 s3_g1_persist; do
        echo "== $k: Q in registers (B) against Q in shared memory (A)"
        python3 bench/variants_ab.py --a "^a:.*_$k\$" --b "^b:.*_$k\$" "a=$F/ab_d128_fa-tune.txt" "b=$F/ab_d128_fa-tune-rsq.txt"
      done
      echo "== best of each build: rsq (B) against this build (A)"
      python3 bench/variants_ab.py --a "^a:" --b "^b:" "a=$F/ab_d128_fa-tune.txt" "b=$F/ab_d128_fa-tune-rsq.txt"
      echo "== best of each build: this build (B) against the commit before (A)"
      python3 bench/variants_ab.py --a "^a:" --b "^b:" "a=$F/ab_d128_fa-tune-main.txt" "b=$F/ab_d128_fa-tune.txt"
    } > "$F/ab.md" 2>&1; cat "$F/ab.md" ;;
  xitem)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    sm90_checks
    host_time
    for b in fa-tune fa-tune-main; do
      ab $b seed4 "bf16_m128n128_w12_s2_g1" seed4_$b 80
      ab $b d256 "m128n80_w12_s2_g1" d256_$b 60
      ab $b d256 "m128n64_w12_s2_g8" d256g8_$b 60
    done
    for t in seed4 d256 d256g8; do for k in '_g[18]$' '_persist$'; do
      echo "== $t $k: this build (B) against the commit before (A)"
      python3 bench/variants_ab.py --a "^a:.*$k" --b "^b:.*$k" "a=$F/ab_${t}_fa-tune-main.txt" "b=$F/ab_${t}_fa-tune.txt" | tail -30
    done; done > "$F/ab.md"; grep "==\|geometric" "$F/ab.md" ;;
  stune)
    mkdir -p /tmp/tune && cp tuning.db /tmp/tune/user.db
    python3 -c "import sqlite3; c = sqlite3.connect('/tmp/tune/user.db'); c.execute(\"delete from winners where gpu_id in (select id from gpus where name like '%H200%') and bucket_id in (select id from buckets where exact not like 'bwd%' and (exact like '%seg%' or exact like '%pos%'))\"); c.commit(); print('winners left:', c.execute('select count(*) from winners').fetchone()[0])"
    timeout 120 ./build/fa-tune --gpu auto --no-bwd --db /tmp/tune/user.db --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -4
    cp "$F/tuning.db" tuning.db
    gemma_fwd 90 ;;
  splits)
    for n in 0 1 2 3 4 6 8; do
      timeout 60 ./build/fa-tune bench --grid gemma --filter "d256 seg" --all --splits $n --reps 10 --rep-ms 30 > "$F/splits_$n.txt" 2>&1
      stamp "splits $n rc=$?"
    done
    python3 - "$F" <<'PY' | tee "$F/splits.md"
import re, sys, glob
best = {}  # shape -> split -> (ms, key, nsplit)
for n in (0, 1, 2, 3, 4, 6, 8):
    for line in open("%s/splits_%d.txt" % (sys.argv[1], n)):
        m = re.match(r"#   (\S+) (\S+) ([0-9.]+) ms ([0-9.]+) TFLOP/s, split-KV (\d+)", line)
        if m:
            b = best.setdefault(m.group(1), {}).get(n)
            if not b or float(m.group(3)) < b[0]:
                best[m.group(1)][n] = (float(m.group(3)), m.group(2), int(m.group(5)), float(m.group(4)))
for sh, d in best.items():
    print("==", sh)
    for n, (ms, key, ns, tf) in sorted(d.items()):
        print("  splits %d (ran %d): %.4f ms %.1f TFLOP/s %s" % (n, ns, ms, tf, key))
PY
    ;;
  last)
    smoke d128_bf16_m128n128_w12_s2_g1
    timeout 200 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    host_time
    ./build/fa-tune export --out /tmp/fa-export --db tuning.db > "$F/export.txt" 2>&1; tail -1 "$F/export.txt"
    FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
      timeout 60 ./build/fa-tune bench --grid gemma --tuned --mode fwd --reps 5 --rep-ms 0 > "$F/nonvrtc.txt" 2>&1
    stamp "no nvrtc rc=$?"; echo "plans from export: $(grep -c "kernel from export" "$F/nonvrtc.txt"), from nvrtc: $(grep -ci "kernel from nvrtc" "$F/nonvrtc.txt")"
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    gemma_fwd 150 ;;
  lpt|lpt2)
    smoke d128_bf16_m128n128_w12_s2_g1
    timeout 150 ./build/fa-tune verify --filter fwd_ --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    for b in fa-tune fa-tune-main; do
      ab $b seed4 "d128_bf16_m128n128_w12_s2_g1" s4_$b 60
      ab $b seed4 "d128_bf16_m64n64_w8_s2_g1" s4w8_$b 60
      ab $b d256 "m128n80_w12_s2_g8" d256g8_$b 60
      ab $b d256 "m128n80_w12_s2_g1" d256_$b 60
      for g in seed4 d256 gemma; do
        timeout 60 ./build/$b bench --grid $g --tuned --reps 10 --json "$F/tuned_${g}_$b.jsonl" > "$F/tuned_${g}_$b.txt" 2>&1
      done; stamp "tuned $b"
    done
    for t in s4 s4w8 d256g8 d256; do
      echo "== $t: this build (B) against the launch order before (A), plain grid"
      python3 bench/variants_ab.py --a '^a:.*_g[18]$' --b '^b:.*_g[18]$' "a=$F/ab_${t}_fa-tune-main.txt" "b=$F/ab_${t}_fa-tune.txt" | tail -24
    done > "$F/ab.md"
    for g in seed4 d256 gemma; do
      echo "== tuned selection, $g: this build (B) against the launch order before (A)"
      python3 - "$F/tuned_${g}_fa-tune-main.jsonl" "$F/tuned_${g}_fa-tune.jsonl" <<'PY'
import json, math, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
logs = []
for x, y in zip(a, b):
    r = x["ms"] / y["ms"]; logs.append(math.log(r))
    print("| %s | %d | %d/%d | %d/%d | %d | %s | %s | %.4f | %.4f | %.3f |" % (x["name"], x["B"], x["Tq"], x["Tk"], x["H"], x["K"], x["d"],
          "causal" if x["causal"] else "-", x["variant"], x["ms"], y["ms"], r))
if logs: print("geometric mean A/B over %d: %.3f (min %.3f, max %.3f)" % (len(logs), math.exp(sum(logs) / len(logs)), math.exp(min(logs)), math.exp(max(logs))))
PY
    done >> "$F/ab.md"; grep "==\|geometric" "$F/ab.md" ;;
  retune)
    smoke d128_bf16_m128n128_w12_s2_g1
    retune_fwd "1"
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    gemma_fwd 150
    host_time ;;
  fb)
    grid fwdbwd
    cut -c1-220 "$F/compare_fwdbwd.md"
    ./build/fa-tune export --out /tmp/fa-export --db tuning.db > "$F/export.txt" 2>&1; tail -1 "$F/export.txt"
    for m in fwd fwdbwd; do
      FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
        timeout 60 ./build/fa-tune bench --grid gemma --tuned --mode $m --reps 5 --rep-ms 0
    done > "$F/nonvrtc.txt" 2>&1
    stamp "no nvrtc rc=$?"; echo "plans from export: $(grep -c "kernel from export" "$F/nonvrtc.txt"), from nvrtc: $(grep -c "kernel from nvrtc" "$F/nonvrtc.txt")"
    FA_TUNING_DB=/nonexistent timeout 60 ./build/fa-tune bench --grid seed4 --tuned --mode fwd --reps 5 --rep-ms 0 > "$F/shipped.txt" 2>&1
    stamp "shipped rc=$?"; grep -c "tuned" "$F/shipped.txt"; grep -m3 -i "text" "$F/shipped.txt" ;;
  epi)
    smoke d128_bf16_m128n128_w12_s2_g1
    sm90_checks
    for b in fa-tune fa-tune-slack0 fa-tune-tma; do
      ab $b seed4 "m128n128_w12_s2_g1" d128_$b 60
      ab $b d256 "m128n80_w12_s2_g1" d256_$b 60
    done
    for t in d128 d256; do for k in '_g1$' '_persist$'; do
      echo "== $t $k: slack 8 (B) against slack 0 (A)"
      python3 bench/variants_ab.py --a "^a:.*$k" --b "^b:.*$k" "a=$F/ab_${t}_fa-tune-slack0.txt" "b=$F/ab_${t}_fa-tune.txt" | tail -22
      echo "== $t $k: stmatrix epilogue (plain grid) and one-add descriptors, slack 0 (B), against the commit before (A)"
      python3 bench/variants_ab.py --a "^a:.*$k" --b "^b:.*$k" "a=$F/ab_${t}_fa-tune-tma.txt" "b=$F/ab_${t}_fa-tune-slack0.txt" | tail -22
    done; done > "$F/ab.md"; grep -A2 "^== \|geometric" "$F/ab.md" | grep "==\|geometric"
    grid fwd
    cut -c1-220 "$F/compare_fwd.md" ;;
  tma)
    smoke d128_bf16_m128n128_w12_s2_g1
    sm90_checks
    ab fa-tune seed4 "m128n128_w12_s2_g1" d128 60
    ab fa-tune-notma seed4 "m128n128_w12_s2_g1" d128n 60
    ab fa-tune d256 "m128n80_w12_s2_g1" d256 60
    ab fa-tune-notma d256 "m128n80_w12_s2_g1" d256n 60
    for t in d128 d256; do
      echo "== $t: TMA store (B) against 16-byte stores (A), plain grid"
      python3 bench/variants_ab.py --a '^a:.*_g1$' --b '^b:.*_g1$' "a=$F/ab_${t}n.txt" "b=$F/ab_$t.txt" | tail -22
      echo "== $t: persistent (B, unchanged) against itself (A): the noise"
      python3 bench/variants_ab.py --a '^a:.*_persist$' --b '^b:.*_persist$' "a=$F/ab_${t}n.txt" "b=$F/ab_$t.txt" | tail -2
    done > "$F/ab.md"; cat "$F/ab.md"
    host_time
    grid fwd
    cut -c1-220 "$F/compare_fwd.md" ;;
  prof)
    smoke d128_bf16_m128n128_w12_s2_g1_persist
    SC="--shape 2,8192,8192,32,16,128,causal,softcap=50,scale=0.0833333 --shape 4,8192,8192,8,4,256,causal,softcap=50,scale=0.0625"
    SC="$SC --shape 4,4096,4096,32,32,128,softcap=50 --shape 1,8192,8192,32,16,128,causal,window=4096,softcap=50,scale=0.0833333"
    for b in fa-tune fa-tune-h2 fa-tune-h2e1 fa-tune-h2e2 fa-tune-e1; do
      timeout 60 ./build/$b verify --filter "fwd_sm90 softcap" --quiet > "$F/verify_$b.txt" 2>&1
      echo "$b verify rc=$? $(tail -1 "$F/verify_$b.txt")"
      timeout 60 ./build/$b bench $SC --filter fwd_sm90 --all --reps 10 > "$F/ab_$b.txt" 2>&1; stamp "ab $b rc=$?"
    done
    for b in h2 h2e1 h2e2 e1; do
      echo "== $b (B) against this build (A)"
      python3 bench/variants_ab.py --a '^a:' --b '^b:' "a=$F/ab_fa-tune.txt" "b=$F/ab_fa-tune-$b.txt" | tail -6
    done > "$F/ab.md"; cat "$F/ab.md"
    c=$(ls /tmp/fa-cache | grep -m1 "d128_bf16_m128n128_w12_s2_g1_softcap" || true)
    [ -n "$c" ] && cuobjdump -sass "/tmp/fa-cache/$c" > "$F/sass_softcap.txt" 2>&1; grep -c MUFU "$F/sass_softcap.txt"
    NCU="ncu --clock-control none --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats"
    NCU="$NCU --metrics regex:sm__pipe_.*_cycles_active.avg.pct_of_peak_sustained_active,regex:sm__inst_executed_pipe_.*avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active"
    for sh in "4,2048,2048,32,32,128 m128n128_w12_s2_g1" "4,2048,2048,32,32,128 m128n128_w12_s2_g1_persist" \
              "4,4096,4096,32,32,128 m128n128_w12_s2_g1" "4,2048,2048,32,32,128,causal m128n128_w12_s2_g1" \
              "2,8192,8192,32,16,128,causal,softcap=50,scale=0.0833333 m128n128_w12_s2_g2"; do
      set -- $sh
      timeout 90 $NCU -k fa_fwd -s 2 -c 1 ./build/fa-tune bench --shape $1 --filter "fwd_sm90_d128_bf16_$2" --reps 1 --rep-ms 0 >> "$F/ncu_fa.txt" 2>&1
      stamp "ncu fa $sh rc=$?"
    done
    cat > /tmp/cudnn.py <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
for S, causal in ((2048, False), (4096, False), (2048, True)):
    q = torch.randn(4, 32, S, 128, device="cuda", dtype=torch.bfloat16); k = torch.randn_like(q); v = torch.randn_like(q)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.synchronize()
PY
    timeout 150 $NCU -k "regex:cudnn|fmha|flash|sdpa|fprop" -c 9 python3 /tmp/cudnn.py > "$F/ncu_cudnn.txt" 2>&1; stamp "ncu cudnn rc=$?"
    grep -E "^  [a-z_]+.*\(|Duration|Compute \(SM\) Throughput|Grid Size|Block Size|Registers Per|Shared Memory Per Block|Warp Cycles Per Issued|issue_active|pipe_tensor|pipe_xu|pipe_fma |pipe_alu " "$F/ncu_fa.txt" "$F/ncu_cudnn.txt" | cut -c1-200 | head -150
    timeout 120 ncu --clock-control none --section SourceCounters --section WarpStateStats --page source --print-source sass --csv -k fa_fwd -s 2 -c 1 \
      ./build/fa-tune bench --shape 4,2048,2048,32,32,128 --filter fwd_sm90_d128_bf16_m128n128_w12_s2_g1 --reps 1 --rep-ms 0 > "$F/src.csv" 2>&1
    stamp "ncu source rc=$?"; wc -l "$F/src.csv"
    ./build/fa-tune export --out /tmp/fa-export --db tuning.db > "$F/export.txt" 2>&1; tail -2 "$F/export.txt"
    FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
      timeout 60 ./build/fa-tune bench --grid gemma --tuned --mode fwd --reps 5 --rep-ms 0 > "$F/nonvrtc.txt" 2>&1
    stamp "no nvrtc rc=$?"; echo "plans from export: $(grep -c "kernel from export" "$F/nonvrtc.txt"), from nvrtc: $(grep -c "kernel from nvrtc" "$F/nonvrtc.txt")" ;;
  pp|ptune)  # ptune: the persistent grid, every forward bucket re-tuned; pp: d256 turns, its d256 buckets
    [ $1 = pp ] && smoke=d256_bf16_m128n80_w12_s2_g8 || smoke=d128_bf16_m128n128_w12_s2_g1_persist
    smoke $smoke
    sm90_checks
    [ $1 = pp ] && retune_fwd "exact like '%d256%'" || retune_fwd "1"
    grid fwd
    cut -c1-220 "$F/compare_fwd.md"
    if [ $1 = ptune ]; then  # d256 with turns (build/fa-tune-pp) against without, and persistent
      ab fa-tune d256 "bf16_m128n80_w12_s2_g1" d256 60
      ab fa-tune-pp d256 "bf16_m128n80_w12_s2_g1" d256pp 60
      python3 bench/variants_ab.py --a '^a:.*_g1$' --b '^b:.*_g1$' "a=$F/ab_d256.txt" "b=$F/ab_d256pp.txt" > "$F/ab_pp.md"
      python3 bench/variants_ab.py --a '^a:.*_g1$' --b '^a:.*_persist$' "a=$F/ab_d256.txt" >> "$F/ab_pp.md"
      cat "$F/ab_pp.md"
    else
      timeout 150 python3 bench/peers.py --grid gemma --modes fwd --rep 50 --csv "$F/peers_gemma.csv" \
        --md "$F/peers_gemma.md" --json "$F/peers_gemma.jsonl" > "$F/peers_gemma_log.txt" 2>&1
      stamp "gemma rc=$?"; cut -c1-260 "$F/peers_gemma.md"
      host_time
    fi ;;
  persist)  # the first persistent build: it hung (docs/perf/2026-12-01_h200b/persist_hang)
    sm90_checks
    ab fa-tune seed4 "bf16_m128n128_w12_s2_g1" d128 150
    ab fa-tune d256 "bf16_m128n80_w12_s2_g1" d256 150
    ab fa-tune d256 "bf16_m128n80_w12_s2_g8" d256g8 150
    ab fa-tune d256 "bf16_m128n64_w12_s2_g8" d256g8n64 150
    ab fa-tune-pp d256 "bf16_m128n80_w12_s2_g1" d256pp 150
    timeout 100 ./build/fa-tune bench --grid gemma --filter "fwd_sm90" --all --reps 10 > "$F/ab_gemma.txt" 2>&1; stamp "ab gemma rc=$?"
    timeout 200 python3 .peers/peer_bench.py --shapes bench/shapes_seed4_d256.jsonl --modes fwd --peers cudnn \
      --json "$F/peers_fwd.jsonl" > "$F/peers_fwd.txt" 2>&1
    stamp "peer_bench rc=$?"
    for t in d128 d256 d256g8 d256g8n64 gemma; do
      echo "== $t: persistent (B) against the plain grid (A)"
      python3 bench/variants_ab.py --a '_g[0-9]+(_softcap)?$' --b '_persist' "$F/ab_$t.txt" | tail -25
    done > "$F/ab.md"
    echo "== d256 with turns (B, fa-tune-pp) against without (A)" >> "$F/ab.md"
    python3 bench/variants_ab.py --a '^a:.*_g1$' --b '^b:.*_g1$' "a=$F/ab_d256.txt" "b=$F/ab_d256pp.txt" >> "$F/ab.md"
    cat "$F/ab.md" ;;
  fwdbwd)  # forward+backward on both grids with the tuned selection, after the forward's changes
    grid fwdbwd
    cut -c1-220 "$F/compare_fwdbwd.md" ;;
  final)  # after the tune phase's tuning.db is committed: both grids with the tuned H200 selection
    grid fwdbwd
    grid fwd
    cat "$F/compare_fwdbwd.md" "$F/compare_fwd.md" | cut -c1-220 ;;
  tune)
    mkdir -p /tmp/tune && cp tuning.db /tmp/tune/user.db
    timeout 470 ./build/fa-tune --gpu auto --db /tmp/tune/user.db --budget ${BUDGET_MIN:-7} --ship "$F/tuning.db" > "$F/tune.txt" 2>&1
    stamp "tune rc=$?"; grep -v "^\[" "$F/tune.txt" | tail -12
    {
      ./build/fa-tune export --out /tmp/fa-export --db /tmp/tune/user.db
      echo "--- without NVRTC, from the export directory (forward, then forward+backward):"
      for m in fwd fwdbwd; do
        FA_NO_NVRTC=1 FA_EXPORT_DIR=/tmp/fa-export FA_TUNING_DB=/nonexistent FA_CACHE_DIR=/tmp/empty-cache \
          timeout 60 ./build/fa-tune bench --grid gemma --tuned --mode $m --reps 5 --rep-ms 0
      done
      echo "--- tuned selection from the shipped database alone (no user database):"
      cp "$F/tuning.db" tuning.db
      FA_TUNING_DB=/nonexistent timeout 60 ./build/fa-tune bench --grid seed4 --tuned --mode fwdbwd --reps 5 --rep-ms 0 | grep -E "^\||tuned" | head -12
      for r in 1 2 3; do ./build/fa-tune bench --grid seed4 --host; done
    } > "$F/checks.txt" 2>&1
    stamp "checks"; echo "plans from export: $(grep -c "kernel from export" "$F/checks.txt"), from NVRTC: $(grep -c "kernel from NVRTC" "$F/checks.txt")"; grep "host time" "$F/checks.txt" ;;
  sweep)
    timeout 330 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"; grep -c FAIL "$F/verify.txt"
    timeout 60 ./build/tests/test_api gpu > "$F/api_gpu.txt" 2>&1; stamp "api gpu rc=$?"; tail -1 "$F/api_gpu.txt"
    ./build/fa-tune bench --grid seed4 --host 2>&1 | grep -i "host time" | tee "$F/host.txt"
    timeout 60 python3 bench/matmul_peak.py > "$F/matmul_peak.txt" 2>&1; tail -1 "$F/matmul_peak.txt"
    grid fwdbwd
    cross
    cat "$F/compare_fwdbwd.md" "$F/cross_peers.md" "$F/cross_fatune.txt" | cut -c1-220 ;;
  peers)
    timeout 200 ./build/fa-tune verify --quiet > "$F/verify.txt" 2>&1
    stamp "verify rc=$?"; tail -1 "$F/verify.txt"
    cross
    grid fwd
    grid fwdbwd
    timeout 300 python3 bench/peers.py --grid gemma --modes fwd,fwdbwd --rep 50 --csv "$F/peers_gemma.csv" \
      --md "$F/peers_gemma.md" --json "$F/peers_gemma.jsonl" > "$F/peers_gemma_log.txt" 2>&1
    stamp "gemma rc=$?"
    timeout 100 python3 bench/peers.py --shapes bench/shapes_mem.jsonl --modes fwdbwd --peers flash,cudnn --rep 20 \
      --md "$F/peers_mem.md" > "$F/peers_mem_log.txt" 2>&1
    stamp "mem rc=$?"
    cat "$F/cross_peers.md" "$F/cross_fatune.txt" "$F/compare_fwd.md" "$F/compare_fwdbwd.md" "$F/peers_gemma.md" \
      "$F/peers_mem.md" | cut -c1-260 ;;
esac
