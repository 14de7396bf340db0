"""RwSem and RwLock: shared readers, exclusive writers, writer preference, downgrade."""

from __future__ import annotations

import threading
import time

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import RwLock, RwSem

BARRIER_TIMEOUT = 20.0


def _wait_until(cond: object) -> None:
    assert callable(cond)
    while not cond():
        time.sleep(0.001)


@pytest.mark.parametrize("kind", [RwSem, RwLock])
def test_readers_hold_the_lock_together(kind: type[RwSem], threads: Threads) -> None:
    sem = kind(f"t_share.{kind.__name__}")
    all_in = threading.Barrier(3, timeout=BARRIER_TIMEOUT)

    def reader() -> None:
        with sem.read():
            all_in.wait()               # only passes if all three are inside at once

    for i in range(3):
        threads.start(reader, f"r{i}")
    threads.join()
    assert not sem.is_locked()


@pytest.mark.parametrize("kind", [RwSem, RwLock])
def test_a_writer_excludes_readers_and_writers(kind: type[RwSem], threads: Threads) -> None:
    sem = kind(f"t_wexcl.{kind.__name__}")
    state = {"readers": 0, "writers": 0, "writes": 0}

    def writer() -> None:
        for _ in range(100):
            with sem.write():
                state["writers"] += 1
                assert state["writers"] == 1 and state["readers"] == 0
                time.sleep(0)
                state["writes"] += 1
                state["writers"] -= 1

    def reader() -> None:
        for _ in range(100):
            sem.down_read()
            state["readers"] += 1       # not atomic, but only readers touch it here
            assert state["writers"] == 0
            time.sleep(0)
            state["readers"] -= 1
            sem.up_read()

    for i in range(2):
        threads.start(writer, f"w{i}")
        threads.start(reader, f"r{i}")
    threads.join()
    assert state["writes"] == 200


def test_a_waiting_writer_keeps_new_readers_out(threads: Threads) -> None:
    sem = RwSem("t_pref.sem")
    order: list[str] = []
    sem.down_read()

    def writer() -> None:
        with sem.write():
            order.append("writer")

    threads.start(writer, "writer")
    _wait_until(lambda: sem._writers_waiting == 1)
    threads.run(lambda: order.append(f"trylock {sem.down_read_trylock()}"), "late reader")
    sem.up_read()
    threads.join()
    assert order == ["trylock False", "writer"]


def test_downgrade_lets_readers_in_but_keeps_writers_out(threads: Threads) -> None:
    sem = RwSem("t_down.sem")
    sem.down_write()
    sem.downgrade_write()
    assert sem.held_by_me() and not sem.held_for_write()

    def other() -> None:
        assert not sem.down_write_trylock()
        assert sem.down_read_trylock()
        sem.up_read()

    threads.run(other)
    sem.up_read()
    assert not sem.is_locked()


def test_with_takes_an_rwsem_for_write_and_releases_it_on_error() -> None:
    sem = RwSem("t_with.sem")
    with pytest.raises(KeyError), sem:
        assert sem.held_for_write()
        raise KeyError("x")
    assert not sem.is_locked()
    with pytest.raises(KeyError), sem.read():
        raise KeyError("y")
    assert not sem.is_locked()


def test_rwlock_keeps_its_kernel_spelled_aliases() -> None:
    lock = RwLock("t_alias.lock")
    lock.read_lock()
    lock.read_unlock()
    lock.write_lock()
    assert lock.held_for_write()
    lock.write_unlock()
    assert not lock.is_locked()


def test_write_locking_while_reading_is_a_bug() -> None:
    from softgem.sync import lockdep

    sem = RwSem("t_upgrade.sem")
    with lockdep.expect_reports("recursive"), sem.read(), pytest.raises(SimBug):
        sem.down_write()
