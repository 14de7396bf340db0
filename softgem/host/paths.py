"""Turning a trapped call's (dirfd, path) into a path the supervisor may have to answer for.

Most path calls of a program are not ours (it loads libraries, reads config), so the common
case must be a cheap "no": an absolute path outside ``/dev``, ``/sys`` and ``/proc`` is
rejected on its first bytes, and a relative path is resolved (a readlink of the caller's
cwd or dirfd) only if it contains a word a device path would.  Paths are normalised
lexically (``//``, ``.``, ``..``), as a program that builds them by hand expects.

A path under the shadow tree (reached through an fd the supervisor injected, e.g. a sysfs
directory) is translated back to its virtual name.
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
_REL_HINTS = (b"dri", b"card", b"render", b"226:", b"drm", b"i915", b"fd/", b"..")


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
        if path.startswith(b"/"):
            if not path.startswith(_ABS_PREFIXES):
                return None
            return os.path.normpath(path)
        if not path or not any(h in path for h in _REL_HINTS):
            return None
        base = self._base(pid, dirfd)
        if base is None:
            return None
        return os.path.normpath(os.path.join(base, path))

    def _base(self, pid: int, dirfd: int) -> bytes | None:
        link = f"/proc/{pid}/cwd" if dirfd == AT_FDCWD else f"/proc/{pid}/fd/{dirfd}"
        try:
            base = os.readlink(os.fsencode(link))
        except OSError:
            return None
        virtual = self.shadow.to_virtual(base)
        return virtual if virtual is not None else base

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
