"""The device nodes, as the program sees them: open and ioctl.

``open``/``openat``/``openat2`` of ``/dev/dri/card0`` or ``/dev/dri/renderD128`` (directly,
through a shadow symlink, or re-opened through ``/proc/self/fd/N``) create a new drm file and
inject it (see drmfile.py).  Other paths in the shadow tree are opened by the supervisor and
the fd injected as is, so that everything after is ordinary kernel work.  ``ioctl`` on a
device fd goes to the backend.

What a program touches to find an i915 is listed in docs/host-mode.md; the stat family and
readlink live in fsinfo.py, mmap of a device fd in mmcalls.py.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct
from dataclasses import dataclass

from ..errors import EEXIST, KernelError, error_for
from ..gpu import SW_SYNC_PATHS
from .drmfile import HostFile
from .listener import GONE, Notification
from .meminfo import MEMINFO, MemInfoCalls
from .paths import signed32
from .services import ANSWERED, Handler, Reply, Services
from .syscalls import AT_FDCWD, NR
from .wedged import WEDGED

__all__ = ["DeviceCalls", "Node"]

SW_SYNC = frozenset(os.fsencode(p) for p in SW_SYNC_PATHS)

_OPEN_HOW = struct.Struct("<QQQ")


@dataclass(frozen=True, slots=True)
class Node:
    """A path the supervisor answers for: a device node (``minor``), a shadow file
    (``spath`` in the shadow), or a host path reached through a shadow directory (``spath``
    is the host's own path).  ``in_shadow``: the name was relative to a shadow directory, so
    the kernel would resolve it to the same shadow file by itself."""

    vpath: bytes
    minor: int | None
    spath: bytes | None
    in_shadow: bool = False


class DeviceCalls:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.meminfo = MemInfoCalls(svc)

    def table(self) -> dict[int, Handler]:
        return {NR["open"]: self.sys_open, NR["openat"]: self.sys_openat,
                NR["openat2"]: self.sys_openat2, NR["ioctl"]: self.sys_ioctl,
                NR["sysinfo"]: self.meminfo.sys_sysinfo}

    def lookup(self, notif: Notification, dirfd: int, ptr: int, follow: bool,
               opening: bool = False) -> Node | None:
        """The node a (dirfd, path) argument names, or None if it is not ours (``opening``:
        also ``/proc/meminfo``, as a node with neither minor nor shadow path)."""
        svc = self.svc
        path = svc.paths.read(notif.pid, ptr)
        if not path:
            return None
        located = svc.paths.locate(notif.pid, dirfd, path)
        if located is None:
            return None
        vpath, from_shadow = located
        target = svc.paths.proc_fd(vpath, notif.pid)
        if target is not None:
            dfile = svc.files.peek(*target) if follow else None
            return None if dfile is None else Node(dfile.vpath, dfile.minor, None)
        if not svc.shadow.covers(vpath):
            if opening and vpath == MEMINFO:
                return Node(vpath, None, None)
            # A host path named relative to a shadow directory (``..`` back out of it, a
            # host entry of a merged directory): the supervisor must answer, since the kernel
            # would look inside the shadow.  Only sysfs is served so; elsewhere the kernel's
            # answer (ENOENT in the shadow) stands.
            if from_shadow and (vpath == b"/sys" or vpath.startswith(b"/sys/")):
                return Node(vpath, None, vpath, True)
            return None
        minor = svc.shadow.device_minor(vpath, follow)
        if minor is not None:
            return Node(vpath, minor, None)
        return Node(vpath, None, svc.shadow.to_shadow(vpath), from_shadow)

    # --- open ---

    def sys_open(self, n: Notification) -> Reply:
        return self._open(n, AT_FDCWD, n.args[0], n.args[1] & 0xFFFFFFFF, n.args[2])

    def sys_openat(self, n: Notification) -> Reply:
        return self._open(n, signed32(n.args[0]), n.args[1], n.args[2] & 0xFFFFFFFF, n.args[3])

    def sys_openat2(self, n: Notification) -> Reply:
        if n.args[3] < _OPEN_HOW.size:
            return None
        try:
            flags, mode, _resolve = _OPEN_HOW.unpack(
                self.svc.procs.task(n).read(n.args[2], _OPEN_HOW.size))
        except KernelError:
            return None
        return self._open(n, signed32(n.args[0]), n.args[1], flags, mode)

    def _open(self, n: Notification, dirfd: int, ptr: int, flags: int, mode: int) -> Reply:
        node = self.lookup(n, dirfd, ptr, follow=not flags & os.O_NOFOLLOW, opening=True)
        if node is None:
            return None
        self.svc.procs.task(n).check_valid()
        if node.minor is None and node.spath is None:
            return self._open_meminfo(n, flags)
        if node.vpath in SW_SYNC and not flags & (os.O_PATH | os.O_DIRECTORY):
            return self._open_timeline(n, node.vpath, flags)
        if node.spath is not None:
            if flags & os.O_PATH:
                flags = self._without_o_path(node, flags)
                if flags < 0:
                    return None
            if node.spath == node.vpath:
                self._check_host_access(n, node.spath, flags)
            elif flags & os.O_ACCMODE != os.O_RDONLY:
                self._check_store(node)
                if flags & os.O_ACCMODE == os.O_WRONLY:
                    # A sysfs store replaces the attribute whatever the offset; IGT's
                    # igt_sysfs_set writes "1" without O_TRUNC over "20000\n".
                    flags |= os.O_TRUNC
                if node.vpath == WEDGED and self.svc.wedged is not None:
                    self.svc.wedged.arm()               # wedged.py
            return self._open_shadow(n, node.spath, flags, mode)
        assert node.minor is not None
        if flags & os.O_DIRECTORY:
            raise error_for(errno.ENOTDIR, node.vpath.decode())
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise EEXIST(node.vpath.decode())
        dfile, theirs = self.svc.files.create(node.minor, node.vpath,
                                              bool(flags & os.O_NONBLOCK))
        dfile.readonly = flags & os.O_ACCMODE == os.O_RDONLY
        return self._inject_open(n, dfile, theirs, flags)

    def _inject_open(self, n: Notification, dfile: HostFile, theirs: socket.socket,
                     flags: int) -> Reply:
        """The new file's end becomes the program's fd: the open's answer."""
        try:
            fd = self.svc.listener.inject(n.id, theirs.fileno(), bool(flags & os.O_CLOEXEC))
        finally:
            self.svc.files.injected(dfile, theirs)
        if self.svc.trace:
            self.svc.trace(f"pid {n.pid}: open {dfile.vpath.decode()} -> fd {fd} ({dfile!r})")
        return self._injected(fd)

    @staticmethod
    def _check_store(node: Node) -> None:
        """A sysfs attribute without a store method refuses writers, root too (the supervisor
        is often root, and root writes any file of the shadow)."""
        assert node.spath is not None
        try:
            mode = os.stat(node.spath).st_mode
        except OSError:
            return                                      # the open reports it
        if stat.S_ISREG(mode) and not mode & 0o222:
            raise error_for(errno.EACCES, node.vpath.decode())

    @staticmethod
    def _check_host_access(n: Notification, path: bytes, flags: int) -> None:
        """The supervisor opens a host path for the program with its own credentials: when
        the program's effective uid is another one, it gets what "other" may do (sysfs
        attributes are root's), and EACCES beyond."""
        try:
            with open(f"/proc/{n.pid}/status", "rb") as f:
                uid_line = next(line for line in f if line.startswith(b"Uid:"))
            euid = int(uid_line.split()[2])
        except (OSError, StopIteration, ValueError, IndexError):
            raise error_for(errno.ESRCH, "the program's credentials") from None
        if euid == os.geteuid() or euid == 0:
            return
        acc = flags & os.O_ACCMODE
        want = (4 if acc != os.O_WRONLY else 0) | (2 if acc != os.O_RDONLY else 0)
        if flags & os.O_PATH:
            want = 0
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return                                      # the open reports it
        if want & ~mode & 0o7:
            raise error_for(errno.EACCES, os.fsdecode(path))

    @staticmethod
    def _without_o_path(node: Node, flags: int) -> int:
        """The flags to open an ``O_PATH`` request with, or -1 to let the kernel do it.

        An ``O_PATH`` file cannot be injected (SECCOMP_IOCTL_NOTIF_ADDFD takes the fd with
        ``fget``, which refuses them: EBADF), so a directory is opened ``O_RDONLY |
        O_DIRECTORY`` instead: it serves every ``*at`` call an ``O_PATH`` fd serves, and
        ``chase``-style walkers only use it so.  Anything else opened relative to a shadow
        directory is left to the kernel, which resolves it in the shadow by itself (a
        shadow symlink with ``O_NOFOLLOW`` becomes an fd of the link, as on sysfs)."""
        assert node.spath is not None
        kept = flags & (os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)   # O_PATH ignores the rest
        link = os.path.islink(node.spath)
        if os.path.isdir(node.spath) and not (flags & os.O_NOFOLLOW and link):
            return kept | os.O_DIRECTORY
        if node.in_shadow:
            return -1
        if flags & os.O_NOFOLLOW and link:
            raise error_for(errno.ELOOP, node.vpath.decode())
        return kept

    def _open_shadow(self, n: Notification, spath: bytes, flags: int, mode: int) -> Reply:
        try:
            ours = os.open(spath, (flags | os.O_CLOEXEC) & 0xFFFFFFFF, mode & 0o7777)
        except OSError as exc:
            raise error_for(exc.errno or errno.EIO, os.fsdecode(spath)) from exc
        try:
            fd = self.svc.listener.inject(n.id, ours, bool(flags & os.O_CLOEXEC))
        finally:
            os.close(ours)
        return self._injected(fd)

    def _open_meminfo(self, n: Notification, flags: int) -> Reply:
        """``/proc/meminfo`` read-only: a snapshot of the model's RAM (meminfo.py); anything
        else (writers, O_PATH, O_DIRECTORY) the host answers."""
        if flags & (os.O_ACCMODE | os.O_PATH | os.O_DIRECTORY | os.O_CREAT) != os.O_RDONLY:
            return None
        snapshot = self.meminfo.meminfo_fd()
        if snapshot is None:
            return None
        try:
            ours = os.open(f"/proc/self/fd/{snapshot}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(snapshot)
        try:
            fd = self.svc.listener.inject(n.id, ours, bool(flags & os.O_CLOEXEC))
        finally:
            os.close(ours)
        return self._injected(fd)

    def _open_timeline(self, n: Notification, vpath: bytes, flags: int) -> Reply:
        """debugfs ``sync/sw_sync``: every open is a new core timeline (gpu/sw_sync.py),
        named after the opener as the kernel names it (``comm``)."""
        try:
            with open(f"/proc/{n.pid}/comm", "rb") as f:
                comm = f.read().rstrip(b"\n").decode(errors="replace")
        except OSError:
            raise error_for(errno.ESRCH, "the opener's comm") from None
        dfile, theirs = self.svc.files.create_anon(self.svc.backend.open_timeline(comm), vpath)
        return self._inject_open(n, dfile, theirs, flags)

    @staticmethod
    def _injected(fd: int) -> Reply:
        if fd >= 0 or -fd in GONE:
            return ANSWERED
        raise error_for(-fd, "injecting the fd")

    # --- ioctl ---

    def sys_ioctl(self, n: Notification) -> Reply:
        svc = self.svc
        args = n.args
        dfile = svc.files.get(n.pid, args[0] & 0xFFFFFFFF)   # not ours if negative
        if dfile is None:
            return None
        task = svc.procs.task(n)
        task.injector = svc.injector
        try:
            if dfile.minor < 0:     # a core file an ioctl made (sync_file, dma-buf, syncobj)
                svc.files.catch_up()    # closes before this call have taken effect
                ret = svc.backend.file_ioctl(dfile.file, task, args[1] & 0xFFFFFFFF, args[2])
            else:
                ret = svc.backend.ioctl(dfile.file, task, args[1] & 0xFFFFFFFF, args[2])
        except KernelError as err:
            if svc.trace:
                svc.trace(f"pid {n.pid}: ioctl {args[1]:#010x} arg {args[2]:#x} -> "
                          f"-{err.name}")
            raise
        finally:
            svc.files.put(dfile)
        if svc.trace:
            svc.trace(f"pid {n.pid}: ioctl {args[1]:#010x} arg {args[2]:#x} -> {ret}")
        return ret
