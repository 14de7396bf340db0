"""The filter program, run by a small classic-BPF interpreter over synthetic seccomp_data."""

from __future__ import annotations

import ctypes
import struct

import pytest

from softgem.host.seccomp import (
    AUDIT_ARCH_X86_64,
    SECCOMP_IOCTL_NOTIF_ADDFD,
    SECCOMP_IOCTL_NOTIF_ID_VALID,
    SECCOMP_IOCTL_NOTIF_RECV,
    SECCOMP_IOCTL_NOTIF_SEND,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_KILL_PROCESS,
    SECCOMP_RET_USER_NOTIF,
    ArgTest,
    probe_kernel,
    seccomp_data,
    seccomp_notif,
    seccomp_notif_addfd,
    seccomp_notif_resp,
    sock_filter,
    trap_filter,
)
from softgem.host.supervisor import FILTER_ALWAYS, FILTER_WHEN
from softgem.host.syscalls import NR
from softgem.posix import MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE

ALLOW, NOTIFY, KILL = SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_KILL_PROCESS


def run_bpf(prog: bytes, nr: int, args: tuple[int, ...] = (), arch: int = AUDIT_ARCH_X86_64
            ) -> int:
    """Execute the program the way the kernel does (only the opcodes trap_filter emits)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    insns = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:                       # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x54:                     # and #k
            acc &= k
        elif code == 0x15:                     # jeq #k
            pc += jt if acc == k else jf
        elif code == 0x35:                     # jge #k
            pc += jt if acc >= k else jf
        elif code == 0x06:                     # ret #k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


PROG = trap_filter(FILTER_ALWAYS, FILTER_WHEN)


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("openat", (), NOTIFY),
    ("munmap", (), NOTIFY),
    ("exit_group", (), NOTIFY),
    ("read", (), ALLOW),
    ("getppid", (), ALLOW),
    ("ioctl", (3, 0xC0106446), NOTIFY),                 # a DRM ioctl ('d')
    ("ioctl", (1, 0x5401), ALLOW),                      # TCGETS
    ("mmap", (0, 4096, 3, MAP_PRIVATE | MAP_ANONYMOUS), ALLOW),
    ("mmap", (0, 4096, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), NOTIFY),
    ("mmap", (0, 4096, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE), ALLOW),
    ("mmap", (0, 4096, 3, MAP_PRIVATE, 5), NOTIFY),     # file-backed: maybe a device fd
    ("clone", (0x11,), NOTIFY),                         # fork-like (SIGCHLD only)
    ("clone", (0x3D0F00,), ALLOW),                      # a thread (CLONE_VM ...)
    ("madvise", (0, 4096, 4), NOTIFY),                  # MADV_DONTNEED
    ("madvise", (0, 4096, 3), ALLOW),                   # MADV_WILLNEED
])
def test_the_filter_notifies_exactly_the_calls_host_mode_serves(name, args, expected) -> None:
    assert run_bpf(PROG, NR[name], args) == expected


def test_a_foreign_architecture_or_the_x32_abi_is_killed() -> None:
    assert run_bpf(PROG, NR["read"], arch=0x40000003) == KILL          # i386
    assert run_bpf(PROG, NR["read"] | 0x40000000) == KILL              # x32


def test_an_argument_test_compares_only_the_masked_low_word() -> None:
    prog = trap_filter([], {7: ArgTest(1, 0xF0, (0x10, 0x30))})
    assert run_bpf(prog, 7, (0, 0x1_0000_0013)) == NOTIFY
    assert run_bpf(prog, 7, (0, 0x20)) == ALLOW
    assert run_bpf(prog, 8, (0, 0x10)) == ALLOW


def test_struct_layouts_and_ioctl_numbers_match_the_uapi_header() -> None:
    assert ctypes.sizeof(seccomp_data) == 64
    assert ctypes.sizeof(seccomp_notif) == 80
    assert ctypes.sizeof(seccomp_notif_resp) == 24
    assert ctypes.sizeof(seccomp_notif_addfd) == 24
    assert ctypes.sizeof(sock_filter) == 8
    assert SECCOMP_IOCTL_NOTIF_RECV == 0xC0502100
    assert SECCOMP_IOCTL_NOTIF_SEND == 0xC0182101
    assert SECCOMP_IOCTL_NOTIF_ID_VALID == 0x40082102
    assert SECCOMP_IOCTL_NOTIF_ADDFD == 0x40182103


def test_this_kernel_offers_user_notification() -> None:
    sizes = probe_kernel()
    assert sizes.seccomp_data == 64
    assert sizes.seccomp_notif >= 80
