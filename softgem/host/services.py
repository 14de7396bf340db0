"""What every system-call handler may use, and what it may answer.

A handler takes the :class:`~softgem.host.listener.Notification` and returns

* ``None`` -- let the kernel run the call (``SECCOMP_USER_NOTIF_FLAG_CONTINUE``);
* an ``int`` -- the call's return value;
* :data:`ANSWERED` -- the handler already completed the call (``ADDFD`` with ``SEND``);

or raises a :class:`~softgem.errors.KernelError`, whose errno the call returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .backend import HostBackend
from .drmfile import FileTable
from .inject import Injector
from .listener import Listener, Notification
from .paths import PathResolver
from .proctable import ProcessTable
from .shadow import Shadow
from .wedged import WedgedFile

__all__ = ["ANSWERED", "Answered", "Handler", "Reply", "Services"]


class Answered:
    """The type of :data:`ANSWERED`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANSWERED"


ANSWERED: Final = Answered()
Reply = int | Answered | None
Handler = Callable[[Notification], Reply]


@dataclass
class Services:
    listener: Listener
    backend: HostBackend
    files: FileTable
    procs: ProcessTable
    shadow: Shadow
    paths: PathResolver
    trace: Callable[[str], None] | None     # one line per served ioctl / invalidation
    warn: Callable[[str], None]             # one-line warnings for the user (stderr)
    injector: Injector                      # threads held to run calls of ours (mmaps)
    wedged: WedgedFile | None = None        # debugfs i915_wedged (resets on a write)
