"""What the supervisor needs from the kernel core: the :class:`HostBackend` protocol.

The supervisor knows Linux (system calls, fds, processes); the backend knows i915 (files,
objects, userptr, notifiers).  The lead implements this protocol with the real core; tests
use :class:`softgem.host.fake.FakeBackend`.

Calls and their guarantees
==========================

==========================  ================================================================
call                        when, and what the supervisor guarantees
==========================  ================================================================
``open_file(minor)``        an ``open`` of ``/dev/dri/card0`` (0) or ``renderD128`` (128),
                            also a re-open through ``/proc/self/fd/N``; one call per open,
                            like ``drm_open``.  Raise a KernelError to fail the open.
``open_timeline(comm)``     an ``open`` of debugfs ``sync/sw_sync``: a new core file (a fence
                            timeline named ``comm``), served like the files ioctls make.
``release_file(file)``      the last fd (in any process: dup and fork share it) of that
                            open was closed, or its process died; exactly once per file,
                            never while an ``ioctl`` on it is being served.
``ioctl(file, task, r, a)`` ``ioctl(fd, r, a)`` on a device fd, ``r`` of type ``'d'``.  ``a``
                            is the raw user address; read and write the caller's memory with
                            ``task.read``/``task.write`` (EFAULT on a bad pointer).  Call
                            ``task.check_valid()`` after copying arguments in and before
                            acting.  Return the (non-negative) result or raise KernelError.
                            Several threads may call concurrently, on the same file too.
``file_ioctl(file, task,    an ioctl on an fd the core made (PRIME dma-buf, sync_file, syncobj);
r, a)``                     like ``ioctl`` otherwise.
``mmap_target(file, pgoff,  ``mmap(fd, pgoff << 12)`` of ``npages`` pages of a device fd, ``write``
npages, write)``             if PROT_WRITE: after the driver's checks (raise KernelError), the
                            (fd, byte offset) of a file of ours the caller should map instead;
                            the fd is the caller's to close.
``mm_event(task, ev, s, e,  the calling thread is about to change ``[s, e)`` of its address
cause)``                    space; ``ev`` is the notifier event semantics.md section 8 gives
                            (UNMAP, CLEAR, PROTECTION_VMA, PROTECTION_PAGE), ``cause`` the
                            system call ("munmap", "mremap", "madvise", "mprotect",
                            "mmap", "brk", "fork", "execve", "exit_group").  Called BEFORE the
                            kernel performs it, while the caller is blocked; the system call
                            may still fail afterwards (a spurious invalidation is harmless).
                            Hot: keep it cheap.  Exceptions are logged and ignored.
``mm_fork(parent, child)``  a new process appeared whose parent is known: ``child.mm`` is a
                            copy of ``parent.mm`` made by fork (seen at the child's first
                            trapped call, so ``parent`` may have moved on since).
``mm_exec(task, old)``      ``task``'s process replaced ``old`` by ``task.mm`` (execve
                            succeeded); ``old`` is gone.  Seen at the new image's first trap.
``mm_exit(mm)``             every thread using ``mm`` has exited.  Each TracedMm ends with
                            exactly one of ``mm_exec`` (as ``old``) or ``mm_exit``, except
                            that the supervisor shutting down ends the rest with ``mm_exit``.
==========================  ================================================================

Threads: ``ioctl`` and ``mm_event`` run on the supervisor's worker threads, ``release_file``
and ``mm_exit`` on its watcher thread, ``mm_fork``/``mm_exec`` on a worker.  All may run
concurrently; the backend does its own locking (through softgem.sync).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..mm.notify import NotifyEvent
from .task import HostTask, TracedMm

__all__ = ["HostBackend"]


class HostBackend(Protocol):
    def open_file(self, minor: int) -> object:
        """A new drm file on minor ``minor``.  Raises KernelError to fail the open."""
        ...

    def open_timeline(self, comm: str) -> object:
        """A new sw_sync timeline file.  Raises KernelError to fail the open."""
        ...

    def release_file(self, file: object) -> None:
        """The last reference to ``file`` is gone (``drm_release``)."""
        ...

    def ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        """Serve one ioctl.  Raises KernelError (its errno is returned to the program)."""
        ...

    def file_ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        """An ioctl on a file an ioctl made (sync_file, dma-buf, syncobj fd)."""
        ...

    def mmap_target(self, file: object, pgoff: int, npages: int, write: bool
                    ) -> tuple[int, int]:
        """What the caller maps for a device offset (see the table above)."""
        ...

    def dmabuf_mmap_target(self, file: object, pgoff: int, npages: int) -> tuple[int, int]:
        """The same for ``mmap`` of a file an ioctl made (a dma-buf; others: ENODEV)."""
        ...

    def mm_event(self, task: HostTask, event: NotifyEvent, start: int, end: int,
                 cause: str) -> Callable[[], None] | None:
        """``[start, end)`` of ``task.mm`` is about to change (see the table above).  An
        answer other than None is called once the call has really happened in the program
        (``invalidate_range_end``; softgem.host.syscall_exit)."""
        ...

    def mm_fork(self, parent: HostTask, child: HostTask) -> None:
        """``child.mm`` was forked from ``parent.mm``."""
        ...

    def mm_exec(self, task: HostTask, old: TracedMm) -> None:
        """execve replaced ``old`` with ``task.mm``."""
        ...

    def mm_exit(self, mm: TracedMm) -> None:
        """The last thread of ``mm`` is gone."""
        ...
