"""Making a trapped thread run system calls of the supervisor's choosing (ptrace).

A seccomp supervisor can answer a call, fail it, let it proceed or give the caller an fd; it
cannot create a mapping in the caller's address space.  CPU mappings of GEM objects (mmap of a
device offset, the legacy GEM_MMAP ioctl) need exactly that, so the thread that asked performs
the mmap(2) itself, on a file the supervisor hands it, while its trapped call is held:

1. ``ADDFD`` (without SEND) gives the thread the file (the supervisor's shmem memfd);
2. ``PTRACE_SEIZE`` the thread, ``PTRACE_INTERRUPT`` it, then answer its notification with
   ``-ERESTARTNOINTR``: with a pending trap stop the answer is never seen by the program --
   the thread stops on its way back to user space (``PTRACE_EVENT_STOP``), registers saved;
   without ``WAIT_KILLABLE_RECV`` the interrupt itself ends the wait, to the same stop;
3. each injected call rewinds ``rip`` onto the ``syscall`` instruction the thread just
   executed, loads the number and arguments, and runs to the syscall-exit stop;
4. :meth:`Held.finish` restores every register, with the held call's result in ``rax``, and
   detaches.  Signals that arrived meanwhile are re-sent with ``tgkill``.

``PTRACE_O_SUSPEND_SECCOMP`` (needs CAP_SYS_ADMIN) keeps the injected calls out of the
filter; without it they are trapped like any call and proceed (they name no device fd).  The
tracer is the worker thread that seized, so one :class:`Held` is used by one thread only.
Anything unexpected (the thread died, the instruction is not ``syscall``) raises
:class:`InjectFailed`; the thread is then detached with its registers restored.

Rejected: a device-wide memfd as the DRM fd itself (``CONTINUE`` would map it natively with
no ptrace): the DRM fd must stay a socket whose peer hang-up tells the last close
(drmfile.py), and GEM_MMAP, an ioctl, would still need a mapping made on the caller's behalf.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading

from ..errors import error_for
from .listener import Listener

__all__ = ["Held", "InjectFailed", "Injector"]

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.restype = ctypes.c_long
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

PTRACE_PEEKTEXT = 1
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_O_TRACESYSGOOD = 1
PTRACE_O_EXITKILL = 1 << 20
PTRACE_O_SUSPEND_SECCOMP = 1 << 21
PTRACE_EVENT_STOP = 128
_WALL = 0x40000000
_WNOTHREAD = 0x20000000
ERESTARTNOINTR = 513
_SYSCALL_INSN = b"\x0f\x05"
_SYS_TGKILL = 234
_U64 = (1 << 64) - 1


class user_regs_struct(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
        "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
        "gs_base", "ds", "es", "fs", "gs")]


_ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")


class InjectFailed(Exception):
    """The thread could not be made to run a call (it died, or ptrace was refused)."""


def _pt(request: int, tid: int, addr: int | None = None, data: object = None) -> int:
    ctypes.set_errno(0)
    ret = int(_ptrace(request, tid, addr, data))
    if ret == -1 and ctypes.get_errno():
        err = ctypes.get_errno()
        raise InjectFailed(f"ptrace({request:#x}, {tid}): {errno.errorcode.get(err, err)}")
    return ret


class Held:
    """A thread stopped by :class:`Injector` in the middle of its trapped call."""

    def __init__(self, tid: int, tgid: int, nid: int) -> None:
        self.nid = nid          # the trapped call being held
        self.tid = tid
        self.tgid = tgid
        self.saved = user_regs_struct()
        self.signals: list[int] = []
        self.calls = 0

    # -- stops -------------------------------------------------------------------------------
    def _wait(self, want_syscall: bool) -> None:
        """Resume-free wait for the next stop we asked for; signals are kept for later."""
        while True:
            try:
                _, status = os.waitpid(self.tid, _WALL | _WNOTHREAD)
            except ChildProcessError as exc:
                raise InjectFailed(f"thread {self.tid} is gone") from exc
            if not os.WIFSTOPPED(status):
                raise InjectFailed(f"thread {self.tid} exited while held")
            sig, event = os.WSTOPSIG(status), status >> 16
            if want_syscall and sig == 0x80 | 5:
                return
            if not want_syscall and event == PTRACE_EVENT_STOP:
                return
            if event == 0 and sig not in (5, 0x80 | 5):
                self.signals.append(sig)       # a signal-delivery stop: deliver it later
            _pt(PTRACE_SYSCALL, self.tid, None, None)

    def _regs(self) -> user_regs_struct:
        regs = user_regs_struct()
        _pt(PTRACE_GETREGS, self.tid, None, ctypes.byref(regs))
        return regs

    def stopped(self) -> None:
        """The first stop: save the registers, check the instruction behind ``rip``."""
        self._wait(want_syscall=False)
        self.saved = self._regs()
        word = _pt(PTRACE_PEEKTEXT, self.tid, self.saved.rip - 2, None)
        if (word & 0xFFFF).to_bytes(2, "little") != _SYSCALL_INSN:
            raise InjectFailed(f"thread {self.tid} did not enter through 'syscall'")

    # -- calls -------------------------------------------------------------------------------
    def syscall(self, nr: int, *args: int) -> int:
        """Run system call ``nr`` in the thread; its raw result (``-errno`` on failure)."""
        regs = user_regs_struct.from_buffer_copy(self.saved)
        regs.rip = self.saved.rip - 2
        regs.rax = nr
        regs.orig_rax = _U64
        for name, value in zip(_ARG_REGS, args, strict=False):
            setattr(regs, name, value & _U64)
        _pt(PTRACE_SETREGS, self.tid, None, ctypes.byref(regs))
        _pt(PTRACE_SYSCALL, self.tid, None, None)
        self._wait(want_syscall=True)           # entry
        _pt(PTRACE_SYSCALL, self.tid, None, None)
        self._wait(want_syscall=True)           # exit
        self.calls += 1
        rax = int(self._regs().rax)
        return rax - (1 << 64) if rax >> 63 else rax

    def finish(self, result: int) -> None:
        """Complete the held call with ``result`` and let the thread go."""
        if not self.saved.rip:
            self.detach()         # never reached the stop (it died): nothing to restore
            return
        regs = user_regs_struct.from_buffer_copy(self.saved)
        regs.rax = result & _U64
        regs.orig_rax = _U64
        try:
            _pt(PTRACE_SETREGS, self.tid, None, ctypes.byref(regs))
        finally:
            self.detach()

    def detach(self) -> None:
        try:
            _pt(PTRACE_DETACH, self.tid, None, None)
        except InjectFailed:
            pass
        for sig in self.signals:
            _libc.syscall(_SYS_TGKILL, self.tgid, self.tid, sig)
        self.signals.clear()


class Injector:
    """Holds trapped threads for the handlers that need calls run in them."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self._held: dict[int, Held] = {}
        self._lock = threading.Lock()   # supervisor state, outside the core
        self._options = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP
        self.nr_held = 0                # threads held now (read without the lock)

    def hold(self, nid: int, tid: int, tgid: int, give: int = -1) -> tuple[Held, int]:
        """Stop thread ``tid`` inside its trapped call ``nid`` (see the module doc), having
        given it a copy of our fd ``give`` (if not -1); the held thread and the copy's number
        there (-1 if none).

        Raises InjectFailed before anything changed for the thread when ptrace is refused,
        KernelError when the fd cannot be given (the call is still pending: answer it).
        """
        held = Held(tid, tgid, nid)
        try:
            _pt(PTRACE_SEIZE, tid, None, ctypes.c_void_p(self._options))
        except InjectFailed:
            if not self._options & PTRACE_O_SUSPEND_SECCOMP:
                raise
            self._options &= ~PTRACE_O_SUSPEND_SECCOMP     # not privileged: calls are trapped
            _pt(PTRACE_SEIZE, tid, None, ctypes.c_void_p(self._options))
        fd = self.listener.addfd(nid, give, cloexec=True) if give >= 0 else -1
        if give >= 0 and fd < 0:
            held.detach()
            raise error_for(-fd, "giving the thread its mapping file")
        try:
            _pt(PTRACE_INTERRUPT, tid, None, None)
            self.listener.fail(nid, ERESTARTNOINTR)
            held.stopped()
        except InjectFailed:
            held.finish(-errno.ENODEV)
            raise
        with self._lock:
            self._held[tid] = held
            self.nr_held += 1
        return held, fd

    def held(self, tid: int) -> Held | None:
        return self._held.get(tid)

    def release(self, tid: int, nid: int, result: int) -> bool:
        """If call ``nid`` of ``tid`` is held, complete it with ``result`` and detach; True
        if it was.  (Another call of a held thread is one of the calls injected into it:
        trapped when the filter is not suspended, it proceeds as usual.)"""
        with self._lock:
            held = self._held.get(tid)
            if held is None or held.nid != nid:
                return False
            del self._held[tid]
            self.nr_held -= 1
        try:
            held.finish(result)
        except InjectFailed:
            pass
        return True
