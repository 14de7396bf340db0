"""SET_TILING / GET_TILING with the gen9 fence rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from softgem.errors import EINVAL, ENOENT, ENXIO, EOPNOTSUPP, KernelError
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.object import GemObject
from softgem.gem.platform import DEFAULT_PLATFORM
from softgem.gem.tiling import (
    I915_BIT_6_SWIZZLE_NONE,
    I915_TILING_NONE,
    I915_TILING_X,
    I915_TILING_Y,
    TilingResult,
    get_tiling,
    set_tiling,
    tiling_ok,
)
from softgem.gem.userptr import userptr_create
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

X, Y, NONE = I915_TILING_X, I915_TILING_Y, I915_TILING_NONE


@pytest.fixture
def dev() -> GemDevice:
    return GemDevice(PhysMem(64))


@pytest.fixture
def file(dev: GemDevice) -> Iterator[DrmFile]:
    f = dev.open(0)
    yield f
    f.release()
    assert dev.counters()["objects"] == 0


@pytest.fixture
def revoked(dev: GemDevice, monkeypatch: pytest.MonkeyPatch) -> list[GemObject]:
    """Objects whose GTT mmaps were revoked, in order."""
    calls: list[GemObject] = []
    real = dev.release_mmap_gtt

    def record(obj: GemObject) -> None:
        calls.append(obj)
        real(obj)

    monkeypatch.setattr(dev, "release_mmap_gtt", record)
    return calls


@pytest.mark.parametrize(("tiling", "stride", "ok"), [
    (NONE, 0, True),
    (NONE, 12345, True),          # anything goes for linear (the stride is dropped)
    (X, 512, True),
    (X, 256 * 1024, True),        # the largest fence pitch
    (X, 256 * 1024 + 512, False),
    (X, 0, False),
    (X, 128, False),              # X tiles are 512 bytes wide
    (X, 768, False),
    (Y, 128, True),               # Y tiles are 128 bytes wide on gen9
    (Y, 384, True),
    (Y, 64, False),
    (Y, 256 * 1024 + 128, False),
    (3, 512, False),              # Yf/Ys are not the kernel's business
    (0xFFFFFFFF, 512, False),
])
def test_tiling_rules_of_gen9(tiling: int, stride: int, ok: bool) -> None:
    assert tiling_ok(DEFAULT_PLATFORM, tiling, stride) is ok


@pytest.mark.parametrize(("tiling", "stride", "expect"), [
    (X, 2048, TilingResult(X, 2048, I915_BIT_6_SWIZZLE_NONE)),
    (Y, 128, TilingResult(Y, 128, I915_BIT_6_SWIZZLE_NONE)),
    (NONE, 4096, TilingResult(NONE, 0, I915_BIT_6_SWIZZLE_NONE)),   # stride forced to 0
])
def test_set_tiling_reports_what_the_object_now_has(dev: GemDevice, file: DrmFile,
                                                    tiling: int, stride: int,
                                                    expect: TilingResult) -> None:
    handle, _ = gem_create(dev, file, 4 * PAGE_SIZE)
    assert set_tiling(dev, file, handle, tiling, stride) == expect
    obj = file.lookup(handle)
    assert (obj.tiling_mode, obj.stride) == (expect.tiling_mode, expect.stride)
    obj.put()
    assert get_tiling(dev, file, handle) == (expect.tiling_mode, I915_BIT_6_SWIZZLE_NONE,
                                             I915_BIT_6_SWIZZLE_NONE)


def test_set_tiling_ladder(dev: GemDevice, file: DrmFile) -> None:
    phys = dev.phys
    mm = Mm(phys)
    buf = mm.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    userptr = userptr_create(dev, file, mm, buf, PAGE_SIZE, 0)
    shmem, _ = gem_create(dev, file, PAGE_SIZE)
    cases: list[tuple[int, int, int, type[KernelError]]] = [
        (99, 7, 1, ENOENT),          # the handle before the arguments
        (userptr, X, 512, ENXIO),    # proxy objects keep their own tiling
        (userptr, 7, 1, ENXIO),      # ... before the arguments are looked at
        (shmem, X, 100, EINVAL),
        (shmem, 5, 512, EINVAL),
    ]
    for handle, tiling, stride, err in cases:
        with pytest.raises(err):
            set_tiling(dev, file, handle, tiling, stride)
    assert get_tiling(dev, file, shmem)[0] == NONE
    file.release()
    mm.exit_mmap()


def test_tiling_ioctls_need_fence_registers() -> None:
    dev = GemDevice(PhysMem(16), platform=dataclasses.replace(DEFAULT_PLATFORM, num_fences=0))
    f = dev.open(0)
    handle, _ = gem_create(dev, f, PAGE_SIZE)
    with pytest.raises(EOPNOTSUPP):
        set_tiling(dev, f, handle, X, 512)
    with pytest.raises(EOPNOTSUPP):
        get_tiling(dev, f, handle)
    f.release()


def test_get_tiling_of_a_bad_handle_is_enoent(dev: GemDevice, file: DrmFile) -> None:
    with pytest.raises(ENOENT):
        get_tiling(dev, file, 1)


def test_a_tiling_change_revokes_gtt_mmaps_and_no_change_does_not(
        dev: GemDevice, file: DrmFile, revoked: list[GemObject]) -> None:
    handle, _ = gem_create(dev, file, 4 * PAGE_SIZE)
    set_tiling(dev, file, handle, NONE, 0)
    assert revoked == []
    set_tiling(dev, file, handle, X, 512)
    set_tiling(dev, file, handle, X, 512)
    set_tiling(dev, file, handle, X, 1024)
    set_tiling(dev, file, handle, Y, 1024)
    assert len(revoked) == 3
    with pytest.raises(EINVAL):
        set_tiling(dev, file, handle, Y, 64)
    assert len(revoked) == 3 and get_tiling(dev, file, handle)[0] == Y


@pytest.mark.parametrize(("tiling", "stride"), [(1, 512), (1, 4096), (2, 128), (2, 1024)])
def test_tiled_offsets_permute_each_tile_row(tiling: int, stride: int) -> None:
    """Every byte of a row of tiles has its own place inside that row (a fence loses and
    duplicates nothing), and a linear object is the identity."""
    import numpy as np

    from softgem.gem.tiling import tiled_offsets
    row = stride * (8 if tiling == 1 else 32)
    lin = np.arange(2 * row, dtype=np.int64)
    t = tiled_offsets(tiling, stride, lin)
    assert sorted(t[:row].tolist()) == list(range(row))
    assert (t[row:] - row).tolist() == t[:row].tolist()
    assert tiled_offsets(0, 0, lin) is lin
