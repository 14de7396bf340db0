"""The ioctl dispatcher: request decoding, permissions, sizes, copy-in/copy-out, VERSION."""

from __future__ import annotations

import ctypes
import errno
import time
from collections.abc import Iterator
from typing import Any

import pytest

import softgem
from softgem import uapi
from softgem.abi import _IO, _IOC, _IOC_NR, _IOC_READ, _IOC_WRITE, _IOWR
from softgem.errors import SimBug
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.uapi import table
from softgem.uapi.drmfd import DrmFd
from softgem.uapi.handlers_core import DRIVER_DATE, DRIVER_DESC, DRIVER_NAME
from softgem.units import PAGE_SIZE, TASK_SIZE

CARD, RENDER = "/dev/dri/card0", "/dev/dri/renderD128"
RW = PROT_READ | PROT_WRITE



@pytest.fixture
def machine() -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=64 << 20)
    yield m
    m.shutdown()
    assert m.counters().leaks() == {}


@pytest.fixture
def proc(machine: softgem.Machine) -> softgem.Process:
    return machine.spawn()


def errno_of(proc: softgem.Process, fd: int, request: int, arg: Any) -> int:
    """0 on success, else the errno the ioctl failed with."""
    try:
        proc.ioctl(fd, request, arg)
    except OSError as err:
        return err.errno or -1
    return 0


def anon(proc: softgem.Process, length: int = PAGE_SIZE, prot: int = RW) -> int:
    return proc.mmap(0, length, prot, MAP_PRIVATE | MAP_ANONYMOUS)


# -- decoding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("request_, expected", [
    (_IO(ord("i"), 0x06), errno.ENOTTY),                        # another driver's type
    (_IOWR(ord("d") + 1, 0x46, uapi.drm_i915_getparam), errno.ENOTTY),
    (_IO(ord("d"), 0x04), errno.EINVAL),                        # removed legacy GET_MAP
    (_IO(ord("d"), 0xD1), errno.EINVAL),                        # past the core table
    (_IO(ord("d"), 0xFF), errno.EINVAL),
    (_IO(ord("d"), 0x40 + 0x10), errno.EINVAL),                 # hole in i915_ioctls[]
    (_IO(ord("d"), 0x40 + 0x12), errno.EINVAL),
    (_IO(ord("d"), 0x40 + 0x3D), errno.EINVAL),                 # past the i915 table
    (_IO(ord("d"), 0x9F), errno.EINVAL),
], ids=lambda v: hex(v) if isinstance(v, int) and v > 200 else str(v))
def test_unknown_requests_get_the_kernels_errno(proc: softgem.Process, request_: int,
                                                expected: int) -> None:
    fd = proc.open(CARD)
    assert errno_of(proc, fd, request_, 0) == expected


def test_unknown_request_is_refused_before_its_argument_is_read(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    bad = _IOC(_IOC_READ | _IOC_WRITE, ord("d"), 0x40 + 0x3D, 64)
    assert errno_of(proc, fd, bad, 0x10) == errno.EINVAL   # not EFAULT


def test_every_uapi_request_selects_a_table_row_with_the_same_number() -> None:
    for request_ in uapi.IOCTL_STRUCTS:
        desc = table.lookup(request_)
        assert desc.nr == _IOC_NR(request_)


def test_mmap_gtt_and_context_create_select_their_extended_rows() -> None:
    assert table.lookup(uapi.DRM_IOCTL_I915_GEM_MMAP_GTT).name == "I915_GEM_MMAP_OFFSET"
    assert table.lookup(uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE).name == \
        "I915_GEM_CONTEXT_CREATE_EXT"
    assert table.lookup(uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2).name == "I915_GEM_EXECBUFFER2_WR"


def test_the_tables_mirror_the_kernels_sizes() -> None:
    assert len(table._CORE) == 0xD1      # DRM_IOCTL_MODE_CLOSEFB is the last core ioctl
    assert len(table._DRIVER) == 0x3D    # DRM_I915_GEM_CREATE_EXT is the last i915 ioctl


# -- legacy entries and permissions ---------------------------------------------------------
@pytest.mark.parametrize("request_, node, expected", [
    (uapi.DRM_IOCTL_I915_FLUSH, CARD, 0),                        # drm_noop, DRM_AUTH
    (uapi.DRM_IOCTL_I915_FLUSH, RENDER, errno.EACCES),
    (uapi.DRM_IOCTL_I915_GEM_EXECBUFFER, CARD, errno.EINVAL),    # drm_invalid_op
    (uapi.DRM_IOCTL_I915_GEM_EXECBUFFER, RENDER, errno.EACCES),  # permission first
    (uapi.DRM_IOCTL_I915_GEM_PIN, CARD, errno.ENODEV),           # rejected pin
    (uapi.DRM_IOCTL_I915_GEM_PIN, RENDER, errno.EACCES),
    (uapi.DRM_IOCTL_SET_UNIQUE, CARD, errno.EINVAL),
    (uapi.DRM_IOCTL_GEM_FLINK, RENDER, errno.EACCES),            # DRM_AUTH, no RENDER_ALLOW
    (uapi.DRM_IOCTL_GEM_OPEN, RENDER, errno.EACCES),
    (uapi.DRM_IOCTL_GET_MAGIC, RENDER, errno.EACCES),
    (uapi.DRM_IOCTL_I915_GETPARAM, RENDER, errno.EINVAL),        # allowed: param 0 unknown
    (uapi.DRM_IOCTL_GEM_CLOSE, RENDER, errno.EINVAL),            # allowed: handle 0
], ids=str)
def test_table_flags_and_legacy_entries(proc: softgem.Process, request_: int, node: str,
                                        expected: int) -> None:
    fd = proc.open(node)
    buf = anon(proc)
    assert errno_of(proc, fd, request_, buf) == expected


def test_only_the_first_primary_opener_is_master(proc: softgem.Process) -> None:
    first, second = proc.open(CARD), proc.open(CARD)
    sv = uapi.drm_set_version(-1, -1, -1, -1)
    assert errno_of(proc, first, uapi.DRM_IOCTL_SET_VERSION, sv) == 0
    assert errno_of(proc, second, uapi.DRM_IOCTL_SET_VERSION, sv) == errno.EACCES
    assert errno_of(proc, second, uapi.DRM_IOCTL_SET_MASTER, 0) == errno.EBUSY
    proc.close(first)
    assert errno_of(proc, second, uapi.DRM_IOCTL_SET_MASTER, 0) == 0
    assert errno_of(proc, second, uapi.DRM_IOCTL_SET_VERSION, sv) == 0
    assert errno_of(proc, second, uapi.DRM_IOCTL_DROP_MASTER, 0) == 0
    assert errno_of(proc, second, uapi.DRM_IOCTL_DROP_MASTER, 0) == errno.EINVAL


def test_a_render_node_never_becomes_master(proc: softgem.Process) -> None:
    render, card = proc.open(RENDER), proc.open(CARD)
    assert errno_of(proc, render, uapi.DRM_IOCTL_SET_MASTER, 0) == errno.EACCES
    sv = uapi.drm_set_version(-1, -1, -1, -1)
    assert errno_of(proc, card, uapi.DRM_IOCTL_SET_VERSION, sv) == 0


def test_magic_is_stable_per_file_and_authenticates_once(proc: softgem.Process) -> None:
    master, client = proc.open(CARD), proc.open(CARD)
    a, b = uapi.drm_auth(), uapi.drm_auth()
    proc.ioctl(client, uapi.DRM_IOCTL_GET_MAGIC, a)
    proc.ioctl(client, uapi.DRM_IOCTL_GET_MAGIC, b)
    assert a.magic == b.magic != 0
    assert errno_of(proc, client, uapi.DRM_IOCTL_AUTH_MAGIC, a) == errno.EACCES  # not master
    assert errno_of(proc, master, uapi.DRM_IOCTL_AUTH_MAGIC, a) == 0
    assert errno_of(proc, master, uapi.DRM_IOCTL_AUTH_MAGIC, a) == errno.EINVAL  # spent
    assert errno_of(proc, master, uapi.DRM_IOCTL_AUTH_MAGIC, uapi.drm_auth(77)) == errno.EINVAL


# -- sizes and copies -------------------------------------------------------------------------
def test_an_unmapped_argument_address_is_efault(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    for addr in (0, 0x1000, TASK_SIZE - 8, 1 << 63, -1):
        assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GETPARAM, addr) == errno.EFAULT


def test_efault_on_copy_in_comes_before_the_permission_check(proc: softgem.Process) -> None:
    fd = proc.open(RENDER)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_GEM_FLINK, 0x1000) == errno.EFAULT


def test_a_read_only_argument_faults_on_copy_out_after_the_handler_ran(
        proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    value = anon(proc)
    arg = anon(proc)
    proc.write(arg, bytes(uapi.drm_i915_getparam(param=uapi.I915_PARAM_HAS_LLC, value=value)))
    proc.mprotect(arg, PAGE_SIZE, PROT_READ)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GETPARAM, arg) == errno.EFAULT
    assert proc.read(value, 4) == (1).to_bytes(4, "little")   # the handler did run


def test_an_argument_address_round_trips_like_a_struct(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    arg = anon(proc)
    proc.write(arg, bytes(uapi.drm_get_cap(capability=uapi.DRM_CAP_PRIME, value=99)))
    proc.ioctl(fd, uapi.DRM_IOCTL_GET_CAP, arg)
    cap = uapi.drm_get_cap.from_buffer_copy(proc.read(arg, ctypes.sizeof(uapi.drm_get_cap)))
    assert cap.value == uapi.DRM_PRIME_CAP_IMPORT | uapi.DRM_PRIME_CAP_EXPORT


def test_a_struct_smaller_than_the_request_is_efault(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    small = uapi.drm_gem_close()
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GETPARAM, small) == errno.EFAULT


def test_an_argument_that_is_neither_address_nor_struct_is_efault(
        proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    for junk in (None, "text", 1.5, b"bytes"):
        assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GETPARAM, junk) == errno.EFAULT


def test_a_shorter_user_struct_is_zero_extended() -> None:
    desc = table.lookup(uapi.DRM_IOCTL_I915_GEM_MMAP_GTT)
    assert table._sizes(desc, uapi.DRM_IOCTL_I915_GEM_MMAP_GTT) == (16, 16, 32)
    desc = table.lookup(uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2)
    assert table._sizes(desc, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2) == (64, 0, 64)


def test_bytes_past_a_short_argument_are_never_read(proc: softgem.Process) -> None:
    # CONTEXT_CREATE (8 bytes) reaches the CREATE_EXT row: the kernel reads 8 bytes, so an
    # argument in the last 8 bytes of a mapping does not fault.
    fd = proc.open(CARD)
    page = anon(proc)
    arg = page + PAGE_SIZE - 8
    got = errno_of(proc, fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE, arg)
    assert got == 0                  # no EFAULT from copy-in or copy-out: 8 bytes only
    assert int.from_bytes(proc.read(arg, 4), "little") != 0   # the new context's id
    got = errno_of(proc, fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, arg)
    assert got == errno.EFAULT


def test_a_failed_set_version_still_reports_the_versions(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    sv = uapi.drm_set_version(drm_di_major=7, drm_di_minor=0, drm_dd_major=-1,
                              drm_dd_minor=-1)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_SET_VERSION, sv) == errno.EINVAL
    assert (sv.drm_di_major, sv.drm_di_minor, sv.drm_dd_major, sv.drm_dd_minor) == (1, 4, 1, 6)


def test_a_handler_bug_surfaces_as_simbug_naming_the_ioctl(
        proc: softgem.Process, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Any, data: Any) -> int:
        raise ValueError("oops")

    desc = table.IoctlDesc(uapi.DRM_IOCTL_GET_CAP, table.DRM_RENDER_ALLOW, broken, "BROKEN")
    monkeypatch.setattr(table, "lookup", lambda request_: desc)
    monkeypatch.setattr(table, "_DECODED", {})  # decoded requests are cached: start empty
    fd = proc.open(CARD)
    with pytest.raises(SimBug, match="BROKEN"):
        proc.ioctl(fd, uapi.DRM_IOCTL_GET_CAP, uapi.drm_get_cap())


def test_drm_ioctl_returns_negative_errno(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    f = proc.file(fd)
    assert isinstance(f, DrmFd)
    assert table.drm_ioctl(f.file, proc, _IO(ord("i"), 1), 0) == -errno.ENOTTY
    assert table.drm_ioctl(f.file, proc, uapi.DRM_IOCTL_GET_CAP, uapi.drm_get_cap(
        capability=uapi.DRM_CAP_TIMESTAMP_MONOTONIC)) == 0


# -- VERSION, caps, unique -----------------------------------------------------------------------
@pytest.mark.parametrize("room", [0, 1, 3, 4, 5, 64])
def test_version_copies_at_most_the_user_length_and_reports_the_full_one(
        proc: softgem.Process, room: int) -> None:
    fd = proc.open(RENDER)
    bufs = [anon(proc) for _ in range(3)]
    for b in bufs:
        proc.write(b, b"\xaa" * 80)
    v = uapi.drm_version(name_len=room, name=bufs[0], date_len=room, date=bufs[1],
                         desc_len=room, desc=bufs[2])
    proc.ioctl(fd, uapi.DRM_IOCTL_VERSION, v)
    assert (v.version_major, v.version_minor, v.version_patchlevel) == (1, 6, 0)
    for buf, text, length in ((bufs[0], DRIVER_NAME, v.name_len),
                              (bufs[1], DRIVER_DATE, v.date_len),
                              (bufs[2], DRIVER_DESC, v.desc_len)):
        assert length == len(text)
        n = min(room, len(text))
        assert proc.read(buf, 80) == text.encode()[:n] + b"\xaa" * (80 - n)


def test_version_with_null_pointers_only_reports_lengths(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    v = uapi.drm_version(name_len=100)
    proc.ioctl(fd, uapi.DRM_IOCTL_VERSION, v)
    assert (v.name_len, v.date_len, v.desc_len) == (4, 8, len(DRIVER_DESC))


def test_version_stops_at_the_first_bad_pointer(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    v = uapi.drm_version(name_len=8, name=0x1000, date_len=8, date=0x1000)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_VERSION, v) == errno.EFAULT
    assert v.version_major == 1 and v.name_len == 4
    assert v.date_len == 8      # never reached


@pytest.mark.parametrize("cap, expected", [
    (uapi.DRM_CAP_TIMESTAMP_MONOTONIC, 1),
    (uapi.DRM_CAP_PRIME, uapi.DRM_PRIME_CAP_IMPORT | uapi.DRM_PRIME_CAP_EXPORT),
    (uapi.DRM_CAP_SYNCOBJ, 1),
    (uapi.DRM_CAP_SYNCOBJ_TIMELINE, 1),
    (uapi.DRM_CAP_DUMB_BUFFER, -errno.EOPNOTSUPP),     # KMS caps: display-less device
    (uapi.DRM_CAP_CURSOR_WIDTH, -errno.EOPNOTSUPP),
    (0x9999, -errno.EOPNOTSUPP),
])
def test_get_cap_answers_the_render_capabilities(proc: softgem.Process, cap: int,
                                                 expected: int) -> None:
    fd = proc.open(RENDER)
    req = uapi.drm_get_cap(capability=cap, value=0xDEAD)
    got = errno_of(proc, fd, uapi.DRM_IOCTL_GET_CAP, req)
    assert (req.value if got == 0 else -got) == expected
    if got:
        assert req.value == 0      # cleared before the switch, copied out on error


def test_kms_and_syncobj_eventfd_ioctls_are_not_supported(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    buf = anon(proc)
    assert errno_of(proc, fd, 0xC04064A0, buf) == errno.EOPNOTSUPP   # MODE_GETRESOURCES
    eventfd = softgem.uapi.handlers_core.EXTRA_REQUESTS["SYNCOBJ_EVENTFD"]
    assert errno_of(proc, fd, eventfd, buf) == errno.EOPNOTSUPP
    assert errno_of(proc, fd, uapi.DRM_IOCTL_SET_CLIENT_CAP, buf) == errno.EOPNOTSUPP


def test_get_unique_is_empty_until_set_version(proc: softgem.Process) -> None:
    fd = proc.open(CARD)
    buf = anon(proc)
    u = uapi.drm_unique(unique_len=64, unique=buf)
    proc.ioctl(fd, uapi.DRM_IOCTL_GET_UNIQUE, u)
    assert u.unique_len == 0
    proc.ioctl(fd, uapi.DRM_IOCTL_SET_VERSION, uapi.drm_set_version(1, 4, -1, -1))
    u = uapi.drm_unique(unique_len=64, unique=buf)
    proc.ioctl(fd, uapi.DRM_IOCTL_GET_UNIQUE, u)
    assert proc.read(buf, u.unique_len) == b"0000:00:02.0"
    short = uapi.drm_unique(unique_len=3, unique=0x1000)     # too short: nothing copied
    proc.ioctl(fd, uapi.DRM_IOCTL_GET_UNIQUE, short)
    assert short.unique_len == 12


@pytest.mark.parametrize(("request_", "expected"), [
    (uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, errno.EINVAL),      # buffer_count 0
    (uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, errno.EINVAL),
    (uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE, 0),
    (uapi.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY, errno.ENOENT),   # the default context (id 0)
    (uapi.DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, errno.EINVAL),  # param 0 is no parameter
    (uapi.DRM_IOCTL_I915_GEM_VM_CREATE, 0),                    # full PPGTT
    (uapi.DRM_IOCTL_I915_PERF_OPEN, errno.ENODEV),             # OA perf is not modelled
])
def test_gpu_ioctls_answer_a_zeroed_argument_as_the_kernel(
        proc: softgem.Process, request_: int, expected: int) -> None:
    fd = proc.open(RENDER)
    assert errno_of(proc, fd, request_, anon(proc)) == expected


def test_reset_stats_of_the_default_context_are_zero(proc: softgem.Process) -> None:
    fd = proc.open(RENDER)
    rs = uapi.drm_i915_reset_stats(ctx_id=0, reset_count=5, batch_active=5)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GET_RESET_STATS, rs)
    assert (rs.reset_count, rs.batch_active, rs.batch_pending) == (0, 0, 0)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GET_RESET_STATS,
                    uapi.drm_i915_reset_stats(ctx_id=1)) == errno.ENOENT
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_GET_RESET_STATS,
                    uapi.drm_i915_reset_stats(flags=1)) == errno.EINVAL


def test_reg_read_allows_only_the_render_timestamp(proc: softgem.Process) -> None:
    fd = proc.open(RENDER)
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_REG_READ,
                    uapi.drm_i915_reg_read(offset=0x2358 | 1)) == 0
    first, second = uapi.drm_i915_reg_read(offset=0x2358 | 1), uapi.drm_i915_reg_read(offset=0x2358)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_REG_READ, first)
    time.sleep(0.01)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_REG_READ, second)
    # A 36-bit counter at 12 MHz: the 10 ms slept are at least 120,000 ticks.
    assert second.val < 1 << 36 and (second.val - first.val) % (1 << 36) >= 120_000
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_REG_READ,
                    uapi.drm_i915_reg_read(offset=0x2358 | 2)) == errno.EINVAL
    assert errno_of(proc, fd, uapi.DRM_IOCTL_I915_REG_READ,
                    uapi.drm_i915_reg_read(offset=0x2000)) == errno.EINVAL
