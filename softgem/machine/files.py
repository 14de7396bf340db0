"""Open files of a simulated process: the fd table and the open-file protocol.

An :class:`OpenFile` is the kernel's ``struct file`` (an open file description): ``dup`` and
``fork`` share one, and ``release`` runs when the last fd referring to it is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import EBADF, EMFILE, ENODEV, ENOTTY, SimBug
from ..sync import Kref, SpinLock

if TYPE_CHECKING:
    from .process import Process

__all__ = ["FMODE_READ", "FMODE_WRITE", "OpenFile", "FileBase", "FdTable", "NR_OPEN",
           "open_fmode"]

NR_OPEN = 1024

FMODE_READ = 0x1
FMODE_WRITE = 0x2


def open_fmode(flags: int) -> int:
    """``OPEN_FMODE``: the open flags' access mode as FMODE_READ / FMODE_WRITE bits
    (O_RDONLY -> read, O_WRONLY -> write, O_RDWR -> both, 3 -> neither: ioctl only)."""
    return (flags + 1) & 0x3


class OpenFile(Protocol):
    """What the fd table needs from an open file description."""

    kref: Kref
    name: str

    def ioctl(self, proc: Process, request: int, arg: Any) -> int: ...

    def mmap_file(self) -> Any:
        """The MappableFile to hand to mm.mmap, or raise ENODEV."""

    def release(self) -> None:
        """The last reference went away (``f_op->release``)."""


class FileBase:
    """Default behaviour: no ioctls (ENOTTY), no mmap (ENODEV)."""

    name = "anon"

    def __init__(self) -> None:
        self.kref = Kref()

    def ioctl(self, proc: Process, request: int, arg: Any) -> int:
        raise ENOTTY(f"{self.name}: ioctl {request:#x}")

    def mmap_file(self) -> Any:
        raise ENODEV(f"{self.name} cannot be mapped")

    def release(self) -> None:
        pass


def _put(f: OpenFile) -> None:
    f.kref.put(f.release)


class FdTable:
    """``struct files_struct``: lowest free descriptor first, as POSIX requires.

    A descriptor can be *reserved* before its file exists (``get_unused_fd_flags``), then
    given its file (``fd_install``) or released (``put_unused_fd``): the kernel takes the
    number first whenever a failure to get one must leave nothing behind (execbuf's
    out-fence).  A reserved number is taken for ``install`` but is no open file: ``get`` and
    ``close`` answer EBADF for it and a forked child does not inherit it, as ``dup_fd`` clears
    the slots whose file is still NULL.  ``rlimit_nofile`` is RLIMIT_NOFILE: no descriptor
    at or above it is handed out (EMFILE).
    """

    __slots__ = ("_fds", "_lock", "_reserved", "rlimit_nofile")

    def __init__(self) -> None:
        self._fds: dict[int, OpenFile] = {}
        self._reserved: set[int] = set()
        self._lock = SpinLock("machine.files_lock")
        self.rlimit_nofile = NR_OPEN

    def _alloc_fd(self, lowest: int) -> int:
        fd = lowest
        while fd in self._fds or fd in self._reserved:
            fd += 1
        if fd >= min(NR_OPEN, self.rlimit_nofile):
            raise EMFILE("too many open files")
        return fd

    def install(self, f: OpenFile, lowest: int = 3) -> int:
        """Install ``f`` (the caller's reference moves into the table)."""
        with self._lock:
            fd = self._alloc_fd(lowest)
            self._fds[fd] = f
            return fd

    def reserve(self, lowest: int = 3) -> int:
        """``get_unused_fd_flags``: take the lowest free number, with no file yet (EMFILE)."""
        with self._lock:
            fd = self._alloc_fd(lowest)
            self._reserved.add(fd)
            return fd

    def install_reserved(self, fd: int, f: OpenFile) -> None:
        """``fd_install``: give a reserved number its file (the caller's reference moves)."""
        with self._lock:
            if fd not in self._reserved:
                raise SimBug(f"fd {fd} was not reserved")
            self._reserved.discard(fd)
            self._fds[fd] = f

    def unreserve(self, fd: int) -> None:
        """``put_unused_fd``: give a reserved number back unused."""
        with self._lock:
            if fd not in self._reserved:
                raise SimBug(f"fd {fd} was not reserved")
            self._reserved.discard(fd)

    def get(self, fd: int) -> OpenFile:
        """The file behind ``fd`` with a new reference the caller must ``put``."""
        with self._lock:
            f = self._fds.get(fd)
            if f is None:
                raise EBADF(f"fd {fd}")
            f.kref.get()
            return f

    @staticmethod
    def put(f: OpenFile) -> None:
        _put(f)

    def close(self, fd: int) -> None:
        with self._lock:
            f = self._fds.pop(fd, None)
        if f is None:
            raise EBADF(f"fd {fd}")
        _put(f)

    def dup(self, fd: int) -> int:
        f = self.get(fd)
        try:
            return self.install(f)
        except BaseException:
            _put(f)
            raise

    def copy(self) -> FdTable:
        """The table a forked child starts with: the same open files, one more reference each."""
        child = FdTable()
        child.rlimit_nofile = self.rlimit_nofile
        with self._lock:
            for fd, f in self._fds.items():
                f.kref.get()
                child._fds[fd] = f
        return child

    def close_all(self) -> None:
        with self._lock:
            files = list(self._fds.values())
            self._fds.clear()
        for f in files:
            _put(f)

    def fds(self) -> list[int]:
        with self._lock:
            return sorted(self._fds)

    def __len__(self) -> int:
        return len(self._fds)

