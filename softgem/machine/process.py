"""A simulated process: an address space, an fd table, and the system calls of the public API.

Every method is a system call: it runs the core, and a :class:`~softgem.errors.KernelError`
raised inside becomes ``OSError(errno)`` here, at the edge, and only here.  CPU loads and stores
(:meth:`read`, :meth:`write`) raise :class:`~softgem.errors.Segfault` on a bad access instead,
as the hardware would fault, and :class:`~softgem.errors.OomKilled` when the fault ran out of
memory: the OOM killer has then killed the process (``exit_status`` 128 + SIGKILL).  Any Python thread calling these methods is one of the process's
threads; the core's own locks make that safe.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .. import trace
from ..errors import EINVAL, ESRCH, KernelError, OomKilled, to_oserror
from ..mm import Mm
from ..posix import MAP_ANONYMOUS, O_RDWR
from ..units import PAGE_SHIFT, PAGE_SIZE
from .files import FdTable, OpenFile

if TYPE_CHECKING:
    from .machine import Machine

__all__ = ["Process", "syscall"]

P = ParamSpec("P")
R = TypeVar("R")


def syscall(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` as a system call: KernelError leaves as OSError with the same errno."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KernelError as err:
            raise to_oserror(err) from None

    return wrapper


class Process:
    """One simulated process (``struct task_struct`` with its ``mm`` and ``files``)."""

    def __init__(self, machine: Machine, pid: int, mm: Mm, files: FdTable,
                 parent: Process | None = None) -> None:
        self.machine = machine
        self.pid = pid
        self.mm = mm
        self.files = files
        self.parent = parent
        self.alive = True
        self.exit_status: int | None = None
        self.term_signal: int | None = None   # the signal that killed it (SIGKILL: OOM)

    def __repr__(self) -> str:
        return f"<Process {self.pid}{'' if self.alive else ' (dead)'}>"

    def _check_alive(self) -> None:
        if not self.alive:
            raise ESRCH(f"process {self.pid} has exited")

    # -- memory ----------------------------------------------------------------------------
    @syscall
    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> int:
        self._check_alive()
        if offset & (PAGE_SIZE - 1) or offset < 0:
            raise EINVAL("offset not page aligned")
        if flags & MAP_ANONYMOUS:
            return self.mm.mmap(addr, length, prot, flags)
        f = self.files.get(fd)
        try:
            return self.mm.mmap(addr, length, prot, flags, file=f.mmap_file(),
                                pgoff=offset >> PAGE_SHIFT)
        finally:
            self.files.put(f)

    @syscall
    def munmap(self, addr: int, length: int) -> None:
        self._check_alive()
        self.mm.munmap(addr, length)

    @syscall
    def mprotect(self, addr: int, length: int, prot: int) -> None:
        self._check_alive()
        self.mm.mprotect(addr, length, prot)

    @syscall
    def mremap(self, addr: int, old_len: int, new_len: int, flags: int = 0,
               new_addr: int = 0) -> int:
        self._check_alive()
        return self.mm.mremap(addr, old_len, new_len, flags, new_addr)

    @syscall
    def madvise(self, addr: int, length: int, advice: int) -> None:
        self._check_alive()
        self.mm.madvise(addr, length, advice)

    @syscall
    def brk(self, new_brk: int) -> int:
        self._check_alive()
        return self.mm.brk(new_brk)

    def read(self, addr: int, n: int) -> bytes:
        """CPU loads of ``n`` bytes at ``addr`` (faults, zero page; Segfault when bad)."""
        self._check_alive_cpu()
        try:
            return self.mm.cpu_read(addr, n)
        except OomKilled:
            self._oom_kill()
            raise

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """CPU stores (faults, copy-on-write; Segfault when bad)."""
        self._check_alive_cpu()
        try:
            self.mm.cpu_write(addr, data)
        except OomKilled:
            self._oom_kill()
            raise

    def _check_alive_cpu(self) -> None:
        if not self.alive:
            raise to_oserror(ESRCH(f"process {self.pid} has exited"))

    def _oom_kill(self) -> None:
        """VM_FAULT_OOM from a user fault: the OOM killer's SIGKILL (``oom_kill_process``).

        The kernel picks the task with the worst badness score; the model picks the faulting
        process, which is what a single memory hog sees.
        """
        if trace.enabled:
            trace.emit("process", "oom_kill", pid=self.pid)
        self.term_signal = signal.SIGKILL
        self.exit(128 + signal.SIGKILL)

    # -- processes ---------------------------------------------------------------------------
    @syscall
    def fork(self) -> Process:
        self._check_alive()
        return self.machine._fork(self)

    def exit(self, status: int = 0) -> None:
        """Tear the process down the way ``do_exit`` does: the mm first, then the files."""
        if not self.alive:
            return
        self.alive = False
        self.exit_status = status
        if trace.enabled:
            trace.emit("process", "exit", pid=self.pid, status=status)
        self.mm.mmput()             # exit_mmap, unless a driver holds the mm (mmget)
        self.files.close_all()
        self.machine._reap(self)

    # -- files -----------------------------------------------------------------------------
    @syscall
    def open(self, path: str, flags: int = O_RDWR) -> int:
        self._check_alive()
        f = self.machine._open_path(path, flags, self.mm.name)
        try:
            return self.files.install(f)
        except BaseException:
            self.files.put(f)
            raise

    @syscall
    def close(self, fd: int) -> None:
        self._check_alive()
        self.files.close(fd)

    @syscall
    def dup(self, fd: int) -> int:
        self._check_alive()
        return self.files.dup(fd)

    @syscall
    def ioctl(self, fd: int, request: int, arg: Any = 0) -> int:
        """``ioctl(fd, request, arg)``: ``arg`` is a uapi ctypes struct (updated in place on
        return, as the C caller's struct would be) or an int user address in this process."""
        self._check_alive()
        f = self.files.get(fd)
        try:
            return f.ioctl(self, request, arg)
        finally:
            self.files.put(f)

    def file(self, fd: int) -> OpenFile:
        """The open file behind ``fd`` (no reference taken: for inspection and tests)."""
        f = self.files.get(fd)
        self.files.put(f)
        return f

    def fd_install(self, f: OpenFile, flags: int = 0) -> int:
        """Install a file the kernel created (a PRIME dma-buf, a sync_file) in the fd table."""
        return self.files.install(f)

    def get_unused_fd_flags(self, flags: int = 0) -> int:
        """Reserve the lowest free descriptor for a file not built yet (EMFILE)."""
        return self.files.reserve()

    def fd_install_reserved(self, fd: int, f: OpenFile) -> int:
        """Give the reserved ``fd`` its file (the kernel's ``fd_install``); returns ``fd``
        (host mode may answer another number: the protocol returns the one installed)."""
        self.files.install_reserved(fd, f)
        return fd

    def put_unused_fd(self, fd: int) -> None:
        """Give a reserved descriptor back unused."""
        self.files.unreserve(fd)

    def setrlimit_nofile(self, limit: int) -> None:
        """``setrlimit(RLIMIT_NOFILE)``: descriptors at or above ``limit`` are refused."""
        self.files.rlimit_nofile = limit

    def fd_get(self, fd: int) -> OpenFile:
        return self.files.get(fd)

    def fd_put(self, f: OpenFile) -> None:
        self.files.put(f)

