"""The supervisor's end of a seccomp listener: receive, answer, validate, inject an fd.

A :class:`Notification` is one trapped system call; its ``id`` is the kernel's cookie.  Every
answer goes through :class:`Listener`, and every answer may find the target gone (killed, or
its system call interrupted by a signal): the kernel then says ENOENT, which is not an error
of the supervisor, so the answering methods return ``False`` instead of raising.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct

from .seccomp import (
    SECCOMP_ADDFD_FLAG_SEND,
    SECCOMP_IOCTL_NOTIF_ADDFD,
    SECCOMP_IOCTL_NOTIF_ID_VALID,
    SECCOMP_IOCTL_NOTIF_RECV,
    SECCOMP_IOCTL_NOTIF_SEND,
    SECCOMP_USER_NOTIF_FLAG_CONTINUE,
    Features,
    libc,
    seccomp_notif_addfd,
)

__all__ = ["GONE", "Listener", "Notification"]

_NOTIF = struct.Struct("<QIIiIQ6Q")
_RESP = struct.Struct("<QqiI")
_ID = struct.Struct("<Q")
_O_CLOEXEC = os.O_CLOEXEC

GONE = (errno.ENOENT, errno.EINTR, errno.ESRCH)


class Notification:
    """One trapped system call: ``pid`` is the calling thread's id, ``args`` its six
    register arguments (unsigned 64-bit)."""

    __slots__ = ("args", "id", "nr", "pid")

    def __init__(self, nid: int, pid: int, nr: int, args: tuple[int, ...]) -> None:
        self.id = nid
        self.pid = pid
        self.nr = nr
        self.args = args


class Listener:
    """Owns the listener fd.  ``recv`` must only be called after :meth:`wait` saw it readable
    and by one thread at a time (see supervisor.py: a blocked RECV cannot be woken)."""

    def __init__(self, fd: int, features: Features) -> None:
        self.fd = fd
        self.features = features
        self._zero = bytes(features.notif_size)
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._poll.register(self._stop_r, select.POLLIN)

    def wait(self) -> bool:
        """Sleep until a notification is pending (True) or the listener is done: every
        target is gone (POLLHUP) or :meth:`stop` was called (False)."""
        while True:
            for fd, ev in self._poll.poll():
                if fd == self._stop_r:
                    return False
                if ev & select.POLLIN:
                    return True
                if ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return False

    def stop(self) -> None:
        try:
            os.write(self._stop_w, b"x")
        except BlockingIOError:
            pass

    def recv(self) -> Notification | None:
        """The next notification, or None if it vanished (its target was killed)."""
        try:
            raw = fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_RECV, self._zero)
        except OSError as exc:
            if exc.errno in GONE:
                return None
            raise
        v = _NOTIF.unpack_from(raw)      # id, pid, flags, nr, arch, ip, args[6]
        return Notification(v[0], v[1], v[3], v[6:])

    def _send(self, nid: int, val: int, error: int, flags: int) -> bool:
        try:
            fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_SEND, _RESP.pack(nid, val, error, flags))
        except OSError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def reply(self, nid: int, val: int) -> bool:
        """Complete the system call with return value ``val``."""
        return self._send(nid, val, 0, 0)

    def fail(self, nid: int, code: int) -> bool:
        """Complete the system call with ``-code``."""
        return self._send(nid, 0, -code, 0)

    def proceed(self, nid: int) -> bool:
        """Let the kernel run the system call as if it had not been trapped."""
        return self._send(nid, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)

    def valid(self, nid: int) -> bool:
        """Whether the target is still blocked in this notification (so its pid still names
        it, and memory read from that pid was its memory)."""
        try:
            fcntl.ioctl(self.fd, SECCOMP_IOCTL_NOTIF_ID_VALID, _ID.pack(nid))
        except OSError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    def inject(self, nid: int, srcfd: int, cloexec: bool) -> int:
        """Install a copy of ``srcfd`` in the target and complete the system call with its
        number, atomically.  Returns the number, or ``-errno``: ``-ENOENT`` when the target
        is gone; any other error (``-EMFILE``: its fd table is full) leaves the system call
        unanswered, and the caller must answer it."""
        req = seccomp_notif_addfd(id=nid, flags=SECCOMP_ADDFD_FLAG_SEND, srcfd=srcfd,
                                  newfd=0, newfd_flags=_O_CLOEXEC if cloexec else 0)
        ret = int(libc.ioctl(self.fd, ctypes.c_ulong(SECCOMP_IOCTL_NOTIF_ADDFD),
                             ctypes.byref(req)))
        return ret if ret >= 0 else -ctypes.get_errno()

    def addfd(self, nid: int, srcfd: int, cloexec: bool) -> int:
        """Install a copy of ``srcfd`` in the target, leaving its system call pending.
        Returns the number or ``-errno``."""
        req = seccomp_notif_addfd(id=nid, flags=0, srcfd=srcfd, newfd=0,
                                  newfd_flags=_O_CLOEXEC if cloexec else 0)
        ret = int(libc.ioctl(self.fd, ctypes.c_ulong(SECCOMP_IOCTL_NOTIF_ADDFD),
                             ctypes.byref(req)))
        return ret if ret >= 0 else -ctypes.get_errno()

    def close(self) -> None:
        for fd in (self.fd, self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
