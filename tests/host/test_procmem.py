"""Reading and writing another process's memory, and its layout (tested on this process)."""

from __future__ import annotations

import ctypes
import mmap
import os

import pytest

from softgem.errors import EFAULT
from softgem.host.procmem import (
    HostVma,
    read_cstring,
    read_maps,
    read_mem,
    vmas_covering,
    write_mem,
    write_vec,
)

PAGE = 4096
ME = os.getpid()


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


@pytest.fixture
def pages():
    """pages(n, prot) -> address of n fresh anonymous pages, unmapped after the test."""
    made: list[tuple[int, int]] = []

    def make(n: int, prot: int = mmap.PROT_READ | mmap.PROT_WRITE) -> int:
        addr = _libc.mmap(None, n * PAGE, prot, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value)
        made.append((addr, n))
        return int(addr)

    yield make
    for addr, n in made:
        _libc.munmap(addr, n * PAGE)


@pytest.mark.parametrize("addr", [0, 8, 1 << 47, (1 << 64) - 8])
def test_unmapped_or_non_user_addresses_are_efault(addr: int) -> None:
    with pytest.raises(EFAULT):
        read_mem(ME, addr, 8)
    with pytest.raises(EFAULT):
        write_mem(ME, addr, b"x" * 8)


def test_a_transfer_running_into_a_hole_is_efault_even_if_it_started_well(pages) -> None:
    base = pages(2)
    assert _libc.munmap(base + PAGE, PAGE) == 0
    with pytest.raises(EFAULT):
        read_mem(ME, base + PAGE - 4, 8)
    assert read_cstring(ME, base + PAGE - 1) == b""        # the NUL just before the hole


def test_writing_a_read_only_page_is_efault_like_copy_to_user(pages) -> None:
    ro = pages(1, mmap.PROT_READ)
    assert read_mem(ME, ro, 4) == b"\0" * 4
    with pytest.raises(EFAULT):
        write_mem(ME, ro, b"x")


def test_a_page_without_access_is_efault_for_reads(pages) -> None:
    none = pages(1, 0)                        # PROT_NONE
    with pytest.raises(EFAULT):
        read_mem(ME, none, 1)


def test_cstrings_stop_at_the_nul_or_at_the_limit() -> None:
    buf = ctypes.create_string_buffer(b"/dev/dri/card0\0junk")
    assert read_cstring(ME, ctypes.addressof(buf)) == b"/dev/dri/card0"
    assert read_cstring(ME, ctypes.addressof(buf), limit=4) == b"/dev"


def test_maps_list_the_stack_and_smaps_adds_vmflags() -> None:
    plain = read_maps(ME)
    assert any(v.path == "[stack]" and v.readable and v.writable for v in plain)
    flagged = read_maps(ME, with_flags=True)
    stack = next(v for v in flagged if v.path == "[stack]")
    assert {"rd", "wr"} <= stack.flags
    assert not stack.pfnmap and not stack.io and not stack.shared


def test_a_range_with_a_hole_is_not_covered() -> None:
    vmas = [HostVma(0x1000, 0x3000, "rw-p", 0, 0, ""), HostVma(0x4000, 0x5000, "rw-p", 0, 0, "")]
    assert len(vmas_covering(vmas, 0x1000, 0x3000)) == 1
    assert vmas_covering(vmas, 0x2000, 0x2000) == []
    with pytest.raises(EFAULT):
        vmas_covering(vmas, 0x2000, 0x4800)
    with pytest.raises(EFAULT):
        vmas_covering(vmas, 0x0, 0x2000)


def test_write_vec_stores_pieces_in_order_in_one_transfer(pages) -> None:
    base = pages(2)
    pieces = [(base + 8, b"abcd"), (base + PAGE + 100, b"xyz"), (base + 8, b"AB")]
    assert write_vec(ME, pieces) == 3
    assert read_mem(ME, base + 8, 4) == b"ABcd"            # later pieces land later
    assert read_mem(ME, base + PAGE + 100, 3) == b"xyz"


@pytest.mark.parametrize("bad", ["read-only", "hole", "not user"])
def test_write_vec_counts_the_pieces_stored_before_the_first_fault(pages, bad: str) -> None:
    base = pages(1)
    ro = pages(1, mmap.PROT_READ)
    target = {"read-only": ro, "hole": 8, "not user": 1 << 47}[bad]
    pieces = [(base, b"1111"), (target, b"2222"), (base + 4, b"3333")]
    assert write_vec(ME, pieces) == 1
    assert read_mem(ME, base, 8) == b"1111" + b"\0" * 4    # stops at the fault


def test_write_vec_of_many_or_large_pieces_still_works(pages) -> None:
    base = pages(32)
    many = [(base + i * 8, bytes([i]) * 8) for i in range(40)]
    assert write_vec(ME, many) == 40
    assert read_mem(ME, base + 39 * 8, 8) == bytes([39]) * 8
    big = [(base, b"z" * (100 << 10)), (8, b"x")]
    assert write_vec(ME, big) == 1
    assert read_mem(ME, base + (100 << 10) - 1, 1) == b"z"
