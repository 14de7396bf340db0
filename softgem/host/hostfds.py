"""File descriptors the core creates or resolves in host mode: PRIME dma-bufs, sync_files,
syncobj fds (the ``fd_install`` / ``fd_get`` half of the ioctl ``Task`` protocol).

Each new core open file becomes an injected AF_UNIX socket end, exactly like a device file
(drmfile.py: identity by inode and kcmp, release at the peer's hang-up), installed in the
calling thread's fd table with a plain ``SECCOMP_IOCTL_NOTIF_ADDFD`` (no SEND flag) while its
ioctl is held, so the ioctl can still write the number into its argument and answer.

Reserving a number (``get_unused_fd_flags``): a supervisor cannot take a descriptor in the
target without installing a file, and cannot close one afterwards, so reservation is a check:
the lowest free number of the target (its ``/proc/PID/fd``) must be below its RLIMIT_NOFILE
(``prlimit``), else EMFILE -- before the core builds anything (execbuf's out-fence).  The
install then takes the lowest free number; another thread of the program opening files in
between can make it a different number (returned, and written by the caller) or, at the
limit, make the install fail with EMFILE after the request was queued: the one window where
host mode differs from the kernel.

poll/select/epoll on a sync_file: the fence's callback writes one byte into the supervisor's
end, so the program's own poll sees POLLIN once the fence signalled, with no trap.  Decision
on reads: a program that ``read(2)``s a sync_file fd (the kernel answers EINVAL) gets that
byte instead, after which poll no longer reports POLLIN; no real user reads a sync_file, and
trapping every read to refuse it would cost every program a round trip per read.

Resolving a number (``fd_get``): a file of this table gives its core file; an open fd that is
not ours (a pipe, a regular file) gives :data:`FOREIGN`, which every core lookup refuses as
the kernel refuses a file of the wrong kind (EINVAL); a closed number is EBADF.
"""

from __future__ import annotations

import ctypes
import os
import resource
from typing import TYPE_CHECKING, Any

from ..errors import EBADF, EMFILE, KernelError, error_for
from ..gem import DmaBuf
from ..gpu import SyncFile, SyncobjFile
from .seccomp import SECCOMP_IOCTL_NOTIF_ADDFD, seccomp_notif_addfd

if TYPE_CHECKING:
    from .drmfile import FileTable, HostFile
    from .task import HostTask

__all__ = ["FOREIGN", "HostFds", "dmabuf_of", "vpath_of"]

_libc = ctypes.CDLL(None, use_errno=True)
_O_CLOEXEC = 0o2000000


class _Foreign:
    """An open fd of the program that is no softgem file (refused by every core lookup)."""

    name = "foreign"

    def __repr__(self) -> str:
        return "<foreign fd>"


FOREIGN = _Foreign()
_current: list[HostFds] = []         # the live supervisor's table, for dmabuf_of(pid, fd)


def vpath_of(f: object) -> bytes:
    """What /proc/PID/fd shows for such a file on Linux (``anon_inode:...``)."""
    if isinstance(f, DmaBuf):
        return b"anon_inode:dmabuf"
    if isinstance(f, SyncFile):
        return b"anon_inode:sync_file"
    if isinstance(f, SyncobjFile):
        return b"anon_inode:syncobj_file"
    return b"anon_inode:[softgem]"


def _addfd(listener_fd: int, nid: int, srcfd: int, cloexec: bool) -> int:
    req = seccomp_notif_addfd(id=nid, flags=0, srcfd=srcfd, newfd=0,
                              newfd_flags=_O_CLOEXEC if cloexec else 0)
    ret = int(_libc.ioctl(listener_fd, ctypes.c_ulong(SECCOMP_IOCTL_NOTIF_ADDFD),
                          ctypes.byref(req)))
    return ret if ret >= 0 else -ctypes.get_errno()


class HostFds:
    """The supervisor's file table seen from the core (one per run)."""

    def __init__(self, files: FileTable) -> None:
        self.files = files
        _current[:] = [self]

    def close(self) -> None:
        if _current and _current[0] is self:
            _current.clear()

    # -- reserve / install --------------------------------------------------------------
    def reserve(self, task: HostTask) -> int:
        """The number the next install should get; EMFILE if the table is full."""
        try:
            used = {int(n) for n in os.listdir(f"/proc/{task.pid}/fd")}
            soft, _ = resource.prlimit(task.tgid, resource.RLIMIT_NOFILE)
        except (OSError, ValueError):
            return -1                # cannot tell: let the install decide
        fd = 0
        while fd in used:
            fd += 1
        if soft != resource.RLIM_INFINITY and fd >= soft:
            raise EMFILE("too many open files")
        return fd

    def install(self, task: HostTask, f: Any, *, cloexec: bool = True) -> int:
        """Inject ``f`` (the caller's reference moves into the table) into the calling
        thread's process; its fd number.  Raises the ADDFD failure's errno (EMFILE)."""
        dfile, theirs = self.files.create_anon(f, vpath_of(f))
        listener = task._listener        # the notification being served: ADDFD's target
        try:
            fd = -1 if listener is None else _addfd(listener.fd, task.nid, theirs.fileno(),
                                                    cloexec)
        finally:
            self.files.injected(dfile, theirs)   # a failed ADDFD hangs up and releases
        if fd < 0:
            # The table owns a reference already and drops it at the hang-up injected()
            # caused; the caller drops its own on this failure, so take one more for it.
            f.kref.get()
            raise error_for(-fd if fd != -1 else 9, "injecting the fd")
        if isinstance(f, SyncFile):
            self._poll_when_signalled(dfile, f)
        if self.files.trace is not None:
            self.files.trace(f"pid {task.pid}: {dfile.vpath.decode()} -> fd {fd}")
        return fd

    @staticmethod
    def _poll_when_signalled(dfile: HostFile, sf: SyncFile) -> None:
        peer = dfile.peer

        def readable(_: object) -> None:
            try:
                peer.send(b"\1", 0x40)          # MSG_DONTWAIT; a closed peer: nobody polls
            except OSError:
                pass

        fence = sf.fence
        if fence is not None and not fence.add_callback(readable):
            readable(fence)

    # -- lookup -----------------------------------------------------------------------
    def get(self, pid: int, fd: int) -> tuple[object, HostFile | None]:
        """(core file, table entry holding a reference) behind ``fd`` of ``pid``;
        (FOREIGN, None) for an fd that is not ours; EBADF for a closed one."""
        dfile = self.files.get(pid, fd) if fd >= 0 else None
        if dfile is not None:
            return dfile.file, dfile
        if fd < 0 or not os.path.lexists(f"/proc/{pid}/fd/{fd}"):
            raise EBADF(f"fd {fd}")
        return FOREIGN, None

    def put(self, dfile: HostFile | None) -> None:
        if dfile is not None:
            self.files.put(dfile)

    def dmabuf_of(self, pid: int, fd: int) -> DmaBuf | None:
        """The core's dma-buf behind the program's ``fd`` (no reference kept), or None."""
        try:
            f, dfile = self.get(pid, fd)
        except KernelError:
            return None
        try:
            return f if isinstance(f, DmaBuf) else None
        finally:
            self.put(dfile)


def dmabuf_of(pid: int, fd: int) -> DmaBuf | None:
    """The core's dma-buf behind ``fd`` of thread ``pid`` under the running supervisor, or
    None (not a dma-buf, not open, or no supervisor running).  For mmap of a dma-buf fd."""
    return _current[0].dmabuf_of(pid, fd) if _current else None
