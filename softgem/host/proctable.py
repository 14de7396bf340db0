"""Which address space a trapped thread runs in, and when address spaces appear and end.

A notification names only a thread id.  The table maps it to a :class:`TracedMm`, learning
processes lazily: the first trap from an unknown thread reads ``/proc/TID/status`` (Tgid,
PPid).  A new thread group gets a new mm -- a fork child of a known parent is reported with
``mm_fork`` -- and a pidfd that the watcher polls, so ``mm_exit`` follows the process's end.

execve cannot be seen completing (seccomp traps on entry only), so it is inferred: the
trapped execve marks the mm, and the next trap from the execing thread or the leader compares
the process's *exec identity* -- its auxiliary vector and the 16 random bytes ``AT_RANDOM``
points to, which every successful execve draws afresh -- with the one recorded.  Changed: the
exec succeeded (``mm_exec``); unchanged on the execing thread: it failed.

Known limit: a thread id that dies and is recycled by a new process while its old process is
still alive would be attributed to the old process (needs the pid space to wrap).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ..errors import ESRCH, KernelError
from ..sync import Mutex
from . import procmem
from .backend import HostBackend
from .listener import Listener, Notification
from .task import HostTask, TracedMm
from .watcher import Watcher

__all__ = ["ProcessTable"]

AT_RANDOM = 25
_AUXV = struct.Struct("<QQ")


def exec_identity(tgid: int) -> bytes:
    """Bytes that change with every successful execve of ``tgid`` (ESRCH once it is gone)."""
    try:
        with open(f"/proc/{tgid}/auxv", "rb") as f:
            auxv = f.read()
    except OSError as exc:
        raise ESRCH(f"pid {tgid}: {exc}") from exc
    for off in range(0, len(auxv) - _AUXV.size + 1, _AUXV.size):
        key, value = _AUXV.unpack_from(auxv, off)
        if key == AT_RANDOM:
            try:
                return auxv + procmem.read_mem(tgid, value, 16)
            except KernelError:
                break
    return auxv


def _status_ids(tid: int) -> tuple[int, int]:
    """(Tgid, PPid) of a thread."""
    tgid = ppid = -1
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("Tgid:"):
                    tgid = int(line.split()[1])
                elif line.startswith("PPid:"):
                    ppid = int(line.split()[1])
                    break
    except OSError as exc:
        raise ESRCH(f"tid {tid}: {exc}") from exc
    if tgid < 0:
        raise ESRCH(f"tid {tid}: no Tgid")
    return tgid, ppid


class ProcessTable:
    def __init__(self, backend: HostBackend, watcher: Watcher, listener: Listener | None,
                 on_error: Callable[[str, BaseException], None]) -> None:
        self._backend = backend
        self._watcher = watcher
        self._listener = listener
        self._on_error = on_error
        self._lock = Mutex("host.procs")
        self._by_tid: dict[int, TracedMm] = {}
        self._by_tgid: dict[int, TracedMm] = {}
        self._threads: dict[int, set[int]] = {}

    def task(self, notif: Notification) -> HostTask:
        """The calling thread of ``notif`` (fast path: one dict lookup)."""
        mm = self._by_tid.get(notif.pid)
        if mm is None or mm.exec_tid is not None:
            mm = self._resolve(notif.pid)
        return HostTask(notif.pid, mm, self._listener, notif.id)

    def exec_started(self, task: HostTask) -> None:
        task.mm.exec_tid = task.pid

    def _resolve(self, tid: int) -> TracedMm:
        tgid, ppid = _status_ids(tid)
        with self._lock:
            mm = self._by_tgid.get(tgid)
            parent = self._by_tgid.get(ppid)
        if mm is None:
            mm = self._new_process(tgid, tid, parent, ppid)
        elif mm.exec_tid is not None and tid in (mm.exec_tid, tgid):
            mm = self._settle_exec(mm, tid)
        with self._lock:
            if self._by_tgid.get(tgid) is mm:
                self._by_tid[tid] = mm
                self._threads.setdefault(tgid, set()).add(tid)
        return mm

    def _new_process(self, tgid: int, tid: int, parent: TracedMm | None, ppid: int) -> TracedMm:
        mm = TracedMm(tgid, exec_identity(tgid))
        try:
            pidfd = os.pidfd_open(tgid)
        except OSError as exc:
            raise ESRCH(f"pidfd_open({tgid}): {exc}") from exc
        with self._lock:
            known = self._by_tgid.get(tgid)
            if known is not None:        # another worker discovered it meanwhile
                os.close(pidfd)
                return known
            self._by_tgid[tgid] = mm
        self._watcher.watch(pidfd, lambda: self._exited(mm, pidfd))
        if parent is not None:
            mm.brk_hint, mm.start_brk = parent.brk_hint, parent.start_brk   # fork copies
            self._backend.mm_fork(HostTask(ppid, parent, None, 0), HostTask(tid, mm, None, 0))
        return mm

    def _settle_exec(self, mm: TracedMm, tid: int) -> TracedMm:
        ident = exec_identity(mm.tgid)
        if ident == mm.exec_id:
            if tid == mm.exec_tid:
                mm.exec_tid = None        # the execve failed; same image, same mm
            return mm
        new = TracedMm(mm.tgid, ident, mm.gen + 1)
        with self._lock:
            if self._by_tgid.get(mm.tgid) is not mm:
                return self._by_tgid.get(mm.tgid) or new
            self._by_tgid[mm.tgid] = new
            for old_tid in self._threads.pop(mm.tgid, set()):
                self._by_tid.pop(old_tid, None)
        mm.exec_tid = None
        self._backend.mm_exec(HostTask(tid, new, None, 0), mm)
        return new

    def _exited(self, mm: TracedMm, pidfd: int) -> None:
        os.close(pidfd)
        with self._lock:
            current = self._by_tgid.get(mm.tgid)
            if current is not None and current.tgid == mm.tgid:
                del self._by_tgid[mm.tgid]
            for tid in self._threads.pop(mm.tgid, set()):
                self._by_tid.pop(tid, None)
        self._backend.mm_exit(current if current is not None else mm)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_tgid)
