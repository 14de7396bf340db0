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
* for an unmapping call (``hole``): ``/proc/PID/maps`` shows no mapping left in the range --
  the effect a later pin would see, published under the program's mmap_lock.

A running thread reads as ``running``, which cannot tell "still inside munmap" from "back in
user space"; for calls that leave no hole (MAP_FIXED, madvise, an mremap that grew in place)
that is answered by the deadline (the caller ends the invalidation anyway).  Under the live
view those calls leave the range mapped, so a validation inside the window answers what one
after it answers.
"""

from __future__ import annotations

import time

from .procmem import read_maps

__all__ = ["wait_syscall_exit"]

_FIRST_DELAY = 20e-6
_MAX_DELAY = 1e-3


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace").strip()
    except OSError:
        return None


def _unmapped(pid: int, start: int, end: int) -> bool:
    try:
        vmas = read_maps(pid)
    except Exception:
        return True          # the process is gone: nothing is mapped
    return not any(v.start < end and v.end > start for v in vmas)


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
                      hole: tuple[int, int] | None, timeout: float = 0.25) -> bool:
    """Wait until thread ``tid`` of ``pid`` is out of the CONTINUEd call ``nr(args)`` (see
    the module doc); False when the deadline decided."""
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        if hole is not None and _unmapped(pid, *hole):
            return True
        if _left_call(pid, tid, nr, args):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
