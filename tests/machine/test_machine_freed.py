"""A dropped Machine frees everything: no module-level registry keeps its device alive."""

from __future__ import annotations

import gc
import struct
import tracemalloc
import weakref

import softgem
from softgem import Machine, igt, uapi
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE


def _use_and_drop(n: int) -> tuple[list[weakref.ref[object]], list[weakref.ref[object]]]:
    """Build a machine, touch every per-device registry (aperture, shrinker, master), drop it."""
    machine = Machine(memory=64 << 20, seed=n)
    proc = machine.spawn()
    fd = igt.drm_open_driver(proc)
    bo = igt.gem_create(proc, fd, 1 << 16)
    gtt = igt.gem_mmap__gtt(proc, fd, bo, 1 << 16)
    proc.write(gtt + 4096, b"gtt")
    wb = igt.gem_mmap__wb(proc, fd, bo, 1 << 16)
    assert proc.read(wb + 4096, 3) == b"gtt"
    madv = uapi.drm_i915_gem_madvise(handle=bo, madv=uapi.I915_MADV_DONTNEED)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MADVISE, madv)
    magic = uapi.drm_auth()
    proc.ioctl(fd, uapi.DRM_IOCTL_GET_MAGIC, magic)
    buf = proc.mmap(0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    up = igt.gem_userptr(proc, fd, buf, 1 << 16)
    igt.gem_set_domain(proc, fd, up, uapi.I915_GEM_DOMAIN_CPU, 0)
    _execbuf_bbe(proc, fd)                                # the engines and their threads
    proc.exit()
    assert machine.counters().leaks() == {}
    dev = machine.device
    refs = [weakref.ref(dev), weakref.ref(machine.phys.data), weakref.ref(machine)]
    aps = [weakref.ref(dev.aperture)]
    machine.shutdown()
    return refs, aps


def _execbuf_bbe(proc: softgem.Process, fd: int) -> None:
    batch = igt.gem_create(proc, fd, 4096)
    igt.gem_write(proc, fd, batch, 0, struct.pack("<II", 0x0A << 23, 0))   # BBE
    objs = proc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(objs, bytes(uapi.drm_i915_gem_exec_object2(handle=batch)))
    eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=objs, buffer_count=1,
                                       flags=uapi.I915_EXEC_BLT)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_WAIT,
               uapi.drm_i915_gem_wait(bo_handle=batch, timeout_ns=-1))


def test_dropped_machines_are_collected_with_their_device_and_memory() -> None:
    tracemalloc.start()
    try:
        _use_and_drop(0)
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        refs: list[weakref.ref[object]] = []
        for n in range(30):
            r, aps = _use_and_drop(n)
            refs += r + aps
        gc.collect()
        alive = [r for r in refs if r() is not None]
        now, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert alive == []
    # 30 machines with 16k frames each stay resident only if something keeps them.
    assert now - base < 4 << 20, f"{(now - base) >> 10} KiB still allocated after 30 machines"
