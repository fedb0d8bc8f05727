"""The report cache: reuse while fresh, re-check the data stamp after, rebuild on change."""

from __future__ import annotations

import pandas as pd

from survey.reports.cache import FRESH_SECONDS, MAX_AGE_SECONDS, ReportCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(stamp: list[int], **options):
    clock = Clock()
    checks: list[int] = []

    def read_stamp() -> tuple[int, ...]:
        checks.append(1)
        return tuple(stamp)

    return ReportCache(clock=clock, stamp=read_stamp, **options), clock, checks


def counter():
    built: list[int] = []

    def build() -> pd.DataFrame:
        built.append(1)
        return pd.DataFrame({"n": range(len(built))})

    return build, built


def test_a_fresh_entry_is_reused_without_reading_the_stamp() -> None:
    cache, clock, checks = make([1, 1])
    build, built = counter()
    first = cache.get("k", build)
    clock.now += FRESH_SECONDS / 2
    assert cache.get("k", build) is first
    assert len(built) == 1 and len(checks) == 1


def test_after_the_fresh_window_an_unchanged_stamp_keeps_the_entry() -> None:
    stamp = [5, 9]
    cache, clock, checks = make(stamp)
    build, built = counter()
    cache.get("k", build)
    clock.now += FRESH_SECONDS + 1
    cache.get("k", build)
    assert len(built) == 1 and len(checks) == 2
    clock.now += FRESH_SECONDS / 2  # checked again just now: fresh
    cache.get("k", build)
    assert len(checks) == 2


def test_new_data_rebuilds_once_the_fresh_window_has_passed() -> None:
    stamp = [5, 9]
    cache, clock, _ = make(stamp)
    build, built = counter()
    cache.get("k", build)
    stamp[0] = 6  # a new response
    clock.now += FRESH_SECONDS + 1
    assert len(cache.get("k", build)) == 2  # the second build's table
    assert len(built) == 2


def test_an_old_entry_is_rebuilt_whatever_the_stamp() -> None:
    cache, clock, _ = make([1])
    build, built = counter()
    cache.get("k", build)
    clock.now += MAX_AGE_SECONDS + 1
    cache.get("k", build)
    assert len(built) == 2


def test_keys_are_separate_and_none_is_cached() -> None:
    cache, _, _ = make([1])
    calls: list[str] = []
    assert cache.get("a", lambda: calls.append("a")) is None
    assert cache.get("a", lambda: calls.append("again")) is None
    cache.get("b", lambda: calls.append("b"))
    assert calls == ["a", "b"]
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_tables_are_evicted_beyond_the_row_budget() -> None:
    cache, _, _ = make([1], max_rows=25)
    tables = {k: pd.DataFrame({"n": range(10)}) for k in "abc"}
    for k in "abc":
        cache.get(k, lambda k=k: tables[k])
    rebuilt: list[str] = []
    cache.get("a", lambda: rebuilt.append("a") or tables["a"])  # evicted: built again
    cache.get("c", lambda: rebuilt.append("c") or tables["c"])  # still there
    assert rebuilt == ["a"]


def test_changed_data_is_answered_stale_while_it_is_rebuilt_behind() -> None:
    stamp = [5, 9]
    jobs: list = []
    clock = Clock()
    cache = ReportCache(clock=clock, stamp=lambda: tuple(stamp), background=jobs.append)
    build, built = counter()
    first = cache.get("k", build)
    stamp[0] = 6  # a new response
    clock.now += FRESH_SECONDS + 1
    assert cache.get("k", build) is first  # answered at once, with the old table
    assert len(built) == 1 and len(jobs) == 1
    assert cache.get("k", build) is first  # one rebuild at a time per key
    assert len(jobs) == 1
    jobs.pop()()  # the background thread runs
    assert len(built) == 2
    assert len(cache.get("k", build)) == 2  # the rebuilt table


def test_a_failed_rebuild_behind_drops_the_entry() -> None:
    stamp = [1]
    jobs: list = []
    clock = Clock()
    cache = ReportCache(clock=clock, stamp=lambda: tuple(stamp), background=jobs.append)
    cache.get("k", lambda: pd.DataFrame({"n": [1]}))
    stamp[0] = 2
    clock.now += FRESH_SECONDS + 1

    def broken() -> pd.DataFrame:
        raise RuntimeError("database gone")

    cache.get("k", broken)
    jobs.pop()()  # logs the error
    calls: list[int] = []
    cache.get("k", lambda: calls.append(1) or pd.DataFrame({"n": [2]}))  # built while waiting
    assert calls == [1]


def test_one_stamp_read_serves_every_entry_a_page_checks() -> None:
    cache, clock, checks = make([1])
    build, _ = counter()
    for key in "abc":
        cache.get(key, build)
    assert len(checks) == 1  # built together: one read
    clock.now += FRESH_SECONDS + 1
    for key in "abc":
        cache.get(key, build)
    assert len(checks) == 2


def test_a_key_being_built_is_waited_for_not_built_twice() -> None:
    import threading

    cache, _, _ = make([1])
    started, release = threading.Event(), threading.Event()
    builds: list[str] = []

    def slow() -> pd.DataFrame:
        builds.append("slow")
        started.set()
        release.wait(10)
        return pd.DataFrame({"n": [1]})

    first = threading.Thread(target=lambda: cache.get("k", slow))
    first.start()
    started.wait(10)
    got: list = []
    second = threading.Thread(
        target=lambda: got.append(cache.get("k", lambda: builds.append("again")))
    )
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert builds == ["slow"]
    assert len(got) == 1 and len(got[0]) == 1
