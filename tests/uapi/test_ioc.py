"""The _IOC request encoding: packing, unpacking, and refusing fields that do not fit."""

from __future__ import annotations

import ctypes

import pytest

from softgem.abi import _IO, _IOC, _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOR, _IOW, _IOWR, ioc


@pytest.mark.parametrize(("direction", "type_", "nr", "size"), [
    (ioc._IOC_NONE, 0, 0, 0),
    (ioc._IOC_WRITE, ord("d"), 0x09, 8),
    (ioc._IOC_READ | ioc._IOC_WRITE, ord("d"), 0x73, 24),
    (ioc._IOC_DIRMASK, ioc._IOC_TYPEMASK, ioc._IOC_NRMASK, ioc._IOC_SIZEMASK),
])
def test_every_field_unpacks_to_what_was_packed(direction: int, type_: int, nr: int,
                                                size: int) -> None:
    request = _IOC(direction, type_, nr, size)
    assert (_IOC_DIR(request), _IOC_TYPE(request), _IOC_NR(request), _IOC_SIZE(request)) == (
        direction, type_, nr, size)
    assert 0 <= request < 1 << 32


@pytest.mark.parametrize(("field", "args"), [
    ("dir", (4, 0, 0, 0)),
    ("type", (0, 256, 0, 0)),
    ("nr", (0, 0, 256, 0)),
    ("size", (0, 0, 0, 1 << 14)),
    ("nr", (0, 0, -1, 0)),
])
def test_a_field_that_does_not_fit_is_refused(field: str, args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=field):
        _IOC(*args)


def test_the_direction_macros_measure_the_argument_type_with_sizeof() -> None:
    class three_words(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint32), ("c", ctypes.c_uint64)]

    assert ctypes.sizeof(three_words) == 24
    assert _IOR(1, 2, three_words) == _IOC(ioc._IOC_READ, 1, 2, 24)
    assert _IOW(1, 2, three_words) == _IOC(ioc._IOC_WRITE, 1, 2, 24)
    assert _IOWR(1, 2, three_words) == _IOC(ioc._IOC_READ | ioc._IOC_WRITE, 1, 2, 24)
    assert _IO(1, 2) == _IOC(ioc._IOC_NONE, 1, 2, 0)


def test_the_legacy_direction_masks_are_the_shifted_directions() -> None:
    assert ioc.IOC_INOUT == ioc.IOC_IN | ioc.IOC_OUT
    assert ioc.IOCSIZE_MASK >> ioc.IOCSIZE_SHIFT == ioc._IOC_SIZEMASK
