"""Knowing that a CONTINUEd system call is over in the program (the notifier window).

A seccomp user notification lets the supervisor act *before* a call; after
``SECCOMP_USER_NOTIF_FLAG_CONTINUE`` the kernel runs it and tells nobody.  The userptr
protocol needs the other end: an invalidation must stay open (odd sequence, ``read_begin``
waiting) until the unmap has really happened, or another thread's ``submit_init`` validates
pages that are about to go (docs/host-mode.md, "the notifier window").

:func:`wait_syscall_exit` polls, with a short exponential back-off, until one of these holds:

* the thread is gone (exit, exec by another thread);
* ``/proc/PID/task/TID/syscall`` shows the thread blocked in another call, or in the same
  call with other arguments;
* ``/proc/PID/task/TID/wchan`` shows it waiting in a new seccomp notification (any new
  trap of the thread comes after the CONTINUEd call returned);
* the call's effect shows in ``/proc/PID/maps`` (:class:`Effect`), which the kernel
  publishes under the program's mmap_lock and which is exactly what a later pin reads: for
  an unmapping call (munmap, brk shrink, mremap's old range) nothing is mapped in the range
  any more; for mprotect and MAP_FIXED mmap the range is covered with the asked
  protection.

A running thread reads as ``running``, which cannot tell "still inside the call" from "back
in user space"; a call whose effect cannot be seen (an mremap that grew in place, or a
MAP_FIXED/mprotect whose effect was there already) is answered by the deadline, and then
the effect -- all a pin looks at -- is the same before and after.  MADV_DONTNEED changes no
mapping at all, so mmcalls ends its invalidation without waiting (contents are the live
view's business: userframes.py copies the pinned frames aside first).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from .procmem import read_maps

__all__ = ["Effect", "wait_syscall_exit"]

_FIRST_DELAY = 20e-6
_MAX_DELAY = 1e-3


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace").strip()
    except OSError:
        return None


class Effect(NamedTuple):
    """What the call leaves in ``[start, end)``: ``prot`` None for a hole, else the
    protection (PROT_READ | PROT_WRITE | PROT_EXEC bits) that must cover the range."""

    start: int
    end: int
    prot: int | None


def _perms(prot: int) -> str:
    return ("r" if prot & 1 else "-") + ("w" if prot & 2 else "-") + ("x" if prot & 4 else "-")


def _visible(pid: int, effect: Effect) -> bool:
    try:
        vmas = read_maps(pid)
    except Exception:
        return True          # the process is gone: nothing is mapped
    hits = [v for v in vmas if v.start < effect.end and v.end > effect.start]
    if effect.prot is None:
        return not hits
    want, addr = _perms(effect.prot), effect.start
    for v in sorted(hits, key=lambda v: v.start):
        if v.start > addr or v.perms[:3] != want:
            return False
        addr = v.end
    return addr >= effect.end


def _left_call(pid: int, tid: int, nr: int, args: tuple[int, ...]) -> bool:
    base = f"/proc/{pid}/task/{tid}"
    text = _read(f"{base}/syscall")
    if text is None:
        return True                          # the thread is gone
    if text.startswith("running"):
        return False                         # cannot tell
    fields = text.split()
    try:
        now = int(fields[0])
        now_args = tuple(int(a, 16) for a in fields[1:7])
    except (ValueError, IndexError):
        return False
    if now == -1:
        return True                          # blocked outside any system call
    if now != nr or now_args != tuple(args[:6]):
        return True
    wchan = _read(f"{base}/wchan") or ""
    return "seccomp" in wchan                # a new trap of the same call


def wait_syscall_exit(pid: int, tid: int, nr: int, args: tuple[int, ...],
                      effects: Sequence[Effect], timeout: float = 0.25) -> bool:
    """Wait until thread ``tid`` of ``pid`` is out of the CONTINUEd call ``nr(args)`` (see
    the module doc); False when the deadline decided."""
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        if effects and all(_visible(pid, e) for e in effects):
            return True
        if _left_call(pid, tid, nr, args):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
