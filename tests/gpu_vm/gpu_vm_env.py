"""Helpers for the address-space, binding and context tests: one device with its GPU
attached, one DRM file, one user address space, and a leak check (imported as
``gpu_vm_env``; the ``gpu_env`` fixture is in conftest)."""

from __future__ import annotations

import random

import numpy as np

from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.object import GemObject
from softgem.gem.userptr import submit_init, userptr_create
from softgem.gpu import Gpu, attach, lookup_context
from softgem.gpu.vm import AddressSpace
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

__all__ = ["GpuVmEnv", "pattern"]


class GpuVmEnv:
    """A device with a GPU, one file, one process address space."""

    def __init__(self, nr_frames: int = 4096) -> None:
        self.phys = PhysMem(nr_frames, rng=random.Random(11))
        self.dev = GemDevice(self.phys, rng=random.Random(12))
        self.gpu: Gpu = attach(self.dev)
        self.file: DrmFile = self.dev.open(0)
        self.mm = Mm(self.phys, name="gpu-vm-test", rng=random.Random(13))
        self._objs: list[GemObject] = []

    @property
    def vm(self) -> AddressSpace:
        """The default context's PPGTT."""
        vm = lookup_context(self.file, 0).vm
        assert vm is not None
        return vm

    def bo(self, size: int, file: DrmFile | None = None) -> GemObject:
        """A shmem object with a handle in ``file``; the test's reference is dropped at
        teardown."""
        f = file or self.file
        handle, _ = gem_create(self.dev, f, size)
        obj = f.lookup(handle)
        self._objs.append(obj)
        return obj

    def userptr(self, size: int, flags: int = 0, data: bytes = b"") -> tuple[int, GemObject]:
        """Anonymous memory starting with ``data`` and a userptr over it, pinned
        (submit_init done)."""
        addr = self.mm.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        if data:
            self.mm.cpu_write(addr, data)
        handle = userptr_create(self.dev, self.file, self.mm, addr, size, flags)
        obj = self.file.lookup(handle)
        self._objs.append(obj)
        submit_init(obj, self.mm)
        return addr, obj

    def teardown(self) -> None:
        for obj in self._objs:
            obj.put()
        self.mm.exit_mmap()
        for f in list(self.dev.files):
            f.release()
        counters = self.dev.counters()
        assert counters["objects"] == 0, counters
        assert counters["gpu_bindings"] == 0, counters
        assert self.phys.nr_pinned() == 0
        assert self.phys.nr_used() == 0


def pattern(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
