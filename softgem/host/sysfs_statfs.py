"""statfs and fstatfs of shadow paths and fds: the file system the program must believe in.

The shadow tree lives on whatever file system holds the temporary directory, but readers
check that: systemd's ``sd_device_new_from_syspath`` (libudev, so IGT's device scan) calls
``fstatfs`` on the device directory and drops it unless ``f_type`` is SYSFS_MAGIC, and IGT
checks debugfs the same way.  So a shadow path or fd under ``/sys`` answers what the host's
``statfs("/sys")`` answers, one under ``/sys/kernel/debug`` the same with DEBUGFS_MAGIC
(the host may have no debugfs mounted), and ``/dev/dri`` or a drm file what ``statfs("/dev")``
answers (devtmpfs).  Everything else proceeds untouched.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from ..errors import error_for
from .listener import Notification
from .paths import signed32
from .services import Reply, Services
from .syscalls import AT_FDCWD

__all__ = ["DEBUGFS_MAGIC", "SYSFS_MAGIC", "STATFS_SIZE", "StatfsCalls", "host_statfs"]

SYSFS_MAGIC = 0x62656572
DEBUGFS_MAGIC = 0x64626720
STATFS_SIZE = 120                  # struct statfs on x86-64
_F_TYPE = struct.Struct("<q")

_libc = ctypes.CDLL(None, use_errno=True)


def host_statfs(path: str) -> bytes:
    """The raw ``struct statfs`` the host answers for ``path``."""
    buf = ctypes.create_string_buffer(STATFS_SIZE)
    if _libc.statfs(os.fsencode(path), buf) != 0:
        err = ctypes.get_errno()
        raise error_for(err or errno.EIO, path)
    return buf.raw


class StatfsCalls:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._cache: dict[str, bytes] = {}

    def _answer(self, vpath: bytes) -> bytes:
        """The statfs of a virtual path in the shadow (or of a device node)."""
        if vpath.startswith(b"/dev"):
            return self._host("/dev", None)
        if vpath == b"/sys/kernel/debug" or vpath.startswith(b"/sys/kernel/debug/"):
            return self._host("/sys", DEBUGFS_MAGIC)
        return self._host("/sys", SYSFS_MAGIC)

    def _host(self, path: str, f_type: int | None) -> bytes:
        key = f"{path}:{f_type}"
        raw = self._cache.get(key)
        if raw is None:
            raw = host_statfs(path)
            if f_type is not None:
                raw = _F_TYPE.pack(f_type) + raw[_F_TYPE.size:]
            self._cache[key] = raw
        return raw

    def sys_statfs(self, n: Notification) -> Reply:
        svc = self.svc
        path = svc.paths.read(n.pid, n.args[0])
        located = svc.paths.locate(n.pid, AT_FDCWD, path) if path else None
        if located is None or not svc.shadow.covers(located[0]):
            return None
        vpath = located[0]
        try:
            os.stat(svc.shadow.to_shadow(vpath))
        except OSError as exc:
            raise error_for(exc.errno or errno.EIO, vpath.decode()) from exc
        svc.procs.task(n).write(n.args[1], self._answer(vpath))
        return 0

    def sys_fstatfs(self, n: Notification) -> Reply:
        svc = self.svc
        fd = signed32(n.args[0])
        if fd < 0:
            return None
        if svc.files.peek(n.pid, fd) is not None:
            vpath = b"/dev/dri"
        else:
            try:
                real = os.readlink(f"/proc/{n.pid}/fd/{fd}".encode())
            except OSError:
                return None
            virtual = svc.shadow.to_virtual(real)
            if virtual is None:
                return None
            vpath = virtual
        svc.procs.task(n).write(n.args[1], self._answer(vpath))
        return 0
