"""GTT mmaps through the mappable aperture: views, eviction, fences and revocation."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from gemtest import GemEnv

from softgem.errors import Sigbus
from softgem.gem.aperture import MIN_CHUNK_PAGES, aperture_of
from softgem.gem.mman import (
    I915_MMAP_TYPE_GTT as GTT,
)
from softgem.gem.mman import (
    I915_MMAP_TYPE_WB as WB,
)
from softgem.gem.mman import (
    revoke_all_gtt_mmaps,
)
from softgem.gem.mmap_designs import mmap_design_names
from softgem.gem.object import GemObject
from softgem.gem.shrinker import shrink
from softgem.gem.tiling import set_tiling
from softgem.posix import PROT_READ
from softgem.units import PAGE_SIZE

MIB = 1 << 20
TILING_X, TILING_Y = 1, 2


@contextlib.contextmanager
def _env(**platform: Any) -> Iterator[GemEnv]:
    """A GemEnv on a platform variant; at the end nothing is left bound in the aperture."""
    env = GemEnv(**platform)
    yield env
    env.teardown()
    assert aperture_of(env.dev).nr_bindings() == 0


@pytest.fixture(params=mmap_design_names())
def small(request: pytest.FixtureRequest) -> Iterator[GemEnv]:
    """A 2 MiB aperture with two fence registers, on each mmap_offset design."""
    with _env(mappable_size=2 * MIB, num_fences=2, mmap_design=request.param) as env:
        yield env


def _obj(env: GemEnv, handle: int) -> GemObject:
    obj = env.file.lookup(handle)
    obj.put()
    return obj


def _gtt_pages(env: GemEnv, addr: int, size: int) -> set[int]:
    """Page indexes of the mapping at ``addr`` that have a PTE now."""
    return {(a - addr) // PAGE_SIZE for a, _ in env.mm.resident_pages(addr, addr + size)}


def _filled(env: GemEnv, size: int) -> tuple[int, int, int]:
    """An object whose page i holds byte i % 251, its WB and GTT mappings."""
    h = env.create(size)
    wb = env.map_new(h, WB, size)
    env.mm.cpu_write(wb, b"".join(bytes([i % 251]) * PAGE_SIZE for i in range(size // PAGE_SIZE)))
    return h, wb, env.map_new(h, GTT, size)


def test_a_small_object_is_bound_whole_and_mapped_in_one_fault(small: GemEnv) -> None:
    h, _, gtt = _filled(small, 8 * PAGE_SIZE)
    assert small.mm.cpu_read(gtt + 5 * PAGE_SIZE, 1) == b"\x05"
    assert _gtt_pages(small, gtt, 8 * PAGE_SIZE) == set(range(8))
    (b,) = aperture_of(small.dev).bindings_of(_obj(small, h))
    assert (b.offset, b.npages, b.partial) == (0, 8, False)
    assert _obj(small, h).userfault_count == 1


def test_an_object_larger_than_the_aperture_is_mapped_in_1mib_partial_views(
        small: GemEnv) -> None:
    size = 4 * MIB
    h, _, gtt = _filled(small, size)
    obj = _obj(small, h)
    assert small.mm.cpu_read(gtt, 1) == b"\x00"
    assert _gtt_pages(small, gtt, size) == set(range(MIN_CHUNK_PAGES))
    assert small.mm.cpu_read(gtt + 700 * PAGE_SIZE, 1) == bytes([700 % 251])
    assert _gtt_pages(small, gtt, size) == set(range(256)) | set(range(512, 768))
    views = sorted((b.offset, b.npages, b.partial)
                   for b in aperture_of(small.dev).bindings_of(obj))
    assert views == [(0, 256, True), (512, 256, True)]
    # The aperture is full: a third chunk evicts the least recently used one.
    assert small.mm.cpu_read(gtt + 300 * PAGE_SIZE, 1) == bytes([300 % 251])
    assert _gtt_pages(small, gtt, size) == set(range(256, 768))
    assert obj.userfault_count == 2
    assert small.mm.cpu_read(gtt + 5 * PAGE_SIZE, 1) == b"\x05"       # refaults


def test_an_object_that_fits_only_after_eviction_gets_a_partial_view(small: GemEnv) -> None:
    a, _, gtt_a = _filled(small, 2 * MIB)
    b, _, gtt_b = _filled(small, 2 * MIB)
    small.mm.cpu_read(gtt_a, 1)
    assert not aperture_of(small.dev).bindings_of(_obj(small, a))[0].partial
    small.mm.cpu_read(gtt_b + 260 * PAGE_SIZE, 1)
    (view,) = aperture_of(small.dev).bindings_of(_obj(small, b))
    assert (view.offset, view.npages, view.partial) == (256, 256, True)
    assert _gtt_pages(small, gtt_a, 2 * MIB) == set()        # evicted and revoked
    assert _obj(small, a).userfault_count == 0
    assert small.mm.cpu_read(gtt_a + PAGE_SIZE, 1) == b"\x01"


def test_a_tiled_view_is_rounded_to_whole_tile_rows(small: GemEnv) -> None:
    h, _, gtt = _filled(small, 4 * MIB)
    set_tiling(small.dev, small.file, h, TILING_Y, 384)       # 384 B x 32 rows = 3 pages
    small.mm.cpu_read(gtt + 300 * PAGE_SIZE, 1)
    (view,) = aperture_of(small.dev).bindings_of(_obj(small, h))
    assert (view.offset, view.npages, view.reserved) == (258, 258, 258)
    assert view.fence is not None


def test_fence_stealing_revokes_the_victims_gtt_mapping(small: GemEnv) -> None:
    objs = []
    for _ in range(3):
        h, _, gtt = _filled(small, 4 * PAGE_SIZE)
        set_tiling(small.dev, small.file, h, TILING_X, 512)
        objs.append((h, gtt))
    ap = aperture_of(small.dev)
    for _, gtt in objs:
        small.mm.cpu_read(gtt, 1)
    (a, gtt_a), (_, gtt_b), _ = objs
    assert ap.nr_fences_used() == 2
    assert _gtt_pages(small, gtt_a, 4 * PAGE_SIZE) == set()   # the LRU fence was stolen
    assert _obj(small, a).userfault_count == 0
    assert ap.bindings_of(_obj(small, a))[0].fence is None
    assert small.mm.cpu_read(gtt_a + PAGE_SIZE, 1) == b"\x01"  # steals again, from b
    assert _gtt_pages(small, gtt_b, 4 * PAGE_SIZE) == set()


def test_a_fault_with_every_fence_pinned_is_sigbus() -> None:
    with _env(num_fences=1) as env:
        ha, _, _ = _filled(env, PAGE_SIZE)
        hb, _, gtt_b = _filled(env, PAGE_SIZE)
        for h in (ha, hb):
            set_tiling(env.dev, env.file, h, TILING_X, 512)
        ap = aperture_of(env.dev)
        obj_a = _obj(env, ha)
        with obj_a.lock:
            held = ap.fault_pin(obj_a, 0)
        with pytest.raises(Sigbus):
            env.mm.cpu_read(gtt_b, 1)
        ap.unpin(held)
        assert env.mm.cpu_read(gtt_b, 1) == b"\x00"


def test_a_tiling_change_revokes_gtt_mappings_only(small: GemEnv) -> None:
    h, wb, gtt = _filled(small, 2 * PAGE_SIZE)
    small.mm.cpu_read(gtt, 1)
    small.mm.cpu_read(wb, 1)
    set_tiling(small.dev, small.file, h, TILING_X, 512)
    assert _gtt_pages(small, gtt, 2 * PAGE_SIZE) == set()
    assert _gtt_pages(small, wb, 2 * PAGE_SIZE) == {0, 1}
    assert _obj(small, h).userfault_count == 0


def test_reset_revokes_every_gtt_mapping_and_leaves_cpu_ones(small: GemEnv) -> None:
    maps = [_filled(small, PAGE_SIZE) for _ in range(3)]
    for _, wb, gtt in maps:
        small.mm.cpu_read(gtt, 1)
        small.mm.cpu_read(wb, 1)
    revoke_all_gtt_mmaps(small.dev)
    for h, wb, gtt in maps:
        assert _gtt_pages(small, gtt, PAGE_SIZE) == set()
        assert _gtt_pages(small, wb, PAGE_SIZE) == {0}
        assert _obj(small, h).userfault_count == 0
    assert small.mm.cpu_read(maps[1][2], 1) == b"\x00"


def test_unbinding_the_object_revokes_its_gtt_mapping(small: GemEnv) -> None:
    h, _, gtt = _filled(small, PAGE_SIZE)
    small.mm.cpu_read(gtt, 1)
    _obj(small, h).unbind()
    assert _gtt_pages(small, gtt, PAGE_SIZE) == set()


def test_putting_pages_unbinds_every_view(small: GemEnv) -> None:
    _, _, gtt = _filled(small, 4 * MIB)
    small.mm.cpu_read(gtt, 1)
    small.mm.cpu_read(gtt + 3 * MIB, 1)
    shrink(small.dev, 1 << 20)
    assert aperture_of(small.dev).nr_bindings() == 0
    assert aperture_of(small.dev).used == 0
    assert small.mm.nr_ptes() == 0
    assert small.mm.cpu_read(gtt + 3 * MIB, 1) == bytes([768 % 251])


def test_a_gtt_fault_on_a_writable_map_of_a_read_only_object_is_sigbus(small: GemEnv) -> None:
    h, _, gtt = _filled(small, PAGE_SIZE)
    _obj(small, h).readonly = True
    with pytest.raises(Sigbus):
        small.mm.cpu_read(gtt, 1)
    ro = small.map(small.offset(h, GTT), PAGE_SIZE, PROT_READ)
    assert small.mm.cpu_read(ro, 1) == b"\x00"


def test_snooped_pages_are_refused_through_the_gtt_without_llc() -> None:
    with _env(has_llc=False) as env:
        h, _, gtt = _filled(env, PAGE_SIZE)
        _obj(env, h).cache_level = 1
        with pytest.raises(Sigbus):
            env.mm.cpu_read(gtt, 1)


def test_threads_faulting_through_a_tiny_aperture_always_read_their_own_data() -> None:
    with _env(mappable_size=4 * PAGE_SIZE) as env:
        maps = [_filled(env, 2 * PAGE_SIZE) for _ in range(2)]
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            _, _, gtt = maps[i]
            try:
                for n in range(60):
                    env.mm.cpu_write(gtt + PAGE_SIZE, bytes([i, n % 256]))
                    assert env.mm.cpu_read(gtt + PAGE_SIZE, 2) == bytes([i, n % 256])
            except BaseException as e:   # reported below, in the test's thread
                errors.append(e)

        def shrinker() -> None:
            for _ in range(30):
                shrink(env.dev, 1 << 20)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        threads.append(threading.Thread(target=shrinker))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for i, (_, wb, _) in enumerate(maps):
            assert env.mm.cpu_read(wb + PAGE_SIZE, 2) == bytes([i, 59])
