"""The machine's RAM as the program sees it: ``sysinfo(2)`` and ``/proc/meminfo`` report the
model's frames.

softgem models an integrated GPU, which has no memory of its own: every GEM object is system
RAM.  A program that sizes its objects by the machine's RAM (IGT's ``intel_get_total_ram_mb``
and ``intel_get_avail_ram_mb`` call ``sysinfo``; glibc's ``sysconf(_SC_PHYS_PAGES)`` does too;
others read ``MemTotal``/``MemAvailable``) must therefore see the RAM the objects come from,
the model's ``--memory``, not the host's: otherwise it asks for objects sized for gigabytes of
host RAM and fails where a real machine of that size would have skipped or fitted.

So host mode answers ``sysinfo`` itself: the host's uptime, loads and process count, the
model's total and free frames as ``totalram``/``freeram`` (``mem_unit`` 1), no shared or
buffer RAM, no high memory, and no swap (the model's shmem objects are never swapped out).
An open of ``/proc/meminfo`` gets a snapshot file written at the open, with the same figures
in the kernel's format (``MemTotal``, ``MemFree``, ``MemAvailable``, ``SwapTotal`` ...).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from ..errors import error_for
from .listener import Notification
from .services import Reply, Services

__all__ = ["MEMINFO", "SYSINFO_SIZE", "MemInfoCalls", "meminfo_text", "sysinfo_struct"]

MEMINFO = b"/proc/meminfo"
SYSINFO_SIZE = 112                       # struct sysinfo on x86-64
#: uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap, procs,
#: pad, (4 bytes of alignment), totalhigh, freehigh, mem_unit, (4 bytes of tail padding)
_SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
assert _SYSINFO.size == SYSINFO_SIZE

_libc = ctypes.CDLL(None, use_errno=True)


def _host_sysinfo() -> tuple[int, ...]:
    buf = ctypes.create_string_buffer(SYSINFO_SIZE)
    if _libc.sysinfo(buf) != 0:
        raise error_for(ctypes.get_errno() or errno.EIO, "sysinfo")
    return _SYSINFO.unpack(buf.raw)


def sysinfo_struct(total: int, free: int) -> bytes:
    """``struct sysinfo`` of a machine with ``total`` bytes of RAM, ``free`` of them free."""
    host = _host_sysinfo()
    uptime, loads, procs = host[0], host[1:4], host[10]
    return _SYSINFO.pack(uptime, *loads, total, free, 0, 0, 0, 0, procs, 0, 0, 0, 1)


def meminfo_text(total: int, free: int) -> bytes:
    """``/proc/meminfo`` of that machine (the fields programs read; sizes in kB)."""
    kb = {"MemTotal": total >> 10, "MemFree": free >> 10, "MemAvailable": free >> 10,
          "Buffers": 0, "Cached": 0, "SwapCached": 0, "Active": 0, "Inactive": 0,
          "Unevictable": 0, "Mlocked": 0, "SwapTotal": 0, "SwapFree": 0, "Dirty": 0,
          "Writeback": 0, "AnonPages": 0, "Mapped": 0, "Shmem": (total - free) >> 10,
          "CommitLimit": total >> 10, "Committed_AS": (total - free) >> 10}
    return b"".join(f"{name + ':':<16}{value:>8} kB\n".encode() for name, value in kb.items())


class MemInfoCalls:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def _figures(self) -> tuple[int, int] | None:
        memory = getattr(self.svc.backend, "memory", None)
        return None if memory is None else memory()

    def sys_sysinfo(self, n: Notification) -> Reply:
        figures = self._figures()
        if figures is None:
            return None                          # a backend without RAM: the host's answer
        self.svc.procs.task(n).write(n.args[0], sysinfo_struct(*figures))
        return 0

    def meminfo_fd(self) -> int | None:
        """A new fd (ours, to inject) of a ``/proc/meminfo`` snapshot, or None to let the
        host answer."""
        figures = self._figures()
        if figures is None:
            return None
        fd = os.memfd_create("meminfo", os.MFD_CLOEXEC)
        try:
            os.write(fd, meminfo_text(*figures))
            os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return fd
