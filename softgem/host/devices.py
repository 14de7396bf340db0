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
import struct
from dataclasses import dataclass

from ..errors import EEXIST, ENOTTY, KernelError, error_for
from .listener import GONE, Notification
from .paths import signed32
from .services import ANSWERED, Handler, Reply, Services
from .syscalls import AT_FDCWD, NR

__all__ = ["DeviceCalls", "Node"]

_OPEN_HOW = struct.Struct("<QQQ")


@dataclass(frozen=True, slots=True)
class Node:
    """A path the supervisor answers for: a device node (``minor``) or a shadow file."""

    vpath: bytes
    minor: int | None
    spath: bytes | None


class DeviceCalls:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def table(self) -> dict[int, Handler]:
        return {NR["open"]: self.sys_open, NR["openat"]: self.sys_openat,
                NR["openat2"]: self.sys_openat2, NR["ioctl"]: self.sys_ioctl}

    def lookup(self, notif: Notification, dirfd: int, ptr: int, follow: bool) -> Node | None:
        """The node a (dirfd, path) argument names, or None if it is not ours."""
        svc = self.svc
        path = svc.paths.read(notif.pid, ptr)
        if not path:
            return None
        vpath = svc.paths.absolute(notif.pid, dirfd, path)
        if vpath is None:
            return None
        target = svc.paths.proc_fd(vpath, notif.pid)
        if target is not None:
            dfile = svc.files.peek(*target) if follow else None
            return None if dfile is None else Node(dfile.vpath, dfile.minor, None)
        if not svc.shadow.covers(vpath):
            return None
        minor = svc.shadow.device_minor(vpath, follow)
        return Node(vpath, minor, None if minor is not None else svc.shadow.to_shadow(vpath))

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
        node = self.lookup(n, dirfd, ptr, follow=not flags & os.O_NOFOLLOW)
        if node is None:
            return None
        self.svc.procs.task(n).check_valid()
        if node.spath is not None:
            return self._open_shadow(n, node.spath, flags, mode)
        assert node.minor is not None
        if flags & os.O_DIRECTORY:
            raise error_for(errno.ENOTDIR, node.vpath.decode())
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise EEXIST(node.vpath.decode())
        dfile, theirs = self.svc.files.create(node.minor, node.vpath,
                                              bool(flags & os.O_NONBLOCK))
        try:
            fd = self.svc.listener.inject(n.id, theirs.fileno(), bool(flags & os.O_CLOEXEC))
        finally:
            self.svc.files.injected(dfile, theirs)
        if self.svc.trace:
            self.svc.trace(f"pid {n.pid}: open {node.vpath.decode()} -> fd {fd} ({dfile!r})")
        return self._injected(fd)

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
        try:
            if dfile.minor < 0:     # a core file an ioctl made (sync_file, dma-buf, syncobj)
                ioctl = getattr(svc.backend, "file_ioctl", None)
                if ioctl is None:
                    raise ENOTTY(f"ioctl {args[1]:#x} on {dfile!r}")
            else:
                ioctl = svc.backend.ioctl
            ret = ioctl(dfile.file, svc.procs.task(n), args[1] & 0xFFFFFFFF, args[2])
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
