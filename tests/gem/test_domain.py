"""SET_DOMAIN, SW_FINISH, SET_CACHING, GET_CACHING."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator

import pytest

from softgem.errors import EFAULT, EINVAL, ENODEV, ENOENT, ENXIO, EOPNOTSUPP, KernelError
from softgem.gem.create import I915_GEM_CREATE_EXT_SET_PAT, gem_create, gem_create_ext
from softgem.gem.device import GemDevice
from softgem.gem.domain import (
    I915_CACHING_CACHED,
    I915_CACHING_DISPLAY,
    I915_CACHING_NONE,
    I915_GEM_DOMAIN_CPU,
    I915_GEM_DOMAIN_GTT,
    I915_GEM_DOMAIN_RENDER,
    I915_GEM_DOMAIN_WC,
    get_caching,
    set_caching,
    set_domain,
    sw_finish,
)
from softgem.gem.object import MADV_PURGED
from softgem.gem.platform import DEFAULT_PLATFORM, Platform
from softgem.gem.resv import Usage
from softgem.gem.userptr import userptr_create
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

CPU, GTT, WC = I915_GEM_DOMAIN_CPU, I915_GEM_DOMAIN_GTT, I915_GEM_DOMAIN_WC


class FakeFence:
    """A request that completes when someone waits for it; records the waits."""

    def __init__(self) -> None:
        self.done = False
        self.waits = 0

    def signaled(self) -> bool:
        return self.done

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        self.done = True
        return True


class Env:
    def __init__(self, platform: Platform = DEFAULT_PLATFORM) -> None:
        self.phys = PhysMem(512)
        self.dev = GemDevice(self.phys, platform=platform)
        self.mm = Mm(self.phys)
        self.file = self.dev.open(0)
        self.buf = self.mm.mmap(0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS)

    def create(self, size: int = PAGE_SIZE) -> int:
        return gem_create(self.dev, self.file, size)[0]

    def domains(self, handle: int) -> tuple[int, int]:
        obj = self.file.lookup(handle)
        try:
            return obj.read_domains, obj.write_domain
        finally:
            obj.put()

    def close(self) -> None:
        self.file.release()
        self.mm.exit_mmap()
        assert self.dev.counters()["objects"] == 0
        assert self.phys.nr_used() == 0 and self.phys.nr_pinned() == 0


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.close()


def _platform(**kw: object) -> Platform:
    return dataclasses.replace(DEFAULT_PLATFORM, **kw)  # type: ignore[arg-type]


# -- SET_DOMAIN ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("platform", "handle", "read", "write", "err"), [
    (_platform(is_dgfx=True), 1, CPU, 0, ENODEV),
    (DEFAULT_PLATFORM, 99, I915_GEM_DOMAIN_RENDER, 0, EINVAL),   # before the lookup
    (DEFAULT_PLATFORM, 99, CPU, I915_GEM_DOMAIN_RENDER, EINVAL),
    (DEFAULT_PLATFORM, 99, GTT, CPU, EINVAL),                    # write is not the read
    (DEFAULT_PLATFORM, 99, CPU | GTT, CPU, EINVAL),
    (DEFAULT_PLATFORM, 99, 0, 0, None),                          # nothing to do: no lookup
    (DEFAULT_PLATFORM, 99, CPU, 0, ENOENT),
])
def test_set_domain_ladder(platform: Platform, handle: int, read: int, write: int,
                           err: type[KernelError] | None) -> None:
    env = Env(platform)
    env.create()
    if err is None:
        set_domain(env.dev, env.file, env.mm, handle, read, write)
    else:
        with pytest.raises(err):
            set_domain(env.dev, env.file, env.mm, handle, read, write)
    env.close()


@pytest.mark.parametrize(("start", "read", "write", "expect"), [
    ((CPU, CPU), CPU, CPU, (CPU, CPU)),
    ((CPU, CPU), GTT, 0, (CPU | GTT, 0)),        # leaving the CPU write domain
    ((CPU, CPU), GTT, GTT, (GTT, GTT)),
    ((CPU, CPU), WC, WC, (WC, WC)),
    ((CPU, CPU), WC | GTT, 0, (CPU | WC, 0)),    # WC wins over GTT
    ((GTT, GTT), CPU, 0, (GTT | CPU, 0)),
    ((GTT, GTT), 0x100, 0, (GTT | CPU, 0)),      # unknown CPU-side bits mean CPU
    ((WC, WC), WC, 0, (WC, WC)),                 # already the write domain: nothing changes
])
def test_set_domain_moves_the_object_between_domains(
        env: Env, start: tuple[int, int], read: int, write: int,
        expect: tuple[int, int]) -> None:
    handle = env.create()
    obj = env.file.lookup(handle)
    obj.read_domains, obj.write_domain = start
    set_domain(env.dev, env.file, env.mm, handle, read, write)
    assert (obj.read_domains, obj.write_domain) == expect
    assert obj.has_pages() and obj.pages_pin_count == 0
    assert obj.dirty == bool(write and start[1] != write)
    obj.put()


def test_set_domain_of_a_purged_object_is_efault(env: Env) -> None:
    handle = env.create()
    obj = env.file.lookup(handle)
    obj.madv = MADV_PURGED
    obj.put()
    with pytest.raises(EFAULT):
        set_domain(env.dev, env.file, env.mm, handle, CPU, 0)


@pytest.mark.parametrize(("write", "waited"), [(0, (1, 0)), (CPU, (1, 1))])
def test_set_domain_waits_for_writers_and_for_readers_too_when_writing(
        env: Env, write: int, waited: tuple[int, int]) -> None:
    handle = env.create()
    obj = env.file.lookup(handle)
    writer, reader = FakeFence(), FakeFence()
    obj.resv.add_fence(writer, Usage.WRITE)
    obj.resv.add_fence(reader, Usage.READ)
    set_domain(env.dev, env.file, env.mm, handle, CPU, write)
    assert (writer.waits, reader.waits) == waited
    obj.put()


def test_set_domain_validates_a_userptr_and_records_no_domain(env: Env) -> None:
    handle = userptr_create(env.dev, env.file, env.mm, env.buf, 4 * PAGE_SIZE, 0)
    before = env.domains(handle)
    set_domain(env.dev, env.file, env.mm, handle, GTT, GTT)
    assert env.domains(handle) == before
    env.mm.munmap(env.buf, PAGE_SIZE)
    with pytest.raises(EFAULT):
        set_domain(env.dev, env.file, env.mm, handle, CPU, 0)


def test_set_domain_on_a_userptr_from_another_address_space_is_efault(env: Env) -> None:
    handle = userptr_create(env.dev, env.file, env.mm, env.buf, PAGE_SIZE, 0)
    other = Mm(env.phys)
    with pytest.raises(EFAULT):
        set_domain(env.dev, env.file, other, handle, CPU, 0)
    other.exit_mmap()


def test_sw_finish_needs_a_handle_and_does_nothing_else(env: Env) -> None:
    with pytest.raises(ENOENT):
        sw_finish(env.dev, env.file, 1)
    handle = env.create()
    before = env.domains(handle)
    sw_finish(env.dev, env.file, handle)
    assert env.domains(handle) == before


# -- caching -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("platform", "handle", "caching", "err"), [
    (_platform(is_dgfx=True), 1, I915_CACHING_CACHED, ENODEV),
    (DEFAULT_PLATFORM, 99, 3, EINVAL),                          # the mode before the lookup
    (DEFAULT_PLATFORM, 99, 0xFFFFFFFF, EINVAL),
    (_platform(has_llc=False, has_snoop=False), 99, I915_CACHING_CACHED, ENODEV),
    (DEFAULT_PLATFORM, 99, I915_CACHING_NONE, ENOENT),
])
def test_set_caching_ladder(platform: Platform, handle: int, caching: int,
                            err: type[KernelError]) -> None:
    env = Env(platform)
    env.create()
    with pytest.raises(err):
        set_caching(env.dev, env.file, handle, caching)
    env.close()


@pytest.mark.parametrize(("caching", "err"), [
    (I915_CACHING_CACHED, None),       # silently accepted: Vulkan drivers set it on everything
    (I915_CACHING_NONE, ENXIO),
    (I915_CACHING_DISPLAY, ENXIO),
    (7, EINVAL),
])
def test_set_caching_on_a_userptr(env: Env, caching: int,
                                  err: type[KernelError] | None) -> None:
    handle = userptr_create(env.dev, env.file, env.mm, env.buf, PAGE_SIZE, 0)
    if err is None:
        set_caching(env.dev, env.file, handle, caching)
    else:
        with pytest.raises(err):
            set_caching(env.dev, env.file, handle, caching)
    assert get_caching(env.dev, env.file, handle) == I915_CACHING_CACHED


@pytest.mark.parametrize(("caching", "reads_back"), [
    (I915_CACHING_NONE, I915_CACHING_NONE),
    (I915_CACHING_CACHED, I915_CACHING_CACHED),
    (I915_CACHING_DISPLAY, I915_CACHING_NONE),   # no write-through without eDRAM
])
def test_set_caching_on_a_shmem_object_reads_back(env: Env, caching: int,
                                                  reads_back: int) -> None:
    handle = env.create()
    set_caching(env.dev, env.file, handle, caching)
    assert get_caching(env.dev, env.file, handle) == reads_back


def test_a_new_object_is_cached_with_llc_and_uncached_without() -> None:
    for platform, expect in ((DEFAULT_PLATFORM, I915_CACHING_CACHED),
                             (_platform(has_llc=False), I915_CACHING_NONE)):
        env = Env(platform)
        assert get_caching(env.dev, env.file, env.create()) == expect
        env.close()


def test_changing_the_cache_level_waits_for_all_gpu_work(env: Env) -> None:
    handle = env.create()
    obj = env.file.lookup(handle)
    reader = FakeFence()
    obj.resv.add_fence(reader, Usage.READ)
    set_caching(env.dev, env.file, handle, I915_CACHING_CACHED)   # unchanged: no wait
    assert reader.waits == 0
    set_caching(env.dev, env.file, handle, I915_CACHING_NONE)
    assert reader.waits == 1
    obj.put()


def test_get_caching_ladder(env: Env) -> None:
    with pytest.raises(ENOENT):
        get_caching(env.dev, env.file, 1)
    dgfx = Env(_platform(is_dgfx=True))
    with pytest.raises(ENODEV):
        get_caching(dgfx.dev, dgfx.file, dgfx.create())
    dgfx.close()


def test_an_object_with_a_user_pat_index_refuses_caching_ioctls(env: Env) -> None:
    ext = struct.pack("<QII4III", 0, I915_GEM_CREATE_EXT_SET_PAT, 0, 0, 0, 0, 0, 1, 0)
    handle, _ = gem_create_ext(env.dev, env.file, PAGE_SIZE, 0, 0x1000,
                               lambda addr, n: ext[addr - 0x1000:addr - 0x1000 + n])
    with pytest.raises(EOPNOTSUPP):
        get_caching(env.dev, env.file, handle)
    with pytest.raises(EOPNOTSUPP):
        set_caching(env.dev, env.file, handle, I915_CACHING_CACHED)
    with pytest.raises(EINVAL):     # an invalid mode is still refused first
        set_caching(env.dev, env.file, handle, 9)
