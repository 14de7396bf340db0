"""copy_to_user_seq: several user writes with copy_to_user's semantics, batched when the
address space can (host mode's process_vm_writev)."""

from __future__ import annotations

import pytest

from softgem.errors import EFAULT
from softgem.uapi.usercopy import copy_to_user_seq

TOP = 1 << 47


class _Memory:
    """A user memory of 64 KiB at 0x10000 whose page 0x12000 is read-only."""

    def __init__(self, vec: bool) -> None:
        self.bytes = bytearray(0x10000)
        self.transfers = 0
        self.copy_to_user_vec = self._vec if vec else self._one_by_one

    def _one_by_one(self, pieces: list[tuple[int, bytes]]) -> int:
        for done, (addr, data) in enumerate(pieces):
            try:
                self.copy_to_user(addr, data)
            except EFAULT:
                return done
        return len(pieces)

    def access_ok(self, addr: int, size: int) -> bool:
        return addr >= 0 and size >= 0 and addr + size <= TOP

    def copy_from_user(self, addr: int, n: int) -> bytes:
        raise AssertionError("not used")

    def _store(self, addr: int, data: bytes) -> bool:
        for i, b in enumerate(bytes(data)):
            a = addr + i
            if not 0x10000 <= a < 0x20000 or 0x12000 <= a < 0x13000:
                return False
            self.bytes[a - 0x10000] = b
        return True

    def copy_to_user(self, addr: int, data: bytes) -> None:
        self.transfers += 1
        if not self._store(addr, data):
            raise EFAULT("test memory")

    def _vec(self, pieces: list[tuple[int, bytes]]) -> int:
        self.transfers += 1
        for done, (addr, data) in enumerate(pieces):
            if not self._store(addr, data):
                return done
        return len(pieces)

    def at(self, addr: int, n: int) -> bytes:
        return bytes(self.bytes[addr - 0x10000:addr - 0x10000 + n])


@pytest.mark.parametrize("vec", [False, True])
def test_every_piece_is_stored_in_order(vec: bool) -> None:
    mm = _Memory(vec)
    assert copy_to_user_seq(mm, [(0x10000, b"abcd"), (0x10002, b"XY")]) == []
    assert mm.at(0x10000, 4) == b"abXY"
    assert mm.transfers == (1 if vec else 2)


@pytest.mark.parametrize("vec", [False, True])
def test_a_fault_fails_its_piece_only(vec: bool) -> None:
    mm = _Memory(vec)
    pieces = [(0x10000, b"1"), (0x12000, b"2"), (0x10001, b"3"), (8, b"4"), (0x10002, b"5"),
              (1 << 63, b"6"), (0x10003, b"7")]
    assert copy_to_user_seq(mm, pieces) == [1, 3, 5]
    assert mm.at(0x10000, 4) == b"1357"


def test_empty_pieces_never_fault() -> None:
    mm = _Memory(True)
    assert copy_to_user_seq(mm, [(1 << 63, b""), (0x10000, b"ok")]) == []
    assert mm.at(0x10000, 2) == b"ok"
