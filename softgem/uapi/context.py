"""What an ioctl handler receives besides its argument: the device, the file and the caller
(``current``), and the dispatcher's queue of the handler's last user write."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..gem import DrmFile

__all__ = ["Handler", "IoctlContext", "Task"]


class Task(Protocol):
    """The calling process as the ioctl layer sees it (``current``)."""

    pid: int
    mm: Any

    def fd_install(self, f: Any, flags: int = 0) -> int: ...

    def fd_get(self, fd: int) -> Any: ...

    def get_unused_fd_flags(self, flags: int) -> int: ...

    def fd_install_reserved(self, fd: int, f: Any) -> int: ...

    def put_unused_fd(self, fd: int) -> None: ...

    def fd_put(self, f: Any) -> None: ...


class IoctlContext:
    """What every handler receives besides its argument: device, file and caller."""

    __slots__ = ("dev", "file", "tail", "task")

    def __init__(self, file: DrmFile, task: Task) -> None:
        self.file = file
        self.dev = file.dev
        self.task = task
        self.tail: list[tuple[int, bytes]] | None = None

    def put_user_last(self, addr: int, data: bytes) -> None:
        """A handler's *final* ``put_user``/``copy_to_user``, where the handler would return
        ``-EFAULT`` if it faults and nothing else.  The dispatcher stores it right before
        copying the argument back -- the kernel's order -- in one transfer with it when the
        address space can (a process_vm_writev fewer per GETPARAM in host mode); a fault
        fails the ioctl with EFAULT exactly as the handler's own check would."""
        if self.tail is None:
            self.tail = [(addr, data)]
        else:
            self.tail.append((addr, data))

    @property
    def mm(self) -> Any:
        """The caller's address space: where every pointer inside the argument points."""
        return self.task.mm


Handler = Callable[[IoctlContext, Any], int | None]
