"""EXECBUFFER2's early argument ladder, its records and its flag values."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import softgem
from softgem import uapi
from softgem.errors import EFAULT, EINVAL
from softgem.gpu import execbuf_args as A
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE


@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    m = softgem.Machine(memory=16 << 20)
    yield m.spawn()
    m.shutdown()


@pytest.mark.parametrize("name", [
    "EXEC_OBJECT_NEEDS_FENCE", "EXEC_OBJECT_NEEDS_GTT", "EXEC_OBJECT_WRITE",
    "EXEC_OBJECT_SUPPORTS_48B_ADDRESS", "EXEC_OBJECT_PINNED", "EXEC_OBJECT_PAD_TO_SIZE",
    "EXEC_OBJECT_ASYNC", "EXEC_OBJECT_CAPTURE", "I915_EXEC_RING_MASK", "I915_EXEC_DEFAULT",
    "I915_EXEC_RENDER", "I915_EXEC_BSD", "I915_EXEC_BLT", "I915_EXEC_VEBOX",
    "I915_EXEC_SECURE", "I915_EXEC_NO_RELOC", "I915_EXEC_HANDLE_LUT", "I915_EXEC_BSD_MASK",
    "I915_EXEC_FENCE_IN", "I915_EXEC_FENCE_OUT", "I915_EXEC_BATCH_FIRST",
    "I915_EXEC_FENCE_ARRAY", "I915_EXEC_FENCE_SUBMIT", "I915_EXEC_USE_EXTENSIONS",
])
def test_gpu_layer_flag_copies_match_the_uapi_values(name: str) -> None:
    assert getattr(A, name) == getattr(uapi, name)


def test_unknown_flag_masks_are_the_uapi_masks_as_u64() -> None:
    u64 = (1 << 64) - 1
    assert uapi.__I915_EXEC_UNKNOWN_FLAGS & u64 == A.I915_EXEC_UNKNOWN_FLAGS
    assert uapi.__EXEC_OBJECT_UNKNOWN_FLAGS & u64 == A.EXEC_OBJECT_UNKNOWN_FLAGS


def test_exec_object_record_is_the_56_byte_c_struct() -> None:
    import ctypes

    assert ctypes.sizeof(uapi.drm_i915_gem_exec_object2) == A.EXEC_OBJECT2_SIZE
    c = uapi.drm_i915_gem_exec_object2(handle=7, relocation_count=2, relocs_ptr=0x1000,
                                       alignment=4096, offset=0x20000, flags=0x18,
                                       rsvd2=9)
    c.pad_to_size = 0x3000
    assert A.ExecObject(7, 2, 0x1000, 4096, 0x20000, 0x18, 0x3000, 9).pack() == bytes(c)


@pytest.mark.parametrize("count, ok", [(0, False), (1, True), (2**31 - 1, True),
                                       (2**31, False)])
def test_buffer_count_must_be_between_one_and_int_max(count: int, ok: bool) -> None:
    if ok:
        A.check_buffer_count(count)
    else:
        with pytest.raises(EINVAL):
            A.check_buffer_count(count)


LADDER = [
    ("unknown flag", dict(flags=1 << 22)),
    ("constants mode", dict(flags=1 << 6)),
    ("resource streamer", dict(flags=1 << 15)),
    ("cliprects count", dict(num_cliprects=1)),
    ("cliprects pointer", dict(cliprects_ptr=0x1000)),
    ("DR1", dict(DR1=1)),
    ("DR4", dict(DR4=1)),
    ("batch start", dict(batch_start_offset=4)),
    ("batch len", dict(batch_len=12)),
]


@pytest.mark.parametrize("why, fields", LADDER, ids=[w for w, _ in LADDER])
def test_check_execbuffer_refuses_each_bad_field_with_einval(why: str, fields: dict[str, int]
                                                             ) -> None:
    with pytest.raises(EINVAL):
        A.check_execbuffer(A.ExecArgs(buffer_count=1, **fields))


def test_cliprects_are_allowed_when_they_carry_a_fence_array_or_extensions() -> None:
    A.check_execbuffer(A.ExecArgs(flags=A.I915_EXEC_FENCE_ARRAY, num_cliprects=3,
                                  cliprects_ptr=0x1000))
    A.check_execbuffer(A.ExecArgs(flags=A.I915_EXEC_USE_EXTENSIONS, cliprects_ptr=0x1000))


def test_uxa_garbage_dr4_is_zeroed_instead_of_refused() -> None:
    args = A.ExecArgs(DR4=0xFFFFFFFF)
    A.check_execbuffer(args)
    assert args.DR4 == 0


@pytest.mark.parametrize("addr, canon", [
    (0, 0), (0x7FFF_FFFF_F000, 0x7FFF_FFFF_F000),
    (0x8000_0000_0000, 0xFFFF_8000_0000_0000), (0xFFFF_FFFF_F000, 0xFFFF_FFFF_FFFF_F000),
])
def test_canonical_form_copies_bit_47_upwards_and_back(addr: int, canon: int) -> None:
    assert A.canonical(addr) == canon
    assert A.noncanonical(canon) == addr


def test_exec_objects_are_read_from_user_memory_and_offsets_written_back(
        proc: softgem.Process) -> None:
    buf = proc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    objs = [A.ExecObject(handle=h, offset=0x1000 * h) for h in (1, 2, 3)]
    proc.write(buf, b"".join(o.pack() for o in objs))
    got = A.read_exec_objects(proc.mm, buf, 3)
    assert [o.handle for o in got] == [1, 2, 3]
    got[1].offset, got[1].updated = 0x8000_0000_0000, True
    A.write_back_offsets(proc.mm, buf, got)
    back = A.read_exec_objects(proc.mm, buf, 3)
    assert [o.offset for o in back] == [0x1000, 0xFFFF_8000_0000_0000, 0x3000]


def test_an_unreadable_exec_object_array_is_efault(proc: softgem.Process) -> None:
    with pytest.raises(EFAULT):
        A.read_exec_objects(proc.mm, 0x1000, 1)
