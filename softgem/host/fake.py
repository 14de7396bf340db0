"""FakeBackend: the smallest i915 a program can find -- for the supervisor's own tests.

It answers ``DRM_IOCTL_VERSION`` (driver "i915", writing through the user's name/date/desc
pointers as ``drm_copy_field`` does) and ``DRM_IOCTL_I915_GETPARAM`` for
``I915_PARAM_CHIPSET_ID``; every other ioctl is ENOTTY, every other param EINVAL.  It records
every call so tests can check what the supervisor delivered.  Request numbers are spelled by
value here because :mod:`softgem.uapi` is written concurrently.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..abi import DRM_IOCTL_I915_GETPARAM, DRM_IOCTL_VERSION, I915_PARAM_CHIPSET_ID
from ..errors import EINVAL, ENODEV, ENOENT, ENOTTY
from ..mm.notify import NotifyEvent
from ..sync import Mutex
from .task import HostTask, TracedMm

__all__ = ["DRM_IOCTL_I915_GETPARAM", "DRM_IOCTL_VERSION", "FakeBackend", "FakeFile"]

CHIPSET_ID = 0x1912                     # a gen9 (Skylake GT2) integrated part

_VERSION = struct.Struct("<iii4xQQQQQQ")
_GETPARAM = struct.Struct("<i4xQ")
_FIELDS = (b"i915", b"20201103", b"Intel Graphics")
_CHIPSET_ID_BYTES = struct.pack("<i", CHIPSET_ID)


@dataclass(eq=False)
class FakeFile:
    minor: int
    serial: int
    ioctls: list[tuple[int, int, int]] = field(default_factory=list)   # (pid, request, arg)
    released: bool = False


class FakeBackend:
    """Records everything; thread-safe (one mutex around the logs)."""

    def __init__(self) -> None:
        self.lock = Mutex("host.fake")
        self.files: list[FakeFile] = []
        self.releases: list[FakeFile] = []
        self.events: list[tuple[int, NotifyEvent, int, int, str]] = []  # (tgid, ...)
        self.forks: list[tuple[TracedMm, TracedMm]] = []
        self.execs: list[tuple[TracedMm, TracedMm]] = []     # (old, new)
        self.exits: list[TracedMm] = []

    def open_file(self, minor: int) -> FakeFile:
        with self.lock:
            file = FakeFile(minor, len(self.files))
            self.files.append(file)
        return file

    def open_timeline(self, comm: str) -> object:
        raise ENOENT("the fake backend has no sw_sync")

    def release_file(self, file: object) -> None:
        assert isinstance(file, FakeFile)
        with self.lock:
            file.released = True
            self.releases.append(file)

    def ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        file.ioctls.append((task.pid, request, arg))      # type: ignore[attr-defined]
        if request == DRM_IOCTL_I915_GETPARAM:
            return self._getparam(task, arg)
        if request == DRM_IOCTL_VERSION:
            return self._version(task, arg)
        raise ENOTTY(f"fake backend: ioctl {request:#x}")

    @staticmethod
    def _version(task: HostTask, arg: int) -> int:
        _, _, _, *lens_ptrs = _VERSION.unpack(task.read(arg, _VERSION.size))
        task.check_valid()
        out: list[int] = []
        for i, value in enumerate(_FIELDS):
            buf_len, ptr = lens_ptrs[2 * i], lens_ptrs[2 * i + 1]
            n = min(buf_len, len(value))
            if n:
                task.write(ptr, value[:n])
            out += (len(value), ptr)
        task.write(arg, _VERSION.pack(1, 6, 0, *out))
        return 0

    @staticmethod
    def _getparam(task: HostTask, arg: int) -> int:
        param, value_ptr = _GETPARAM.unpack(task.read(arg, 16))
        task.check_valid()
        if param != I915_PARAM_CHIPSET_ID:
            raise EINVAL(f"fake backend: param {param}")
        task.write(value_ptr, _CHIPSET_ID_BYTES)
        return 0

    def dmabuf_mmap_target(self, file: object, pgoff: int, npages: int) -> tuple[int, int]:
        raise ENODEV("the fake backend maps nothing")

    def file_ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        raise ENOTTY(f"fake backend: ioctl {request:#x} on {file!r}")

    def mmap_target(self, file: object, pgoff: int, npages: int, write: bool
                    ) -> tuple[int, int]:
        raise ENODEV("the fake backend maps nothing")

    def mm_event(self, task: HostTask, event: NotifyEvent, start: int, end: int,
                 cause: str) -> None:
        with self.lock:
            self.events.append((task.tgid, event, start, end, cause))

    def mm_fork(self, parent: HostTask, child: HostTask) -> None:
        with self.lock:
            self.forks.append((parent.mm, child.mm))

    def mm_exec(self, task: HostTask, old: TracedMm) -> None:
        with self.lock:
            self.execs.append((old, task.mm))

    def mm_exit(self, mm: TracedMm) -> None:
        with self.lock:
            self.exits.append(mm)
