"""The Linux ioctl request encoding (``include/uapi/asm-generic/ioctl.h``), x86-64 flavour.

A request number packs four fields into 32 bits::

    31 30 | 29 ............ 16 | 15 ..... 8 | 7 ...... 0
     dir  |  size of argument  |    type    |    nr

The kernel's DRM core dispatches on ``nr`` alone and uses ``size``/``dir`` only to decide how
many bytes to copy in and out (zero-extending a shorter user struct), which is why
``DRM_IOCTL_I915_GEM_MMAP_GTT`` and ``DRM_IOCTL_I915_GEM_MMAP_OFFSET`` are different numbers
for the same command.  The request macros here take a ctypes type where C takes a type name and
measure it with :func:`ctypes.sizeof`, so a wrong struct layout shows up as a wrong request
number (``tests/uapi/test_layout.py`` compares both against the C headers).

Names keep C's leading underscores: they are the kernel's own names, and the public contract is
"every name exactly as in C".
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = [
    "_IOC", "_IO", "_IOR", "_IOW", "_IOWR",
    "_IOC_DIR", "_IOC_TYPE", "_IOC_NR", "_IOC_SIZE",
    "_IOC_NRBITS", "_IOC_TYPEBITS", "_IOC_SIZEBITS", "_IOC_DIRBITS",
    "_IOC_NRMASK", "_IOC_TYPEMASK", "_IOC_SIZEMASK", "_IOC_DIRMASK",
    "_IOC_NRSHIFT", "_IOC_TYPESHIFT", "_IOC_SIZESHIFT", "_IOC_DIRSHIFT",
    "_IOC_NONE", "_IOC_WRITE", "_IOC_READ",
    "IOC_IN", "IOC_OUT", "IOC_INOUT", "IOCSIZE_MASK", "IOCSIZE_SHIFT",
]

_IOC_NRBITS = 8
_IOC_TYPEBITS = 8
_IOC_SIZEBITS = 14
_IOC_DIRBITS = 2

_IOC_NRMASK = (1 << _IOC_NRBITS) - 1
_IOC_TYPEMASK = (1 << _IOC_TYPEBITS) - 1
_IOC_SIZEMASK = (1 << _IOC_SIZEBITS) - 1
_IOC_DIRMASK = (1 << _IOC_DIRBITS) - 1

_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS
_IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS

# Directions are seen from userspace: WRITE means the kernel reads the argument.
_IOC_NONE = 0
_IOC_WRITE = 1
_IOC_READ = 2

IOC_IN = _IOC_WRITE << _IOC_DIRSHIFT
IOC_OUT = _IOC_READ << _IOC_DIRSHIFT
IOC_INOUT = (_IOC_WRITE | _IOC_READ) << _IOC_DIRSHIFT
IOCSIZE_MASK = _IOC_SIZEMASK << _IOC_SIZESHIFT
IOCSIZE_SHIFT = _IOC_SIZESHIFT


def _IOC(dir: int, type: int, nr: int, size: int) -> int:  # parameter names as in C
    """Pack one request number; a field that does not fit is a bug in the definition.

    Raises:
        ValueError: a field exceeds its width (C rejects this at compile time).
    """
    for value, mask, what in ((dir, _IOC_DIRMASK, "dir"), (type, _IOC_TYPEMASK, "type"),
                              (nr, _IOC_NRMASK, "nr"), (size, _IOC_SIZEMASK, "size")):
        if not 0 <= value <= mask:
            raise ValueError(f"_IOC: {what}={value:#x} does not fit in its field")
    return ((dir << _IOC_DIRSHIFT) | (type << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT)
            | (size << _IOC_SIZESHIFT))


def _size_of(argtype: Any) -> int:
    """``sizeof`` of a ctypes type (what C's ``_IOC_TYPECHECK`` computes)."""
    return ctypes.sizeof(argtype)


def _IO(type: int, nr: int) -> int:
    """A request without an argument."""
    return _IOC(_IOC_NONE, type, nr, 0)


def _IOR(type: int, nr: int, argtype: Any) -> int:
    """A request whose argument the kernel writes back (userspace reads)."""
    return _IOC(_IOC_READ, type, nr, _size_of(argtype))


def _IOW(type: int, nr: int, argtype: Any) -> int:
    """A request whose argument the kernel only reads (userspace writes)."""
    return _IOC(_IOC_WRITE, type, nr, _size_of(argtype))


def _IOWR(type: int, nr: int, argtype: Any) -> int:
    """A request whose argument is copied in and back out."""
    return _IOC(_IOC_READ | _IOC_WRITE, type, nr, _size_of(argtype))


def _IOC_DIR(request: int) -> int:
    return (request >> _IOC_DIRSHIFT) & _IOC_DIRMASK


def _IOC_TYPE(request: int) -> int:
    return (request >> _IOC_TYPESHIFT) & _IOC_TYPEMASK


def _IOC_NR(request: int) -> int:
    return (request >> _IOC_NRSHIFT) & _IOC_NRMASK


def _IOC_SIZE(request: int) -> int:
    return (request >> _IOC_SIZESHIFT) & _IOC_SIZEMASK
