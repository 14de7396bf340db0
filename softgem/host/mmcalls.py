"""Address-space changes and process lifecycle calls, turned into backend events.

Each trapped call is reported to ``backend.mm_event`` with the notifier event the kernel
would raise (semantics.md section 8) *before* the call proceeds -- the program's thread is
blocked meanwhile -- and then continues.  When the backend holds the range under
invalidation (a userptr's interval overlaps it), the handler CONTINUEs the call itself,
waits until it is over in the program (syscall_exit.py) and only then lets the backend
close the invalidation.  These calls are hot (allocators munmap, madvise
and move the break all the time), so each handler does arithmetic on the registers and
nothing else (``brk`` reads ``/proc`` once per process).  Calls the kernel will refuse (unaligned, empty)
raise no event.  ``mmap`` of a device fd is served by gemmap.py.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable

from ..errors import ENODEV, ESRCH, KernelError
from ..mm.notify import NotifyEvent
from ..posix import (
    MADV_DONTNEED,
    MADV_FREE,
    MADV_REMOVE,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
)
from ..units import TASK_SIZE, page_align
from .drmfile import HostFile
from .gemmap import device_mmap
from .listener import Notification
from .paths import signed32
from .services import ANSWERED, Handler, Reply, Services
from .syscall_exit import Effect, wait_syscall_exit
from .syscalls import CLONE_VM, MADV_DONTNEED_LOCKED, NR

__all__ = ["CLEARING_ADVICE", "MmCalls"]

#: madvise advice values that zap pages (the filter traps only these)
CLEARING_ADVICE = (MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTNEED_LOCKED)
_U64 = struct.Struct("<Q")
UNMAP, CLEAR = NotifyEvent.UNMAP, NotifyEvent.CLEAR
#: what a call leaves in its range (besides protection bits): see MmCalls._event
HOLE: None = None
UNSEEN, NO_CHANGE = -1, -2


def _range(addr: int, length: int) -> tuple[int, int] | None:
    """The page range a (start, length) argument covers, or None if the kernel refuses it."""
    if addr & 0xFFF or length == 0:
        return None
    end = addr + page_align(length)
    return (addr, end) if end <= TASK_SIZE + 0x1000 and end > addr else None


class _Pending(threading.local):
    """One worker's events of the call it is serving (mremap may raise two)."""

    batching = False

    def __init__(self) -> None:
        self.ends: list[Callable[[], None]] = []
        self.effects: list[Effect] = []


def _start_brk(tgid: int) -> int:
    """Field 47 of /proc/PID/stat (counted after the parenthesised command name)."""
    try:
        with open(f"/proc/{tgid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError as exc:
        raise ESRCH(f"pid {tgid}: {exc}") from exc
    return int(fields[47 - 3])


class MmCalls:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._warned = False
        self._pending = _Pending()

    def table(self) -> dict[int, Handler]:
        def fork(n: Notification) -> Reply:
            return self._event(n, NotifyEvent.PROTECTION_PAGE, 0, TASK_SIZE, "fork")

        return {
            NR["munmap"]: lambda n: self._ranged(n, UNMAP, n.args[0], n.args[1], "munmap",
                                                 HOLE),
            NR["mprotect"]: self.sys_mprotect, NR["pkey_mprotect"]: self.sys_mprotect,
            NR["madvise"]: self.sys_madvise, NR["mremap"]: self.sys_mremap,
            NR["mmap"]: self.sys_mmap, NR["brk"]: self.sys_brk,
            NR["clone"]: fork, NR["fork"]: fork, NR["clone3"]: self.sys_clone3,
            NR["execve"]: self.sys_execve, NR["execveat"]: self.sys_execve,
            NR["exit_group"]: lambda n: self._event(n, UNMAP, 0, TASK_SIZE, "exit_group"),
        }

    def _event(self, n: Notification, event: NotifyEvent, start: int, end: int,
               cause: str, effect: int | None = UNSEEN) -> Reply:
        """Raise the event; when the backend holds the range under invalidation until the
        call is over, let the call run here, wait for its end (syscall_exit.py), close the
        invalidation and answer ANSWERED (the call was CONTINUEd already).  ``effect`` is
        what the call leaves in the range: HOLE, the protection bits that will cover it,
        UNSEEN (nothing to look for) or NO_CHANGE (no mapping changes: no wait)."""
        svc = self.svc
        if svc.trace:
            svc.trace(f"pid {n.pid}: {cause} -> {event.name} [{start:#x}, {end:#x})")
        try:
            finish = svc.backend.mm_event(svc.procs.task(n), event, start, end, cause)
        except Exception as exc:      # an event must never fail the program's call
            svc.warn(f"softgem: mm_event({cause}) failed: {exc!r}")
            return None
        if finish is None:
            return None
        if effect == NO_CHANGE:
            finish()
            return None
        pending = self._pending
        pending.ends.append(finish)
        if effect != UNSEEN:
            pending.effects.append(Effect(start, end, effect))
        return None if pending.batching else self._run_then_finish(n)

    def _run_then_finish(self, n: Notification) -> Reply:
        pending = self._pending
        ends, effects = pending.ends, pending.effects
        pending.ends, pending.effects = [], []
        try:
            self.svc.listener.proceed(n.id)
            tgid = self.svc.procs.task(n).tgid
            if not wait_syscall_exit(tgid, n.pid, n.nr, n.args, effects) and self.svc.trace:
                self.svc.trace(f"pid {n.pid}: end of call {n.nr} not seen; window closed")
        except (OSError, KernelError):
            pass                      # the notification or the thread is gone
        finally:
            for finish in ends:
                try:
                    finish()
                except Exception as exc:
                    self.svc.warn(f"softgem: invalidate_range_end failed: {exc!r}")
        return ANSWERED

    def _ranged(self, n: Notification, event: NotifyEvent, addr: int, length: int,
                cause: str, effect: int | None = UNSEEN) -> Reply:
        rng = _range(addr, length)
        return None if rng is None else self._event(n, event, rng[0], rng[1], cause, effect)

    def sys_mprotect(self, n: Notification) -> Reply:
        return self._ranged(n, NotifyEvent.PROTECTION_VMA, n.args[0], n.args[1], "mprotect",
                            n.args[2] & 7)

    def sys_madvise(self, n: Notification) -> Reply:
        if n.args[2] & 0xFFFFFFFF not in CLEARING_ADVICE:
            return None
        return self._ranged(n, CLEAR, n.args[0], n.args[1], "madvise", NO_CHANGE)

    def sys_mremap(self, n: Notification) -> Reply:
        old, old_len, new_len, flags, new_addr = n.args[:5]
        if old & 0xFFF:
            return None
        old_len, new_len = page_align(old_len), page_align(new_len)
        if flags & MREMAP_FIXED:
            pending = self._pending
            pending.batching = True
            try:
                self._ranged(n, UNMAP, new_addr, new_len, "mremap")
                if old_len:
                    self._ranged(n, UNMAP, old, old_len, "mremap", HOLE)
            finally:
                pending.batching = False
            return self._run_then_finish(n) if pending.ends else None
        if new_len < old_len:
            return self._ranged(n, UNMAP, old + new_len, old_len - new_len, "mremap", HOLE)
        if new_len > old_len and flags & MREMAP_MAYMOVE and old_len:
            return self._ranged(n, UNMAP, old, old_len, "mremap")   # it may move
        return None

    def sys_mmap(self, n: Notification) -> Reply:
        addr, length, _prot, flags, fd = n.args[:5]
        if not flags & MAP_ANONYMOUS and signed32(fd) >= 0:
            dfile = self.svc.files.get(n.pid, signed32(fd))
            if dfile is not None:
                try:
                    return self._device_mmap(n, dfile)
                finally:
                    self.svc.files.put(dfile)
        if flags & MAP_FIXED and not flags & MAP_FIXED_NOREPLACE:
            return self._ranged(n, UNMAP, addr, length, "mmap", _prot & 7)
        return None

    def _device_mmap(self, n: Notification, dfile: HostFile) -> Reply:
        try:
            return device_mmap(self.svc, n, dfile, lambda: self._ranged(
                n, UNMAP, n.args[0], n.args[1], "mmap"))
        except ENODEV:
            if not self._warned:
                self._warned = True
                self.svc.warn("softgem: this mmap of a DRM device fd cannot be served in host "
                              "mode (ptrace refused, or not a shmem object): ENODEV")
            raise

    def sys_brk(self, n: Notification) -> Reply:
        """Only a shrink unmaps.  The current break is taken to be the last one asked for
        (``brk_hint``): a growth that failed makes the hint too high and the event wider
        than needed, which is harmless; only when the hint is unknown (a process seen
        first here) is ``/proc/PID/maps`` read.  Requests below the heap start are ignored
        by the kernel and here."""
        new = n.args[0]
        if new == 0:
            return None
        mm = self.svc.procs.task(n).mm
        try:
            if mm.start_brk < 0:
                mm.start_brk = _start_brk(mm.tgid)
            if new < mm.start_brk:
                return None
            old, mm.brk_hint = mm.brk_hint, new
            if old and new >= old:
                return None
            start = page_align(new)
            if old:
                end = page_align(old)
            else:
                heap = next((v for v in mm.vmas() if v.path == "[heap]"), None)
                end = heap.end if heap is not None else start
        except KernelError:
            return None
        return self._event(n, UNMAP, start, end, "brk", HOLE) if start < end else None

    def sys_clone3(self, n: Notification) -> Reply:
        try:
            (flags,) = _U64.unpack(self.svc.procs.task(n).read(n.args[0], 8))
        except KernelError:
            return None
        if flags & CLONE_VM:
            return None
        return self._event(n, NotifyEvent.PROTECTION_PAGE, 0, TASK_SIZE, "fork")

    def sys_execve(self, n: Notification) -> Reply:
        self._event(n, UNMAP, 0, TASK_SIZE, "execve")
        # Last: any trap of this thread after the mark is taken as "after the execve".
        self.svc.procs.exec_started(self.svc.procs.task(n))
        return None
