"""The watcher's hang-ups: caught up on the caller's thread, and never fired for an fd
number that a new registration took over (two pollers can hold the same event)."""

from __future__ import annotations

import os
import socket
import threading

from softgem.host.watcher import Watcher


def _watched(w: Watcher, fired: list[str], name: str) -> tuple[int, socket.socket]:
    """A socketpair whose first end the watcher owns (its callback closes it)."""
    ours, theirs = socket.socketpair()
    fd = ours.detach()

    def hung_up() -> None:
        fired.append(name)
        os.close(fd)

    w.watch(fd, hung_up, hangup_only=True, early=True)
    return fd, theirs


def test_catch_up_fires_pending_hangups_on_the_callers_thread() -> None:
    w = Watcher(lambda what, exc: (_ for _ in ()).throw(exc))
    fired: list[str] = []
    _, theirs = _watched(w, fired, "a")
    _, kept = _watched(w, fired, "b")
    w.catch_up()
    assert fired == []
    theirs.close()
    w.catch_up()
    assert fired == ["a"] and w.pending() == 1
    kept.close()
    w.catch_up()
    assert fired == ["a", "b"] and w.pending() == 0
    w.close()


def test_a_stale_event_does_not_fire_the_new_owner_of_the_fd_number() -> None:
    w = Watcher(lambda what, exc: (_ for _ in ()).throw(exc))
    fired: list[str] = []
    fd, theirs = _watched(w, fired, "old")
    theirs.close()
    w.catch_up()                              # "old" fires and closes its fd ...
    again, keep = _watched(w, fired, "new")   # ... whose number the next socket takes
    assert again == fd
    w._fire(fd)                               # the other poller's copy of the old event
    w._fire(fd, early_only=True)
    assert fired == ["old"] and w.pending() == 1
    keep.close()
    w.catch_up()
    assert fired == ["old", "new"]
    w.close()


def test_catch_up_waits_for_a_hangup_the_thread_is_firing() -> None:
    """A release half done shows half its effects: catch_up returns only once it ended."""
    w = Watcher(lambda what, exc: (_ for _ in ()).throw(exc))
    started, proceed = threading.Event(), threading.Event()
    done: list[str] = []
    ours, theirs = socket.socketpair()
    fd = ours.detach()

    def slow_release() -> None:
        started.set()
        proceed.wait(10)
        done.append("released")
        os.close(fd)

    w.watch(fd, slow_release, hangup_only=True, early=True)
    w.start()
    theirs.close()
    assert started.wait(10)
    caller = threading.Thread(target=w.catch_up)
    caller.start()
    caller.join(0.2)
    assert caller.is_alive() and done == []
    proceed.set()
    caller.join(10)
    assert not caller.is_alive() and done == ["released"]
    for fn in w.drain():
        fn()
    w.close()


def test_catch_up_leaves_a_device_files_hangup_to_the_thread() -> None:
    """A device file's release may wait for GPU work the caller is about to unblock: only
    ``early`` hang-ups run in catch_up."""
    w = Watcher(lambda what, exc: (_ for _ in ()).throw(exc))
    fired: list[str] = []
    ours, theirs = socket.socketpair()
    fd = ours.detach()
    w.watch(fd, lambda: (fired.append("device"), os.close(fd)), hangup_only=True)
    theirs.close()
    w.catch_up()
    assert fired == [] and w.pending() == 1
    for fn in w.drain():
        fn()
    assert fired == ["device"]
    w.close()
