"""Two machines side by side in one Python process: every ioctl family, no cross talk.

Object ids, handles, flink names and offsets restart on every device, so any module-level
state keyed by them would let one machine see the other's objects.  Each step runs on both
machines in turn with data unique to each, and each checks it reads back only its own.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest
from gpuscene import ANON, RW, Gem

import softgem
import softgem.gpu
from softgem import igt, uapi
from softgem.units import PAGE_SIZE

SIZE = 4 * PAGE_SIZE


@pytest.fixture
def pair() -> Iterator[list[Gem]]:
    machines = [softgem.Machine(memory=48 << 20, seed=s) for s in (1, 2)]
    gpus = [softgem.gpu.attach(m.device) for m in machines]
    gems = [Gem(m.spawn()) for m in machines]
    yield gems
    for m, gpu in zip(machines, gpus, strict=True):
        m.shutdown()
        leaks = m.counters().leaks()
        for engine in list(gpu.engines.values()):    # as conftest.quiesce
            engine.fini()
        gpu.reap(wait=True)
        assert leaks == {}


def pattern(tag: int, n: int = SIZE) -> bytes:
    return bytes([tag]) * n


def test_two_machines_never_see_each_others_objects(pair: list[Gem]) -> None:
    tags = [0xA1, 0xB2]
    # create + pwrite/pread: both devices hand out the same handle numbers.
    bos = [g.create(SIZE, pattern(t)) for g, t in zip(pair, tags, strict=True)]
    assert bos[0] == bos[1]
    for g, t, h in zip(pair, tags, bos, strict=True):
        assert g.read(h, 0, SIZE) == pattern(t)
    each_maps_its_own(pair, tags, bos)
    legacy = each_legacy_maps_its_own(pair, tags, bos)
    each_blits_its_own(pair, tags)
    each_shares_its_own(pair, tags, bos)

    # tiling: set on one machine only; the other's object stays linear.
    igt.gem_set_tiling(pair[0].proc, pair[0].fd, bos[0], uapi.I915_TILING_X, 512)
    assert igt.gem_get_tiling(pair[0].proc, pair[0].fd, bos[0])[0] == uapi.I915_TILING_X
    assert igt.gem_get_tiling(pair[1].proc, pair[1].fd, bos[1])[0] == uapi.I915_TILING_NONE

    # close: closing on one machine leaves the other's handle valid.
    pair[0].close(bos[0])
    assert pair[1].read(bos[1], 0, 1) == bytes([tags[1]])
    try:
        pair[0].read(bos[0], 0, 1)
    except OSError as e:
        assert e.errno == errno.ENOENT
    else:
        raise AssertionError("closed handle still readable")
    # the legacy mapping of the closed object keeps working and stays its own.
    assert pair[0].proc.read(legacy[0], 1) == bytes([tags[0]])
    assert pair[1].proc.read(legacy[1], 1) == bytes([tags[1]])
    for g in pair:
        g.proc.exit()


def each_maps_its_own(pair: list[Gem], tags: list[int], bos: list[int]) -> None:
    """mmap_offset (WB and GTT) + CPU access."""
    for g, t, h in zip(pair, tags, bos, strict=True):
        wb = igt.gem_mmap__wb(g.proc, g.fd, h, SIZE)
        gtt = igt.gem_mmap__gtt(g.proc, g.fd, h, SIZE)
        g.proc.write(gtt + PAGE_SIZE, bytes([t ^ 0xFF]))
        assert g.proc.read(wb, 1) == bytes([t])
        assert g.proc.read(wb + PAGE_SIZE, 1) == bytes([t ^ 0xFF])
        g.proc.write(wb + PAGE_SIZE, bytes([t]))
    for g, t, h in zip(pair, tags, bos, strict=True):
        assert g.read(h, 0, SIZE) == pattern(t)


def each_legacy_maps_its_own(pair: list[Gem], tags: list[int], bos: list[int]) -> list[int]:
    """Legacy GEM_MMAP + CPU access (object ids collide across devices); the addresses."""
    legacy = []
    for g, h in zip(pair, bos, strict=True):
        arg = uapi.drm_i915_gem_mmap(handle=h, size=SIZE)
        g.proc.ioctl(g.fd, uapi.DRM_IOCTL_I915_GEM_MMAP, arg)
        legacy.append(int(arg.addr_ptr))
    for g, t, addr in zip(pair, tags, legacy, strict=True):
        assert g.proc.read(addr, SIZE) == pattern(t)
        g.proc.write(addr + 2 * PAGE_SIZE, b"legacy%d" % t)
    for g, t, h in zip(pair, tags, bos, strict=True):
        assert g.read(h, 2 * PAGE_SIZE, 9) == b"legacy%d" % t
    return legacy


def each_blits_its_own(pair: list[Gem], tags: list[int]) -> None:
    """userptr + execbuf blit from a bo into the userptr; then nothing is busy."""
    ptrs, ups = [], []
    for g in pair:
        ptr = g.proc.mmap(0, 1 << 20, RW, ANON)
        ptrs.append(ptr)
        ups.append(g.userptr(ptr, 1 << 20))
    srcs = [g.create(1 << 20, pattern(t, 1 << 20)) for g, t in zip(pair, tags, strict=True)]
    for g, up, src in zip(pair, ups, srcs, strict=True):
        assert g.copy(up, src) == 0
    for g, t, ptr in zip(pair, tags, ptrs, strict=True):
        assert g.proc.read(ptr, 1 << 20) == pattern(t, 1 << 20)
    for g, src in zip(pair, srcs, strict=True):
        g.sync(src)
        assert g.busy(src) == 0


def each_shares_its_own(pair: list[Gem], tags: list[int], bos: list[int]) -> None:
    """prime into a second file of the same machine; flink names (both devices hand out
    name 1) each open their own device's object."""
    for g, t, h in zip(pair, tags, bos, strict=True):
        arg = uapi.drm_prime_handle(handle=h, flags=uapi.DRM_CLOEXEC)
        g.proc.ioctl(g.fd, uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD, arg)
        second = Gem(g.proc)
        back = uapi.drm_prime_handle(fd=arg.fd)
        second.proc.ioctl(second.fd, uapi.DRM_IOCTL_PRIME_FD_TO_HANDLE, back)
        assert second.read(back.handle, 0, 1) == bytes([t])
        g.proc.close(arg.fd)
        g.proc.close(second.fd)
    names = []
    for g, h in zip(pair, bos, strict=True):
        arg = uapi.drm_gem_flink(handle=h)
        g.proc.ioctl(g.fd, uapi.DRM_IOCTL_GEM_FLINK, arg)
        names.append(int(arg.name))
    assert names[0] == names[1]
    for g, t, name in zip(pair, tags, names, strict=True):
        other = Gem(g.proc.machine.spawn())
        op = uapi.drm_gem_open(name=name)
        other.proc.ioctl(other.fd, uapi.DRM_IOCTL_GEM_OPEN, op)
        assert other.read(op.handle, 0, 1) == bytes([t])
        other.proc.exit()
