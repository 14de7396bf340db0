"""GETPARAM and QUERY: what a gen9 LLC part tells userspace about itself."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
from collections.abc import Iterator

import pytest

import softgem
from softgem import uapi
from softgem.gem import DEFAULT_PLATFORM
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.uapi.handlers_getparam import (
    I915_PARAM_OA_TIMESTAMP_FREQUENCY,
    I915_PARAM_PXP_STATUS,
    KNOWN_PARAMS,
)
from softgem.units import PAGE_SIZE, TASK_SIZE

RW = PROT_READ | PROT_WRITE
P = DEFAULT_PLATFORM



@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    m = softgem.Machine(memory=64 << 20)
    yield m.spawn()
    m.shutdown()
    assert m.counters().leaks() == {}


def anon(proc: softgem.Process, length: int = PAGE_SIZE, prot: int = RW) -> int:
    return proc.mmap(0, length, prot, MAP_PRIVATE | MAP_ANONYMOUS)


def getparam(proc: softgem.Process, fd: int, param: int, value: int | None = None) -> int:
    """The answer, or ``-errno``."""
    buf = anon(proc) if value is None else value
    try:
        proc.ioctl(fd, uapi.DRM_IOCTL_I915_GETPARAM, uapi.drm_i915_getparam(param, buf))
    except OSError as err:
        return -(err.errno or 0)
    return int.from_bytes(proc.read(buf, 4), "little", signed=True)


_SCHED = 0x1F   # enabled, priority, preemption, semaphores, busy stats
EXPECTED = [
    (uapi.I915_PARAM_IRQ_ACTIVE, -errno.ENODEV),
    (uapi.I915_PARAM_ALLOW_BATCHBUFFER, -errno.ENODEV),
    (uapi.I915_PARAM_LAST_DISPATCH, -errno.ENODEV),
    (uapi.I915_PARAM_HAS_EXEC_CONSTANTS, -errno.ENODEV),
    (uapi.I915_PARAM_CHIPSET_ID, P.chipset_id),
    (uapi.I915_PARAM_REVISION, P.revision),
    (uapi.I915_PARAM_NUM_FENCES_AVAIL, P.num_fences),
    (uapi.I915_PARAM_HAS_OVERLAY, 0),
    (uapi.I915_PARAM_HAS_BSD, 1),
    (uapi.I915_PARAM_HAS_BLT, 1),
    (uapi.I915_PARAM_HAS_VEBOX, 1),
    (uapi.I915_PARAM_HAS_BSD2, 0),
    (uapi.I915_PARAM_HAS_LLC, 1),
    (uapi.I915_PARAM_HAS_WT, 0),
    (uapi.I915_PARAM_HAS_ALIASING_PPGTT, uapi.I915_GEM_PPGTT_FULL),
    (uapi.I915_PARAM_HAS_SEMAPHORES, 1),
    (uapi.I915_PARAM_HAS_SECURE_BATCHES, 0),
    (uapi.I915_PARAM_CMD_PARSER_VERSION, 10),
    (uapi.I915_PARAM_SUBSLICE_TOTAL, P.subslice_total),
    (uapi.I915_PARAM_EU_TOTAL, P.eu_total),
    (uapi.I915_PARAM_HAS_GPU_RESET, 2),
    (uapi.I915_PARAM_HAS_RESOURCE_STREAMER, 0),
    (uapi.I915_PARAM_HAS_POOLED_EU, 0),
    (uapi.I915_PARAM_MIN_EU_IN_POOL, 0),
    (uapi.I915_PARAM_HUC_STATUS, -errno.EOPNOTSUPP),
    (uapi.I915_PARAM_MMAP_GTT_VERSION, 4),
    (uapi.I915_PARAM_HAS_SCHEDULER, _SCHED),
    *((getattr(uapi, f"I915_PARAM_{name}"), 1) for name in (
        "MMAP_VERSION", "HAS_GEM", "HAS_PAGEFLIPPING", "HAS_EXECBUF2",
        "HAS_RELAXED_FENCING", "HAS_COHERENT_RINGS", "HAS_RELAXED_DELTA",
        "HAS_GEN7_SOL_RESET", "HAS_WAIT_TIMEOUT", "HAS_PRIME_VMAP_FLUSH",
        "HAS_PINNED_BATCHES", "HAS_EXEC_NO_RELOC", "HAS_EXEC_HANDLE_LUT",
        "HAS_COHERENT_PHYS_GTT", "HAS_EXEC_SOFTPIN", "HAS_EXEC_ASYNC", "HAS_EXEC_FENCE",
        "HAS_EXEC_CAPTURE", "HAS_EXEC_BATCH_FIRST", "HAS_EXEC_FENCE_ARRAY",
        "HAS_EXEC_SUBMIT_FENCE", "HAS_EXEC_TIMELINE_FENCES", "HAS_USERPTR_PROBE")),
    (uapi.I915_PARAM_HAS_CONTEXT_ISOLATION, 0xF),
    (uapi.I915_PARAM_SLICE_MASK, 0x1),
    (uapi.I915_PARAM_SUBSLICE_MASK, 0x7),
    (uapi.I915_PARAM_CS_TIMESTAMP_FREQUENCY, 12_000_000),
    (uapi.I915_PARAM_MMAP_GTT_COHERENT, 1),
    (uapi.I915_PARAM_PERF_REVISION, 7),
    (I915_PARAM_OA_TIMESTAMP_FREQUENCY, 12_000_000),
    (I915_PARAM_PXP_STATUS, -errno.ENODEV),
    (0, -errno.EINVAL),
    (59, -errno.EINVAL),
    (1000, -errno.EINVAL),
    (-1, -errno.EINVAL),
]


@pytest.mark.parametrize("param, expected", EXPECTED, ids=lambda v: str(v))
def test_getparam_answers_like_a_gen9_llc_part(proc: softgem.Process, param: int,
                                               expected: int) -> None:
    fd = proc.open("/dev/dri/renderD128")
    assert getparam(proc, fd, param) == expected


def test_every_parameter_of_the_header_is_known() -> None:
    header = {v for k, v in vars(uapi).items() if k.startswith("I915_PARAM_")}
    assert header <= KNOWN_PARAMS
    assert {p for p, _ in EXPECTED if p > 0} >= header


def test_llc_follows_the_platform_table(monkeypatch: pytest.MonkeyPatch) -> None:
    m = softgem.Machine(memory=16 << 20,
                        platform=dataclasses.replace(P, has_llc=False, chipset_id=0x1234))
    proc = m.spawn()
    fd = proc.open("/dev/dri/card0")
    assert getparam(proc, fd, uapi.I915_PARAM_HAS_LLC) == 0
    assert getparam(proc, fd, uapi.I915_PARAM_CHIPSET_ID) == 0x1234
    m.shutdown()


@pytest.mark.parametrize("where", ["unmapped", "read-only", "kernel", "near TASK_SIZE"])
def test_the_value_pointer_must_be_writable(proc: softgem.Process, where: str) -> None:
    fd = proc.open("/dev/dri/card0")
    ptr = {"unmapped": 0x1000, "kernel": 0xFFFF_8000_0000_0000, "near TASK_SIZE": TASK_SIZE - 2,
           "read-only": anon(proc, prot=PROT_READ)}[where]
    assert getparam(proc, fd, uapi.I915_PARAM_CHIPSET_ID, ptr) == -errno.EFAULT


def test_an_unknown_parameter_is_einval_even_with_a_bad_pointer(proc: softgem.Process) -> None:
    fd = proc.open("/dev/dri/card0")
    assert getparam(proc, fd, 4242, 0x1000) == -errno.EINVAL


def test_the_value_is_written_as_a_32_bit_int(proc: softgem.Process) -> None:
    fd = proc.open("/dev/dri/card0")
    buf = anon(proc)
    proc.write(buf, b"\xff" * 8)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GETPARAM,
               uapi.drm_i915_getparam(uapi.I915_PARAM_HAS_LLC, buf))
    assert proc.read(buf, 8) == b"\x01\x00\x00\x00\xff\xff\xff\xff"


# -- QUERY -------------------------------------------------------------------------------------------
Item = uapi.drm_i915_query_item


def run_query(proc: softgem.Process, fd: int, *items: Item) -> list[Item]:
    """Issue one QUERY with ``items`` placed in user memory; the items as the kernel left them."""
    n = len(items)
    arr = anon(proc)
    proc.write(arr, b"".join(bytes(i) for i in items))
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_QUERY,
               uapi.drm_i915_query(num_items=n, items_ptr=arr))
    raw = proc.read(arr, n * ctypes.sizeof(Item))
    return [Item.from_buffer_copy(raw, i * ctypes.sizeof(Item)) for i in range(n)]


def test_query_reports_sizes_then_fills_answers(proc: softgem.Process) -> None:
    fd = proc.open("/dev/dri/renderD128")
    ids = (uapi.DRM_I915_QUERY_TOPOLOGY_INFO, uapi.DRM_I915_QUERY_ENGINE_INFO,
           uapi.DRM_I915_QUERY_MEMORY_REGIONS)
    sizes = [i.length for i in run_query(proc, fd, *(Item(query_id=q) for q in ids))]
    assert sizes == [32, 16 + 4 * 56, 16 + 88]
    bufs = [anon(proc) for _ in ids]
    done = run_query(proc, fd, *(Item(query_id=q, length=n, data_ptr=b)
                                 for q, n, b in zip(ids, sizes, bufs, strict=True)))
    assert [i.length for i in done] == sizes
    topo = uapi.drm_i915_query_topology_info.from_buffer_copy(proc.read(bufs[0], 16))
    assert (topo.max_slices, topo.max_subslices, topo.max_eus_per_subslice) == (3, 4, 8)
    masks = proc.read(bufs[0] + 16, 16)
    assert masks[0] == 0x1 and masks[1:4] == b"\x07\x00\x00"
    assert masks[4:] == b"\xff\xff\xff" + b"\x00" * 9
    engines = uapi.drm_i915_query_engine_info.from_buffer_copy(proc.read(bufs[1], 16))
    assert engines.num_engines == 4
    regions = proc.read(bufs[2], 104)
    info = uapi.drm_i915_memory_region_info.from_buffer_copy(regions, 16)
    assert regions[0] == 1 and info.region.memory_class == uapi.I915_MEMORY_CLASS_SYSTEM
    assert info.probed_size == 64 << 20


@pytest.mark.parametrize("item, expected_length", [
    (Item(query_id=99), -errno.EINVAL),
    (Item(query_id=uapi.DRM_I915_QUERY_TOPOLOGY_INFO, length=8, data_ptr=0x1000),
     -errno.EINVAL),                                          # too short
    (Item(query_id=uapi.DRM_I915_QUERY_TOPOLOGY_INFO, length=32, data_ptr=0x1000),
     -errno.EFAULT),                                          # header unreadable
    (Item(query_id=uapi.DRM_I915_QUERY_TOPOLOGY_INFO, flags=1), -errno.EINVAL),
    (Item(query_id=uapi.DRM_I915_QUERY_ENGINE_INFO, length=-5), -errno.EINVAL),
    (Item(query_id=uapi.DRM_I915_QUERY_PERF_CONFIG, flags=9), -errno.EINVAL),
    (Item(query_id=uapi.DRM_I915_QUERY_PERF_CONFIG, flags=1), -errno.ENODEV),
    (Item(query_id=uapi.DRM_I915_QUERY_HWCONFIG_BLOB), -errno.ENODEV),
    (Item(query_id=uapi.DRM_I915_QUERY_GEOMETRY_SUBSLICES), -errno.ENODEV),
], ids=str)
def test_a_failed_item_reports_its_errno_in_its_length(proc: softgem.Process, item: Item,
                                                       expected_length: int) -> None:
    fd = proc.open("/dev/dri/card0")
    assert run_query(proc, fd, item)[0].length == expected_length


def test_engine_info_needs_a_zeroed_header(proc: softgem.Process) -> None:
    fd = proc.open("/dev/dri/card0")
    buf = anon(proc)
    proc.write(buf, b"\x01")
    item = Item(query_id=uapi.DRM_I915_QUERY_ENGINE_INFO, length=240, data_ptr=buf)
    assert run_query(proc, fd, item)[0].length == -errno.EINVAL


@pytest.mark.parametrize("query, expected", [
    (uapi.drm_i915_query(flags=1), errno.EINVAL),
    (uapi.drm_i915_query(num_items=1, items_ptr=0x1000), errno.EFAULT),
])
def test_query_itself_fails_only_for_flags_and_unreadable_items(
        proc: softgem.Process, query: uapi.drm_i915_query, expected: int) -> None:
    fd = proc.open("/dev/dri/card0")
    with pytest.raises(OSError) as exc:
        proc.ioctl(fd, uapi.DRM_IOCTL_I915_QUERY, query)
    assert exc.value.errno == expected


def test_query_id_zero_fails_the_ioctl(proc: softgem.Process) -> None:
    fd = proc.open("/dev/dri/card0")
    with pytest.raises(OSError) as exc:
        run_query(proc, fd, Item(query_id=0))
    assert exc.value.errno == errno.EINVAL
