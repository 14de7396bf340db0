"""Turning a trapped call's (dirfd, path) into a path the supervisor may have to answer for.

Most path calls of a program are not ours (it loads libraries, reads config), so the common
case must be a cheap "no": an absolute path outside ``/dev``, ``/sys`` and ``/proc`` is
rejected on its first bytes.  A relative path is resolved against the caller's cwd or dirfd
(one readlink in /proc): the dirfd may be a shadow directory the supervisor injected, and
then *every* name in it matters, not only device-looking ones (systemd's ``chase`` walks
``/sys/class/drm/card0`` one ``openat(dirfd, name, O_PATH)`` at a time, and ``..`` from a
shadow directory may lead back to the host's tree).  Paths are normalised lexically (``//``,
``.``, ``..``), as a program that builds them by hand expects.

A path under the shadow tree (reached through an fd the supervisor injected, e.g. a sysfs
directory) is translated back to its virtual name, and :meth:`PathResolver.locate` says that
it was reached so.
"""

from __future__ import annotations

import os
import re

from ..errors import KernelError
from . import procmem
from .shadow import Shadow
from .syscalls import AT_FDCWD

__all__ = ["PROC_FD", "PathResolver", "signed32"]

#: /proc/self/fd/N, /proc/thread-self/fd/N, /proc/PID[/task/TID]/fd/N, /dev/fd/N
PROC_FD = re.compile(rb"^/(?:proc/(self|thread-self|\d+)(?:/task/(\d+))?|dev)/fd/(\d+)$")

_ABS_PREFIXES = (b"/dev/", b"/sys/", b"/proc/", b"//")


def signed32(value: int) -> int:
    """A register argument that the kernel reads as ``int`` (fds, AT_FDCWD)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


class PathResolver:
    def __init__(self, shadow: Shadow) -> None:
        self.shadow = shadow

    def read(self, pid: int, ptr: int) -> bytes | None:
        """The path argument, or None when it cannot be read (the kernel will say EFAULT or
        ENAMETOOLONG itself when the call proceeds)."""
        try:
            path = procmem.read_cstring(pid, ptr, 4096)
        except KernelError:
            return None
        return None if len(path) >= 4096 else path

    def absolute(self, pid: int, dirfd: int, path: bytes) -> bytes | None:
        """The normalised absolute virtual path of ``path`` if it might be ours, else None."""
        located = self.locate(pid, dirfd, path)
        return None if located is None else located[0]

    def locate(self, pid: int, dirfd: int, path: bytes) -> tuple[bytes, bool] | None:
        """(normalised absolute virtual path, whether it is relative to a shadow directory),
        or None if the path cannot be ours.  A path relative to a shadow directory is always
        returned: even a host path reached from there must be answered by the supervisor,
        since the kernel would resolve it inside the shadow."""
        if path.startswith(b"/"):
            if not path.startswith(_ABS_PREFIXES):
                return None
            return os.path.normpath(path), False
        if not path:
            return None
        link = f"/proc/{pid}/cwd" if dirfd == AT_FDCWD else f"/proc/{pid}/fd/{dirfd}"
        try:
            base = os.readlink(os.fsencode(link))
        except OSError:
            return None
        virtual = self.shadow.to_virtual(base)
        if virtual is not None:
            return os.path.normpath(os.path.join(virtual, path)), True
        vpath = os.path.normpath(os.path.join(base, path))
        return (vpath, False) if vpath.startswith(_ABS_PREFIXES) else None

    @staticmethod
    def proc_fd(vpath: bytes, pid: int) -> tuple[int, int] | None:
        """(pid to look in, fd) if ``vpath`` is a ``/proc/.../fd/N`` magic link."""
        m = PROC_FD.match(vpath)
        if m is None:
            return None
        who, tid, fd = m.groups()
        if tid is not None:
            return int(tid), int(fd)
        if who is None or who in (b"self", b"thread-self"):
            return pid, int(fd)
        return int(who), int(fd)
