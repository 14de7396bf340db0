"""``struct stat`` and ``struct statx`` as the x86-64 kernel writes them, and the one a DRM
device node gets.

A device node answer must be the same for ``stat(path)`` and ``fstat(fd)`` (IGT compares
``st_dev``/``st_ino`` of the two to know whether a card is already open), so it is computed
from the minor alone.
"""

from __future__ import annotations

import os
import stat as _stat
import struct
import time
from dataclasses import dataclass

__all__ = ["Attr", "STATX_BASIC_STATS", "device_attr", "pack_stat", "pack_statx"]

STATX_BASIC_STATS = 0x7FF
_STAT = struct.Struct("<QQQIII4xQqqqqqqqqq24x")      # 144 bytes
_STATX_HEAD = struct.Struct("<IIQIIIH2xQQQQ")          # up to stx_attributes_mask: 64 bytes
_TS = struct.Struct("<qI4x")                           # statx_timestamp: 16 bytes
_STATX_DEVS = struct.Struct("<IIII")
STATX_SIZE = 256


@dataclass(frozen=True, slots=True)
class Attr:
    """The fields both layouts share (times in nanoseconds)."""

    dev: int
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    rdev: int
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Attr:
        return cls(st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid,
                   st.st_rdev, st.st_size, st.st_blksize, st.st_blocks, st.st_atime_ns,
                   st.st_mtime_ns, st.st_ctime_ns)


_BOOT_NS = time.time_ns()
_DEV_ST_DEV = os.stat("/dev").st_dev if os.path.exists("/dev") else 6


def device_attr(major: int, minor: int) -> Attr:
    """A ``crw-rw-rw-`` node owned by root, on /dev's file system, inode derived from the
    minor (stable for the supervisor's lifetime)."""
    return Attr(_DEV_ST_DEV, 0x5F7A0000 + minor, _stat.S_IFCHR | 0o666, 1, 0, 0,
                os.makedev(major, minor), 0, 4096, 0, _BOOT_NS, _BOOT_NS, _BOOT_NS)


def pack_stat(a: Attr) -> bytes:
    return _STAT.pack(a.dev, a.ino, a.nlink, a.mode, a.uid, a.gid, a.rdev, a.size, a.blksize,
                      a.blocks, a.atime_ns // 10**9, a.atime_ns % 10**9,
                      a.mtime_ns // 10**9, a.mtime_ns % 10**9,
                      a.ctime_ns // 10**9, a.ctime_ns % 10**9)


def pack_statx(a: Attr) -> bytes:
    """All basic fields, whatever the caller's mask asked (the kernel may return more)."""
    out = bytearray(STATX_SIZE)
    _STATX_HEAD.pack_into(out, 0, STATX_BASIC_STATS, a.blksize, 0, a.nlink, a.uid, a.gid,
                          a.mode & 0xFFFF, a.ino, a.size, a.blocks, 0)
    for off, ns in ((64, a.atime_ns), (80, a.ctime_ns), (96, a.ctime_ns), (112, a.mtime_ns)):
        _TS.pack_into(out, off, ns // 10**9, ns % 10**9)
    _STATX_DEVS.pack_into(out, 128, os.major(a.rdev), os.minor(a.rdev), os.major(a.dev),
                          os.minor(a.dev))
    return bytes(out)
