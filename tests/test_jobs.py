"""RunCache and Slots details not covered by test_workshop.py: byte accounting, replacement, off switch, threads."""

import threading

import pytest

from rnnviz import RunConfig, train_run
from rnnviz.runs.capacity import RunCache, Slots, run_nbytes


@pytest.fixture(scope="module")
def runs():
    return [train_run(RunConfig(cell="gru", hidden_size=4, seq_len=5, steps=2, seed=s)) for s in range(5)]


def test_byte_total_stays_exact_through_replacement_and_eviction(runs):
    cache = RunCache(max_entries=3, max_bytes=10**9)
    for run in runs:
        cache.put(run.config.key(), run)
        cache.put(run.config.key(), run)  # the same key again replaces, never double-counts
    assert len(cache) == 3
    assert cache.nbytes == sum(run_nbytes(r) for r in runs[2:])
    assert cache.keys() == [r.config.key() for r in runs[2:]]  # least recently used first


def test_a_run_larger_than_the_cache_is_not_kept_and_evicts_nothing(runs):
    cache = RunCache(max_entries=5, max_bytes=run_nbytes(runs[0]) + 10)
    assert cache.put(runs[0].config.key(), runs[0])
    big = train_run(RunConfig(cell="lstm", hidden_size=32, seq_len=5, steps=1))
    assert not cache.put(big.config.key(), big)
    assert cache.keys() == [runs[0].config.key()] and cache.get(big.config.key()) is None


def test_zero_entries_turns_the_cache_off(runs):
    cache = RunCache(max_entries=0)
    assert not cache.put(runs[0].config.key(), runs[0])
    assert len(cache) == 0 and cache.nbytes == 0


def test_a_run_is_only_cached_under_its_own_config(runs):
    with pytest.raises(ValueError, match="own config"):
        RunCache().put(runs[1].config.key(), runs[0])


def test_hits_and_misses_are_counted(runs):
    cache = RunCache()
    cache.put(runs[0].config.key(), runs[0])
    assert cache.get(runs[0].config.key()) is runs[0] and cache.get("nope") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_concurrent_puts_and_gets_keep_the_bounds(runs):
    cache = RunCache(max_entries=2, max_bytes=10**9)
    errors = []

    def worker(i):
        try:
            for _ in range(200):
                run = runs[i % len(runs)]
                cache.put(run.config.key(), run)
                cache.get(runs[(i + 1) % len(runs)].config.key())
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) <= 2 and cache.nbytes == sum(run_nbytes(r) for r, _ in cache._runs.values())


def test_slots_release_on_error_and_hold_at_least_one():
    slots = Slots(1)
    with pytest.raises(RuntimeError), slots.hold(0.1) as got:
        assert got
        raise RuntimeError
    with slots.hold(0.1) as got:
        assert got and slots.busy == 1
    assert Slots(0).n == 1


