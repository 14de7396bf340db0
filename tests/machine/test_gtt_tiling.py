"""GTT mmaps of tiled objects go through a fence that detiles (gen9: no bit-6 swizzling).

The GTT shows a tiled object as a linear image of ``stride``-byte rows; each byte lives at its
tiled object offset, which pread/pwrite (raw, as the kernel's shmem paths are) and the CPU
mmaps see.  IGT: gem_tiled_pread_basic (GTT writes, pread checks the tile formula),
gem_mmap_gtt's tiled subtests, gem_set_tiling_vs_gtt (refault in the new layout).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import softgem
from softgem import igt, uapi
from softgem.gem import mmap_design_names
from softgem.units import PAGE_SIZE

X, Y = uapi.I915_TILING_X, uapi.I915_TILING_Y


@pytest.fixture(params=mmap_design_names())
def proc(request: pytest.FixtureRequest) -> Iterator[softgem.Process]:
    machine = softgem.Machine(memory=64 << 20, mmap_design=request.param)
    p = machine.spawn()
    yield p
    p.exit()
    machine.shutdown()
    assert machine.counters().leaks() == {}


def tiled_offset(tiling: int, stride: int, lin: int) -> int:
    """The tile formula, written out per byte as IGT's tests do (independent of the model)."""
    y, x = lin // stride, lin % stride
    if tiling == X:
        tile = (y // 8) * (stride // 512) + x // 512
        return tile * 4096 + (y % 8) * 512 + x % 512
    tile = (y // 32) * (stride // 128) + x // 128
    return tile * 4096 + (x % 128) // 16 * 512 + (y % 32) * 16 + x % 16


def tiled_bo(proc: softgem.Process, size: int, tiling: int,
             stride: int) -> tuple[int, int, int]:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, size)
    igt.gem_set_tiling(proc, fd, h, tiling, stride)
    return fd, h, igt.gem_mmap__gtt(proc, fd, h, size)


def test_an_x_tiled_write_at_aperture_offset_512_lands_at_object_offset_4096(
        proc: softgem.Process) -> None:
    fd, h, gtt = tiled_bo(proc, 8 * PAGE_SIZE, X, 4096)
    proc.write(gtt + 512, b"tile")
    assert igt.gem_read(proc, fd, h, 4096, 4) == b"tile"
    assert igt.gem_read(proc, fd, h, 512, 4) == bytes(4)
    # the next row of the tile: aperture offset 4096 (y = 1) is object offset 512
    proc.write(gtt + 4096, b"row1")
    assert igt.gem_read(proc, fd, h, 512, 4) == b"row1"
    # and a WB mapping of the same object sees the raw, tiled bytes
    wb = igt.gem_mmap__wb(proc, fd, h, 8 * PAGE_SIZE)
    assert proc.read(wb + 4096, 4) == b"tile"


def test_y_tiles_are_16_byte_owords_stored_column_by_column(proc: softgem.Process) -> None:
    fd, h, gtt = tiled_bo(proc, 32 * PAGE_SIZE, Y, 4096)
    proc.write(gtt + 16, b"col1")          # (x=16, y=0): second OWord column
    proc.write(gtt + 4096, b"row1")        # (x=0, y=1): second OWord of the first column
    proc.write(gtt + 128, b"nextile")      # (x=128, y=0): the next tile
    assert igt.gem_read(proc, fd, h, 512, 4) == b"col1"
    assert igt.gem_read(proc, fd, h, 16, 4) == b"row1"
    assert igt.gem_read(proc, fd, h, 4096, 7) == b"nextile"


@pytest.mark.parametrize(("tiling", "stride"), [(X, 2048), (X, 4096), (Y, 512), (Y, 2048)])
def test_a_gtt_image_reads_back_through_pread_in_the_tile_layout(
        proc: softgem.Process, tiling: int, stride: int) -> None:
    """gem_tiled_pread_basic: dword i written at linear dword i; pread finds each where the
    tile formula puts it."""
    size = 16 * PAGE_SIZE
    fd, h, gtt = tiled_bo(proc, size, tiling, stride)
    image = np.arange(size // 4, dtype=np.uint32)
    proc.write(gtt, image.tobytes())
    assert proc.read(gtt, size) == image.tobytes()        # the GTT reads its own image back
    raw = np.frombuffer(igt.gem_read(proc, fd, h, 0, size), dtype=np.uint32)
    for lin in range(0, size, 4 * 97):                     # a sample of dwords, every tile
        t = tiled_offset(tiling, stride, lin)
        assert raw[t // 4] == lin // 4, (lin, t)
    # and the other way: pwrite a raw tiled layout, the GTT shows it linear
    igt.gem_write(proc, fd, h, tiled_offset(tiling, stride, 3 * stride + 40), b"pw")
    assert proc.read(gtt + 3 * stride + 40, 2) == b"pw"


def test_set_tiling_revokes_the_gtt_mapping_and_the_refault_uses_the_new_layout(
        proc: softgem.Process) -> None:
    fd, h, gtt = tiled_bo(proc, 32 * PAGE_SIZE, X, 4096)
    proc.write(gtt + 512, b"x-tiled")
    obj = proc.file(fd).file.lookup(h)  # type: ignore[attr-defined]
    try:
        assert obj.userfault_count == 1
        igt.gem_set_tiling(proc, fd, h, Y, 4096)
        assert obj.userfault_count == 0                    # revoked: the next access faults
    finally:
        obj.put()
    # The bytes stayed at object offset 4096; through a Y fence they are at linear
    # (x = 128, y = 0), where the raw tile 1 starts.
    assert proc.read(gtt + 128, 7) == b"x-tiled"
    assert proc.read(gtt + 512, 7) == bytes(7)
    igt.gem_set_tiling(proc, fd, h, uapi.I915_TILING_NONE, 0)
    assert proc.read(gtt + 4096, 7) == b"x-tiled"          # linear again


def test_a_tile_row_past_the_object_is_backed_by_nothing(proc: softgem.Process) -> None:
    """The fence covers whole tile rows (64 KiB here) of a 2-page object: linear bytes whose
    tile lies past the object read zero and stores to them are lost, not misplaced."""
    fd, h, gtt = tiled_bo(proc, 2 * PAGE_SIZE, X, 8192)
    proc.write(gtt, bytes([1]) * 2 * PAGE_SIZE)
    raw = igt.gem_read(proc, fd, h, 0, 2 * PAGE_SIZE)
    # linear row 0 is x in [0, 8192): tiles 0..15, of which only tiles 0 and 1 exist
    assert raw == bytes([1]) * 512 + bytes(3584) + bytes([1]) * 512 + bytes(3584)
    assert proc.read(gtt + 1024, 4) == bytes(4)


def test_a_tiled_object_larger_than_the_aperture_detiles_through_partial_views() -> None:
    """gem_mmap_gtt's huge tiled bo: the object does not fit the mappable aperture, so each
    fault binds a tile-row aligned 1 MiB chunk (evicting the last one); the image stays
    whole."""
    import dataclasses

    from softgem.gem import DEFAULT_PLATFORM
    platform = dataclasses.replace(DEFAULT_PLATFORM, mappable_size=2 << 20)
    machine = softgem.Machine(memory=64 << 20, platform=platform)
    proc = machine.spawn()
    size, stride = 4 << 20, 8192
    fd, h, gtt = tiled_bo(proc, size, X, stride)
    image = np.arange(size // 4, dtype=np.uint32)
    proc.write(gtt, image.tobytes())
    assert proc.read(gtt, size) == image.tobytes()
    raw = np.frombuffer(igt.gem_read(proc, fd, h, 0, size), dtype=np.uint32)
    for lin in range(0, size, 4 * 4099):
        assert raw[tiled_offset(X, stride, lin) // 4] == lin // 4, lin
    obj = proc.file(fd).file.lookup(h)  # type: ignore[attr-defined]
    views = machine.device.aperture.bindings_of(obj)
    obj.put()
    assert views and all(b.partial and b.npages == 256 for b in views)
    proc.exit()
    machine.shutdown()
    assert machine.counters().leaks() == {}
