"""Open files of a simulated process: the fd table and the open-file protocol.

An :class:`OpenFile` is the kernel's ``struct file`` (an open file description): ``dup`` and
``fork`` share one, and ``release`` runs when the last fd referring to it is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import EBADF, EMFILE, ENODEV, ENOTTY
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
    """``struct files_struct``: lowest free descriptor first, as POSIX requires."""

    __slots__ = ("_fds", "_lock")

    def __init__(self) -> None:
        self._fds: dict[int, OpenFile] = {}
        self._lock = SpinLock("machine.files_lock")

    def install(self, f: OpenFile, lowest: int = 3) -> int:
        """Install ``f`` (the caller's reference moves into the table)."""
        with self._lock:
            fd = lowest
            while fd in self._fds:
                fd += 1
            if fd >= NR_OPEN:
                raise EMFILE("too many open files")
            self._fds[fd] = f
            return fd

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

