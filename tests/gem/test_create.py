"""GEM_CREATE and GEM_CREATE_EXT: size rounding, the errno ladders, the extension chain."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import pytest

from softgem.errors import E2BIG, EFAULT, EINVAL, ENODEV, KernelError
from softgem.gem.create import (
    I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS,
    I915_GEM_CREATE_EXT_MEMORY_REGIONS,
    I915_GEM_CREATE_EXT_PROTECTED_CONTENT,
    I915_GEM_CREATE_EXT_SET_PAT,
    gem_create,
    gem_create_ext,
    pat_set_by_user,
)
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.shmem import is_shmem
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE

BASE = 0x10000


class UserMemory:
    """A readable window of user memory at BASE; anything else faults."""

    def __init__(self, size: int = 4 * PAGE_SIZE) -> None:
        self.buf = bytearray(size)

    def read(self, addr: int, n: int) -> bytes:
        off = addr - BASE
        if off < 0 or off + n > len(self.buf):
            raise EFAULT(f"read of {addr:#x}+{n}")
        return bytes(self.buf[off:off + n])

    def put(self, addr: int, data: bytes) -> None:
        self.buf[addr - BASE:addr - BASE + len(data)] = data

    def ext(self, addr: int, name: int, nxt: int = 0, flags: int = 0,
            rsvd: tuple[int, ...] = (0, 0, 0, 0), body: bytes = b"") -> int:
        self.put(addr, struct.pack("<QII4I", nxt, name, flags, *rsvd) + body)
        return addr


@pytest.fixture
def dev() -> Iterator[GemDevice]:
    phys = PhysMem(64)
    dev = GemDevice(phys)
    yield dev
    assert phys.nr_used() == 0


@pytest.fixture
def file(dev: GemDevice) -> Iterator[DrmFile]:
    f = dev.open(0)
    yield f
    f.release()
    assert dev.counters()["objects"] == 0


@pytest.mark.parametrize(("size", "expect"), [
    (1, PAGE_SIZE),
    (PAGE_SIZE, PAGE_SIZE),
    (PAGE_SIZE + 1, 2 * PAGE_SIZE),
    (1 << 40, 1 << 40),                     # nothing is allocated at creation
    ((1 << 63) - PAGE_SIZE, (1 << 63) - PAGE_SIZE),
])
def test_create_rounds_the_size_up_to_pages(dev: GemDevice, file: DrmFile, size: int,
                                            expect: int) -> None:
    handle, got = gem_create(dev, file, size)
    assert got == expect and handle == 1
    obj = file.lookup(handle)
    assert obj.size == expect and is_shmem(obj)
    obj.put()


@pytest.mark.parametrize(("size", "err"), [
    (0, EINVAL),
    ((1 << 64) - 1, EINVAL),                # rounds up to 2**64, which wraps to 0
    ((1 << 64) - PAGE_SIZE + 1, EINVAL),
    ((1 << 64) - PAGE_SIZE, E2BIG),         # above the largest shmem file
    (1 << 63, E2BIG),
])
def test_create_refuses_sizes_as_the_kernel_does(dev: GemDevice, file: DrmFile, size: int,
                                                 err: type[KernelError]) -> None:
    with pytest.raises(err):
        gem_create(dev, file, size)
    assert file.nr_handles() == 0 and dev.counters()["objects"] == 0


def test_handles_are_allocated_lowest_free_first(dev: GemDevice, file: DrmFile) -> None:
    handles = [gem_create(dev, file, PAGE_SIZE)[0] for _ in range(3)]
    assert handles == [1, 2, 3]
    file.handle_delete(2)
    assert gem_create(dev, file, PAGE_SIZE)[0] == 2


# -- CREATE_EXT --------------------------------------------------------------------------------------
def _regions(mem: UserMemory, regions: list[tuple[int, int]], *, pad: int = 0,
             at: int = BASE, nxt: int = 0) -> int:
    """A MEMORY_REGIONS extension at ``at`` whose region array sits 0x800 further on."""
    array = at + 0x800
    mem.put(array, b"".join(struct.pack("<HH", c, i) for c, i in regions))
    return mem.ext(at, I915_GEM_CREATE_EXT_MEMORY_REGIONS, nxt=nxt,
                   body=struct.pack("<IIQ", pad, len(regions), array))


def _u32s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


Build = Callable[[UserMemory], int]
BAD = 0xDEAD0000          # an address the fake user memory does not cover

LADDER: list[tuple[str, int, Build, type[KernelError]]] = [
    ("unknown-flag", 2, lambda m: BAD, EINVAL),
    ("chain-unreadable", 0, lambda m: BAD, EFAULT),
    ("ext-flags-not-zero", 0, lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_SET_PAT, flags=1),
     EINVAL),
    ("ext-rsvd-not-zero", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_SET_PAT, rsvd=(0, 0, 7, 0)), EINVAL),
    ("unknown-extension", 0, lambda m: m.ext(BASE, 3), EINVAL),
    ("regions-pad", 0, lambda m: _regions(m, [(0, 0)], pad=1), EINVAL),
    ("regions-none", 0, lambda m: _regions(m, []), EINVAL),
    ("regions-too-many", 0, lambda m: _regions(m, [(0, 0)] * 8), EINVAL),
    ("region-device", 0, lambda m: _regions(m, [(1, 0)]), EINVAL),
    ("region-stolen", 0, lambda m: _regions(m, [(2, 0)]), EINVAL),
    ("region-other-instance", 0, lambda m: _regions(m, [(0, 1)]), EINVAL),
    ("region-duplicate", 0, lambda m: _regions(m, [(0, 0), (0, 0)]), EINVAL),
    ("region-array-unreadable", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_MEMORY_REGIONS,
                     body=struct.pack("<IIQ", 0, 1, BAD)), EFAULT),
    ("regions-twice", 0,
     lambda m: _regions(m, [(0, 0)], nxt=_regions(m, [(0, 0)], at=BASE + 0x100)), EINVAL),
    ("protected-flags", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_PROTECTED_CONTENT, body=_u32s(1, 0)), EINVAL),
    ("protected-no-pxp", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_PROTECTED_CONTENT, body=_u32s(0, 0)), ENODEV),
    ("pat-index-too-big", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_SET_PAT, body=_u32s(4, 0)), EINVAL),
    ("chain-loop", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_SET_PAT, nxt=BASE, body=_u32s(1, 0)), E2BIG),
    ("next-unreadable", 0,
     lambda m: m.ext(BASE, I915_GEM_CREATE_EXT_SET_PAT, nxt=BAD, body=_u32s(1, 0)), EFAULT),
    ("needs-cpu-access", I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS, lambda m: 0, EINVAL),
    ("needs-cpu-access-with-smem", I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS,
     lambda m: _regions(m, [(0, 0)]), EINVAL),
]


@pytest.mark.parametrize(("flags", "build", "err"), [c[1:] for c in LADDER],
                         ids=[c[0] for c in LADDER])
def test_create_ext_refuses_what_an_integrated_gen9_refuses(
        dev: GemDevice, file: DrmFile, flags: int, build: Build,
        err: type[KernelError]) -> None:
    mem = UserMemory()
    ext = build(mem)
    with pytest.raises(err):
        gem_create_ext(dev, file, PAGE_SIZE, flags, ext, mem.read)
    assert file.nr_handles() == 0 and dev.counters()["objects"] == 0


def test_create_ext_checks_sizes_after_the_chain(dev: GemDevice, file: DrmFile) -> None:
    mem = UserMemory()
    with pytest.raises(EINVAL):
        gem_create_ext(dev, file, 0, 0, 0, mem.read)
    with pytest.raises(ENODEV):   # the chain's error wins over the size's
        gem_create_ext(dev, file, 0, 0, mem.ext(BASE, I915_GEM_CREATE_EXT_PROTECTED_CONTENT,
                                                body=_u32s(0, 0)), mem.read)


def test_create_ext_accepts_the_system_region_and_a_pat_index(dev: GemDevice,
                                                               file: DrmFile) -> None:
    mem = UserMemory()
    pat = mem.ext(BASE + 0x100, I915_GEM_CREATE_EXT_SET_PAT, body=_u32s(3, 0))
    first = _regions(mem, [(0, 0)], nxt=pat)
    handle, size = gem_create_ext(dev, file, 3 * PAGE_SIZE - 5, 0, first, mem.read)
    assert size == 3 * PAGE_SIZE
    obj = file.lookup(handle)
    assert pat_set_by_user(obj)
    obj.put()


def test_create_ext_without_extensions_is_gem_create(dev: GemDevice, file: DrmFile) -> None:
    handle, size = gem_create_ext(dev, file, 10, 0, 0, UserMemory().read)
    assert (handle, size) == (1, PAGE_SIZE)
    obj = file.lookup(handle)
    assert not pat_set_by_user(obj)
    obj.put()
