"""Bounded copies of execbuf's user arrays: a count never sizes more than the kernel would.

``i915_gem_execbuffer2_ioctl`` sizes its object array with ``kvmalloc_array(count + 2,
sizeof(exec_object2) + sizeof(struct eb_vma))``; ``kvmalloc`` refuses anything above INT_MAX
bytes, so a ``buffer_count`` past 15,790,318 is ENOMEM before a byte is copied.  The
relocation arrays are checked the way ``check_relocations`` does (``access_ok``, then one
read per page, EFAULT at the first bad page) and copied into a ``kvmalloc_array(size, 1)``
(ENOMEM above INT_MAX bytes, as ``eb_copy_relocations``).  The fence arrays go into a
``krealloc`` of 32 bytes a fence (ENOMEM above KMALLOC_MAX_SIZE).

The copies themselves run in chunks of :data:`COPY_CHUNK` bytes, so the bytes held are the
bytes already read from readable user memory, never a count taken on trust; the records
(:class:`ExecObjects`, :class:`RawArray`) are decoded on demand, one entry at a time, so an
execbuf that fails at its first entry decodes one entry.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar, overload

from ..errors import EFAULT, ENOMEM
from ..units import PAGE_MASK, PAGE_SIZE

__all__ = ["COPY_CHUNK", "EB_ELEMENT_SIZE", "KMALLOC_MAX_SIZE", "KVMALLOC_MAX", "RawArray",
           "check_relocations", "copy_in", "kvmalloc_array", "krealloc_array"]

_U64 = (1 << 64) - 1
KVMALLOC_MAX = (1 << 31) - 1          # kvmalloc_node refuses sizes above INT_MAX
KMALLOC_MAX_SIZE = 1 << 22            # 2^(MAX_PAGE_ORDER + PAGE_SHIFT): the largest kmalloc
EB_ELEMENT_SIZE = 56 + 80             # exec_object2 + struct eb_vma (x86-64)
COPY_CHUNK = 64 << 10                 # bytes read from user memory per copy

T = TypeVar("T")


class _Readable(Protocol):
    def access_ok(self, addr: int, size: int) -> bool: ...

    def copy_from_user(self, addr: int, n: int) -> bytes: ...


def kvmalloc_array(n: int, size: int, what: str) -> None:
    """Refuse (ENOMEM) an allocation ``kvmalloc_array(n, size)`` would refuse."""
    if n * size > KVMALLOC_MAX:
        raise ENOMEM(f"{what}: {n} x {size} bytes is more than kvmalloc gives")


def krealloc_array(n: int, size: int, what: str) -> None:
    """Refuse (ENOMEM) a ``krealloc`` of ``n * size`` bytes past the largest kmalloc."""
    if n * size > KMALLOC_MAX_SIZE:
        raise ENOMEM(f"{what}: {n} x {size} bytes is more than kmalloc gives")


def copy_in(mm: _Readable, addr: int, size: int) -> bytearray:
    """``copy_from_user`` of ``size`` bytes at ``addr``, :data:`COPY_CHUNK` at a time: EFAULT
    at the first unreadable chunk, having held no more than what was read."""
    if not 0 <= addr <= _U64 or not mm.access_ok(addr, size):
        raise EFAULT(f"user array {addr:#x}+{size:#x}")
    out = bytearray()
    pos, end = addr, addr + size
    while pos < end:
        n = min(COPY_CHUNK - (pos & (COPY_CHUNK - 1)), end - pos)
        out += mm.copy_from_user(pos, n)
        pos += n
    return out


def check_relocations(mm: _Readable, ptr: int, size: int) -> None:
    """``check_relocations`` after its count check: the range passes ``access_ok`` and one
    byte of every page, then the last byte, is readable (EFAULT at the first that is not)."""
    if not 0 <= ptr <= _U64 or not mm.access_ok(ptr, size):
        raise EFAULT(f"relocation array {ptr:#x}+{size:#x}")
    if not size:
        return
    end = ptr + size
    mm.copy_from_user(ptr, 1)
    page = (ptr & PAGE_MASK) + PAGE_SIZE
    while page < end:
        mm.copy_from_user(page, 1)
        page += PAGE_SIZE
    mm.copy_from_user(end - 1, 1)


class RawArray(Sequence[T], Generic[T]):
    """A copied-in user array kept as its bytes, each entry decoded when it is reached.

    With ``keep``, an entry decoded once is the same record every time (the caller edits
    it, as the kernel edits its copy); :meth:`decoded` lists those records."""

    __slots__ = ("_data", "_decode", "_entry", "_kept")

    def __init__(self, data: bytearray | bytes, entry: struct.Struct,
                 decode: Callable[..., T], *, keep: bool = False) -> None:
        self._data = data
        self._entry = entry
        self._decode = decode
        self._kept: dict[int, T] | None = {} if keep else None

    def decoded(self) -> list[tuple[int, T]]:
        """``(index, record)`` of every kept record, in index order."""
        return sorted(self._kept.items(), key=lambda kv: kv[0]) if self._kept else []

    def __len__(self) -> int:
        return len(self._data) // self._entry.size

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...

    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        kept = self._kept
        if kept is not None and i in kept:
            return kept[i]
        value = self._decode(*self._entry.unpack_from(self._data, i * self._entry.size))
        if kept is not None:
            kept[i] = value
        return value

    def __iter__(self) -> Iterator[T]:
        if self._kept is not None:
            for i in range(len(self)):
                yield self[i]
            return
        for fields in self._entry.iter_unpack(self._data):
            yield self._decode(*fields)
