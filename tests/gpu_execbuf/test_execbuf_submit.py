"""EXECBUFFER2 that succeeds: placement, relocations, softpin, LUT, fences, rings."""

from __future__ import annotations

import errno
import struct

import pytest
from gpuscene import BBE, Exec, Gem, Spinner, dwords, mi_store_dword, obj, reloc

from softgem import igt, uapi
from softgem.units import PAGE_SIZE

R = uapi.I915_GEM_DOMAIN_RENDER
B48 = uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS
PINNED = uapi.EXEC_OBJECT_PINNED


def store(gem: Gem, target: int, value: int, *, delta: int = 0, presumed: int = 0,
          flags: int = 0, **ex_fields: int) -> Exec:
    """One MI_STORE_DWORD of ``value`` at ``target + delta`` through a relocation."""
    batch = gem.batch(mi_store_dword(presumed + delta, value))
    ex = Exec([obj(target), obj(batch)],
              {1: [reloc(target, 4, R, R, delta=delta, presumed=presumed)]},
              flags=flags, **ex_fields)
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    gem.close(batch)
    return ex


def u32(gem: Gem, handle: int, offset: int) -> int:
    return int(struct.unpack("<I", gem.read(handle, offset, 4))[0])


def peek(gem: Gem, handle: int, offset: int = 0) -> int:
    """The dword through a WB mapping: a CPU load that does not wait for the GPU."""
    ptr = igt.gem_mmap__wb(gem.proc, gem.fd, handle, PAGE_SIZE)
    value = int(struct.unpack("<I", gem.proc.read(ptr + offset, 4))[0])
    gem.proc.munmap(ptr, PAGE_SIZE)
    return value


def test_a_relocated_store_lands_in_the_target(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    ex = store(gem, target, 0xC0FFEE, delta=64, presumed=0x1234_0000)
    assert u32(gem, target, 64) == 0xC0FFEE
    start = ex.objects[0].offset
    assert ex.relocs[1][0].presumed_offset == start        # the hint written back
    assert start != 0x1234_0000


def test_objects_go_where_userspace_presumed_when_that_space_is_free(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    batch = gem.batch([BBE, 0])
    ex = Exec([obj(target, 0x10_0000), obj(batch, 0x20_0000)])
    assert gem.execbuf(ex) == 0
    assert [o.offset for o in ex.objects] == [0x10_0000, 0x20_0000]


def test_a_bound_object_stays_put_so_no_reloc_skips_the_relocation(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    first = store(gem, target, 1, delta=8)
    where = first.objects[0].offset
    # The batch says `where + 8` already: NO_RELOC with the right presumed offset.
    batch = gem.batch(mi_store_dword(where + 8, 2))
    ex = Exec([obj(target, where), obj(batch, 0x100_0000, B48 | PINNED)],
              {1: [reloc(target, 4, R, R, delta=8, presumed=0xDEAD000)]},
              flags=uapi.I915_EXEC_NO_RELOC)
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert u32(gem, target, 8) == 2
    assert ex.relocs[1][0].presumed_offset == 0xDEAD000      # not relocated, not rewritten
    assert u32(gem, batch, 4) == where + 8
    gem.close(batch)


def test_no_reloc_still_relocates_when_an_object_moved(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    batch = gem.batch(mi_store_dword(0x5000_0000, 7))
    ex = Exec([obj(target, 0x5000_0000, flags=B48 | uapi.EXEC_OBJECT_PAD_TO_SIZE),
               obj(batch)], {1: [reloc(target, 4, R, R, presumed=0x5000_0000)]},
              flags=uapi.I915_EXEC_NO_RELOC)
    ex.objects[0].rsvd1 = 2 * PAGE_SIZE
    other = gem.create(PAGE_SIZE)            # squat the presumed place first
    assert gem.execbuf(Exec([obj(other, 0x5000_0000, flags=B48 | PINNED),
                             obj(gem.batch([BBE, 0]))])) == 0
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert ex.objects[0].offset != 0x5000_0000
    assert ex.relocs[1][0].presumed_offset == ex.objects[0].offset
    assert u32(gem, target, 0) == 7


def test_softpin_places_objects_exactly_even_above_4gib(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    high = 0xFFFF_8000_0000_0000          # bit 47 set: canonical form
    batch = gem.batch(mi_store_dword(high + 16, 0xAB))
    ex = Exec([obj(target, high, B48 | PINNED), obj(batch, 1 << 32, B48 | PINNED)])
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert [o.offset for o in ex.objects] == [high, 1 << 32]
    assert u32(gem, target, 16) == 0xAB


def test_the_last_page_of_the_address_space_can_be_softpinned(gem: Gem) -> None:
    last = 0xFFFF_FFFF_FFFF_F000
    ex = Exec([obj(gem.create(PAGE_SIZE), last, B48 | PINNED), obj(gem.batch([BBE, 0]))])
    assert gem.execbuf(ex) == 0


def test_softpinning_onto_another_pinned_object_is_enospc_or_einval(gem: Gem) -> None:
    a, b = gem.create(PAGE_SIZE), gem.create(PAGE_SIZE)
    ex = Exec([obj(a, 0x10_0000, B48 | PINNED), obj(b, 0x10_0000, B48 | PINNED),
               obj(gem.batch([BBE, 0]))])
    assert gem.execbuf(ex) in (-errno.ENOSPC, -errno.EINVAL)


def test_handle_lut_names_relocation_targets_by_index(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    batch = gem.batch(mi_store_dword(0, 0x1))
    ex = Exec([obj(target), obj(batch)], {1: [reloc(0, 4, R, R, delta=32, presumed=1)]},
              flags=uapi.I915_EXEC_HANDLE_LUT)
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert u32(gem, target, 32) == 0x1


def test_batch_first_takes_the_first_object_as_the_batch(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    batch = gem.batch(mi_store_dword(0, 0x5EED))
    ex = Exec([obj(batch), obj(target)], {0: [reloc(target, 4, R, R, presumed=1)]},
              flags=uapi.I915_EXEC_BATCH_FIRST)
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert u32(gem, target, 0) == 0x5EED


def test_batch_start_offset_skips_into_the_batch(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    words = [0xFFFFFFFF, 0xFFFFFFFF, *mi_store_dword(0, 9)]     # garbage, then the batch
    batch = gem.batch(words)
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 12, R, R, presumed=1)]},
              batch_start_offset=8)
    assert gem.execbuf(ex) == 0
    gem.sync(batch)
    assert u32(gem, target, 0) == 9


@pytest.mark.parametrize("ring, busy", [(uapi.I915_EXEC_DEFAULT, 1), (uapi.I915_EXEC_RENDER, 1),
                                        (uapi.I915_EXEC_BLT, 2), (uapi.I915_EXEC_BSD, 3),
                                        (uapi.I915_EXEC_VEBOX, 4)])
def test_the_ring_flags_pick_the_engine_busy_reports(gem: Gem, ring: int, busy: int) -> None:
    target = gem.create(PAGE_SIZE)
    spin = Spinner(gem, flags=ring, dependency=target)
    assert gem.busy(target) & 0xFFFF == busy             # the writer's class + 1
    spin.free()
    assert gem.busy(target) == 0
    gem.close(target)


def test_readers_are_reported_in_the_upper_busy_bits(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    spin = Spinner(gem, flags=uapi.I915_EXEC_BLT, dependency=target, write=False)
    assert gem.busy(target) == 0x10000 << 1
    spin.free()


def test_the_out_fence_is_a_sync_file_fd_in_the_upper_half_of_rsvd2(gem: Gem) -> None:
    spin = Spinner(gem)
    assert spin.fence >= 3
    assert spin.status() == 0
    spin.end()
    assert gem.wait_fence(spin.fence, close=False) == 0
    spin.free()


def test_plain_execbuffer2_installs_the_out_fence_but_does_not_report_it(gem: Gem) -> None:
    before = gem.proc.files.fds()
    ex = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT, rsvd2=5)
    assert gem.execbuf(ex, wr=False) == 0
    assert ex.eb is not None and ex.eb.rsvd2 == 5          # IOW: nothing copied back
    assert len(gem.proc.files.fds()) == len(before) + 1


def test_an_in_fence_holds_the_request_until_it_signals(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    spin = Spinner(gem, flags=uapi.I915_EXEC_BLT)
    batch = gem.batch(mi_store_dword(0, 0x600D))
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 4, R, R, presumed=1)]},
              flags=uapi.I915_EXEC_RENDER | uapi.I915_EXEC_FENCE_IN, rsvd2=spin.fence)
    assert gem.execbuf(ex) == 0
    assert gem.busy(target) and peek(gem, target) == 0     # held back by the in-fence
    spin.end()
    gem.sync(target)
    assert u32(gem, target, 0) == 0x600D
    spin.free()


def test_implicit_fences_order_a_reader_after_a_writer_on_another_engine(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    spin = Spinner(gem, flags=uapi.I915_EXEC_BLT, dependency=target)
    batch = gem.batch(mi_store_dword(0, 0x2))
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 4, R, 0, presumed=1)]},
              flags=uapi.I915_EXEC_RENDER)                  # declared a reader only
    assert gem.execbuf(ex) == 0
    assert gem.busy(target) == (1 + 1) | 0x10000 << 1 | 0x10000 << 0
    assert peek(gem, target) == 0
    spin.end()
    gem.sync(target)
    assert u32(gem, target, 0) == 0x2
    spin.free()


def test_offsets_come_back_in_canonical_form(gem: Gem) -> None:
    high = 0x8000_0000_0000
    target = gem.create(PAGE_SIZE)
    other = gem.create(PAGE_SIZE)
    assert gem.execbuf(Exec([obj(other, 0xFFFF_0000_0000_0000 | high, B48 | PINNED),
                             obj(gem.batch([BBE, 0]))])) == 0
    ex = Exec([obj(target, 0xFFFF_0000_0000_0000 | high), obj(gem.batch([BBE, 0]))])
    assert gem.execbuf(ex) == 0                            # moved: the place is taken
    assert ex.objects[0].offset != 0xFFFF_8000_0000_0000
    assert ex.objects[0].offset >> 48 in (0, 0xFFFF)


def test_a_banned_context_refuses_execbuf_with_eio(gem: Gem) -> None:
    create = uapi.drm_i915_gem_context_create_ext()
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, create)
    ctx = int(create.ctx_id)
    for _ in range(3):                 # an unknown command hangs the engine at once
        ex = Exec([obj(gem.batch([0xFFFF_FFFF, BBE]))], flags=uapi.I915_EXEC_FENCE_OUT,
                  rsvd1=ctx)
        assert gem.execbuf(ex) == 0
        assert gem.wait_fence(ex.out_fence) == -errno.EIO
    assert gem.execbuf(Exec([obj(gem.batch([BBE, 0]))], rsvd1=ctx)) == -errno.EIO
    assert gem.execbuf(Exec([obj(gem.batch([BBE, 0]))])) == 0      # the default one works
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY,
                   uapi.drm_i915_gem_context_destroy(ctx_id=ctx))


def test_each_context_has_its_own_address_space(gem: Gem) -> None:
    create = uapi.drm_i915_gem_context_create_ext()
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, create)
    a, b = gem.create(PAGE_SIZE), gem.create(PAGE_SIZE)
    place = 0x40_0000
    for handle, ctx in ((a, 0), (b, int(create.ctx_id))):   # same address, two spaces
        batch = gem.batch(mi_store_dword(place, handle))
        ex = Exec([obj(handle, place, B48 | PINNED), obj(batch)], rsvd1=ctx)
        assert gem.execbuf(ex) == 0
        gem.sync(batch)
    assert (u32(gem, a, 0), u32(gem, b, 0)) == (a, b)
    param = uapi.drm_i915_gem_context_param(ctx_id=create.ctx_id,
                                            param=uapi.I915_CONTEXT_PARAM_GTT_SIZE)
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, param)
    assert param.value == 1 << 48


def test_unwritable_presumed_offsets_do_not_fail_the_execbuf(gem: Gem) -> None:
    target = gem.create(PAGE_SIZE)
    page = gem.proc.mmap(0, PAGE_SIZE, 3, 0x22)
    gem.proc.write(page, bytes(reloc(target, 4, R, R, presumed=0x77000)))
    gem.proc.mprotect(page, PAGE_SIZE, 1)                  # PROT_READ
    batch = gem.batch(mi_store_dword(0, 3))
    assert gem.execbuf(Exec([obj(target), obj(batch)]), raw_relocs={1: (page, 1)}) == 0
    gem.sync(batch)
    assert u32(gem, target, 0) == 3
    assert gem.proc.read(page, 32) == bytes(reloc(target, 4, R, R, presumed=0x77000))


def test_dwords_helper_is_little_endian() -> None:
    assert dwords([1, 0xFFFFFFFF]) == b"\x01\0\0\0\xff\xff\xff\xff"
