"""x86-64 system call numbers and flags the supervisor traps or uses (``asm/unistd_64.h``)."""

from __future__ import annotations

__all__ = [
    "AT_EMPTY_PATH", "AT_FDCWD", "AT_SYMLINK_NOFOLLOW", "CLONE_THREAD", "CLONE_VM",
    "MADV_DONTNEED_LOCKED", "NAMES", "NR",
]

NR: dict[str, int] = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6,
    "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "ioctl": 16, "access": 21,
    "mremap": 25, "madvise": 28, "getpid": 39, "sysinfo": 99, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "exit": 60, "readlink": 89, "getppid": 110, "statfs": 137, "fstatfs": 138, "getxattr": 191, "lgetxattr": 192, "listxattr": 194,
    "llistxattr": 195, "exit_group": 231,
    "openat": 257, "newfstatat": 262, "readlinkat": 267, "faccessat": 269,
    "process_vm_readv": 310, "process_vm_writev": 311, "seccomp": 317, "execveat": 322,
    "pkey_mprotect": 329, "statx": 332, "pidfd_open": 434, "clone3": 435, "openat2": 437,
    "faccessat2": 439,
}
NAMES: dict[int, str] = {nr: name for name, nr in NR.items()}

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
CLONE_VM = 0x100
CLONE_THREAD = 0x10000
MADV_DONTNEED_LOCKED = 24
