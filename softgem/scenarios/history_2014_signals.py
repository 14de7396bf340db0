"""The 2014 history scenarios that need a signal: the pending signal is the fault point
``userptr.signal_pending``, armed by a scenario task so the explorer chooses when it comes
(docs/history-2014.md)."""

from __future__ import annotations

import errno

from .. import explore
from ..machine import Machine
from ..sync import task
from .gem import ANON, RW, Gem

__all__ = ["creation_under_a_signal_timer", "interrupted_first_registration"]

PAGE = 4096


def _create(gem: Gem, ptr: int, size: int) -> int:
    """GEM_USERPTR as drmIoctl calls it: 0 (the handle is closed again) or -errno."""
    try:
        handle = gem.userptr(ptr, size)
    except OSError as e:
        return -(e.errno or errno.EIO)
    gem.close(handle)
    return 0


def interrupted_first_registration(m: Machine) -> None:
    """The first userptr of an address space while a signal arrives: the notifier's
    registration (``mm_take_all_locks``) may see it pending and fail with EINTR, and
    drmIoctl restarts the creation."""
    gem = Gem(m.spawn("signalled"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    out: list[int] = []
    explore.spawn(lambda: out.append(_create(gem, ptr, PAGE)), "create")
    explore.spawn(lambda: m.device.faults.arm("userptr.signal_pending"), "signal")
    explore.join_all()
    assert out == [0], f"userptr creation after a signal: {out}"


SLOW_REGISTRATION_S = 0.003     # mm_take_all_locks waiting for the mm's locks
SIGNAL_PERIOD_S = 0.001         # X's SIGALRM timer
CLIENT_HOLD_S = 0.0005          # another client's hold of struct_mutex


def creation_under_a_signal_timer(m: Machine) -> None:
    """X creates a userptr: the notifier registration waits long for the mm's locks, X's
    timer signal fires more often than that, and another client keeps taking struct_mutex.
    drmIoctl restarts the creation after every EINTR."""
    gem = Gem(m.spawn("xserver"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    done: list[int] = []
    dev = m.device
    dev.faults.set_hook("userptr.mm_take_all_locks",
                        lambda _mm: task.sleep("mm_take_all_locks", SLOW_REGISTRATION_S))

    def timer() -> None:
        while not done:
            task.sleep("itimer", SIGNAL_PERIOD_S)
            dev.faults.arm("userptr.signal_pending")

    def client() -> None:
        # Every ioctl of the era ran under struct_mutex: one more client, holding it a while.
        while not done:
            with dev.userptr_design.device_lock():
                task.sleep("client", CLIENT_HOLD_S)
            task.sleep("client.idle", CLIENT_HOLD_S / 5)

    explore.spawn(lambda: done.append(_create(gem, ptr, PAGE)), "create")
    explore.spawn(timer, "itimer")
    explore.spawn(client, "client")
    explore.join_all()
    dev.faults.set_hook("userptr.mm_take_all_locks", None)
    assert done == [0], f"userptr creation: {done}"
