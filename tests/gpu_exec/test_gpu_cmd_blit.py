"""The blitter: XY_SRC_COPY_BLT, XY_COLOR_BLT, XY_FAST_COPY_BLT and XY_SETUP_CLIP_BLT checked
against a row-by-row numpy reference, on contiguous and on scattered pages."""

from __future__ import annotations

import errno
import random

import numpy as np
import pytest
from gpu_exec_env import GpuExecEnv
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from softgem.gpu import blitter, mi
from softgem.gpu.blitter import BLT_WRITE_ALPHA, BLT_WRITE_RGB
from softgem.gpu.vma import GpuVma
from softgem.units import PAGE_SIZE

SIZE = 4 * PAGE_SIZE


def _pattern(seed: int, n: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)


def _fill(gpux: GpuExecEnv, vma: GpuVma, data: np.ndarray) -> None:
    gpux.poke(vma, 0, data)


def _ref_copy(dst: np.ndarray, src: np.ndarray, dpitch: int, dx: int, dy: int, spitch: int,
              sx: int, sy: int, w: int, h: int, cpp: int) -> np.ndarray:
    out = dst.copy()
    for r in range(h):
        d = (dy + r) * dpitch + dx * cpp
        s = (sy + r) * spitch + sx * cpp
        out[d:d + w * cpp] = src[s:s + w * cpp]
    return out


def _scattered(gpux: GpuExecEnv, size: int, seed: int) -> GpuVma:
    """A userptr whose pages were faulted in shuffled order: physically scattered."""
    ptr = gpux.anon(size)
    order = list(range(size // PAGE_SIZE))
    random.Random(seed).shuffle(order)
    for i in order:
        gpux.mm.cpu_write(ptr + i * PAGE_SIZE, b"\0")
    return gpux.userptr(ptr, size)


def _blit(gpux: GpuExecEnv, cmd: list[int]) -> int:
    return gpux.run(gpux.bcs, gpux.batch(cmd)).error


def test_a_full_width_copy_moves_every_byte(gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    data = _pattern(1)
    _fill(gpux, src, data)
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd) == 0
    assert np.array_equal(gpux.peek(dst, 0, SIZE), data)


@pytest.mark.parametrize("cpp", [1, 2, 4])
def test_a_pitched_sub_rectangle_copy_touches_only_the_rectangle(gpux: GpuExecEnv,
                                                                cpp: int) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s, d = _pattern(2), _pattern(3)
    _fill(gpux, src, s)
    _fill(gpux, dst, d)
    cmd = blitter.xy_src_copy_blt(dst.start, 512, 7, 3, src.start, 384, 2, 5, 20, 6, cpp=cpp)
    assert _blit(gpux, cmd) == 0
    expect = _ref_copy(d, s, 512, 7, 3, 384, 2, 5, 20, 6, cpp)
    assert np.array_equal(gpux.peek(dst, 0, SIZE), expect)


def test_clipping_limits_the_copy_to_the_clip_rectangle(gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s = _pattern(4)
    _fill(gpux, src, s)
    copy = blitter.xy_src_copy_blt(dst.start, 256, 0, 0, src.start, 256, 0, 0, 64, 16,
                                   clip=True)
    assert _blit(gpux, blitter.xy_setup_clip_blt(10, 4, 30, 9) + copy) == 0
    expect = _ref_copy(np.zeros(SIZE, np.uint8), s, 256, 10, 4, 256, 10, 4, 20, 5, 4)
    assert np.array_equal(gpux.peek(dst, 0, SIZE), expect)


def test_the_clip_rectangle_is_ignored_without_clip_enable(gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s = _pattern(5)
    _fill(gpux, src, s)
    copy = blitter.xy_src_copy_blt(dst.start, 256, 0, 0, src.start, 256, 0, 0, 64, 16)
    assert _blit(gpux, blitter.xy_setup_clip_blt(0, 0, 0, 0) + copy) == 0
    assert np.array_equal(gpux.peek(dst, 0, 4096), s[:4096])


@pytest.mark.parametrize(("cpp", "color", "pixel"), [
    (1, 0xAABBCCDD, b"\xdd"), (2, 0xAABBCCDD, b"\xdd\xcc"), (4, 0xAABBCCDD, b"\xdd\xcc\xbb\xaa"),
])
def test_color_blt_fills_pixels_of_each_depth(gpux: GpuExecEnv, cpp: int, color: int,
                                              pixel: bytes) -> None:
    dst = gpux.bo(SIZE)
    assert _blit(gpux, blitter.xy_color_blt(dst.start, 100, 3, 2, 5, 4, color, cpp=cpp)) == 0
    expect = np.zeros(SIZE, np.uint8)
    for r in range(2, 6):
        expect[r * 100 + 3 * cpp:r * 100 + 8 * cpp] = np.frombuffer(pixel * 5, np.uint8)
    assert np.array_equal(gpux.peek(dst, 0, SIZE), expect)


def test_color_blt_honours_the_clip_rectangle(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(SIZE)
    fill = blitter.xy_color_blt(dst.start, 64, 0, 0, 16, 16, 0x01010101, clip=True)
    assert _blit(gpux, blitter.xy_setup_clip_blt(4, 2, 6, 3) + fill) == 0
    got = gpux.peek(dst, 0, 16 * 64).reshape(16, 64)
    assert got.sum() == 2 * 4 and got[2, 16:24].tolist() == [1] * 8


@pytest.mark.parametrize(("write", "expect"), [
    (BLT_WRITE_ALPHA, [0x11, 0x11, 0x11, 0xAA]),
    (BLT_WRITE_RGB, [0xDD, 0xCC, 0xBB, 0x11]),
    (0, [0x11, 0x11, 0x11, 0x11]),
])
def test_thirty_two_bpp_byte_enables_pick_alpha_and_colour(gpux: GpuExecEnv, write: int,
                                                           expect: list[int]) -> None:
    dst = gpux.bo(SIZE)
    _fill(gpux, dst, np.full(SIZE, 0x11, np.uint8))
    assert _blit(gpux, blitter.xy_color_blt(dst.start, 64, 0, 0, 2, 1, 0xAABBCCDD,
                                            write=write)) == 0
    assert gpux.peek(dst, 0, 8).tolist() == expect * 2


@pytest.mark.parametrize(("rop", "fn"), [
    (0x00, lambda s, d: np.zeros_like(d)),
    (0xFF, lambda s, d: np.full_like(d, 0xFF)),
    (0x66, lambda s, d: s ^ d),
    (0x88, lambda s, d: s & d),
    (0x55, lambda s, d: ~d),
    (0x33, lambda s, d: ~s),
])
def test_src_copy_applies_the_rop3(gpux: GpuExecEnv, rop: int, fn: object) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s, d = _pattern(6, 1024), _pattern(7, 1024)
    _fill(gpux, src, s)
    _fill(gpux, dst, d)
    cmd = blitter.xy_src_copy_blt(dst.start, 256, 0, 0, src.start, 256, 0, 0, 64, 4, rop=rop)
    assert _blit(gpux, cmd) == 0
    assert np.array_equal(gpux.peek(dst, 0, 1024), fn(s, d))  # type: ignore[operator]


@pytest.mark.parametrize("cpp", [1, 2, 4, 8, 16])
def test_fast_copy_moves_pixels_of_every_depth(gpux: GpuExecEnv, cpp: int) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s = _pattern(8)
    _fill(gpux, src, s)
    cmd = blitter.xy_fast_copy_blt(dst.start, 512, 1, 1, src.start, 256, 2, 0, 8, 5, cpp=cpp)
    assert _blit(gpux, cmd) == 0
    expect = _ref_copy(np.zeros(SIZE, np.uint8), s, 512, 1, 1, 256, 2, 0, 8, 5, cpp)
    assert np.array_equal(gpux.peek(dst, 0, SIZE), expect)


def test_a_negative_pitch_copies_bottom_up(gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(SIZE), gpux.bo(SIZE)
    s = _pattern(9)
    _fill(gpux, src, s)
    # dst row r lands at (base + 3*256) - r*256: the image flipped vertically.
    cmd = blitter.xy_src_copy_blt(dst.start + 3 * 256, -256, 0, 0, src.start, 256, 0, 0, 64, 4)
    assert _blit(gpux, cmd) == 0
    got = gpux.peek(dst, 0, 1024).reshape(4, 256)
    assert np.array_equal(got[::-1], s[:1024].reshape(4, 256))


def test_a_blit_into_a_read_only_binding_is_discarded(gpux: GpuExecEnv) -> None:
    src, ro = gpux.bo(SIZE), gpux.bo(SIZE, readonly=True)
    _fill(gpux, src, _pattern(10))
    _fill(gpux, ro, np.full(SIZE, 7, np.uint8))
    copy = blitter.xy_src_copy_blt(ro.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    fill = blitter.xy_color_blt(ro.start, 1024, 0, 0, 256, 16, 0)
    assert _blit(gpux, copy + fill) == 0
    assert np.array_equal(gpux.peek(ro, 0, SIZE), np.full(SIZE, 7, np.uint8))


def test_a_read_only_binding_can_still_be_read(gpux: GpuExecEnv) -> None:
    ro, dst = gpux.bo(SIZE, readonly=True), gpux.bo(SIZE)
    data = _pattern(11)
    _fill(gpux, ro, data)
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, ro.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd) == 0
    assert np.array_equal(gpux.peek(dst, 0, SIZE), data)


def test_a_source_in_unmapped_space_reads_as_zeros(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(SIZE)
    _fill(gpux, dst, np.full(SIZE, 9, np.uint8))
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, 0x5_0000_0000, 1024, 0, 0, 256, 2)
    assert _blit(gpux, cmd) == 0
    got = gpux.peek(dst, 0, SIZE)
    assert not got[:2048].any() and (got[2048:] == 9).all()


@pytest.mark.parametrize("rect", [(5, 0, 5, 4), (0, 6, 8, 6), (9, 0, 3, 4)])
def test_an_empty_rectangle_writes_nothing(gpux: GpuExecEnv,
                                           rect: tuple[int, int, int, int]) -> None:
    dst = gpux.bo(SIZE)
    x1, y1, x2, y2 = rect
    cmd = blitter.xy_color_blt(dst.start, 64, x1, y1, x2 - x1, y2 - y1, 0xFFFFFFFF)
    assert _blit(gpux, cmd) == 0
    assert not gpux.peek(dst, 0, SIZE).any()


@pytest.mark.parametrize(("why", "patch"), [
    ("pre-gen8 length", lambda c: [c[0] - 2, *c[1:8]]),
])
def test_blits_the_model_cannot_do_stop_the_engine(gpux: GpuExecEnv, why: str,
                                                  patch: object) -> None:
    dst = gpux.bo(SIZE)
    cmd = blitter.xy_src_copy_blt(dst.start, 64, 0, 0, dst.start, 64, 0, 0, 1, 1)
    assert _blit(gpux, patch(cmd)) == errno.EIO  # type: ignore[operator]


@pytest.mark.parametrize("tiling_bits", [3 << 20, 3 << 13])
def test_fast_copy_to_or_from_ys_tiling_stops_the_engine(gpux: GpuExecEnv,
                                                         tiling_bits: int) -> None:
    dst = gpux.bo(SIZE)
    cmd = blitter.xy_fast_copy_blt(dst.start, 64, 0, 0, dst.start, 64, 0, 0, 1, 1)
    cmd[0] |= tiling_bits
    assert _blit(gpux, cmd) == errno.EIO


def _tiled(tiling: int, pitch: int, lin: int) -> int:
    """The tile formula of docs/gtt-tiling.md, per byte."""
    y, x = divmod(lin, pitch)
    if tiling == 1:
        return ((y // 8) * (pitch // 512) + x // 512) * 4096 + (y % 8) * 512 + x % 512
    return ((y // 32) * (pitch // 128) + x // 128) * 4096 + (x % 128) // 16 * 512 \
        + (y % 32) * 16 + x % 16


def test_xy_src_copy_from_a_linear_to_an_x_tiled_surface_writes_the_tile_layout(
        gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(8 * SIZE), gpux.bo(8 * SIZE)     # 32 rows of 1024 bytes
    data = _pattern(5, 8 * SIZE)
    _fill(gpux, src, data)
    cmd = blitter.xy_src_copy_blt(dst.start, 1024 // 4, 2, 3, src.start, 1024, 2, 3, 200, 20)
    cmd[0] |= blitter.XY_SRC_COPY_BLT_DST_TILED        # tiled pitch is in dwords
    assert _blit(gpux, cmd) == 0
    got = gpux.peek(dst, 0, 8 * SIZE)
    for y in (3, 10, 22):
        for x in (8, 9, 400, 807):
            assert got[_tiled(1, 1024, y * 1024 + x)] == data[y * 1024 + x], (x, y)
    assert got[_tiled(1, 1024, 3 * 1024 + 4)] == 0      # left of the rectangle
    # and back: a tiled source to a linear destination is the identity on the rectangle
    back = gpux.bo(8 * SIZE)
    cmd = blitter.xy_src_copy_blt(back.start, 1024, 2, 3, dst.start, 1024 // 4, 2, 3, 200, 20)
    cmd[0] |= blitter.XY_SRC_COPY_BLT_SRC_TILED
    assert _blit(gpux, cmd) == 0
    out = gpux.peek(back, 0, 8 * SIZE).reshape(-1, 1024)
    assert (out[3:23, 8:808] == data.reshape(-1, 1024)[3:23, 8:808]).all()


def test_fast_copy_detiles_a_y_tiled_source(gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(8 * SIZE), gpux.bo(8 * SIZE)
    raw = _pattern(6, 8 * SIZE)
    _fill(gpux, src, raw)
    cmd = blitter.xy_fast_copy_blt(dst.start, 512, 0, 0, src.start, 512 // 4, 0, 0, 128, 64)
    cmd[0] |= 2 << 20                                    # source: legacy Y
    assert _blit(gpux, cmd) == 0
    got = gpux.peek(dst, 0, 512 * 64)
    for lin in range(0, 512 * 64, 37):
        assert got[lin] == raw[_tiled(2, 512, lin)], lin


def test_fast_copy_with_a_reserved_depth_stops_the_engine(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(SIZE)
    cmd = blitter.xy_fast_copy_blt(dst.start, 64, 0, 0, dst.start, 64, 0, 0, 1, 1)
    cmd[1] = (cmd[1] & ~(7 << 24)) | (2 << 24)
    assert _blit(gpux, cmd) == errno.EIO


def test_gpu_blits_between_userptrs_land_in_the_process_pages(gpux: GpuExecEnv) -> None:
    a, b = gpux.anon(SIZE), gpux.anon(SIZE)
    gpux.mm.cpu_write(a, bytes(_pattern(12)))
    src, dst = gpux.userptr(a, SIZE), gpux.userptr(b, SIZE)
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd + mi.flush_dw()) == 0
    assert gpux.mm.cpu_read(b, SIZE) == bytes(_pattern(12))


@pytest.fixture
def scattered(gpux: GpuExecEnv) -> tuple[GpuVma, GpuVma, GpuVma]:
    a, b = _scattered(gpux, SIZE, 1), _scattered(gpux, SIZE, 2)
    assert len(gpux.vm.resolve(a.start, SIZE)) > 1 and len(gpux.vm.resolve(b.start, SIZE)) > 1
    return a, b, gpux.bo(SIZE)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_blits_on_scattered_pages_match_the_row_by_row_reference(
        gpux: GpuExecEnv, scattered: tuple[GpuVma, GpuVma, GpuVma], data: st.DataObject) -> None:
    a, b, c = scattered
    src, dst = data.draw(st.sampled_from([(a, b), (c, a), (b, c)]))
    kind = data.draw(st.sampled_from(["src_copy", "fast_copy"]))
    cpp = data.draw(st.sampled_from([1, 2, 4] if kind == "src_copy" else [1, 2, 4, 8, 16]))
    w, h = data.draw(st.integers(1, 48)), data.draw(st.integers(1, 12))
    dpitch = data.draw(st.integers(w * cpp, 1400))
    spitch = data.draw(st.integers(w * cpp, 1400))
    assume(SIZE // dpitch >= h and SIZE // spitch >= h)
    dx = data.draw(st.integers(0, (dpitch - w * cpp) // cpp))
    sx = data.draw(st.integers(0, (spitch - w * cpp) // cpp))
    dy = data.draw(st.integers(0, SIZE // dpitch - h))
    sy = data.draw(st.integers(0, SIZE // spitch - h))
    s, d = _pattern(data.draw(st.integers(0, 99))), _pattern(100)
    _fill(gpux, src, s)
    _fill(gpux, dst, d)
    encode = blitter.xy_src_copy_blt if kind == "src_copy" else blitter.xy_fast_copy_blt
    cmd = encode(dst.start, dpitch, dx, dy, src.start, spitch, sx, sy, w, h, cpp=cpp)
    assert _blit(gpux, cmd) == 0
    expect = _ref_copy(d, s, dpitch, dx, dy, spitch, sx, sy, w, h, cpp)
    assert np.array_equal(gpux.peek(dst, 0, SIZE), expect)


def test_whole_pages_copy_between_scattered_userptrs(gpux: GpuExecEnv) -> None:
    src, dst = _scattered(gpux, SIZE, 3), _scattered(gpux, SIZE, 4)
    data = _pattern(13)
    _fill(gpux, src, data)
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd) == 0
    assert np.array_equal(gpux.peek(dst, 0, SIZE), data)


def test_whole_pages_copied_into_a_read_only_scattered_binding_are_dropped(
        gpux: GpuExecEnv) -> None:
    ptr = gpux.anon(SIZE)
    for i in (3, 0, 2, 1):
        gpux.mm.cpu_write(ptr + i * PAGE_SIZE, b"\x05" * PAGE_SIZE)
    ro = gpux.userptr(ptr, SIZE, flags=1)          # I915_USERPTR_READ_ONLY
    src = _scattered(gpux, SIZE, 5)
    _fill(gpux, src, _pattern(14))
    cmd = blitter.xy_src_copy_blt(ro.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd) == 0
    assert gpux.mm.cpu_read(ptr, SIZE) == b"\x05" * SIZE


def test_a_copy_reading_past_the_end_of_an_object_gets_zeros_for_the_rest(
        gpux: GpuExecEnv) -> None:
    src, dst = gpux.bo(2 * PAGE_SIZE, at=0x100000), gpux.bo(SIZE)
    _fill(gpux, src, _pattern(15, 2 * PAGE_SIZE))
    _fill(gpux, dst, np.full(SIZE, 3, np.uint8))
    cmd = blitter.xy_src_copy_blt(dst.start, 1024, 0, 0, src.start, 1024, 0, 0, 256, 16)
    assert _blit(gpux, cmd) == 0
    got = gpux.peek(dst, 0, SIZE)
    assert np.array_equal(got[:2 * PAGE_SIZE], _pattern(15, 2 * PAGE_SIZE))
    assert not got[2 * PAGE_SIZE:].any()
