"""Mutex and SpinLock under real threads."""

from __future__ import annotations

import threading
import time

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import Mutex, SpinLock


@pytest.mark.parametrize("kind", [Mutex, SpinLock])
def test_only_one_thread_is_ever_inside(kind: type[Mutex], threads: Threads) -> None:
    lock = kind(f"t_excl.{kind.__name__}")
    inside, entries = [0], [0]

    def worker() -> None:
        for _ in range(200):
            with lock:
                inside[0] += 1
                assert inside[0] == 1
                time.sleep(0)           # invite a switch while holding the lock
                entries[0] += 1
                inside[0] -= 1

    for i in range(4):
        threads.start(worker, f"w{i}")
    threads.join()
    assert entries[0] == 800


def test_trylock_fails_while_another_thread_holds_the_lock(threads: Threads) -> None:
    m = Mutex("t_try2.m")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with m:
            held.set()
            release.wait()

    threads.start(holder)
    held.wait()
    assert m.is_locked() and not m.held_by_me()
    assert not m.trylock()
    release.set()
    threads.join()
    assert m.trylock() and m.held_by_me()
    m.unlock()
    assert not m.is_locked()


def test_the_context_manager_unlocks_when_the_body_raises() -> None:
    m = Mutex("t_cm.m")
    with pytest.raises(KeyError), m:
        raise KeyError("x")
    assert not m.is_locked()


def test_nested_takes_the_lock_with_a_subclass_and_releases_it() -> None:
    m = Mutex("t_nested.m")
    with m.nested(1) as got:
        assert got is m and m.held_by_me()
    assert not m.is_locked()


def test_a_lock_class_name_belongs_to_one_kind_of_lock() -> None:
    Mutex("t_kind.x")
    with pytest.raises(SimBug):
        SpinLock("t_kind.x")


def test_instances_with_one_name_share_one_lock_class() -> None:
    assert Mutex("t_share.x").lock_class is Mutex("t_share.x").lock_class
