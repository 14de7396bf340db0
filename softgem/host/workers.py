"""Who receives the next notification: one leader at a time, standbys take over when it stalls.

Two constraints shape this.  ``SECCOMP_IOCTL_NOTIF_RECV`` must only be issued by one
thread at a time, after ``poll`` said the listener is readable: a RECV with nothing pending
sleeps until the next notification and nothing else wakes it, so a second receiver would
be stuck forever at the end of the run.  And the program may be multi-threaded: while one
of its calls is being served for long (a backend ioctl waiting on the GPU), its other
threads' calls must still be served.

The common case -- a single-threaded program, fast calls -- must cost no thread switch:
the leader receives and serves inline, then keeps leading.  Only when it has been serving
the same call across two looks of an idle worker (they look every ``check_every``) does
that worker claim leadership and start receiving; the stalled leader becomes idle when it
is done.

Leadership is a chain of *leases*: the leader holds a fresh dict per call, and the worker
that writes its ``"next"`` key first (``dict.setdefault`` is atomic: a compare-and-swap)
leads next.  A lease is published in ``serving`` only while its call is being served, so
only then can a standby claim it; seeing the same lease twice means the call is stalled.

=======================  ===================================================================
state                    meaning
=======================  ===================================================================
leader, waiting          holds an unpublished lease; polls and receives; nobody can claim
leader, serving          ``serving = lease``; a standby that sees the same lease on two
                         looks ``check_every`` apart claims ``lease["next"]``
after serving            the leader claims ``lease["next"]`` itself: won -> still leader,
                         with a fresh lease (``serving`` cleared); lost -> a standby leads,
                         the old leader goes idle
=======================  ===================================================================

Race the claim rules out (a stale read cannot win, because every lease is claimed once)::

    leader L                               idle worker W
    serves, claims lease["next"]: wins     holds lease from an earlier look (stale)
    serving = None; polls                  lease.setdefault("next"): L -> stays idle

Rejected alternatives: every worker blocking in RECV (stuck receivers); a receiver thread
handing calls to a pool (a thread switch per call: most of a round trip); a fixed leader
with a pool for backend calls (every ioctl is a backend call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..sync import WaitQueue

__all__ = ["WorkerPool"]

T = TypeVar("T")


class WorkerPool(Generic[T]):
    def __init__(self, n: int, wait: Callable[[], bool], recv: Callable[[], T | None],
                 serve: Callable[[T], None], report: Callable[[str, BaseException], None],
                 *, check_every: float = 0.005) -> None:
        self._wait = wait
        self._recv = recv
        self._serve = serve
        self._report = report
        self._check_every = check_every
        self._serving: dict[str, int] | None = None
        self._done = False
        self._idle = WaitQueue("host.idle-workers")
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True,
                                          name=f"softgem-worker-{i}") for i in range(max(1, n))]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        """Wait for every worker (after ``wait`` started returning False)."""
        for t in self._threads:
            t.join()

    def _finish(self) -> None:
        self._done = True
        self._idle.wake_up_all()

    def _run(self, me: int) -> None:
        lease: dict[str, int] | None = {} if me == 0 else None
        while True:
            if lease is None:
                lease = self._standby(me)
                if lease is None:
                    return
            try:
                if self._done or not self._wait():
                    self._finish()
                    return
                item = self._recv()
            except Exception as exc:
                self._report("receive", exc)
                self._finish()
                return
            if item is None:
                continue
            self._serving = lease
            try:
                self._serve(item)
            except Exception as exc:
                self._report("serve", exc)
            if lease.setdefault("next", me) == me:
                lease = {}
                self._serving = None
            else:
                lease = None

    def _standby(self, me: int) -> dict[str, int] | None:
        """Idle until the leader stalls (return the lease this worker won) or the end."""
        seen = None
        while True:
            self._idle.wait_event(lambda: self._done, self._check_every)
            if self._done:
                return None
            serving = self._serving
            if serving is not None and serving is seen and serving.setdefault("next", me) == me:
                return {}
            seen = serving
