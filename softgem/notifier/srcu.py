"""Srcu: sleepable read-copy-update, just enough for the whole-mm notifier list.

The kernel walks ``subscriptions->list`` under ``srcu_read_lock`` so callbacks may sleep,
and ``mmu_notifier_unregister`` calls ``synchronize_srcu`` so that once it returns no
callback of the removed notifier is still running.  The list itself is published
copy-on-write (a tuple swapped under the subscriptions lock), which gives the RCU half;
this class gives the grace period.

Two reader counters, as in the kernel's SRCU: readers count into ``readers[idx]``;
``synchronize`` flips ``idx`` and waits for the old counter to drain.  Grace periods are
serialised by a mutex, so after one returns every reader that started before it has left.
Readers that start after the flip never delay it.

| field       | protected by        | meaning                                    |
|-------------|---------------------|--------------------------------------------|
| idx         | lock                | counter new readers enter                  |
| readers[i]  | lock                | readers inside that entered counter i      |
| (gp)        | gp mutex            | at most one grace period runs at a time    |
"""

from __future__ import annotations

from ..sync import Mutex, SpinLock, WaitQueue

__all__ = ["Srcu"]


class Srcu:
    __slots__ = ("_gp", "_idx", "_lock", "_readers", "_wq")

    def __init__(self, name: str) -> None:
        self._lock = SpinLock(f"{name}.lock")
        self._gp = Mutex(f"{name}.gp")
        self._wq = WaitQueue(name)
        self._idx = 0
        self._readers = [0, 0]

    def read_lock(self) -> int:
        """Enter a read-side section; returns the token for :meth:`read_unlock`."""
        self._lock.lock()
        idx = self._idx
        self._readers[idx] += 1
        self._lock.unlock()
        return idx

    def read_unlock(self, idx: int) -> None:
        self._lock.lock()
        left = self._readers[idx] - 1
        self._readers[idx] = left
        retired = idx != self._idx
        self._lock.unlock()
        if left == 0 and retired:
            self._wq.wake_up_all()

    def synchronize(self) -> None:
        """Wait until every read-side section that started before this call has ended.

        Must not be called inside a read-side section (it would wait for itself).
        """
        with self._gp:
            self._lock.lock()
            old = self._idx
            self._idx = old ^ 1
            self._lock.unlock()
            readers = self._readers
            self._wq.wait_event(lambda: readers[old] == 0)
