"""MMAP_OFFSET, mmap(2) of the DRM fd, CPU faults, revocation and the legacy GEM_MMAP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gemtest import GemEnv

from softgem.errors import (
    EACCES,
    EFAULT,
    EINVAL,
    EIO,
    ENODEV,
    ENOENT,
    ENOMEM,
    ENOSPC,
    ENXIO,
    EOPNOTSUPP,
    KernelError,
    Sigbus,
)
from softgem.gem import mman
from softgem.gem.flink import flink, gem_open
from softgem.gem.mman import (
    I915_MMAP_TYPE_FIXED as FIXED,
)
from softgem.gem.mman import (
    I915_MMAP_TYPE_GTT as GTT,
)
from softgem.gem.mman import (
    I915_MMAP_TYPE_UC as UC,
)
from softgem.gem.mman import (
    I915_MMAP_TYPE_WB as WB,
)
from softgem.gem.mman import (
    I915_MMAP_TYPE_WC as WC,
)
from softgem.gem.mman_fault import error_to_vm_fault
from softgem.gem.mman_legacy import I915_MMAP_WC, legacy_mmap
from softgem.gem.mmap_designs import mmap_design_names
from softgem.gem.object import MADV_DONTNEED, GemObject
from softgem.gem.ops import ObjectFlags
from softgem.gem.pages import SgTable
from softgem.gem.shrinker import madvise, shrink
from softgem.gem.userptr import userptr_create
from softgem.mm import (
    VM_IO,
    VM_MAYREAD,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    Vma,
    VmFault,
    pin_user_pages,
    probe_range,
    unpin_user_pages,
)
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SHIFT, PAGE_SIZE

RW = PROT_READ | PROT_WRITE
ALL_TYPES = (GTT, WC, WB, UC)


@pytest.fixture(params=mmap_design_names())
def gem_env(request: pytest.FixtureRequest) -> Iterator[GemEnv]:
    """Every test of this module runs on each mmap_offset design (softgem.gem.mmap_designs)
    unless it says why not with ``@MERGED_ONLY``."""
    env = GemEnv(mmap_design=request.param)
    yield env
    env.teardown()


class PlainOps:
    """An object kind with configurable flags, backed by fresh frames (a test double)."""

    name = "plain"

    def __init__(self, flags: ObjectFlags = ObjectFlags.HAS_STRUCT_PAGE,
                 on_put: Callable[[GemObject], None] | None = None,
                 get_error: KernelError | None = None) -> None:
        self.flags = flags
        self.on_put = on_put
        self.get_error = get_error

    def get_pages(self, obj: GemObject) -> SgTable:
        if self.get_error is not None:
            raise self.get_error
        return SgTable([obj.dev.phys.alloc_page() for _ in range(obj.size >> PAGE_SHIFT)])

    def put_pages(self, obj: GemObject, pages: SgTable) -> None:
        if self.on_put is not None:
            self.on_put(obj)
        obj.dev.phys.put_pages(pages.pfns.tolist())

    def release(self, obj: GemObject) -> None: ...
    def pread(self, obj: GemObject) -> None: ...
    def pwrite(self, obj: GemObject) -> None: ...
    def dmabuf_export(self, obj: GemObject) -> None: ...


def _plain(env: GemEnv, ops: PlainOps, size: int = 4 * PAGE_SIZE) -> int:
    obj = GemObject(env.dev, size, ops)
    try:
        return env.file.handle_create(obj)
    finally:
        obj.put()


def _obj(env: GemEnv, handle: int) -> GemObject:
    """The object behind ``handle``, borrowed (the handle keeps it alive)."""
    obj = env.file.lookup(handle)
    obj.put()
    return obj


def _userptr(env: GemEnv) -> int:
    ptr = env.mm.mmap(0, 4 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    return userptr_create(env.dev, env.file, env.mm, ptr, 4 * PAGE_SIZE, 0)


# -- MMAP_OFFSET ---------------------------------------------------------------------------------
LADDER = [
    # (platform, object kind, flags, extensions_ok, errno or None)
    ({}, "bad-handle", WB, False, EINVAL),
    ({}, "bad-handle", 5, True, EINVAL),
    ({}, "bad-handle", 1 << 32, True, EINVAL),
    ({"has_aperture": False}, "bad-handle", GTT, True, ENODEV),
    ({"pat_enabled": False}, "bad-handle", WC, True, ENODEV),
    ({"pat_enabled": False}, "bad-handle", UC, True, ENODEV),
    ({}, "bad-handle", WB, True, ENOENT),
    ({}, "bad-handle", FIXED, True, ENOENT),       # FIXED is refused only after the lookup
    ({}, "shmem", FIXED, True, ENODEV),
    ({}, "userptr", GTT, True, ENODEV),
    ({}, "userptr", WB, True, ENODEV),
    ({}, "no-struct-page", WB, True, ENODEV),
    ({}, "no-struct-page", WC, True, ENODEV),
    ({}, "no-struct-page", GTT, True, None),        # GTT maps through the aperture
    ({"pat_enabled": False}, "shmem", WB, True, None),
    ({"has_aperture": False}, "shmem", WC, True, None),
    ({}, "shmem", GTT, True, None),
    ({}, "shmem", WC, True, None),
    ({}, "shmem", WB, True, None),
    ({}, "shmem", UC, True, None),
]


@pytest.mark.parametrize(("platform", "kind", "flags", "ext_ok", "err"), LADDER)
def test_mmap_offset_checks_in_the_kernels_order(platform: dict[str, Any], kind: str,
                                                 flags: int, ext_ok: bool,
                                                 err: type[KernelError] | None) -> None:
    env = GemEnv(**platform)
    try:
        makers: dict[str, Callable[[], int]] = {
            "bad-handle": lambda: 77,
            "shmem": lambda: env.create(PAGE_SIZE),
            "userptr": lambda: _userptr(env),
            "no-struct-page": lambda: _plain(env, PlainOps(ObjectFlags.NONE)),
        }
        handle = makers[kind]()
        nodes = env.dev.offsets.nr_nodes()
        if err is None:
            offset = mman.mmap_offset(env.dev, env.file, handle, flags, ext_ok)
            mmo = mman.find_mmap_offset(_obj(env, handle), flags)
            assert mmo is not None and offset >> PAGE_SHIFT == mmo.node.start
        else:
            with pytest.raises(err):
                mman.mmap_offset(env.dev, env.file, handle, flags, ext_ok)
            assert env.dev.offsets.nr_nodes() == nodes      # a refusal allocates nothing
    finally:
        env.teardown()


#: One offset per (object, type), reused: the merged design's; mmap-v1 hands out a new offset
#: per call (tests/gem/test_mmap_designs.py has its own tests of that).
MERGED_ONLY = pytest.mark.parametrize("gem_env", ["merged"], indirect=True)


@MERGED_ONLY
def test_one_node_per_type_reused_on_every_request(gem_env: GemEnv) -> None:
    h = gem_env.create(2 * PAGE_SIZE)
    first = {t: gem_env.offset(h, t) for t in ALL_TYPES}
    again = {t: gem_env.offset(h, t) for t in ALL_TYPES}
    assert first == again
    assert len(set(first.values())) == 4
    assert gem_env.dev.offsets.nr_nodes() == 4
    for t, off in first.items():
        node = gem_env.dev.offsets.exact_lookup(off >> PAGE_SHIFT, 2)
        assert node is not None and node.owner.mmap_type == t


def test_every_object_gets_its_own_offsets(gem_env: GemEnv) -> None:
    a, b = gem_env.create(PAGE_SIZE), gem_env.create(PAGE_SIZE)
    assert gem_env.offset(a, WB) != gem_env.offset(b, WB)


# -- mmap(2) of the DRM fd ---------------------------------------------------------------------------
@pytest.mark.parametrize(("delta_pages", "length_pages", "err"), [
    (0, 5, EINVAL),       # longer than the node
    (1, 1, EINVAL),       # inside the node, not at its start
    (-1, 1, EINVAL),      # before any node
    (0, 4, None),
    (0, 1, None),         # shorter than the node is fine
])
def test_mmap_needs_the_exact_node_start_and_a_fitting_length(
        gem_env: GemEnv, delta_pages: int, length_pages: int,
        err: type[KernelError] | None) -> None:
    h = gem_env.create(4 * PAGE_SIZE)
    off = gem_env.offset(h, WB) + delta_pages * PAGE_SIZE
    if err is None:
        addr = gem_env.map(off, length_pages * PAGE_SIZE)
        assert gem_env.mm.vma_lookup(addr) is not None
    else:
        with pytest.raises(err):
            gem_env.map(off, length_pages * PAGE_SIZE)
        assert gem_env.mm.nr_vmas() == 0


def test_a_file_that_never_asked_for_the_offset_gets_eacces(gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    off = gem_env.offset(h, WB)
    other = gem_env.dev.open(128)
    with pytest.raises(EACCES):
        gem_env.map(off, PAGE_SIZE, file=other)


@MERGED_ONLY
def test_gem_close_revokes_that_files_access_once_however_often_it_asked(
        gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    off = gem_env.offset(h, WC)
    assert gem_env.offset(h, WC) == off
    name = flink(gem_env.dev, gem_env.file, h)
    other = gem_env.dev.open(0)
    h2, _ = gem_open(gem_env.dev, other, name)
    assert mman.mmap_offset(gem_env.dev, other, h2, WC) == off
    gem_env.file.handle_delete(h)
    with pytest.raises(EACCES):
        gem_env.map(off, PAGE_SIZE)
    gem_env.map(off, PAGE_SIZE, file=other)          # the other file keeps its access


def test_an_object_being_freed_cannot_be_mapped_even_by_an_allowed_file(
        gem_env: GemEnv) -> None:
    seen: list[type[KernelError]] = []

    def try_map(obj: GemObject) -> None:
        mmo = mman.find_mmap_offset(obj, WB)
        assert mmo is not None
        node = mmo.node
        vma = Vma(gem_env.mm, 1 << 30, (1 << 30) + PAGE_SIZE,
                  VM_READ | VM_MAYREAD | VM_SHARED, node.start)
        with pytest.raises(KernelError) as exc:
            mman.gem_mmap(gem_env.dev, gem_env.file, vma)
        seen.append(type(exc.value))

    h = _plain(gem_env, PlainOps(on_put=try_map))
    obj = gem_env.file.lookup(h)
    gem_env.file.handle_delete(h)                    # revokes the file ...
    with obj.lock:
        mman.assign_mmap_offset(obj, WB, gem_env.file)   # ... which a late request re-allows
        obj.pin_pages_locked()
        obj.unpin_pages_locked()
    obj.put()                                        # kref 0: put_pages runs try_map
    # mmap-v1 gives EINVAL for a node whose object is dying (its allow check comes later).
    assert seen == [{"merged": EACCES, "mmap-v1": EINVAL}[gem_env.dev.mmap_design.name]]


def test_a_read_only_object_refuses_writable_maps_and_later_mprotect(gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    _obj(gem_env, h).readonly = True
    off = gem_env.offset(h, WB)
    with pytest.raises(EINVAL):
        gem_env.map(off, PAGE_SIZE, RW)
    addr = gem_env.map(off, PAGE_SIZE, PROT_READ)
    assert gem_env.mm.cpu_read(addr, 4) == bytes(4)
    with pytest.raises(EACCES):
        gem_env.mm.mprotect(addr, PAGE_SIZE, RW)


def test_gem_mmaps_are_pfnmap_io_vmas_that_gup_refuses(gem_env: GemEnv) -> None:
    h = gem_env.create(2 * PAGE_SIZE)
    addr = gem_env.map_new(h, WB, 2 * PAGE_SIZE)
    gem_env.mm.cpu_write(addr, b"x")
    vma = gem_env.mm.vma_lookup(addr)
    assert vma is not None and vma.flags & (VM_PFNMAP | VM_IO) == VM_PFNMAP | VM_IO
    with pytest.raises(EFAULT):
        pin_user_pages(gem_env.mm, addr, 2, True)
    with pytest.raises(EFAULT):
        probe_range(gem_env.mm, addr, 2 * PAGE_SIZE)
    assert gem_env.phys.nr_pinned() == 0


def test_a_userptr_over_a_gem_mmap_is_created_but_never_pins(gem_env: GemEnv) -> None:
    from softgem.gem.userptr import validate

    h = gem_env.create(2 * PAGE_SIZE)
    addr = gem_env.map_new(h, WC, 2 * PAGE_SIZE)
    uh = userptr_create(gem_env.dev, gem_env.file, gem_env.mm, addr, 2 * PAGE_SIZE, 0)
    with pytest.raises(EFAULT):
        validate(_obj(gem_env, uh), gem_env.mm)


# -- data and lifetime ------------------------------------------------------------------------------
def test_bytes_written_through_wb_are_seen_through_wc_uc_and_gtt(gem_env: GemEnv) -> None:
    size = 3 * PAGE_SIZE
    h = gem_env.create(size)
    maps = {t: gem_env.map_new(h, t, size) for t in ALL_TYPES}
    gem_env.mm.cpu_write(maps[WB] + PAGE_SIZE + 10, b"written via WB")
    for t in (WC, UC, GTT):
        assert gem_env.mm.cpu_read(maps[t] + PAGE_SIZE + 10, 14) == b"written via WB"
    gem_env.mm.cpu_write(maps[GTT] + 2 * PAGE_SIZE, b"via GTT")
    assert gem_env.mm.cpu_read(maps[WB] + 2 * PAGE_SIZE, 7) == b"via GTT"


def test_the_first_cpu_fault_populates_the_whole_mapping(gem_env: GemEnv) -> None:
    h = gem_env.create(4 * PAGE_SIZE)
    addr = gem_env.map_new(h, WB, 4 * PAGE_SIZE, PROT_READ)
    assert gem_env.mm.resident_pages(addr, addr + 4 * PAGE_SIZE) == []
    gem_env.mm.cpu_read(addr + 3 * PAGE_SIZE, 1)
    resident = gem_env.mm.resident_pages(addr, addr + 4 * PAGE_SIZE)
    obj = _obj(gem_env, h)
    assert [pfn for _, pfn in resident] == list(obj.pages or [])
    assert obj.pages_pin_count == 0      # pinned only while the fault ran
    assert not obj.dirty                 # a read-only mapping never dirties


def test_any_fault_on_a_writable_mapping_marks_the_object_dirty(gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    addr = gem_env.map_new(h, WC, PAGE_SIZE)
    gem_env.mm.cpu_read(addr, 1)         # the kernel looks at VM_WRITE, not at the access
    assert _obj(gem_env, h).dirty


def test_a_mapping_split_by_munmap_keeps_showing_the_right_object_pages(
        gem_env: GemEnv) -> None:
    h = gem_env.create(4 * PAGE_SIZE)
    wb = gem_env.map_new(h, WB, 4 * PAGE_SIZE)
    gem_env.mm.cpu_write(wb, b"".join(bytes([i]) * PAGE_SIZE for i in range(4)))
    gtt = gem_env.map_new(h, GTT, 4 * PAGE_SIZE)
    for addr in (wb, gtt):
        obj = _obj(gem_env, h)
        refs = obj.kref.read()
        gem_env.mm.munmap(addr + PAGE_SIZE, PAGE_SIZE)     # [0] [hole] [2, 3]
        assert obj.kref.read() == refs + 1                 # one more VMA, one more reference
        gem_env.dev.mapping.unmap_mapping_range(0, None)   # force refaults
        assert gem_env.mm.cpu_read(addr + 2 * PAGE_SIZE, 1) == b"\x02"
        assert gem_env.mm.cpu_read(addr + 3 * PAGE_SIZE, 1) == b"\x03"
        assert gem_env.mm.cpu_read(addr, 1) == b"\x00"


def test_a_mapping_outlives_gem_close_and_the_file_and_frees_the_object_on_munmap(
        gem_env: GemEnv) -> None:
    h = gem_env.create(2 * PAGE_SIZE)
    wb = gem_env.map_new(h, WB, 2 * PAGE_SIZE)
    gtt = gem_env.map_new(h, GTT, 2 * PAGE_SIZE)
    gem_env.mm.cpu_write(wb, b"still here")
    gem_env.file.handle_delete(h)
    gem_env.file.release()
    assert gem_env.dev.counters()["objects"] == 1
    assert gem_env.mm.cpu_read(gtt, 10) == b"still here"
    gem_env.mm.munmap(wb, 2 * PAGE_SIZE)
    assert gem_env.dev.counters()["objects"] == 1
    gem_env.mm.munmap(gtt, 2 * PAGE_SIZE)
    assert gem_env.dev.counters() | {"files": 0} == {
        "objects": 0, "handles": 0, "offset_nodes": 0, "gpu_bindings": 0, "files": 0}
    assert gem_env.phys.nr_used() == 0


def test_fork_gives_the_child_mappings_with_balanced_references(gem_env: GemEnv) -> None:
    h = gem_env.create(2 * PAGE_SIZE)
    wb = gem_env.map_new(h, WB, 2 * PAGE_SIZE)
    gtt = gem_env.map_new(h, GTT, 2 * PAGE_SIZE)
    gem_env.mm.cpu_write(wb, b"parent")
    obj = _obj(gem_env, h)
    refs = obj.kref.read()
    child = gem_env.mm.fork()
    gem_env.mms.append(child)
    assert obj.kref.read() == refs + 2
    assert child.cpu_read(gtt, 6) == b"parent"
    child.cpu_write(wb, b"child!")
    assert gem_env.mm.cpu_read(wb, 6) == b"child!"      # shared, not copied
    child.exit_mmap()
    assert obj.kref.read() == refs
    gem_env.file.handle_delete(h)
    gem_env.mm.munmap(wb, 2 * PAGE_SIZE)
    gem_env.mm.munmap(gtt, 2 * PAGE_SIZE)
    assert gem_env.dev.counters()["objects"] == 0


# -- revocation --------------------------------------------------------------------------------------
def test_putting_pages_zaps_every_mapping_and_the_next_access_refaults(
        gem_env: GemEnv) -> None:
    size = 2 * PAGE_SIZE
    h = gem_env.create(size)
    maps = {t: gem_env.map_new(h, t, size) for t in ALL_TYPES}
    gem_env.mm.cpu_write(maps[WB], b"kept in the store")
    for addr in maps.values():
        gem_env.mm.cpu_read(addr, 1)
    assert gem_env.mm.nr_ptes() == 4 * 2
    assert shrink(gem_env.dev, 1 << 20) == 2
    assert not _obj(gem_env, h).has_pages()
    assert gem_env.mm.nr_ptes() == 0
    for addr in maps.values():
        assert gem_env.mm.cpu_read(addr, 17) == b"kept in the store"
    assert gem_env.mm.nr_ptes() == 4 * 2


def test_a_purged_object_faults_with_sigbus(gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    addr = gem_env.map_new(h, WB, PAGE_SIZE)
    gem_env.mm.cpu_write(addr, b"gone soon")
    assert madvise(gem_env.dev, gem_env.file, h, MADV_DONTNEED)
    shrink(gem_env.dev, 1 << 20)
    assert gem_env.mm.nr_ptes() == 0
    with pytest.raises(Sigbus):
        gem_env.mm.cpu_read(addr, 1)


def test_a_cpu_fault_on_a_writable_map_of_an_object_made_read_only_is_sigbus(
        gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    addr = gem_env.map_new(h, WB, PAGE_SIZE)
    _obj(gem_env, h).readonly = True
    with pytest.raises(Sigbus):
        gem_env.mm.cpu_read(addr, 1)


@pytest.mark.parametrize(("error", "expected"), [
    (EIO, VmFault.SIGBUS), (EFAULT, VmFault.SIGBUS), (ENODEV, VmFault.SIGBUS),
    (ENXIO, VmFault.SIGBUS), (ENOMEM, VmFault.OOM), (ENOSPC, VmFault.NOPAGE),
    (EOPNOTSUPP, VmFault.SIGBUS),
])
def test_errors_become_the_kernels_fault_codes(error: type[KernelError],
                                               expected: VmFault) -> None:
    assert error_to_vm_fault(error("test")) is expected


def test_a_failing_get_pages_in_a_fault_is_sigbus(gem_env: GemEnv) -> None:
    h = _plain(gem_env, PlainOps(get_error=EIO("swap device")))
    addr = gem_env.map_new(h, WC, PAGE_SIZE)
    with pytest.raises(Sigbus):
        gem_env.mm.cpu_read(addr, 1)


# -- legacy GEM_MMAP ---------------------------------------------------------------------------------
LEGACY_LADDER = [
    # (platform, object kind, offset, size, flags, errno)
    ({"graphics_ver": 20}, "bad-handle", 0, PAGE_SIZE, 0, EOPNOTSUPP),
    ({"is_dgfx": True}, "bad-handle", 0, PAGE_SIZE, 0, EOPNOTSUPP),
    ({}, "bad-handle", 0, PAGE_SIZE, 2, EINVAL),
    ({"pat_enabled": False}, "bad-handle", 0, PAGE_SIZE, I915_MMAP_WC, ENODEV),
    ({}, "bad-handle", 0, PAGE_SIZE, 0, ENOENT),
    ({}, "userptr", 0, PAGE_SIZE, 0, ENXIO),
    ({}, "shmem", 2 * PAGE_SIZE, PAGE_SIZE, 0, EINVAL),     # starts at the end
    ({}, "shmem", PAGE_SIZE, 2 * PAGE_SIZE, 0, EINVAL),     # runs past the end
    ({}, "shmem", 100, PAGE_SIZE, 0, EINVAL),               # vm_mmap: unaligned offset
    ({}, "shmem", 0, 0, 0, EINVAL),                         # do_mmap: length 0
    ({"pat_enabled": False}, "shmem", PAGE_SIZE, 100, 0, None),
    ({}, "shmem", 0, 2 * PAGE_SIZE, I915_MMAP_WC, None),
]


@pytest.mark.parametrize(("platform", "kind", "offset", "size", "flags", "err"),
                         LEGACY_LADDER)
def test_legacy_mmap_checks_in_the_kernels_order(platform: dict[str, Any], kind: str,
                                                 offset: int, size: int, flags: int,
                                                 err: type[KernelError] | None) -> None:
    env = GemEnv(**platform)
    try:
        makers: dict[str, Callable[[], int]] = {
            "bad-handle": lambda: 9, "shmem": lambda: env.create(2 * PAGE_SIZE),
            "userptr": lambda: _userptr(env)}
        handle = makers[kind]()
        vmas = env.mm.nr_vmas()
        if err is None:
            addr = legacy_mmap(env.dev, env.file, env.mm, handle, offset, size, flags)
            assert env.mm.cpu_read(addr, 1) == b"\x00"
        else:
            with pytest.raises(err):
                legacy_mmap(env.dev, env.file, env.mm, handle, offset, size, flags)
            assert env.mm.nr_vmas() == vmas
    finally:
        env.teardown()


def test_a_legacy_mapping_shares_data_with_mmap_offset_and_can_be_pinned(
        gem_env: GemEnv) -> None:
    h = gem_env.create(4 * PAGE_SIZE)
    cpu = legacy_mmap(gem_env.dev, gem_env.file, gem_env.mm, h, PAGE_SIZE, 3 * PAGE_SIZE, 0)
    wb = gem_env.map_new(h, WB, 4 * PAGE_SIZE)
    gem_env.mm.cpu_write(cpu, b"page one")
    assert gem_env.mm.cpu_read(wb + PAGE_SIZE, 8) == b"page one"
    pfns = pin_user_pages(gem_env.mm, cpu, 3, True)
    assert pfns == list(_obj(gem_env, h).pages or [])[1:]
    unpin_user_pages(gem_env.phys, pfns, dirty=True)
    gem_env.file.handle_delete(h)
    assert gem_env.mm.cpu_read(cpu, 8) == b"page one"     # the VMA keeps the object
    gem_env.mm.munmap(wb, 4 * PAGE_SIZE)
    gem_env.mm.munmap(cpu, 3 * PAGE_SIZE)
    assert gem_env.dev.counters()["objects"] == 0


def test_purging_zaps_a_legacy_mapping_but_putting_pages_does_not(gem_env: GemEnv) -> None:
    h = gem_env.create(PAGE_SIZE)
    cpu = legacy_mmap(gem_env.dev, gem_env.file, gem_env.mm, h, 0, PAGE_SIZE, 0)
    gem_env.mm.cpu_write(cpu, b"x")
    shrink(gem_env.dev, 1 << 20)                         # the store keeps the frame
    assert gem_env.mm.nr_ptes() == 1
    assert gem_env.mm.cpu_read(cpu, 1) == b"x"
    assert not madvise(gem_env.dev, gem_env.file, h, MADV_DONTNEED)   # no pages: purged now
    assert gem_env.mm.nr_ptes() == 0
    with pytest.raises(Sigbus):
        gem_env.mm.cpu_read(cpu, 1)
