"""The supervisor: start the program under the filter, serve its trapped calls, clean up.

Serving is the one long core loop of host mode (``Supervisor._serve``: receive, dispatch by
system call number, answer); workers.py decides which thread runs it -- normally one leader
receiving and serving inline, with idle workers taking over when a call stalls, so that a
multi-threaded program is served concurrently without a thread switch per call.

Answers (services.py): CONTINUE unless a handler claims the call; a KernelError becomes the
call's errno; a bug in a handler is reported on stderr and the call continues, so nothing the
program does can take the supervisor down.  A target that dies mid-call makes the answer fail
with ENOENT, which is ignored.

Shutdown: the reaper (launch.py) reports the program's status, then empties the tree and
exits; with no task left using the filter the listener hangs up, the workers return, and the
watcher hands back whatever never fired (files still open in processes outside the tree,
processes whose end it did not see yet), which is released then.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from .. import uapi
from ..errors import ESRCH, KernelError
from ..posix import MAP_ANONYMOUS, MAP_FIXED
from .backend import HostBackend
from .core import CoreBackend
from .devices import DeviceCalls
from .drmfile import FileTable
from .fsinfo import FsInfoCalls
from .inject import Injector
from .launch import Launched, launch
from .listener import Listener, Notification
from .mmcalls import CLEARING_ADVICE, MmCalls
from .paths import PathResolver
from .proctable import ProcessTable
from .seccomp import ArgTest, probe_kernel, probe_listener, trap_filter
from .services import ANSWERED, Answered, Handler, Reply, Services
from .shadow import Shadow
from .syscalls import CLONE_VM, NAMES, NR
from .watcher import Watcher
from .wedged import WEDGED, WedgedFile
from .workers import WorkerPool

__all__ = ["FILTER_ALWAYS", "FILTER_WHEN", "Supervisor", "run"]

#: system calls always sent to the supervisor
FILTER_ALWAYS = tuple(NR[name] for name in (
    # paths and fds (devices.py, fsinfo.py)
    "open", "openat", "openat2", "stat", "lstat", "fstat", "newfstatat", "statx",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getxattr", "lgetxattr", "listxattr", "llistxattr", "statfs", "fstatfs",
    # the machine's RAM is the model's (meminfo.py)
    "sysinfo",
    # address space and processes (mmcalls.py)
    "munmap", "mremap", "mprotect", "pkey_mprotect", "brk",
    "fork", "clone3", "execve", "execveat", "exit_group"))
#: system calls sent only when an argument says they may matter
FILTER_WHEN = {
    # DRM ioctls, and those of the files the core made: sync_file ('>': SYNC_IOC_*),
    # dma-buf ('b': DMA_BUF_IOCTL_SYNC) and a sw_sync timeline ('W': SW_SYNC_IOC_*; the
    # watchdog's 'W' ioctls are sent too, and go on to the kernel: not our fd)
    NR["ioctl"]: ArgTest(1, 0xFF00, (ord("d") << 8, ord(">") << 8, ord("b") << 8,
                                     ord("W") << 8)),
    NR["mmap"]: ArgTest(3, MAP_FIXED | MAP_ANONYMOUS, (0, MAP_FIXED, MAP_FIXED | MAP_ANONYMOUS)),
    NR["clone"]: ArgTest(0, CLONE_VM, (0,)),                               # fork-like only
    NR["madvise"]: ArgTest(2, 0xFFFFFFFF, CLEARING_ADVICE),
}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Supervisor:
    """One run of one program.  ``errors`` collects internal errors (tests expect none)."""

    def __init__(self, backend: HostBackend, *, trace: Callable[[str], None] | None = None,
                 workers: int = 4, warn: Callable[[str], None] = _stderr) -> None:
        self.backend = backend
        self.trace = trace
        self.nworkers = max(1, workers)
        self.warn = warn
        self.errors: list[str] = []
        self._table: dict[int, Handler] = {}
        self._injector: Injector | None = None
        self._wedged: WedgedFile | None = None

    def report(self, where: str, exc: BaseException) -> None:
        line = f"softgem: internal error in {where}: {exc!r}"
        self.errors.append(line)
        self.warn(line)

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Run the program to the end of its whole process tree; its exit status."""
        sizes = probe_kernel()
        shadow = Shadow()
        try:
            launched = launch(argv, trap_filter(FILTER_ALWAYS, FILTER_WHEN), env,
                              leftovers=(shadow.root,))
        except BaseException:
            shadow.destroy()
            raise
        try:
            listener = Listener(launched.listener, probe_listener(launched.listener, sizes))
        except BaseException:
            launched.kill()
            launched.wait_tree()
            launched.close()
            os.close(launched.listener)
            shadow.destroy()
            raise
        return self._serve_run(launched, listener, shadow)

    def _serve_run(self, launched: Launched, listener: Listener, shadow: Shadow) -> int:
        try:
            watcher = Watcher(self.report)
            files = FileTable(watcher, self.backend.open_file, self.backend.release_file)
            files.trace = self.trace
            attach = getattr(self.backend, "attach_files", None)
            if attach is not None:
                attach(files)       # the core installs PRIME/sync_file/syncobj fds there
        except BaseException:
            launched.kill()
            launched.wait_tree()
            launched.close()
            listener.close()
            shadow.destroy()
            raise
        svc = Services(listener, self.backend, files,
                       ProcessTable(self.backend, watcher, listener, self.report),
                       shadow, PathResolver(shadow), self.trace, self.warn,
                       Injector(listener))
        reset = getattr(self.backend, "manual_reset", None)
        if reset is not None:
            svc.wedged = self._wedged = WedgedFile(shadow.to_shadow(WEDGED), reset)
        self._injector = svc.injector
        devices = DeviceCalls(svc)
        self._table = {**devices.table(), **FsInfoCalls(svc, devices).table(),
                       **MmCalls(svc).table()}
        if not launched.killable and isinstance(self.backend, CoreBackend):
            inner = self._table[NR["ioctl"]]
            self._table[NR["ioctl"]] = lambda n: _undo_if_interrupted(svc, inner, n)
        watcher.start()
        pool = WorkerPool(self.nworkers, listener.wait, listener.recv,
                          lambda n: self._serve(listener, n), self.report)
        pool.start()
        try:
            launched.go()
            status = launched.wait_status()
            launched.wait_tree()
        except BaseException:
            launched.kill()
            launched.wait_tree()
            raise
        finally:
            listener.stop()
            pool.join()
            for fn in watcher.drain():
                self._safely(fn)
            files.close()
            listener.close()
            watcher.close()
            launched.close()
            shadow.destroy()
        return status

    def _safely(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            self.report("cleanup", exc)

    def _serve(self, listener: Listener, n: Notification) -> None:
        handler = self._table.get(n.nr)
        wedged = self._wedged
        if wedged is not None and wedged.armed:
            self._safely(wedged.poll)           # a reset written to i915_wedged runs first
        try:
            reply = None if handler is None else handler(n)
            inj = self._injector
            if inj is not None and inj.nr_held and inj.release(
                    n.pid, n.id, reply if isinstance(reply, int) else 0):
                pass
            elif reply is None:
                listener.proceed(n.id)
            elif not isinstance(reply, Answered):
                listener.reply(n.id, reply)
            return
        except KernelError as err:
            code = err.errno
        except Exception as exc:
            self.report(NAMES.get(n.nr, str(n.nr)), exc)
            code = 0
        inj = self._injector
        if inj is not None and inj.nr_held and inj.release(n.pid, n.id, -(code or errno.ENOSYS)):
            return
        try:
            if code:
                listener.fail(n.id, code)
            else:
                listener.proceed(n.id)
        except OSError as exc:
            self.report("answer", exc)

#: Requests that create a handle: (struct size, offset of the handle in it).
_CREATING = {
    uapi.DRM_IOCTL_I915_GEM_USERPTR: (ctypes.sizeof(uapi.drm_i915_gem_userptr),
                                      uapi.drm_i915_gem_userptr.handle.offset),
    uapi.DRM_IOCTL_I915_GEM_CREATE: (ctypes.sizeof(uapi.drm_i915_gem_create),
                                     uapi.drm_i915_gem_create.handle.offset),
    uapi.DRM_IOCTL_I915_GEM_CREATE_EXT: (ctypes.sizeof(uapi.drm_i915_gem_create_ext),
                                         uapi.drm_i915_gem_create_ext.handle.offset),
}


def _undo_if_interrupted(svc: Services, inner: Handler, n: Notification) -> Reply:
    """A handle-creating ioctl on a listener without WAIT_KILLABLE_RECV (before 5.19): a
    handled signal can interrupt the call while it is served, and the program then sees
    EINTR (or restarts it) -- so a handle made meanwhile must not stay.  The core runs the
    ioctl on a copy of the argument; the result is written back and the call answered only
    while the notification is alive; if either finds it gone, the new handle is closed (the
    kernel's USERPTR never returns EINTR once it made the handle: this restores "it did not
    happen", which is what the program was told)."""
    request, ptr = n.args[1] & 0xFFFFFFFF, n.args[2]
    shape = _CREATING.get(request)
    dfile = svc.files.get(n.pid, n.args[0] & 0xFFFFFFFF) if shape is not None else None
    if shape is None or dfile is None:
        return inner(n)
    size, at = shape
    try:
        task = svc.procs.task(n)
        try:
            buf = bytearray(task.read(ptr, size))
        except KernelError:
            return inner(n)           # let the core give the fault its own errno
        arg = (ctypes.c_uint8 * size).from_buffer(buf)
        ret = svc.backend.ioctl(dfile.file, task, request, arg)  # type: ignore[arg-type]
        handle = int.from_bytes(buf[at:at + 4], "little")
        try:
            task.check_valid()
        except ESRCH:
            told = False
        else:
            try:
                task.write(ptr, bytes(buf))
            except KernelError as err:  # the kernel's copy_to_user fault: the handle stays
                svc.listener.fail(n.id, err.errno)
                return ANSWERED
            told = svc.listener.reply(n.id, ret)
        if not told:
            close = uapi.drm_gem_close(handle=handle)
            try:
                svc.backend.ioctl(dfile.file, task, uapi.DRM_IOCTL_GEM_CLOSE,
                                  close)  # type: ignore[arg-type]
            except KernelError:
                pass
        return ANSWERED
    finally:
        svc.files.put(dfile)


def run(argv: Sequence[str], backend: HostBackend, *,
        trace: Callable[[str], None] | None = None) -> int:
    """Run ``argv`` with ``/dev/dri/card0`` and ``/dev/dri/renderD128`` served by ``backend``;
    return its exit status (128+signal if it was killed).

    Raises HostUnsupported when the kernel lacks seccomp user notification, CONTINUE or
    ADDFD(+SEND), or the program could not install the filter."""
    return Supervisor(backend, trace=trace).run(argv)
