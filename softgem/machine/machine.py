"""The simulated machine: physical memory, one i915 device, and the processes.

``Machine()`` works with no arguments; keyword options tune the memory size, the seed of every
random choice (frame-number base, mmap base, GPU addresses), the platform, and the userptr
design (``userptr_design="v5.14"``: :mod:`softgem.gem.designs`) and the mmap_offset design
(``mmap_design="mmap-v1"``: :mod:`softgem.gem.mmap_designs`).  Two machines
built with the same seed behave identically.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .. import trace
from ..errors import ENOENT, SimBug
from ..gem import GemDevice
from ..gpu import SW_SYNC_PATHS, Gpu, SwSyncTimeline
from ..gpu import attach as attach_gpu
from ..mm import Mm, PhysMem
from ..notifier import MmuNotifierSubscriptions
from ..sync import FENCE_MAP, Mutex, lockdep
from ..units import PAGE_SIZE
from .files import FMODE_READ, FMODE_WRITE, FdTable, OpenFile, open_fmode
from .process import Process

__all__ = ["Machine", "Counters", "DEVICE_PATHS", "LOCK_ORDER"]

# design.md's lock order, primed like the kernel primes its classes at boot: taking these in
# the reverse order anywhere is reported by lockdep even if the forward order never ran.
# i915.struct_mutex is the device lock of the 2014 userptr designs (softgem.gem.designs.v3_16,
# v4_4): taken under mmap_lock (the notifier callback), outside the object lock.
LOCK_ORDER = ("mm.mmap_lock", "i915.struct_mutex", "gem.object", FENCE_MAP)
# The GPU address space's mutex nests inside the object lock (bind/unbind under the object
# lock); fence signalling may take it, so it is not ordered against FENCE_MAP here.
GPU_LOCK_ORDER = ("gem.object", "gpu.vm_mutex")

# The device nodes a process can open, and their DRM minor numbers.
DEVICE_PATHS = {"/dev/dri/card0": 0, "/dev/dri/renderD128": 128}


@dataclass(frozen=True, slots=True)
class Counters:
    """Everything that must return to zero when every process has exited."""

    frames_used: int
    pins: int
    processes: int
    open_files: int
    objects: int
    handles: int
    offset_nodes: int
    notifier_registrations: int
    gpu_bindings: int

    def leaks(self) -> dict[str, int]:
        """The counters that are not zero."""
        return {name: getattr(self, name) for name in self.__slots__ if getattr(self, name)}


class Machine:
    """A simulated computer with an i915 GPU."""

    def __init__(self, *, memory: int = 1 << 30, seed: int = 0, platform: Any = None,
                 userptr_design: str = "v6.8", mmap_design: str = "merged") -> None:
        from ..gem import make_design, make_mmap_design

        make_design(userptr_design)     # ValueError now (listing the names), not at first use
        make_mmap_design(mmap_design)
        self._userptr_design = userptr_design
        self._mmap_design = mmap_design
        self.seed = seed
        if lockdep.enabled:
            lockdep.prime(LOCK_ORDER)
            lockdep.prime(GPU_LOCK_ORDER)
        self.rng = random.Random(seed)
        self.phys = PhysMem(memory // PAGE_SIZE, rng=self.rng)
        self._lock = Mutex("machine.tasklist_lock")
        self._processes: dict[int, Process] = {}
        self._next_pid = 1000
        self._mms: list[Mm] = []
        self._device: GemDevice | None = None
        self._gpu: Gpu | None = None
        self._platform = platform

    # -- the device ----------------------------------------------------------------------
    @property
    def device(self) -> GemDevice:
        """The i915 device (created on first use)."""
        if self._device is None:
            dev = GemDevice(self.phys, rng=self.rng, platform=self._platform,
                            userptr_design=self._userptr_design,
                            mmap_design=self._mmap_design)
            self._gpu = attach_gpu(dev)
            self._device = dev
        return self._device

    def _open_path(self, path: str, flags: int, comm: str = "") -> OpenFile:
        minor = DEVICE_PATHS.get(path)
        if minor is None:
            if path in SW_SYNC_PATHS:       # debugfs sw_sync: a new timeline per open
                return SwSyncTimeline(comm or "sw_sync")
            raise ENOENT(path)
        from ..uapi import DrmFd

        fmode = open_fmode(flags)
        fd_file: OpenFile = DrmFd(self.device, minor, readable=bool(fmode & FMODE_READ),
                                  writable=bool(fmode & FMODE_WRITE))
        return fd_file

    # -- processes -----------------------------------------------------------------------
    def spawn(self, name: str = "") -> Process:
        """A new process with an empty address space and no open files."""
        with self._lock:
            pid = self._alloc_pid()
            mm = Mm(self.phys, name=name or f"mm-{pid}", rng=self.rng)
            self._mms.append(mm)
            proc = Process(self, pid, mm, FdTable())
            self._processes[pid] = proc
        if trace.enabled:
            trace.emit("process", "spawn", pid=pid)
        return proc

    def _alloc_pid(self) -> int:
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def _fork(self, parent: Process) -> Process:
        child_mm = parent.mm.fork()
        files = parent.files.copy()
        with self._lock:
            pid = self._alloc_pid()
            self._mms.append(child_mm)
            child = Process(self, pid, child_mm, files, parent=parent)
            self._processes[pid] = child
        if trace.enabled:
            trace.emit("process", "fork", parent=parent.pid, child=pid)
        return child

    def _reap(self, proc: Process) -> None:
        with self._lock:
            if self._processes.pop(proc.pid, None) is None:
                raise SimBug(f"reaping unknown process {proc.pid}")

    def processes(self) -> list[Process]:
        with self._lock:
            return list(self._processes.values())

    def shutdown(self) -> None:
        """Exit every process that is still running, then stop the GPU's engine threads."""
        for proc in self.processes():
            proc.exit(0)
        if self._gpu is not None:
            for engine in list(self._gpu.engines.values()):
                engine.fini()

    # -- accounting ----------------------------------------------------------------------
    def counters(self) -> Counters:
        dev = self._device.statistics() if self._device is not None else None
        return Counters(
            frames_used=self.phys.nr_used(),
            pins=self.phys.nr_pinned(),
            processes=len(self._processes),
            open_files=sum(len(p.files) for p in self.processes()),
            objects=dev.objects if dev else 0,
            handles=dev.handles if dev else 0,
            offset_nodes=dev.offset_nodes if dev else 0,
            notifier_registrations=sum(_registrations(mm) for mm in self._mms),
            gpu_bindings=dev.gpu_bindings if dev else 0,
        )


def _registrations(mm: Mm) -> int:
    subs = mm.notifier_subscriptions
    if subs is None:
        return 0
    if not isinstance(subs, MmuNotifierSubscriptions):
        raise SimBug(f"foreign notifier_subscriptions {subs!r} on {mm!r}")
    return subs.statistics().registrations
