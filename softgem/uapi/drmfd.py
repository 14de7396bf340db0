"""``DrmFd``: the open file behind ``/dev/dri/card0`` and ``/dev/dri/renderD128``.

It is what the machine puts in a process's fd table (the OpenFile protocol of
:mod:`softgem.machine.files`: ``kref``, ``name``, ``ioctl``, ``mmap_file``, ``release``).  One
``DrmFd`` is one open: it owns one :class:`~softgem.gem.DrmFile` (handle table, mmap-offset
permissions), shared by every fd that ``dup`` or ``fork`` makes of it, exactly as the kernel
shares ``struct drm_file`` through ``struct file``.

Errors: :meth:`ioctl` raises the handler's ``KernelError`` (with its detail) and nothing else
but ``SimBug``; :class:`~softgem.machine.Process` turns it into ``OSError`` at the syscall
edge.  ``ioctl`` runs with ``task = proc``: every user pointer is resolved in ``proc.mm``, and
PRIME fds are installed in and looked up from ``proc``'s fd table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..gem import RENDER_MINOR_BASE
from ..sync import Kref
from .handlers_auth import master_open, master_release
from .table import Task, dispatch

if TYPE_CHECKING:
    from ..gem import GemDevice

__all__ = ["DrmFd"]


class DrmFd:
    """One open of the i915 device node with minor ``minor`` (0 = card0, 128 = renderD128)."""

    def __init__(self, device: GemDevice, minor: int, *, readable: bool = True,
                 writable: bool = True) -> None:
        self.kref = Kref()
        self.dev = device
        self.minor = minor
        # The open mode (``file->f_mode`` FMODE_READ / FMODE_WRITE): mmap checks it.
        self.readable = readable
        self.writable = writable
        if minor >= RENDER_MINOR_BASE:
            self.name = f"/dev/dri/renderD{minor}"
        else:
            self.name = f"/dev/dri/card{minor}"
        self.file = device.open(minor)
        master_open(self.file)

    def __repr__(self) -> str:
        return f"<DrmFd {self.name} {self.file!r}>"

    def ioctl(self, proc: Task, request: int, arg: Any) -> int:
        return dispatch(self.file, proc, request, arg)

    def mmap_file(self) -> Any:
        """What ``mmap(fd, offset)`` maps: the device's mmap-offset space seen by this file."""
        from ..gem import DrmMappable

        return DrmMappable(self.dev, self.file, readable=self.readable,
                           writable=self.writable)

    def release(self) -> None:
        """Last fd closed (``drm_release``): give up mastership, close every handle."""
        master_release(self.file)
        self.file.release()
