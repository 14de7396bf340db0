"""stat, access, readlink and xattrs of the paths and fds the supervisor answers for.

Device nodes and device fds stat as character devices 226:minor (statbuf.py); shadow paths
stat as the shadow file does; ``readlink("/proc/self/fd/N")`` of a device fd says
``/dev/dri/card0`` (IGT checks this before it closes a device fd), and of an injected shadow
fd says the virtual path.  Everything else proceeds untouched.
"""

from __future__ import annotations

import errno
import os

from ..errors import EACCES, EINVAL, error_for
from .devices import DeviceCalls, Node
from .listener import Notification
from .paths import signed32
from .services import Handler, Reply, Services
from .shadow import DRM_MAJOR
from .statbuf import Attr, device_attr, pack_stat, pack_statx
from .syscalls import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, NR
from .sysfs_statfs import StatfsCalls

__all__ = ["FsInfoCalls"]

_X_OK = 1


class FsInfoCalls:
    def __init__(self, svc: Services, devices: DeviceCalls) -> None:
        self.svc = svc
        self.devices = devices
        self.statfs = StatfsCalls(svc)

    def table(self) -> dict[int, Handler]:
        return {
            NR["stat"]: lambda n: self._stat(n, AT_FDCWD, n.args[0], n.args[1], 0),
            NR["lstat"]: lambda n: self._stat(n, AT_FDCWD, n.args[0], n.args[1],
                                              AT_SYMLINK_NOFOLLOW),
            NR["newfstatat"]: lambda n: self._stat(n, signed32(n.args[0]), n.args[1],
                                                   n.args[2], n.args[3]),
            NR["statx"]: lambda n: self._stat(n, signed32(n.args[0]), n.args[1], n.args[4],
                                              n.args[2], statx=True),
            NR["fstat"]: self.sys_fstat,
            NR["access"]: lambda n: self._access(n, AT_FDCWD, n.args[0], n.args[1], 0),
            NR["faccessat"]: lambda n: self._access(n, signed32(n.args[0]), n.args[1],
                                                    n.args[2], 0),
            NR["faccessat2"]: lambda n: self._access(n, signed32(n.args[0]), n.args[1],
                                                     n.args[2], n.args[3]),
            NR["readlink"]: lambda n: self._readlink(n, AT_FDCWD, n.args[0], n.args[1],
                                                     n.args[2]),
            NR["readlinkat"]: lambda n: self._readlink(n, signed32(n.args[0]), n.args[1],
                                                       n.args[2], n.args[3]),
            NR["getxattr"]: lambda n: self._xattr(n, True, get=True),
            NR["lgetxattr"]: lambda n: self._xattr(n, False, get=True),
            NR["listxattr"]: lambda n: self._xattr(n, True, get=False),
            NR["llistxattr"]: lambda n: self._xattr(n, False, get=False),
            NR["statfs"]: self.statfs.sys_statfs,
            NR["fstatfs"]: self.statfs.sys_fstatfs,
        }

    # --- stat ---

    def _node_attr(self, node: Node, follow: bool) -> Attr:
        if node.minor is not None:
            return device_attr(DRM_MAJOR, node.minor)
        assert node.spath is not None
        try:
            return Attr.of(os.stat(node.spath, follow_symlinks=follow))
        except OSError as exc:
            raise error_for(exc.errno or errno.EIO, node.vpath.decode()) from exc

    def _fd_attr(self, n: Notification, fd: int) -> Attr | None:
        dfile = self.svc.files.peek(n.pid, fd)
        return None if dfile is None else device_attr(DRM_MAJOR, dfile.minor)

    def _stat(self, n: Notification, dirfd: int, ptr: int, buf: int, flags: int,
              statx: bool = False) -> Reply:
        flags &= 0xFFFFFFFF
        follow = not flags & AT_SYMLINK_NOFOLLOW
        attr: Attr | None
        if flags & AT_EMPTY_PATH and self.svc.paths.read(n.pid, ptr) == b"":
            attr = self._fd_attr(n, dirfd)
        else:
            node = self.devices.lookup(n, dirfd, ptr, follow)
            attr = None if node is None else self._node_attr(node, follow)
        if attr is None:
            return None
        self.svc.procs.task(n).write(buf, pack_statx(attr) if statx else pack_stat(attr))
        return 0

    def sys_fstat(self, n: Notification) -> Reply:
        attr = self._fd_attr(n, signed32(n.args[0]))
        if attr is None:
            return None
        self.svc.procs.task(n).write(n.args[1], pack_stat(attr))
        return 0

    # --- access ---

    def _access(self, n: Notification, dirfd: int, ptr: int, mode: int, flags: int) -> Reply:
        follow = not flags & AT_SYMLINK_NOFOLLOW
        node = self.devices.lookup(n, dirfd, ptr, follow)
        if node is None:
            return None
        self.svc.procs.task(n).check_valid()
        self._node_attr(node, follow)          # ENOENT before EACCES, as the kernel
        if node.minor is not None:
            if mode & _X_OK:
                raise EACCES(node.vpath.decode())
            return 0
        assert node.spath is not None
        if os.access(node.spath, mode & 7, follow_symlinks=follow):
            return 0
        raise EACCES(node.vpath.decode())

    # --- extended attributes: the nodes have none (``ls -l`` asks) ---

    def _xattr(self, n: Notification, follow: bool, get: bool) -> Reply:
        node = self.devices.lookup(n, AT_FDCWD, n.args[0], follow)
        if node is None:
            return None
        self._node_attr(node, follow)                 # ENOENT for a missing shadow path
        if get:
            raise error_for(errno.ENODATA, node.vpath.decode())
        return 0

    # --- readlink ---

    def _readlink(self, n: Notification, dirfd: int, ptr: int, buf: int, size: int) -> Reply:
        size = signed32(size)
        target = self._link_target(n, dirfd, ptr)
        if target is None:
            return None
        if size <= 0:
            raise EINVAL("readlink bufsiz")
        data = target[:size]
        self.svc.procs.task(n).write(buf, data)
        return len(data)

    def _link_target(self, n: Notification, dirfd: int, ptr: int) -> bytes | None:
        svc = self.svc
        path = svc.paths.read(n.pid, ptr)
        located = svc.paths.locate(n.pid, dirfd, path) if path else None
        if located is None:
            return None
        vpath, from_shadow = located
        proc = svc.paths.proc_fd(vpath, n.pid)
        if proc is not None:
            dfile = svc.files.peek(*proc)
            if dfile is not None:
                return dfile.vpath
            try:
                real = os.readlink(f"/proc/{proc[0]}/fd/{proc[1]}".encode())
            except OSError:
                return None
            return svc.shadow.to_virtual(real)
        if not svc.shadow.covers(vpath):
            if not from_shadow:
                return None
            spath = vpath               # a host path named relative to a shadow directory
        elif svc.shadow.device_minor(vpath, follow=False) is not None:
            raise EINVAL("not a symbolic link")
        else:
            spath = svc.shadow.to_shadow(vpath)
        try:
            return os.readlink(spath)
        except OSError as exc:
            raise error_for(exc.errno or errno.EIO, vpath.decode()) from exc

