"""Device files: what the program's fd for ``/dev/dri/card0`` really is, and when it dies.

Each open of a device node makes an ``AF_UNIX`` socketpair.  One end is injected into the
program (``SECCOMP_IOCTL_NOTIF_ADDFD``); the supervisor keeps the other, the *peer*, and
closes its copy of the injected end.  From then on the kernel does the bookkeeping a
``struct file`` gets: ``dup``, ``fcntl(F_DUPFD)``, ``fork`` and ``SCM_RIGHTS`` share the same
open file, and when its last reference anywhere is closed the peer hangs up -- that is
``drm_release``.  A target fd is mapped back to its open file by the inode of
``/proc/TID/fd/N`` (every copy of one open file shows the same socket inode).

Rejected alternatives: counting fds by tracking close/dup/fork in the supervisor (racy,
and misses fds closed by exit or execve's close-on-exec); eventfds or pipes (no hang-up
signal for "last reference closed" on the supervisor's side).

Lifetime of a :class:`DrmFile` (``kref``: one reference for "the program still has it open",
one per ioctl being served):

==================  =====================================================================
state               meaning
==================  =====================================================================
open                in the table, peer watched; lookups take a reference
hung up             removed from the table (no new lookups), open reference dropped
released            last reference dropped: peer closed, ``backend.release_file`` called
==================  =====================================================================
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from ..errors import KernelError
from ..sync import Kref, Mutex
from .watcher import Watcher

__all__ = ["DrmFile", "FileTable"]


class DrmFile:
    __slots__ = ("file", "inode", "kref", "minor", "peer", "vpath")

    def __init__(self, minor: int, vpath: bytes, file: object, peer: socket.socket,
                 inode: int) -> None:
        self.minor = minor
        self.vpath = vpath
        self.file = file
        self.peer = peer
        self.inode = inode
        self.kref = Kref(1)

    def __repr__(self) -> str:
        return f"DrmFile({self.vpath.decode()}, ino={self.inode})"


class FileTable:
    """Open device files by socket inode; thread-safe."""

    def __init__(self, watcher: Watcher, open_file: Callable[[int], object],
                 release_file: Callable[[object], None]) -> None:
        self._watcher = watcher
        self._open_file = open_file
        self._release_file = release_file
        self._lock = Mutex("host.files")
        self._by_inode: dict[int, DrmFile] = {}

    def create(self, minor: int, vpath: bytes, nonblock: bool) -> tuple[DrmFile, socket.socket]:
        """A new open file and the end to inject.  The caller closes that end once it is
        injected -- or if injecting fails, which hangs the peer up and releases the file.  Raises the backend's KernelError if ``open_file`` refuses."""
        file = self._open_file(minor)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.setblocking(not nonblock)
        ino = os.fstat(theirs.fileno()).st_ino
        dfile = DrmFile(minor, vpath, file, ours, ino)
        with self._lock:
            self._by_inode[ino] = dfile
        self._watcher.watch(ours.fileno(), lambda: self.hangup(dfile), hangup_only=True)
        return dfile, theirs

    def _inode_of(self, pid: int, fd: int) -> int | None:
        """The socket inode behind a target fd (readlink is a third of a stat's cost)."""
        if fd < 0:
            return None
        try:
            link = os.readlink(b"/proc/%d/fd/%d" % (pid, fd))
        except OSError:
            return None
        if not link.startswith(b"socket:["):
            return None
        return int(link[8:-1])

    def peek(self, pid: int, fd: int) -> DrmFile | None:
        """The open file behind ``fd`` of thread ``pid`` (no reference taken: for stat)."""
        if not self._by_inode:
            return None
        ino = self._inode_of(pid, fd)
        return None if ino is None else self._by_inode.get(ino)

    def get(self, pid: int, fd: int) -> DrmFile | None:
        """Like :meth:`peek`, with a reference the caller drops with :meth:`put`.

        Every ioctl comes through here, so it is written flat.  No lock: a dict lookup is
        atomic, and a file that :meth:`hangup` removed concurrently is refused by
        ``get_unless_zero`` once its last reference is gone (before that, serving it is
        what the kernel does too: an ioctl in flight keeps a closed file alive)."""
        if not self._by_inode or fd < 0:
            return None
        try:
            link = os.readlink(b"/proc/%d/fd/%d" % (pid, fd))   # bytes: no decoding
        except OSError:
            return None
        if not link.startswith(b"socket:["):
            return None
        dfile = self._by_inode.get(int(link[8:-1]))
        if dfile is None or not dfile.kref.get_unless_zero():
            return None
        return dfile

    def put(self, dfile: DrmFile) -> None:
        dfile.kref.put(lambda: self._release(dfile))

    def hangup(self, dfile: DrmFile) -> None:
        """The program closed its last copy (watcher thread)."""
        with self._lock:
            if self._by_inode.get(dfile.inode) is not dfile:
                return
            del self._by_inode[dfile.inode]
        self.put(dfile)

    def _release(self, dfile: DrmFile) -> None:
        dfile.peer.close()
        try:
            self._release_file(dfile.file)
        except KernelError:
            pass

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_inode)
