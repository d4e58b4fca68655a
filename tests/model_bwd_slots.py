#!/usr/bin/env python3
"""A model of the sm90 backward's producer protocol with positions or segments
(templates/bwd_sm90.cu, SLOTS; two stages and DQ_STAGE, d256's case): the
producer's warp and the 8 consumer warps run in random interleavings over the
full and empty mbarriers (counts, parities, the end slot), the consumers'
barriers at mid-step and at the end of a step, and the reductions' warps that
release a stage one step late. It checks that every walk ends and that no
stage is rewritten while a consumer warp still reads it, and that the model
catches two broken protocols (a release never made, a producer that does not
wait). No GPU: the kernel itself runs in fa-tune verify."""
import random
import sys


class Bar:
    """An mbarrier: arrivals complete a phase; a wait on parity q returns once
    the phase of parity q has completed (a fresh barrier has completed 1)."""

    def __init__(self, count):
        self.count, self.pending, self.phase = count, count, 0

    def arrive(self, k=1):
        self.pending -= k
        assert self.pending >= 0, "more arrivals than the barrier expects"
        if self.pending == 0:
            self.phase ^= 1
            self.pending = self.count

    def done(self, parity):
        return self.phase != parity


class Stuck(Exception):
    pass


def walk(n_items, seed, late_release_from=1, producer_waits=True):
    rnd = random.Random(seed)
    full, empty = [Bar(33), Bar(33)], [Bar(8), Bar(8)]
    readers = [set(), set()]  # consumer warps still reading a stage
    held = [None, None]       # the step a stage holds, or "end"
    met = {}

    def producer():
        for n in range(n_items + 1):  # the items, then the slot with no item
            s = n % 2
            while producer_waits and not empty[s].done(((n // 2) & 1) ^ 1):
                yield
            assert not readers[s], f"stage {s} rewritten for step {n} while warps {readers[s]} read it"
            held[s] = n if n < n_items else "end"
            yield
            full[s].arrive(33)  # the copies' thread and the 32 lanes
            yield

    def csync(tag, n):  # named barrier 5 over the 8 consumer warps
        met[tag, n] = met.get((tag, n), 0) + 1
        while met[tag, n] < 8:
            yield

    def consumer(w):
        reductions = w % 4 == 0  # the warp of the thread that issues dQ's bulk reductions
        n = 0
        while True:
            st = n % 2
            while not full[st].done((n // 2) & 1):
                yield
            if held[st] == "end":
                return
            assert held[st] == n, f"warp {w} at step {n} found {held[st]}"
            readers[st].add(w)
            yield
            yield from csync("mid", n)
            if reductions and n >= late_release_from:  # the last step's stage, read by its reductions
                readers[st ^ 1].discard(w)
                empty[st ^ 1].arrive()
                yield
            yield from csync("end", n)
            if not reductions:
                readers[st].discard(w)
                empty[st].arrive()
            yield
            n += 1

    actors = [producer()] + [consumer(w) for w in range(8)]
    alive = list(range(len(actors)))
    for _ in range(200000):
        if not alive:
            return
        i = rnd.choice(alive)
        try:
            next(actors[i])
        except StopIteration:
            alive.remove(i)
    raise Stuck(f"{n_items} items, schedule {seed}: no progress")


def fails(**kw):
    try:
        for seed in range(50):
            walk(4, seed, **kw)
    except (AssertionError, Stuck):
        return True
    return False


def main():
    for n_items in range(9):
        for seed in range(200):
            walk(n_items, seed)
    assert fails(late_release_from=2), "the model missed a stage never released"
    assert fails(producer_waits=False), "the model missed a producer that overwrites"
    print("ok: 0-8 items, 200 schedules each: every walk ends, no stage rewritten while read; "
          "two broken protocols caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
