"""The kernel floor of a served GETPARAM: its system calls, with no logic between them.

``softgem run`` serves one ``DRM_IOCTL_I915_GETPARAM`` with these system calls, each of
which the design needs (docs/host-mode.md, "Where the time goes"):

=========================  ================================================================
poll                       the leader may only RECV when a notification is pending
NOTIF_RECV                 the trapped call
kcmp(KCMP_EPOLL_TFD)       is this fd still the device file it was? (drmfile.py)
process_vm_readv           copy_from_user of the 16-byte argument
NOTIF_ID_VALID             the target is still in that call, so the pid read was its own
process_vm_writev          put_user of the value + copy_to_user of the argument, one transfer
NOTIF_SEND                 the answer
=========================  ================================================================

:func:`floor_round_trip` makes exactly these calls for every ioctl of the bench program
(answering a constant, opening the device as a bare socketpair) and nothing else, so
``floor / bare`` is what the kernel interface alone costs and ``GETPARAM / floor`` what
softgem's own code adds.
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
from collections.abc import Callable

from ..host.kcmp import KCMP_EPOLL_TFD, NR_KCMP, EpollSlot, kcmp, slot_pointer
from ..host.launch import launch
from ..host.listener import Listener
from ..host.procmem import read_cstring, read_mem, write_vec
from ..host.seccomp import ArgTest, probe_kernel, probe_listener, trap_filter
from ..host.syscalls import NR

__all__ = ["floor_round_trip", "serve_program"]

_GETPARAM = struct.Struct("<iiQ")
_CHIPSET = (0x1912).to_bytes(4, "little")


def serve_program(argv: list[str], filt: bytes, serve: Callable[[Listener], None],
                  out: str) -> float:
    """Run ``argv`` under ``filt`` with ``serve(listener)`` answering its notifications until
    it returns; the ns per call the program wrote to ``out``."""
    sizes = probe_kernel()
    launched = launch(argv, filt)
    listener = Listener(launched.listener, probe_listener(launched.listener, sizes))
    try:
        launched.go()
        serve(listener)
        status = launched.wait_status()
        launched.wait_tree()
    finally:
        listener.close()
        launched.close()
    if status != 0:
        raise RuntimeError(f"{argv[0]} {argv[1]} failed with status {status}")
    with open(out) as f:
        return float(f.read())


def floor_round_trip(exe: str, n: int, out: str) -> float:
    """Run ``exe getparam n out`` under the floor supervisor; its ns per ioctl."""
    filt = trap_filter([NR["open"], NR["openat"]],
                       {NR["ioctl"]: ArgTest(1, 0xFF00, (ord("d") << 8,))})
    registry = select.epoll()
    peers: list[socket.socket] = []
    try:
        return serve_program([exe, "getparam", str(n), out], filt,
                             lambda listener: _floor_loop(listener, registry, peers), out)
    finally:
        registry.close()
        for sock in peers:
            sock.close()


def _floor_loop(listener: Listener, registry: select.epoll, peers: list[socket.socket]) -> None:
    slots: list[EpollSlot] = []
    slot = ctypes.c_void_p(0)
    me = os.getpid()
    while listener.wait():
        notif = listener.recv()
        if notif is None:
            continue
        if notif.nr != NR["ioctl"]:
            ptr = notif.args[0] if notif.nr == NR["open"] else notif.args[1]
            if read_cstring(notif.pid, ptr) != b"/dev/dri/card0":
                listener.proceed(notif.id)
                continue
            ours, theirs = socket.socketpair()
            peers += (ours, theirs)          # theirs stays open: keeps the slot's number
            registry.register(theirs.fileno(), 0)
            slots.append(EpollSlot(registry.fileno(), theirs.fileno(), 0))
            slot = slot_pointer(slots[-1])
            listener.inject(notif.id, theirs.fileno(), False)
            continue
        args = notif.args
        if kcmp(NR_KCMP, notif.pid, me, KCMP_EPOLL_TFD, args[0] & 0xFFFFFFFF, slot):
            listener.proceed(notif.id)
            continue
        raw = read_mem(notif.pid, args[2], _GETPARAM.size)
        listener.valid(notif.id)
        write_vec(notif.pid, [(_GETPARAM.unpack(raw)[2], _CHIPSET), (args[2], raw)])
        listener.reply(notif.id, 0)
