"""Device files: what the program's fd for ``/dev/dri/card0`` really is, and when it dies.

Each open of a device node makes an ``AF_UNIX`` socketpair.  One end is injected into the
program (``SECCOMP_IOCTL_NOTIF_ADDFD``); the supervisor keeps the other, the *peer*, and
closes its copy of the injected end.  From then on the kernel does the bookkeeping a
``struct file`` gets: ``dup``, ``fcntl(F_DUPFD)``, ``fork`` and ``SCM_RIGHTS`` share the same
open file, and when its last reference anywhere is closed the peer hangs up -- that is
``drm_release``.

Which open file is behind a target fd (every ioctl asks): the first time for a (thread, fd),
the inode of ``/proc/TID/fd/N`` (every copy of one open file shows the same socket inode);
after that, a remembered guess checked with one ``kcmp(KCMP_EPOLL_TFD)``, which asks the
kernel whether the target's fd is *the* file registered in the supervisor's registry epoll
under the slot the guess names -- half the cost of the procfs lookup.  The registry holds
every injected end without holding a reference to it (an epoll item is dropped with the last
reference of its file, so hang-up still works); each slot is a supervisor fd number kept
reserved by a ``/dev/null`` duplicate for as long as the file lives, so that no two live
files share a slot.  A failed check (fd closed, reused, or another thread's table) falls back
to procfs.  Without kcmp (no CONFIG_KCMP, or refused) procfs answers every time.

Rejected alternatives: counting fds by tracking close/dup/fork in the supervisor (racy,
and misses fds closed by exit, execve's close-on-exec and io_uring); a cache invalidated by
trapping close (a round trip on every close of the program, and a close in flight cannot be
told from one that completed); eventfds or pipes (no hang-up signal for "last reference
closed" on the supervisor's side); holding a copy of the injected end to compare with
``KCMP_FILE`` (the copy would keep the file open forever).

The same mechanism serves the files the core creates during an ioctl (a PRIME dma-buf, a
sync_file, a syncobj fd): :meth:`FileTable.create_anon` makes the socketpair for a core open
file that already exists (``minor`` is -1, ``vpath`` names its kind), hostfds.py injects the
end with a plain ADDFD while the ioctl is held, and the hang-up of the peer drops the fd
table's reference on the core file (``release_file``), exactly as for a device file.  So a
dma-buf fd passed over SCM_RIGHTS or inherited by fork is found by inode in any process, and
the dma-buf lives until its last fd anywhere is closed.

Lifetime of a :class:`HostFile` (``kref``: one reference for "the program still has it open",
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

import ctypes
import os
import select
import socket
from collections.abc import Callable

from ..errors import KernelError
from ..sync import Kref, Mutex
from .kcmp import KCMP_EPOLL_TFD, NR_KCMP, EpollSlot, kcmp, kcmp_works, slot_pointer
from .watcher import Watcher

__all__ = ["HostFile", "FileTable"]

_GUESSES_MAX = 4096             # remembered (tid, fd) -> file guesses before starting over


class HostFile:
    """One open file description the supervisor serves (``struct file``): a device node's, or
    one an ioctl made (dma-buf, sync_file, syncobj).  Not the GEM handle table, which is
    :class:`softgem.gem.DrmFile` (``struct drm_file``), held here as ``file``."""

    __slots__ = ("_slot_obj", "file", "inode", "kref", "minor", "peer", "readonly", "slot",
                 "slot_fd", "vpath")

    def __init__(self, minor: int, vpath: bytes, file: object, peer: socket.socket,
                 inode: int) -> None:
        self.minor = minor
        self.vpath = vpath
        self.file = file
        self.peer = peer
        self.inode = inode
        self.kref = Kref(1)
        self.readonly = False   # opened O_RDONLY: no FMODE_WRITE (shared writable maps: EACCES)
        self.slot_fd = -1       # reserved registry slot (a /dev/null duplicate), -1 if none
        self.slot: ctypes.c_void_p | None = None    # its kcmp_epoll_slot's address
        self._slot_obj: EpollSlot | None = None     # keeps that address valid

    def set_slot(self, efd: int, fd: int) -> None:
        self._slot_obj = EpollSlot(efd, fd, 0)
        self.slot_fd = fd
        self.slot = slot_pointer(self._slot_obj)

    def __repr__(self) -> str:
        return f"HostFile({self.vpath.decode()}, ino={self.inode})"


class FileTable:
    """Open device files by socket inode; thread-safe."""

    def __init__(self, watcher: Watcher, open_file: Callable[[int], object],
                 release_file: Callable[[object], None]) -> None:
        self._watcher = watcher
        self._open_file = open_file
        self._release_file = release_file
        self._lock = Mutex("host.files")
        self._by_inode: dict[int, HostFile] = {}
        self._guess: dict[tuple[int, int], HostFile] = {}
        self._self = os.getpid()
        self._registry: select.epoll | None = select.epoll() if kcmp_works() else None
        self.trace: Callable[[str], None] | None = None    # set by the supervisor (--trace)

    def create(self, minor: int, vpath: bytes, nonblock: bool) -> tuple[HostFile, socket.socket]:
        """A new open file and the end to inject.  The caller passes that end to
        :meth:`injected` once it was injected -- or if injecting failed, which hangs the peer
        up and releases the file.  Raises the backend's KernelError if ``open_file`` refuses."""
        return self._create(minor, vpath, nonblock, self._open_file(minor))

    def create_anon(self, file: object, vpath: bytes) -> tuple[HostFile, socket.socket]:
        """The socketpair for a core open file made by an ioctl (a dma-buf, a sync_file, a
        syncobj fd); its release is ``release_file(file)`` at the peer's hang-up."""
        dfile, theirs = self._create(-1, vpath, False, file)
        if self.trace is not None:
            self.trace(f"{vpath.decode()} created ({file!r}, ino={dfile.inode})")
        return dfile, theirs

    def _create(self, minor: int, vpath: bytes, nonblock: bool,
                file: object) -> tuple[HostFile, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.setblocking(not nonblock)
        ino = os.fstat(theirs.fileno()).st_ino
        dfile = HostFile(minor, vpath, file, ours, ino)
        with self._lock:
            self._by_inode[ino] = dfile
            if self._registry is not None:
                self._registry.register(theirs.fileno(), 0)
        # a core file's release never waits (catch-up may run it); a device file's may
        self._watcher.watch(ours.fileno(), lambda: self.hangup(dfile), hangup_only=True,
                            early=minor < 0)
        return dfile, theirs

    def catch_up(self) -> None:
        """Release now the files whose last fd was closed (see Watcher.catch_up)."""
        self._watcher.catch_up()

    def injected(self, dfile: HostFile, theirs: socket.socket) -> None:
        """Drop the supervisor's copy of the injected end, keeping its registry slot: its fd
        number is taken over by a /dev/null duplicate until the file is released."""
        fd = theirs.detach()
        with self._lock:
            if self._registry is None:
                os.close(fd)
                return
            null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.dup2(null, fd, inheritable=False)   # drops our reference to the end
            finally:
                os.close(null)
            dfile.set_slot(self._registry.fileno(), fd)

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

    def peek(self, pid: int, fd: int) -> HostFile | None:
        """The *device* file behind ``fd`` of thread ``pid`` (no reference taken: for stat,
        readlink, mmap and re-opens, which only device files answer as such)."""
        dfile = self.peek_any(pid, fd)
        return dfile if dfile is not None and dfile.minor >= 0 else None

    def peek_any(self, pid: int, fd: int) -> HostFile | None:
        """Like :meth:`peek`, core files (dma-buf, sync_file, syncobj) included."""
        if not self._by_inode:
            return None
        ino = self._inode_of(pid, fd)
        return None if ino is None else self._by_inode.get(ino)

    def get(self, pid: int, fd: int) -> HostFile | None:
        """Like :meth:`peek`, with a reference the caller drops with :meth:`put`.

        Every ioctl comes through here; the remembered guess is its fast path.  No lock: dict
        operations are atomic, and a file that :meth:`hangup` removed concurrently is refused
        by ``get_unless_zero`` once its last reference is gone (before that, serving it is
        what the kernel does too: an ioctl in flight keeps a closed file alive).  A guess is
        only ever stored for an fd /proc resolved, so kcmp only sees valid fd numbers."""
        dfile = self._guess.get((pid, fd))
        if (dfile is not None
                and kcmp(NR_KCMP, pid, self._self, KCMP_EPOLL_TFD, fd, dfile.slot) == 0
                and dfile.kref.get_unless_zero()):
            return dfile    # (a released file's slot may hold a newer file: refused above)
        dfile = self.peek_any(pid, fd)
        if dfile is None or not dfile.kref.get_unless_zero():
            return None
        if dfile.slot is not None:
            if len(self._guess) >= _GUESSES_MAX:
                self._guess.clear()
            self._guess[(pid, fd)] = dfile
        return dfile

    def put(self, dfile: HostFile) -> None:
        if dfile.kref.put():
            self._release(dfile)

    def hangup(self, dfile: HostFile) -> None:
        """The program closed its last copy (watcher thread)."""
        with self._lock:
            if self._by_inode.get(dfile.inode) is not dfile:
                return
            del self._by_inode[dfile.inode]
        self.put(dfile)

    def _release(self, dfile: HostFile) -> None:
        if dfile.minor < 0 and self.trace is not None:
            self.trace(f"{dfile.vpath.decode()} closed: last fd gone ({dfile.file!r})")
        dfile.peer.close()
        with self._lock:
            if dfile.slot_fd >= 0:
                # The registry dropped the end's item with its last reference; a stale guess
                # fails its kcmp from now on, or matches a newer file that reused the slot
                # and is then refused by get_unless_zero.
                os.close(dfile.slot_fd)
                dfile.slot_fd = -1
        try:
            self._release_file(dfile.file)
        except KernelError:
            pass

    def close(self) -> None:
        """The end of the run (after every file was released)."""
        with self._lock:
            for dfile in self._by_inode.values():
                if dfile.slot_fd >= 0:
                    os.close(dfile.slot_fd)
                    dfile.slot_fd = -1
            self._guess.clear()
            if self._registry is not None:
                self._registry.close()
                self._registry = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_inode)
