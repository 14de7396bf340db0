"""EXECBUFFER2's argument ladder, errno for errno, through the real ioctl.

Each row starts from a valid submission (a 4 KiB target and a batch that only ends) and
breaks one thing; the ioctl must fail with exactly that errno and leave nothing behind.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from gpuscene import BBE, Exec, Gem, obj, reloc

from softgem import uapi
from softgem.posix import PROT_READ
from softgem.units import PAGE_SIZE

R = uapi.I915_GEM_DOMAIN_RENDER
Mutate = Callable[[Gem, Exec], None]


def base(gem: Gem) -> Exec:
    target = gem.create(PAGE_SIZE)
    batch = gem.batch([BBE, 0])
    return Exec([obj(target), obj(batch)])


def _set(**fields: int) -> Mutate:
    def f(gem: Gem, ex: Exec) -> None:
        for k, v in fields.items():
            setattr(ex, k, v)
    return f


def _obj(i: int, **fields: int) -> Mutate:
    def f(gem: Gem, ex: Exec) -> None:
        for k, v in fields.items():
            setattr(ex.objects[i], k, v)
    return f


def _relocs(*entries: dict[str, int]) -> Mutate:
    def f(gem: Gem, ex: Exec) -> None:
        target = ex.objects[0].handle
        ex.relocs[1] = [reloc(**{"target": target, "offset": 8, "read": R, **e})
                        for e in entries]
    return f


def _fence_array(flags: int) -> Mutate:
    def f(gem: Gem, ex: Exec) -> None:
        page = gem.proc.mmap(0, PAGE_SIZE, 3, 0x22)
        gem.proc.write(page, (1).to_bytes(4, "little") + flags.to_bytes(4, "little"))
        ex.flags |= uapi.I915_EXEC_FENCE_ARRAY
        ex.eb_extra = {"num_cliprects": 1, "cliprects_ptr": page}  # type: ignore[attr-defined]
    return f


def _extension(name: int, with_fence_array: bool = False) -> Mutate:
    def f(gem: Gem, ex: Exec) -> None:
        page = gem.proc.mmap(0, PAGE_SIZE, 3, 0x22)
        gem.proc.write(page, bytes(8) + name.to_bytes(4, "little") + bytes(20))
        ex.flags |= uapi.I915_EXEC_USE_EXTENSIONS
        if with_fence_array:
            ex.flags |= uapi.I915_EXEC_FENCE_ARRAY
        ex.eb_extra = {"cliprects_ptr": page}  # type: ignore[attr-defined]
    return f


def _dup(gem: Gem, ex: Exec) -> None:
    ex.objects.insert(1, obj(ex.objects[0].handle))


def _bad_handle_then_bad_alignment(gem: Gem, ex: Exec) -> None:
    ex.objects[0].handle = 99
    ex.objects.insert(1, obj(gem.create(PAGE_SIZE)))
    ex.objects[1].alignment = 3


def _bad_alignment_then_bad_handle(gem: Gem, ex: Exec) -> None:
    ex.objects[0].alignment = 3
    ex.objects.insert(1, obj(99))


def _unmapped_userptr(gem: Gem, ex: Exec) -> None:
    ex.objects[0].handle = gem.userptr(0x10_0000_0000, PAGE_SIZE)


def _readonly_mapping_userptr(gem: Gem, ex: Exec) -> None:
    ptr = gem.proc.mmap(0, PAGE_SIZE, PROT_READ, 0x22)
    ex.objects[0].handle = gem.userptr(ptr, PAGE_SIZE)


LADDER: list[tuple[str, Mutate, int]] = [
    ("no buffers", _set(), errno.EINVAL),      # buffer_count forced to 0 below
    ("unknown flag", _set(flags=1 << 22), errno.EINVAL),
    ("constants mode", _set(flags=uapi.I915_EXEC_CONSTANTS_ABSOLUTE), errno.EINVAL),
    ("resource streamer", _set(flags=uapi.I915_EXEC_RESOURCE_STREAMER), errno.EINVAL),
    ("unaligned batch start", _set(batch_start_offset=4), errno.EINVAL),
    ("unaligned batch len", _set(batch_len=12), errno.EINVAL),
    ("secure batch", _set(flags=uapi.I915_EXEC_SECURE), errno.EPERM),
    ("in-fence that is no fd", _set(flags=uapi.I915_EXEC_FENCE_IN, rsvd2=77), errno.EINVAL),
    ("in-fence and submit-fence", _set(flags=uapi.I915_EXEC_FENCE_IN |
                                       uapi.I915_EXEC_FENCE_SUBMIT), errno.EINVAL),
    ("fence array names a syncobj", _fence_array(uapi.I915_EXEC_FENCE_WAIT), errno.ENOENT),
    ("fence array flags", _fence_array(1 << 2), errno.EINVAL),
    ("extension with fence array", _extension(0, True), errno.EINVAL),
    ("unknown extension", _extension(7), errno.EINVAL),
    ("unknown context", _set(rsvd1=5), errno.ENOENT),
    ("unknown ring", _set(flags=6), errno.EINVAL),
    ("bsd bits on the blitter", _set(flags=uapi.I915_EXEC_BLT | uapi.I915_EXEC_BSD_RING1),
     errno.EINVAL),
    ("unknown handle", _obj(0, handle=99), errno.ENOENT),
    ("unknown object flag", _obj(0, flags=1 << 8), errno.EINVAL),
    ("needs GTT with full ppgtt", _obj(0, flags=uapi.EXEC_OBJECT_NEEDS_GTT), errno.EINVAL),
    ("alignment not a power of two", _obj(0, alignment=3 * PAGE_SIZE), errno.EINVAL),
    ("softpin unaligned", _obj(0, flags=uapi.EXEC_OBJECT_PINNED, offset=0x10001),
     errno.EINVAL),
    ("softpin not canonical", _obj(0, flags=uapi.EXEC_OBJECT_PINNED |
                                   uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS,
                                   offset=0x8000_0000_0000), errno.EINVAL),
    ("softpin above 4 GiB without 48-bit support",
     _obj(0, flags=uapi.EXEC_OBJECT_PINNED, offset=1 << 32), errno.EINVAL),
    ("pad_to_size unaligned", _obj(0, flags=uapi.EXEC_OBJECT_PAD_TO_SIZE, rsvd1=100),
     errno.EINVAL),
    ("same object twice", _dup, errno.EINVAL),
    ("lookup before validation", _bad_handle_then_bad_alignment, errno.ENOENT),
    ("validation in object order", _bad_alignment_then_bad_handle, errno.EINVAL),
    ("batch marked written", _obj(1, flags=uapi.EXEC_OBJECT_WRITE), errno.EINVAL),
    ("batch start past the object", _set(batch_start_offset=PAGE_SIZE), errno.EINVAL),
    ("batch longer than the object", _set(batch_start_offset=8, batch_len=PAGE_SIZE),
     errno.EINVAL),
    ("userptr over nothing", _unmapped_userptr, errno.EFAULT),
    ("userptr over a read-only mapping", _readonly_mapping_userptr, errno.EFAULT),
    ("relocation target unknown", _relocs({"target": 42}), errno.ENOENT),
    ("relocation with two write domains", _relocs({"write": R | 4}), errno.EINVAL),
    ("relocation into the CPU domain", _relocs({"read": uapi.I915_GEM_DOMAIN_CPU}),
     errno.EINVAL),
    ("relocation past the object", _relocs({"offset": PAGE_SIZE - 4, "presumed": 1}),
     errno.EINVAL),
    ("relocation unaligned", _relocs({"offset": 6, "presumed": 1}), errno.EINVAL),
]


@pytest.mark.parametrize("why, mutate, expected", LADDER, ids=[r[0] for r in LADDER])
def test_each_bad_argument_gets_its_errno(gem: Gem, why: str, mutate: Mutate,
                                          expected: int) -> None:
    ex = base(gem)
    mutate(gem, ex)
    extra: dict[str, int] = getattr(ex, "eb_extra", {})
    if why == "no buffers":
        extra = {"buffer_count": 0}
    assert gem.execbuf(ex, **extra) == -expected


def test_an_unreadable_object_array_is_efault(gem: Gem) -> None:
    ex = base(gem)
    assert gem.execbuf(ex, buffers_ptr=0x1000) == -errno.EFAULT


def test_unreadable_relocations_are_efault(gem: Gem) -> None:
    ex = base(gem)
    assert gem.execbuf(ex, raw_relocs={1: (0x1000, 1)}) == -errno.EFAULT


def test_uxa_garbage_in_dr4_is_accepted(gem: Gem) -> None:
    assert gem.execbuf(base(gem), DR4=0xFFFFFFFF) == 0


def test_a_valid_submission_succeeds(gem: Gem) -> None:
    assert gem.execbuf(base(gem)) == 0


def test_failed_relocation_marks_every_presumed_offset_invalid(gem: Gem) -> None:
    ex = base(gem)
    _relocs({"presumed": 0x1234}, {"offset": 6, "presumed": 0x5678})(gem, ex)
    assert gem.execbuf(ex) == -errno.EINVAL
    assert [r.presumed_offset for r in ex.relocs[1]] == [2**64 - 1] * 2
