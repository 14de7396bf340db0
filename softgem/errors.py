"""One error hierarchy for the whole core.

Core code raises :class:`KernelError` subclasses named after the errno they stand for
(``raise EINVAL("flags")``).  Only the uAPI edge (the ioctl table, the simulated process's
system calls, the host supervisor) turns them into ``OSError(errno, strerror)``.

Two things are deliberately *not* kernel errors:

* :class:`SimBug` -- a broken internal invariant (a use after free, a negative refcount,
  an unlock by a non-owner).  It is never mapped to an errno: it is a bug in softgem.
* :class:`Segfault` -- a CPU load/store by the simulated program that hit an unmapped or
  protected address.  The real kernel would deliver SIGSEGV; the simulated process raises it (:class:`Sigbus`
  for a fault handler's SIGBUS).
* :class:`OomKilled` -- a CPU load/store whose page fault ran out of memory: the OOM killer
  killed the simulated process (SIGKILL), which has exited when this is raised.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "KernelError",
    "SimBug",
    "Segfault",
    "Sigbus",
    "OomKilled",
    "error_for",
    "to_oserror",
]


class KernelError(Exception):
    """An error the kernel would return as ``-errno``."""

    errno: int = 0

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, f"E{self.errno}")

    def __str__(self) -> str:
        base = f"{self.name}: {os.strerror(self.errno)}"
        return f"{base} ({self.detail})" if self.detail else base


class SimBug(Exception):
    """A broken internal invariant of the model.  Never an errno."""


class Segfault(Exception):
    """A CPU access by the simulated program to an unmapped or protected address."""

    def __init__(self, addr: int, write: bool = False, reason: str = "") -> None:
        kind = "write" if write else "read"
        super().__init__(f"SIGSEGV: {kind} at {addr:#x}" + (f" ({reason})" if reason else ""))
        self.addr = addr
        self.write = write
        self.reason = reason


class Sigbus(Segfault):
    """A CPU access whose fault handler failed (SIGBUS, e.g. an object that lost its pages)."""


class OomKilled(Exception):
    """A CPU access whose page fault ran out of memory (VM_FAULT_OOM from a user fault).

    The kernel's OOM killer then kills a task with SIGKILL; the model kills the faulting
    process (it does not rank tasks by badness).  Raised after the process has exited, with
    ``exit_status`` 128 + SIGKILL; the store or load did not complete.
    """

    def __init__(self, addr: int, write: bool = False, reason: str = "") -> None:
        kind = "write" if write else "read"
        super().__init__(f"killed by the OOM killer: {kind} fault at {addr:#x}"
                         + (f" ({reason})" if reason else ""))
        self.addr = addr
        self.write = write
        self.reason = reason


_BY_ERRNO: dict[int, type[KernelError]] = {}


def _define(name: str) -> type[KernelError]:
    code = getattr(_errno, name)
    cls = type(name, (KernelError,), {"errno": code, "__doc__": os.strerror(code)})
    _BY_ERRNO[code] = cls
    globals()[name] = cls
    __all__.append(name)
    return cls


# The errnos the modelled subsystem can produce.  Defined dynamically from the errno module so
# the numbers are always the host's (Linux) values; the explicit names below keep mypy and
# readers informed.
EPERM = _define("EPERM")
ENOENT = _define("ENOENT")
ESRCH = _define("ESRCH")
EINTR = _define("EINTR")
EIO = _define("EIO")
ENXIO = _define("ENXIO")
E2BIG = _define("E2BIG")
EBADF = _define("EBADF")
EAGAIN = _define("EAGAIN")
ENOMEM = _define("ENOMEM")
EACCES = _define("EACCES")
EFAULT = _define("EFAULT")
EBUSY = _define("EBUSY")
EEXIST = _define("EEXIST")
ENODEV = _define("ENODEV")
EINVAL = _define("EINVAL")
ENFILE = _define("ENFILE")
EMFILE = _define("EMFILE")
ENOTTY = _define("ENOTTY")
ENOSPC = _define("ENOSPC")
ESPIPE = _define("ESPIPE")
ERANGE = _define("ERANGE")
EDEADLK = _define("EDEADLK")
ENOSYS = _define("ENOSYS")
ETIME = _define("ETIME")
EOVERFLOW = _define("EOVERFLOW")
EOPNOTSUPP = _define("EOPNOTSUPP")
ECANCELED = _define("ECANCELED")
ETIMEDOUT = _define("ETIMEDOUT")


def error_for(code: int, detail: str = "") -> KernelError:
    """The KernelError instance for a positive errno value."""
    cls = _BY_ERRNO.get(code)
    if cls is None:
        err = KernelError(detail)
        err.errno = code
        return err
    return cls(detail)


def to_oserror(err: KernelError) -> OSError:
    """The OSError a system call returning ``-err.errno`` produces in Python."""
    exc = OSError(err.errno, os.strerror(err.errno))
    exc.__cause__ = err
    return exc
