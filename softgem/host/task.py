"""The host-mode identities the core sees: an address space (:class:`TracedMm`) and a calling
thread (:class:`HostTask`).

A :class:`TracedMm` is an *identity*: it stands for one ``mm_struct`` of a traced process (the
address space itself, as the core uses it, is :class:`~softgem.host.hostmm.HostUserMm`): its threads share it,
``fork`` makes a new one (a copy), ``execve`` replaces it, and it ends when the last thread is
gone.  The core keys its per-address-space state (userptr notifiers, "is this the creator's
mm?") by the :class:`TracedMm` object itself.

A :class:`HostTask` is built per trapped system call: the thread id, its mm, and the way back
to the kernel's notification, so that memory access can be checked against the notification
still being alive (``SECCOMP_IOCTL_NOTIF_ID_VALID``): a pid can be recycled as soon as the
target dies, and reading or writing a recycled pid would touch an unrelated process.
"""

from __future__ import annotations

from typing import Any

from ..errors import ESRCH
from . import procmem
from .listener import Listener
from .procmem import HostVma

__all__ = ["TracedMm", "HostTask"]


class TracedMm:
    """One address space of a traced process (``tgid``), generation ``gen`` (bumped by exec).

    State of an exec in flight (``exec_tid``):

    =================  ==========================================================
    ``exec_tid`` None  no execve pending
    ``exec_tid`` = T   thread T called execve; the next call from T or from the
                       leader decides (a changed exec identity: it succeeded)
    =================  ==========================================================
    """

    __slots__ = ("__weakref__", "brk_hint", "exec_id", "exec_tid", "gen", "start_brk", "tgid")

    def __init__(self, tgid: int, exec_id: bytes, gen: int = 0) -> None:
        self.tgid = tgid
        self.exec_id = exec_id
        self.gen = gen
        self.exec_tid: int | None = None
        self.brk_hint = 0       # the last brk() asked for, 0 if unknown (see mmcalls.py)
        self.start_brk = -1     # where the heap starts, read once from /proc/PID/stat

    def vmas(self, with_flags: bool = False) -> list[HostVma]:
        """The current layout (``/proc/PID/maps``, or ``smaps`` with VmFlags)."""
        return procmem.read_maps(self.tgid, with_flags)

    def __repr__(self) -> str:
        return f"TracedMm(tgid={self.tgid}, gen={self.gen})"


class HostTask:
    """The thread ``pid`` (a tid) blocked in trapped system call ``nid`` of ``listener``."""

    __slots__ = ("_listener", "checked", "injector", "mm", "nid", "pid")

    def __init__(self, pid: int, mm: TracedMm, listener: Listener | None, nid: int) -> None:
        self.pid = pid
        self.mm = mm
        self.nid = nid
        self._listener = listener
        self.checked = False     # check_valid() has succeeded once for this call
        self.injector: Any = None    # the supervisor's Injector, for calls that map memory

    @property
    def tgid(self) -> int:
        return self.mm.tgid

    def check_valid(self) -> None:
        """Raise ESRCH if the system call is no longer pending (target killed or interrupted).
        Call it after copying arguments in and before acting on them."""
        held = self.injector.held(self.pid) if self.injector is not None else None
        if held is not None and held.nid == self.nid:
            self.checked = True     # stopped under our ptrace: its notification was answered,
            return                  # but the thread (and its pid) stay ours until released
        if self._listener is not None and not self._listener.valid(self.nid):
            raise ESRCH(f"task {self.pid} left system call {self.nid}")
        self.checked = True

    def read(self, addr: int, n: int) -> bytes:
        """copy_from_user: ``n`` bytes at ``addr``, or EFAULT."""
        return procmem.read_mem(self.pid, addr, n)

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        return procmem.read_cstring(self.pid, addr, limit)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """copy_to_user: all of ``data`` at ``addr``, or EFAULT.  The first write of a call
        checks that the notification is alive, so a recycled pid is never written."""
        if not self.checked:
            self.check_valid()
        procmem.write_mem(self.pid, addr, data)

    def __repr__(self) -> str:
        return f"HostTask(pid={self.pid}, mm={self.mm!r})"
