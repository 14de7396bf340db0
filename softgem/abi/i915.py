"""i915 uAPI (``include/uapi/drm/i915_drm.h``): every constant, struct and request, C names.

This module is a transcription of a header, so it is a table rather than code, and it is
longer than the ~400-line habit on purpose: splitting one header over several modules would
make "is everything in i915_drm.h here?" harder to answer, and ``tests/uapi/test_layout.py``
answers exactly that question by walking this module and the header side by side.

Checked against Debian's libdrm copy of the header (2.4.114).  Left out, because ctypes cannot
express them as a fixed layout or they are not values: the ``I915_DEFINE_CONTEXT_*`` macros
(they declare anonymous structs sized by an argument; build ``engines`` arrays at the call
site), the ``planeA_x``-style field aliases of the DRI1 sarea, and the include guard.  The
function-like macros that compute numbers are provided as functions.

Layout rules as in :mod:`softgem.uapi.drm`: pointers are ``c_uint64`` user addresses (e.g.
``drm_i915_getparam.value`` is the kernel's ``int __user *value``), ``int`` is ``c_int32``,
enums are ``c_int32``, flexible array members are zero-length ctypes arrays, and
``__attribute__((packed))`` is ``_pack_ = 1``.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_int64, c_uint8, c_uint16, c_uint32, c_uint64

from .drm import (
    DRM_COMMAND_BASE,
    DRM_IO,
    DRM_IOR,
    DRM_IOW,
    DRM_IOWR,
    UapiStruct,
    drm_drawable_t,
    drm_handle_t,
    drm_tex_region,
)
from .ioc import _IO

# --- uevents --------------------------------------------------------------------------------
I915_L3_PARITY_UEVENT = "L3_PARITY_ERROR"
I915_ERROR_UEVENT = "ERROR"
I915_RESET_UEVENT = "RESET"

# --- enum i915_mocs_table_index -------------------------------------------------------------
I915_MOCS_UNCACHED = 0
I915_MOCS_PTE = 1
I915_MOCS_CACHED = 2

# --- enum drm_i915_gem_engine_class ---------------------------------------------------------
I915_ENGINE_CLASS_RENDER = 0
I915_ENGINE_CLASS_COPY = 1
I915_ENGINE_CLASS_VIDEO = 2
I915_ENGINE_CLASS_VIDEO_ENHANCE = 3
I915_ENGINE_CLASS_COMPUTE = 4
I915_ENGINE_CLASS_INVALID = -1
I915_ENGINE_CLASS_INVALID_NONE = -1
I915_ENGINE_CLASS_INVALID_VIRTUAL = -2

# --- PMU event encoding (enum drm_i915_pmu_engine_sample and friends) -----------------------
I915_SAMPLE_BUSY = 0
I915_SAMPLE_WAIT = 1
I915_SAMPLE_SEMA = 2
I915_PMU_SAMPLE_BITS = 4
I915_PMU_SAMPLE_MASK = 0xF
I915_PMU_SAMPLE_INSTANCE_BITS = 8
I915_PMU_CLASS_SHIFT = I915_PMU_SAMPLE_BITS + I915_PMU_SAMPLE_INSTANCE_BITS


def __I915_PMU_ENGINE(class_: int, instance: int, sample: int) -> int:
    return class_ << I915_PMU_CLASS_SHIFT | instance << I915_PMU_SAMPLE_BITS | sample


def I915_PMU_ENGINE_BUSY(class_: int, instance: int) -> int:
    return __I915_PMU_ENGINE(class_, instance, I915_SAMPLE_BUSY)


def I915_PMU_ENGINE_WAIT(class_: int, instance: int) -> int:
    return __I915_PMU_ENGINE(class_, instance, I915_SAMPLE_WAIT)


def I915_PMU_ENGINE_SEMA(class_: int, instance: int) -> int:
    return __I915_PMU_ENGINE(class_, instance, I915_SAMPLE_SEMA)


def __I915_PMU_OTHER(x: int) -> int:
    return __I915_PMU_ENGINE(0xFF, 0xFF, 0xF) + 1 + x


I915_PMU_ACTUAL_FREQUENCY = __I915_PMU_OTHER(0)
I915_PMU_REQUESTED_FREQUENCY = __I915_PMU_OTHER(1)
I915_PMU_INTERRUPTS = __I915_PMU_OTHER(2)
I915_PMU_RC6_RESIDENCY = __I915_PMU_OTHER(3)
I915_PMU_SOFTWARE_GT_AWAKE_TIME = __I915_PMU_OTHER(4)
I915_PMU_LAST = I915_PMU_RC6_RESIDENCY

# --- DRI1 legacy ----------------------------------------------------------------------------
I915_NR_TEX_REGIONS = 255
I915_LOG_MIN_TEX_REGION_SIZE = 14
I915_INIT_DMA = 0x01
I915_CLEANUP_DMA = 0x02
I915_RESUME_DMA = 0x03
I915_BOX_RING_EMPTY = 0x1
I915_BOX_FLIP = 0x2
I915_BOX_WAIT = 0x4
I915_BOX_TEXTURE_LOAD = 0x8
I915_BOX_LOST_CONTEXT = 0x10
I915_SETPARAM_USE_MI_BATCHBUFFER_START = 1
I915_SETPARAM_TEX_LRU_LOG_GRANULARITY = 2
I915_SETPARAM_ALLOW_BATCHBUFFER = 3
I915_SETPARAM_NUM_USED_FENCES = 4
I915_MEM_REGION_AGP = 1
DRM_I915_VBLANK_PIPE_A = 1
DRM_I915_VBLANK_PIPE_B = 2

# --- command indices (added to DRM_COMMAND_BASE) --------------------------------------------
DRM_I915_INIT = 0x00
DRM_I915_FLUSH = 0x01
DRM_I915_FLIP = 0x02
DRM_I915_BATCHBUFFER = 0x03
DRM_I915_IRQ_EMIT = 0x04
DRM_I915_IRQ_WAIT = 0x05
DRM_I915_GETPARAM = 0x06
DRM_I915_SETPARAM = 0x07
DRM_I915_ALLOC = 0x08
DRM_I915_FREE = 0x09
DRM_I915_INIT_HEAP = 0x0A
DRM_I915_CMDBUFFER = 0x0B
DRM_I915_DESTROY_HEAP = 0x0C
DRM_I915_SET_VBLANK_PIPE = 0x0D
DRM_I915_GET_VBLANK_PIPE = 0x0E
DRM_I915_VBLANK_SWAP = 0x0F
DRM_I915_HWS_ADDR = 0x11
DRM_I915_GEM_INIT = 0x13
DRM_I915_GEM_EXECBUFFER = 0x14
DRM_I915_GEM_PIN = 0x15
DRM_I915_GEM_UNPIN = 0x16
DRM_I915_GEM_BUSY = 0x17
DRM_I915_GEM_THROTTLE = 0x18
DRM_I915_GEM_ENTERVT = 0x19
DRM_I915_GEM_LEAVEVT = 0x1A
DRM_I915_GEM_CREATE = 0x1B
DRM_I915_GEM_PREAD = 0x1C
DRM_I915_GEM_PWRITE = 0x1D
DRM_I915_GEM_MMAP = 0x1E
DRM_I915_GEM_SET_DOMAIN = 0x1F
DRM_I915_GEM_SW_FINISH = 0x20
DRM_I915_GEM_SET_TILING = 0x21
DRM_I915_GEM_GET_TILING = 0x22
DRM_I915_GEM_GET_APERTURE = 0x23
DRM_I915_GEM_MMAP_GTT = 0x24  # also GEM_MMAP_OFFSET: same command, longer struct
DRM_I915_GET_PIPE_FROM_CRTC_ID = 0x25
DRM_I915_GEM_MADVISE = 0x26
DRM_I915_OVERLAY_PUT_IMAGE = 0x27
DRM_I915_OVERLAY_ATTRS = 0x28
DRM_I915_GEM_EXECBUFFER2 = 0x29
DRM_I915_GEM_EXECBUFFER2_WR = DRM_I915_GEM_EXECBUFFER2
DRM_I915_GET_SPRITE_COLORKEY = 0x2A
DRM_I915_SET_SPRITE_COLORKEY = 0x2B
DRM_I915_GEM_WAIT = 0x2C
DRM_I915_GEM_CONTEXT_CREATE = 0x2D
DRM_I915_GEM_CONTEXT_DESTROY = 0x2E
DRM_I915_GEM_SET_CACHING = 0x2F
DRM_I915_GEM_GET_CACHING = 0x30
DRM_I915_REG_READ = 0x31
DRM_I915_GET_RESET_STATS = 0x32
DRM_I915_GEM_USERPTR = 0x33
DRM_I915_GEM_CONTEXT_GETPARAM = 0x34
DRM_I915_GEM_CONTEXT_SETPARAM = 0x35
DRM_I915_PERF_OPEN = 0x36
DRM_I915_PERF_ADD_CONFIG = 0x37
DRM_I915_PERF_REMOVE_CONFIG = 0x38
DRM_I915_QUERY = 0x39
DRM_I915_GEM_VM_CREATE = 0x3A
DRM_I915_GEM_VM_DESTROY = 0x3B
DRM_I915_GEM_CREATE_EXT = 0x3C

# --- GETPARAM -------------------------------------------------------------------------------
I915_GEM_PPGTT_NONE = 0
I915_GEM_PPGTT_ALIASING = 1
I915_GEM_PPGTT_FULL = 2
I915_PARAM_IRQ_ACTIVE = 1
I915_PARAM_ALLOW_BATCHBUFFER = 2
I915_PARAM_LAST_DISPATCH = 3
I915_PARAM_CHIPSET_ID = 4
I915_PARAM_HAS_GEM = 5
I915_PARAM_NUM_FENCES_AVAIL = 6
I915_PARAM_HAS_OVERLAY = 7
I915_PARAM_HAS_PAGEFLIPPING = 8
I915_PARAM_HAS_EXECBUF2 = 9
I915_PARAM_HAS_BSD = 10
I915_PARAM_HAS_BLT = 11
I915_PARAM_HAS_RELAXED_FENCING = 12
I915_PARAM_HAS_COHERENT_RINGS = 13
I915_PARAM_HAS_EXEC_CONSTANTS = 14
I915_PARAM_HAS_RELAXED_DELTA = 15
I915_PARAM_HAS_GEN7_SOL_RESET = 16
I915_PARAM_HAS_LLC = 17
I915_PARAM_HAS_ALIASING_PPGTT = 18
I915_PARAM_HAS_WAIT_TIMEOUT = 19
I915_PARAM_HAS_SEMAPHORES = 20
I915_PARAM_HAS_PRIME_VMAP_FLUSH = 21
I915_PARAM_HAS_VEBOX = 22
I915_PARAM_HAS_SECURE_BATCHES = 23
I915_PARAM_HAS_PINNED_BATCHES = 24
I915_PARAM_HAS_EXEC_NO_RELOC = 25
I915_PARAM_HAS_EXEC_HANDLE_LUT = 26
I915_PARAM_HAS_WT = 27
I915_PARAM_CMD_PARSER_VERSION = 28
I915_PARAM_HAS_COHERENT_PHYS_GTT = 29
I915_PARAM_MMAP_VERSION = 30
I915_PARAM_HAS_BSD2 = 31
I915_PARAM_REVISION = 32
I915_PARAM_SUBSLICE_TOTAL = 33
I915_PARAM_EU_TOTAL = 34
I915_PARAM_HAS_GPU_RESET = 35
I915_PARAM_HAS_RESOURCE_STREAMER = 36
I915_PARAM_HAS_EXEC_SOFTPIN = 37
I915_PARAM_HAS_POOLED_EU = 38
I915_PARAM_MIN_EU_IN_POOL = 39
I915_PARAM_MMAP_GTT_VERSION = 40
I915_PARAM_HAS_SCHEDULER = 41
I915_SCHEDULER_CAP_ENABLED = 1 << 0
I915_SCHEDULER_CAP_PRIORITY = 1 << 1
I915_SCHEDULER_CAP_PREEMPTION = 1 << 2
I915_SCHEDULER_CAP_SEMAPHORES = 1 << 3
I915_SCHEDULER_CAP_ENGINE_BUSY_STATS = 1 << 4
I915_SCHEDULER_CAP_STATIC_PRIORITY_MAP = 1 << 5
I915_PARAM_HUC_STATUS = 42
I915_PARAM_HAS_EXEC_ASYNC = 43
I915_PARAM_HAS_EXEC_FENCE = 44
I915_PARAM_HAS_EXEC_CAPTURE = 45
I915_PARAM_SLICE_MASK = 46
I915_PARAM_SUBSLICE_MASK = 47
I915_PARAM_HAS_EXEC_BATCH_FIRST = 48
I915_PARAM_HAS_EXEC_FENCE_ARRAY = 49
I915_PARAM_HAS_CONTEXT_ISOLATION = 50
I915_PARAM_CS_TIMESTAMP_FREQUENCY = 51
I915_PARAM_MMAP_GTT_COHERENT = 52
I915_PARAM_HAS_EXEC_SUBMIT_FENCE = 53
I915_PARAM_PERF_REVISION = 54
I915_PARAM_HAS_EXEC_TIMELINE_FENCES = 55
I915_PARAM_HAS_USERPTR_PROBE = 56

# --- mmap, mmap_offset, domains, caching, tiling, madvise -----------------------------------
I915_MMAP_WC = 0x1
I915_MMAP_OFFSET_GTT = 0
I915_MMAP_OFFSET_WC = 1
I915_MMAP_OFFSET_WB = 2
I915_MMAP_OFFSET_UC = 3
I915_MMAP_OFFSET_FIXED = 4
I915_GEM_DOMAIN_CPU = 0x00000001
I915_GEM_DOMAIN_RENDER = 0x00000002
I915_GEM_DOMAIN_SAMPLER = 0x00000004
I915_GEM_DOMAIN_COMMAND = 0x00000008
I915_GEM_DOMAIN_INSTRUCTION = 0x00000010
I915_GEM_DOMAIN_VERTEX = 0x00000020
I915_GEM_DOMAIN_GTT = 0x00000040
I915_GEM_DOMAIN_WC = 0x00000080
I915_CACHING_NONE = 0
I915_CACHING_CACHED = 1
I915_CACHING_DISPLAY = 2
I915_TILING_NONE = 0
I915_TILING_X = 1
I915_TILING_Y = 2
I915_TILING_LAST = I915_TILING_Y
I915_BIT_6_SWIZZLE_NONE = 0
I915_BIT_6_SWIZZLE_9 = 1
I915_BIT_6_SWIZZLE_9_10 = 2
I915_BIT_6_SWIZZLE_9_11 = 3
I915_BIT_6_SWIZZLE_9_10_11 = 4
I915_BIT_6_SWIZZLE_UNKNOWN = 5
I915_BIT_6_SWIZZLE_9_17 = 6
I915_BIT_6_SWIZZLE_9_10_17 = 7
I915_MADV_WILLNEED = 0
I915_MADV_DONTNEED = 1
__I915_MADV_PURGED = 2  # kernel-internal: backing store dropped; ``retained`` reports != this

# --- execbuf: objects, fences, flags --------------------------------------------------------
# The __*_UNKNOWN_FLAGS masks are negative C ints: every bit above the last known flag.
# ``flags & MASK`` gives the same answer in Python as the kernel's sign-extended u64 test.
EXEC_OBJECT_NEEDS_FENCE = 1 << 0
EXEC_OBJECT_NEEDS_GTT = 1 << 1
EXEC_OBJECT_WRITE = 1 << 2
EXEC_OBJECT_SUPPORTS_48B_ADDRESS = 1 << 3
EXEC_OBJECT_PINNED = 1 << 4
EXEC_OBJECT_PAD_TO_SIZE = 1 << 5
EXEC_OBJECT_ASYNC = 1 << 6
EXEC_OBJECT_CAPTURE = 1 << 7
__EXEC_OBJECT_UNKNOWN_FLAGS = -(EXEC_OBJECT_CAPTURE << 1)
I915_EXEC_FENCE_WAIT = 1 << 0
I915_EXEC_FENCE_SIGNAL = 1 << 1
__I915_EXEC_FENCE_UNKNOWN_FLAGS = -(I915_EXEC_FENCE_SIGNAL << 1)
DRM_I915_GEM_EXECBUFFER_EXT_TIMELINE_FENCES = 0
I915_EXEC_RING_MASK = 0x3F
I915_EXEC_DEFAULT = 0 << 0
I915_EXEC_RENDER = 1 << 0
I915_EXEC_BSD = 2 << 0
I915_EXEC_BLT = 3 << 0
I915_EXEC_VEBOX = 4 << 0
I915_EXEC_CONSTANTS_MASK = 3 << 6
I915_EXEC_CONSTANTS_REL_GENERAL = 0 << 6
I915_EXEC_CONSTANTS_ABSOLUTE = 1 << 6
I915_EXEC_CONSTANTS_REL_SURFACE = 2 << 6
I915_EXEC_GEN7_SOL_RESET = 1 << 8
I915_EXEC_SECURE = 1 << 9
I915_EXEC_IS_PINNED = 1 << 10
I915_EXEC_NO_RELOC = 1 << 11
I915_EXEC_HANDLE_LUT = 1 << 12
I915_EXEC_BSD_SHIFT = 13
I915_EXEC_BSD_MASK = 3 << I915_EXEC_BSD_SHIFT
I915_EXEC_BSD_DEFAULT = 0 << I915_EXEC_BSD_SHIFT
I915_EXEC_BSD_RING1 = 1 << I915_EXEC_BSD_SHIFT
I915_EXEC_BSD_RING2 = 2 << I915_EXEC_BSD_SHIFT
I915_EXEC_RESOURCE_STREAMER = 1 << 15
I915_EXEC_FENCE_IN = 1 << 16
I915_EXEC_FENCE_OUT = 1 << 17
I915_EXEC_BATCH_FIRST = 1 << 18
I915_EXEC_FENCE_ARRAY = 1 << 19
I915_EXEC_FENCE_SUBMIT = 1 << 20
I915_EXEC_USE_EXTENSIONS = 1 << 21
__I915_EXEC_UNKNOWN_FLAGS = -(I915_EXEC_USE_EXTENSIONS << 1)
I915_EXEC_CONTEXT_ID_MASK = 0xFFFFFFFF

# --- overlay and sprite colorkey (display, legacy) ------------------------------------------
I915_OVERLAY_TYPE_MASK = 0xFF
I915_OVERLAY_YUV_PLANAR = 0x01
I915_OVERLAY_YUV_PACKED = 0x02
I915_OVERLAY_RGB = 0x03
I915_OVERLAY_DEPTH_MASK = 0xFF00
I915_OVERLAY_RGB24 = 0x1000
I915_OVERLAY_RGB16 = 0x2000
I915_OVERLAY_RGB15 = 0x3000
I915_OVERLAY_YUV422 = 0x0100
I915_OVERLAY_YUV411 = 0x0200
I915_OVERLAY_YUV420 = 0x0300
I915_OVERLAY_YUV410 = 0x0400
I915_OVERLAY_SWAP_MASK = 0xFF0000
I915_OVERLAY_NO_SWAP = 0x000000
I915_OVERLAY_UV_SWAP = 0x010000
I915_OVERLAY_Y_SWAP = 0x020000
I915_OVERLAY_Y_AND_UV_SWAP = 0x030000
I915_OVERLAY_FLAGS_MASK = 0xFF000000
I915_OVERLAY_ENABLE = 0x01000000
I915_OVERLAY_UPDATE_ATTRS = 1 << 0
I915_OVERLAY_UPDATE_GAMMA = 1 << 1
I915_OVERLAY_DISABLE_DEST_COLORKEY = 1 << 2
I915_SET_COLORKEY_NONE = 1 << 0
I915_SET_COLORKEY_DESTINATION = 1 << 1
I915_SET_COLORKEY_SOURCE = 1 << 2

# --- contexts -------------------------------------------------------------------------------
I915_CONTEXT_CREATE_FLAGS_USE_EXTENSIONS = 1 << 0
I915_CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE = 1 << 1
# C computes this in unsigned int: -(2u << 1) wraps to 0xfffffffc (not a negative number).
I915_CONTEXT_CREATE_FLAGS_UNKNOWN = -(I915_CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE << 1) & 0xFFFFFFFF
I915_CONTEXT_CREATE_EXT_SETPARAM = 0
I915_CONTEXT_CREATE_EXT_CLONE = 1
I915_CONTEXT_PARAM_BAN_PERIOD = 0x1
I915_CONTEXT_PARAM_NO_ZEROMAP = 0x2
I915_CONTEXT_PARAM_GTT_SIZE = 0x3
I915_CONTEXT_PARAM_NO_ERROR_CAPTURE = 0x4
I915_CONTEXT_PARAM_BANNABLE = 0x5
I915_CONTEXT_PARAM_PRIORITY = 0x6
I915_CONTEXT_MAX_USER_PRIORITY = 1023
I915_CONTEXT_DEFAULT_PRIORITY = 0
I915_CONTEXT_MIN_USER_PRIORITY = -1023
I915_CONTEXT_PARAM_SSEU = 0x7
I915_CONTEXT_PARAM_RECOVERABLE = 0x8
I915_CONTEXT_PARAM_VM = 0x9
I915_CONTEXT_PARAM_ENGINES = 0xA
I915_CONTEXT_PARAM_PERSISTENCE = 0xB
I915_CONTEXT_PARAM_RINGSIZE = 0xC
I915_CONTEXT_PARAM_PROTECTED_CONTENT = 0xD
I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX = 1 << 0
I915_CONTEXT_ENGINES_EXT_LOAD_BALANCE = 0
I915_CONTEXT_ENGINES_EXT_BOND = 1
I915_CONTEXT_ENGINES_EXT_PARALLEL_SUBMIT = 2

# --- reg read, userptr ----------------------------------------------------------------------
I915_REG_READ_8B_WA = 1 << 0
I915_USERPTR_READ_ONLY = 0x1
I915_USERPTR_PROBE = 0x2
I915_USERPTR_UNSYNCHRONIZED = 0x80000000

# --- perf (OA) ------------------------------------------------------------------------------
I915_OA_FORMAT_A13 = 1
I915_OA_FORMAT_A29 = 2
I915_OA_FORMAT_A13_B8_C8 = 3
I915_OA_FORMAT_B4_C8 = 4
I915_OA_FORMAT_A45_B8_C8 = 5
I915_OA_FORMAT_B4_C8_A16 = 6
I915_OA_FORMAT_C4_B8 = 7
I915_OA_FORMAT_A12 = 8
I915_OA_FORMAT_A12_B8_C8 = 9
I915_OA_FORMAT_A32u40_A4u32_B8_C8 = 10
I915_OA_FORMAT_MAX = 11
DRM_I915_PERF_PROP_CTX_HANDLE = 1
DRM_I915_PERF_PROP_SAMPLE_OA = 2
DRM_I915_PERF_PROP_OA_METRICS_SET = 3
DRM_I915_PERF_PROP_OA_FORMAT = 4
DRM_I915_PERF_PROP_OA_EXPONENT = 5
DRM_I915_PERF_PROP_HOLD_PREEMPTION = 6
DRM_I915_PERF_PROP_GLOBAL_SSEU = 7
DRM_I915_PERF_PROP_POLL_OA_PERIOD = 8
DRM_I915_PERF_PROP_MAX = 9
I915_PERF_FLAG_FD_CLOEXEC = 1 << 0
I915_PERF_FLAG_FD_NONBLOCK = 1 << 1
I915_PERF_FLAG_DISABLED = 1 << 2
I915_PERF_IOCTL_ENABLE = _IO(ord("i"), 0x0)
I915_PERF_IOCTL_DISABLE = _IO(ord("i"), 0x1)
I915_PERF_IOCTL_CONFIG = _IO(ord("i"), 0x2)
DRM_I915_PERF_RECORD_SAMPLE = 1
DRM_I915_PERF_RECORD_OA_REPORT_LOST = 2
DRM_I915_PERF_RECORD_OA_BUFFER_LOST = 3
DRM_I915_PERF_RECORD_MAX = 4

# --- query ----------------------------------------------------------------------------------
DRM_I915_QUERY_TOPOLOGY_INFO = 1
DRM_I915_QUERY_ENGINE_INFO = 2
DRM_I915_QUERY_PERF_CONFIG = 3
DRM_I915_QUERY_MEMORY_REGIONS = 4
DRM_I915_QUERY_HWCONFIG_BLOB = 5
DRM_I915_QUERY_GEOMETRY_SUBSLICES = 6
DRM_I915_QUERY_PERF_CONFIG_LIST = 1
DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_UUID = 2
DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_ID = 3
I915_ENGINE_INFO_HAS_LOGICAL_INSTANCE = 1 << 0
I915_VIDEO_CLASS_CAPABILITY_HEVC = 1 << 0
I915_VIDEO_AND_ENHANCE_CLASS_CAPABILITY_SFC = 1 << 1

# --- memory regions, create_ext -------------------------------------------------------------
I915_MEMORY_CLASS_SYSTEM = 0
I915_MEMORY_CLASS_DEVICE = 1
I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS = 1 << 0
I915_GEM_CREATE_EXT_MEMORY_REGIONS = 0
I915_GEM_CREATE_EXT_PROTECTED_CONTENT = 1
I915_PROTECTED_CONTENT_DEFAULT_SESSION = 0xF


# ============================================================================================
# structs
# ============================================================================================
def _ints(*names: str) -> list[tuple[str, type[c_int32]]]:
    return [(name, c_int32) for name in names]


def _uints(*names: str) -> list[tuple[str, type[c_uint32]]]:
    return [(name, c_uint32) for name in names]


def _u16s(*names: str) -> list[tuple[str, type[c_uint16]]]:
    return [(name, c_uint16) for name in names]


class i915_user_extension(UapiStruct):
    """Head of every extension chain link; ``next_extension`` is a user pointer (0 ends it)."""

    _fields_ = [("next_extension", c_uint64), ("name", c_uint32), ("flags", c_uint32),
                ("rsvd", c_uint32 * 4)]


class i915_engine_class_instance(UapiStruct):
    _fields_ = [("engine_class", c_uint16), ("engine_instance", c_uint16)]


# --- DRI1 legacy (never served by softgem, present so the table can say so by name) ---------
class _drm_i915_init(UapiStruct):
    _fields_ = [("func", c_int32), ("mmio_offset", c_uint32), ("sarea_priv_offset", c_int32),
                *_uints("ring_start", "ring_end", "ring_size", "front_offset", "back_offset",
                        "depth_offset", "w", "h", "pitch", "pitch_bits", "back_pitch",
                        "depth_pitch", "cpp", "chipset")]


class _drm_i915_sarea(UapiStruct):
    _fields_ = [
        ("texList", drm_tex_region * (I915_NR_TEX_REGIONS + 1)),
        *_ints("last_upload", "last_enqueue", "last_dispatch", "ctxOwner", "texAge",
               "pf_enabled", "pf_active", "pf_current_page", "perf_boxes", "width", "height"),
        ("front_handle", drm_handle_t), *_ints("front_offset", "front_size"),
        ("back_handle", drm_handle_t), *_ints("back_offset", "back_size"),
        ("depth_handle", drm_handle_t), *_ints("depth_offset", "depth_size"),
        ("tex_handle", drm_handle_t), *_ints("tex_offset", "tex_size"),
        *_ints("log_tex_granularity", "pitch", "rotation", "rotated_offset", "rotated_size",
               "rotated_pitch", "virtualX", "virtualY"),
        *_uints("front_tiled", "back_tiled", "depth_tiled", "rotated_tiled", "rotated2_tiled"),
        *_ints("pipeA_x", "pipeA_y", "pipeA_w", "pipeA_h",
               "pipeB_x", "pipeB_y", "pipeB_w", "pipeB_h"),
        ("unused_handle", drm_handle_t),
        *_uints("unused1", "unused2", "unused3", "front_bo_handle", "back_bo_handle",
                "unused_bo_handle", "depth_bo_handle"),
    ]


class drm_i915_batchbuffer(UapiStruct):
    _fields_ = [*_ints("start", "used", "DR1", "DR4", "num_cliprects"),
                ("cliprects", c_uint64)]  # struct drm_clip_rect __user *


class _drm_i915_cmdbuffer(UapiStruct):
    _fields_ = [("buf", c_uint64), *_ints("sz", "DR1", "DR4", "num_cliprects"),
                ("cliprects", c_uint64)]


class drm_i915_irq_emit(UapiStruct):
    _fields_ = [("irq_seq", c_uint64)]  # int __user *


class drm_i915_irq_wait(UapiStruct):
    _fields_ = [("irq_seq", c_int32)]


class drm_i915_setparam(UapiStruct):
    _fields_ = [("param", c_int32), ("value", c_int32)]


class drm_i915_mem_alloc(UapiStruct):
    _fields_ = [*_ints("region", "alignment", "size"), ("region_offset", c_uint64)]


class drm_i915_mem_free(UapiStruct):
    _fields_ = _ints("region", "region_offset")


class drm_i915_mem_init_heap(UapiStruct):
    _fields_ = _ints("region", "size", "start")


class drm_i915_mem_destroy_heap(UapiStruct):
    _fields_ = _ints("region")


class drm_i915_vblank_pipe(UapiStruct):
    _fields_ = _ints("pipe")


class drm_i915_vblank_swap(UapiStruct):
    _fields_ = [("drawable", drm_drawable_t), ("seqtype", c_int32), ("sequence", c_uint32)]


class drm_i915_hws_addr(UapiStruct):
    _fields_ = [("addr", c_uint64)]


class drm_i915_gem_init(UapiStruct):
    _fields_ = [("gtt_start", c_uint64), ("gtt_end", c_uint64)]


# --- GETPARAM and GEM objects ---------------------------------------------------------------
class drm_i915_getparam(UapiStruct):
    """``value`` is the kernel's ``int __user *value``: the user address the answer goes to."""

    _fields_ = [("param", c_int32), ("value", c_uint64)]


class drm_i915_gem_create(UapiStruct):
    _fields_ = [("size", c_uint64), ("handle", c_uint32), ("pad", c_uint32)]


class drm_i915_gem_pread(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("offset", c_uint64),
                ("size", c_uint64), ("data_ptr", c_uint64)]


class drm_i915_gem_pwrite(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("offset", c_uint64),
                ("size", c_uint64), ("data_ptr", c_uint64)]


class drm_i915_gem_mmap(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("offset", c_uint64),
                ("size", c_uint64), ("addr_ptr", c_uint64), ("flags", c_uint64)]


class drm_i915_gem_mmap_gtt(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("offset", c_uint64)]


class drm_i915_gem_mmap_offset(UapiStruct):
    """A prefix-compatible extension of drm_i915_gem_mmap_gtt (flags 0 == GTT)."""

    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("offset", c_uint64),
                ("flags", c_uint64), ("extensions", c_uint64)]


class drm_i915_gem_set_domain(UapiStruct):
    _fields_ = [("handle", c_uint32), ("read_domains", c_uint32), ("write_domain", c_uint32)]


class drm_i915_gem_sw_finish(UapiStruct):
    _fields_ = [("handle", c_uint32)]


# --- execbuf --------------------------------------------------------------------------------
class drm_i915_gem_relocation_entry(UapiStruct):
    _fields_ = [("target_handle", c_uint32), ("delta", c_uint32), ("offset", c_uint64),
                ("presumed_offset", c_uint64), ("read_domains", c_uint32),
                ("write_domain", c_uint32)]


class drm_i915_gem_exec_object(UapiStruct):
    _fields_ = [("handle", c_uint32), ("relocation_count", c_uint32), ("relocs_ptr", c_uint64),
                ("alignment", c_uint64), ("offset", c_uint64)]


class drm_i915_gem_execbuffer(UapiStruct):
    _fields_ = [("buffers_ptr", c_uint64), ("buffer_count", c_uint32),
                ("batch_start_offset", c_uint32), ("batch_len", c_uint32), ("DR1", c_uint32),
                ("DR4", c_uint32), ("num_cliprects", c_uint32), ("cliprects_ptr", c_uint64)]


class _exec_object2_rsvd1(ctypes.Union):
    """C's anonymous ``union { __u64 rsvd1; __u64 pad_to_size; }``."""

    _fields_ = [("rsvd1", c_uint64), ("pad_to_size", c_uint64)]


class drm_i915_gem_exec_object2(UapiStruct):
    _anonymous_ = ("_rsvd1",)
    _fields_ = [("handle", c_uint32), ("relocation_count", c_uint32), ("relocs_ptr", c_uint64),
                ("alignment", c_uint64), ("offset", c_uint64), ("flags", c_uint64),
                ("_rsvd1", _exec_object2_rsvd1), ("rsvd2", c_uint64)]


class drm_i915_gem_exec_fence(UapiStruct):
    _fields_ = [("handle", c_uint32), ("flags", c_uint32)]


class drm_i915_gem_execbuffer_ext_timeline_fences(UapiStruct):
    _fields_ = [("base", i915_user_extension), ("fence_count", c_uint64),
                ("handles_ptr", c_uint64), ("values_ptr", c_uint64)]


class drm_i915_gem_execbuffer2(UapiStruct):
    """Reused fields: ``rsvd1`` is the context id (:func:`i915_execbuffer2_get_context_id`);
    ``rsvd2`` holds the in-fence fd (low 32 bits) and receives the out-fence fd (high 32 bits);
    ``cliprects_ptr`` points at the fence array (I915_EXEC_FENCE_ARRAY) or the extension
    chain (I915_EXEC_USE_EXTENSIONS)."""

    _fields_ = [("buffers_ptr", c_uint64), ("buffer_count", c_uint32),
                ("batch_start_offset", c_uint32), ("batch_len", c_uint32), ("DR1", c_uint32),
                ("DR4", c_uint32), ("num_cliprects", c_uint32), ("cliprects_ptr", c_uint64),
                ("flags", c_uint64), ("rsvd1", c_uint64), ("rsvd2", c_uint64)]


def i915_execbuffer2_set_context_id(eb2: drm_i915_gem_execbuffer2, context: int) -> None:
    eb2.rsvd1 = context & I915_EXEC_CONTEXT_ID_MASK


def i915_execbuffer2_get_context_id(eb2: drm_i915_gem_execbuffer2) -> int:
    return int(eb2.rsvd1) & I915_EXEC_CONTEXT_ID_MASK


class drm_i915_gem_pin(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32), ("alignment", c_uint64),
                ("offset", c_uint64)]


class drm_i915_gem_unpin(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32)]


class drm_i915_gem_busy(UapiStruct):
    _fields_ = [("handle", c_uint32), ("busy", c_uint32)]


class drm_i915_gem_caching(UapiStruct):
    _fields_ = [("handle", c_uint32), ("caching", c_uint32)]


class drm_i915_gem_set_tiling(UapiStruct):
    _fields_ = _uints("handle", "tiling_mode", "stride", "swizzle_mode")


class drm_i915_gem_get_tiling(UapiStruct):
    _fields_ = _uints("handle", "tiling_mode", "swizzle_mode", "phys_swizzle_mode")


class drm_i915_gem_get_aperture(UapiStruct):
    _fields_ = [("aper_size", c_uint64), ("aper_available_size", c_uint64)]


class drm_i915_get_pipe_from_crtc_id(UapiStruct):
    _fields_ = _uints("crtc_id", "pipe")


class drm_i915_gem_madvise(UapiStruct):
    _fields_ = _uints("handle", "madv", "retained")


class drm_intel_overlay_put_image(UapiStruct):
    _fields_ = [("flags", c_uint32), ("bo_handle", c_uint32), ("stride_Y", c_uint16),
                ("stride_UV", c_uint16), ("offset_Y", c_uint32), ("offset_U", c_uint32),
                ("offset_V", c_uint32), ("src_width", c_uint16), ("src_height", c_uint16),
                ("src_scan_width", c_uint16), ("src_scan_height", c_uint16),
                ("crtc_id", c_uint32), ("dst_x", c_uint16), ("dst_y", c_uint16),
                ("dst_width", c_uint16), ("dst_height", c_uint16)]


class drm_intel_overlay_attrs(UapiStruct):
    _fields_ = [("flags", c_uint32), ("color_key", c_uint32), ("brightness", c_int32),
                *_uints("contrast", "saturation", "gamma0", "gamma1", "gamma2", "gamma3",
                        "gamma4", "gamma5")]


class drm_intel_sprite_colorkey(UapiStruct):
    _fields_ = _uints("plane_id", "min_value", "channel_mask", "max_value", "flags")


class drm_i915_gem_wait(UapiStruct):
    _fields_ = [("bo_handle", c_uint32), ("flags", c_uint32), ("timeout_ns", c_int64)]


# --- contexts and VMs -----------------------------------------------------------------------
class drm_i915_gem_context_create(UapiStruct):
    _fields_ = [("ctx_id", c_uint32), ("pad", c_uint32)]


class drm_i915_gem_context_create_ext(UapiStruct):
    _fields_ = [("ctx_id", c_uint32), ("flags", c_uint32), ("extensions", c_uint64)]


class drm_i915_gem_context_param(UapiStruct):
    _fields_ = [("ctx_id", c_uint32), ("size", c_uint32), ("param", c_uint64),
                ("value", c_uint64)]


class drm_i915_gem_context_param_sseu(UapiStruct):
    _fields_ = [("engine", i915_engine_class_instance), ("flags", c_uint32),
                ("slice_mask", c_uint64), ("subslice_mask", c_uint64),
                ("min_eus_per_subslice", c_uint16), ("max_eus_per_subslice", c_uint16),
                ("rsvd", c_uint32)]


class i915_context_engines_load_balance(UapiStruct):
    _pack_ = 1
    _fields_ = [("base", i915_user_extension), ("engine_index", c_uint16),
                ("num_siblings", c_uint16), ("flags", c_uint32), ("mbz64", c_uint64),
                ("engines", i915_engine_class_instance * 0)]


class i915_context_engines_bond(UapiStruct):
    _pack_ = 1
    _fields_ = [("base", i915_user_extension), ("master", i915_engine_class_instance),
                ("virtual_index", c_uint16), ("num_bonds", c_uint16), ("flags", c_uint64),
                ("mbz64", c_uint64 * 4), ("engines", i915_engine_class_instance * 0)]


class i915_context_engines_parallel_submit(UapiStruct):
    _pack_ = 1
    _fields_ = [("base", i915_user_extension), ("engine_index", c_uint16), ("width", c_uint16),
                ("num_siblings", c_uint16), ("mbz16", c_uint16), ("flags", c_uint64),
                ("mbz64", c_uint64 * 3), ("engines", i915_engine_class_instance * 0)]


class i915_context_param_engines(UapiStruct):
    _pack_ = 1
    _fields_ = [("extensions", c_uint64), ("engines", i915_engine_class_instance * 0)]


class drm_i915_gem_context_create_ext_setparam(UapiStruct):
    _fields_ = [("base", i915_user_extension), ("param", drm_i915_gem_context_param)]


class drm_i915_gem_context_destroy(UapiStruct):
    _fields_ = [("ctx_id", c_uint32), ("pad", c_uint32)]


class drm_i915_gem_vm_control(UapiStruct):
    _fields_ = [("extensions", c_uint64), ("flags", c_uint32), ("vm_id", c_uint32)]


class drm_i915_reg_read(UapiStruct):
    _fields_ = [("offset", c_uint64), ("val", c_uint64)]


class drm_i915_reset_stats(UapiStruct):
    _fields_ = _uints("ctx_id", "flags", "reset_count", "batch_active", "batch_pending", "pad")


# --- userptr --------------------------------------------------------------------------------
class drm_i915_gem_userptr(UapiStruct):
    _fields_ = [("user_ptr", c_uint64), ("user_size", c_uint64), ("flags", c_uint32),
                ("handle", c_uint32)]


# --- perf -----------------------------------------------------------------------------------
class drm_i915_perf_open_param(UapiStruct):
    _fields_ = [("flags", c_uint32), ("num_properties", c_uint32), ("properties_ptr", c_uint64)]


class drm_i915_perf_record_header(UapiStruct):
    _fields_ = [("type", c_uint32), ("pad", c_uint16), ("size", c_uint16)]


class drm_i915_perf_oa_config(UapiStruct):
    _fields_ = [("uuid", c_char * 36), ("n_mux_regs", c_uint32), ("n_boolean_regs", c_uint32),
                ("n_flex_regs", c_uint32), ("mux_regs_ptr", c_uint64),
                ("boolean_regs_ptr", c_uint64), ("flex_regs_ptr", c_uint64)]


# --- query ----------------------------------------------------------------------------------
class drm_i915_query_item(UapiStruct):
    """``length`` is signed: the kernel writes a negative errno there for a failed item."""

    _fields_ = [("query_id", c_uint64), ("length", c_int32), ("flags", c_uint32),
                ("data_ptr", c_uint64)]


class drm_i915_query(UapiStruct):
    _fields_ = [("num_items", c_uint32), ("flags", c_uint32), ("items_ptr", c_uint64)]


class drm_i915_query_topology_info(UapiStruct):
    _fields_ = [*_u16s("flags", "max_slices", "max_subslices", "max_eus_per_subslice",
                       "subslice_offset", "subslice_stride", "eu_offset", "eu_stride"),
                ("data", c_uint8 * 0)]


class drm_i915_engine_info(UapiStruct):
    _fields_ = [("engine", i915_engine_class_instance), ("rsvd0", c_uint32),
                ("flags", c_uint64), ("capabilities", c_uint64),
                ("logical_instance", c_uint16), ("rsvd1", c_uint16 * 3),
                ("rsvd2", c_uint64 * 3)]


class drm_i915_query_engine_info(UapiStruct):
    _fields_ = [("num_engines", c_uint32), ("rsvd", c_uint32 * 3),
                ("engines", drm_i915_engine_info * 0)]


class _query_perf_config_head(ctypes.Union):
    """C's anonymous ``union { __u64 n_configs; __u64 config; char uuid[36]; }``."""

    _fields_ = [("n_configs", c_uint64), ("config", c_uint64), ("uuid", c_char * 36)]


class drm_i915_query_perf_config(UapiStruct):
    _anonymous_ = ("_head",)
    _fields_ = [("_head", _query_perf_config_head), ("flags", c_uint32), ("data", c_uint8 * 0)]


class drm_i915_gem_memory_class_instance(UapiStruct):
    _fields_ = [("memory_class", c_uint16), ("memory_instance", c_uint16)]


class _region_cpu_visible(ctypes.Structure):
    _fields_ = [("probed_cpu_visible_size", c_uint64),
                ("unallocated_cpu_visible_size", c_uint64)]


class _region_info_tail(ctypes.Union):
    """C's anonymous ``union { __u64 rsvd1[8]; struct { ...cpu_visible_size; }; }``."""

    _anonymous_ = ("_cpu_visible",)
    _fields_ = [("rsvd1", c_uint64 * 8), ("_cpu_visible", _region_cpu_visible)]


class drm_i915_memory_region_info(UapiStruct):
    _anonymous_ = ("_tail",)
    _fields_ = [("region", drm_i915_gem_memory_class_instance), ("rsvd0", c_uint32),
                ("probed_size", c_uint64), ("unallocated_size", c_uint64),
                ("_tail", _region_info_tail)]


class drm_i915_query_memory_regions(UapiStruct):
    _fields_ = [("num_regions", c_uint32), ("rsvd", c_uint32 * 3),
                ("regions", drm_i915_memory_region_info * 0)]


# --- create_ext -----------------------------------------------------------------------------
class drm_i915_gem_create_ext(UapiStruct):
    _fields_ = [("size", c_uint64), ("handle", c_uint32), ("flags", c_uint32),
                ("extensions", c_uint64)]


class drm_i915_gem_create_ext_memory_regions(UapiStruct):
    _fields_ = [("base", i915_user_extension), ("pad", c_uint32), ("num_regions", c_uint32),
                ("regions", c_uint64)]


class drm_i915_gem_create_ext_protected_content(UapiStruct):
    _fields_ = [("base", i915_user_extension), ("flags", c_uint32)]


# typedef names C code also uses
drm_i915_init_t = _drm_i915_init
drm_i915_sarea_t = _drm_i915_sarea
drm_i915_batchbuffer_t = drm_i915_batchbuffer
drm_i915_cmdbuffer_t = _drm_i915_cmdbuffer
drm_i915_irq_emit_t = drm_i915_irq_emit
drm_i915_irq_wait_t = drm_i915_irq_wait
drm_i915_getparam_t = drm_i915_getparam
drm_i915_setparam_t = drm_i915_setparam
drm_i915_mem_alloc_t = drm_i915_mem_alloc
drm_i915_mem_free_t = drm_i915_mem_free
drm_i915_mem_init_heap_t = drm_i915_mem_init_heap
drm_i915_mem_destroy_heap_t = drm_i915_mem_destroy_heap
drm_i915_vblank_pipe_t = drm_i915_vblank_pipe
drm_i915_vblank_swap_t = drm_i915_vblank_swap
drm_i915_hws_addr_t = drm_i915_hws_addr


# ============================================================================================
# requests
# ============================================================================================
#: The argument struct of every i915 request that takes one, filled in as each request is
#: defined below.  Not in it: the DRM_IO requests (FLUSH, FLIP, GEM_THROTTLE, GEM_ENTERVT,
#: GEM_LEAVEVT) and PERF_REMOVE_CONFIG, whose argument is a bare __u64.
I915_IOCTL_STRUCTS: dict[int, type[ctypes.Structure]] = {}


def _define(request: int, argtype: type[ctypes.Structure]) -> int:
    I915_IOCTL_STRUCTS[request] = argtype
    return request


def _ior(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOR(DRM_COMMAND_BASE + nr, argtype), argtype)


def _iow(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOW(DRM_COMMAND_BASE + nr, argtype), argtype)


def _iowr(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOWR(DRM_COMMAND_BASE + nr, argtype), argtype)


DRM_IOCTL_I915_INIT = _iow(DRM_I915_INIT, _drm_i915_init)
DRM_IOCTL_I915_FLUSH = DRM_IO(DRM_COMMAND_BASE + DRM_I915_FLUSH)
DRM_IOCTL_I915_FLIP = DRM_IO(DRM_COMMAND_BASE + DRM_I915_FLIP)
DRM_IOCTL_I915_BATCHBUFFER = _iow(DRM_I915_BATCHBUFFER, drm_i915_batchbuffer)
DRM_IOCTL_I915_IRQ_EMIT = _iowr(DRM_I915_IRQ_EMIT, drm_i915_irq_emit)
DRM_IOCTL_I915_IRQ_WAIT = _iow(DRM_I915_IRQ_WAIT, drm_i915_irq_wait)
DRM_IOCTL_I915_GETPARAM = _iowr(DRM_I915_GETPARAM, drm_i915_getparam)
DRM_IOCTL_I915_SETPARAM = _iow(DRM_I915_SETPARAM, drm_i915_setparam)
DRM_IOCTL_I915_ALLOC = _iowr(DRM_I915_ALLOC, drm_i915_mem_alloc)
DRM_IOCTL_I915_FREE = _iow(DRM_I915_FREE, drm_i915_mem_free)
DRM_IOCTL_I915_INIT_HEAP = _iow(DRM_I915_INIT_HEAP, drm_i915_mem_init_heap)
DRM_IOCTL_I915_CMDBUFFER = _iow(DRM_I915_CMDBUFFER, _drm_i915_cmdbuffer)
DRM_IOCTL_I915_DESTROY_HEAP = _iow(DRM_I915_DESTROY_HEAP, drm_i915_mem_destroy_heap)
DRM_IOCTL_I915_SET_VBLANK_PIPE = _iow(DRM_I915_SET_VBLANK_PIPE, drm_i915_vblank_pipe)
DRM_IOCTL_I915_GET_VBLANK_PIPE = _ior(DRM_I915_GET_VBLANK_PIPE, drm_i915_vblank_pipe)
DRM_IOCTL_I915_VBLANK_SWAP = _iowr(DRM_I915_VBLANK_SWAP, drm_i915_vblank_swap)
# HWS_ADDR really is declared with struct drm_i915_gem_init in the header.
DRM_IOCTL_I915_HWS_ADDR = _iow(DRM_I915_HWS_ADDR, drm_i915_gem_init)
DRM_IOCTL_I915_GEM_INIT = _iow(DRM_I915_GEM_INIT, drm_i915_gem_init)
DRM_IOCTL_I915_GEM_EXECBUFFER = _iow(DRM_I915_GEM_EXECBUFFER, drm_i915_gem_execbuffer)
DRM_IOCTL_I915_GEM_EXECBUFFER2 = _iow(DRM_I915_GEM_EXECBUFFER2, drm_i915_gem_execbuffer2)
DRM_IOCTL_I915_GEM_EXECBUFFER2_WR = _iowr(DRM_I915_GEM_EXECBUFFER2_WR, drm_i915_gem_execbuffer2)
DRM_IOCTL_I915_GEM_PIN = _iowr(DRM_I915_GEM_PIN, drm_i915_gem_pin)
DRM_IOCTL_I915_GEM_UNPIN = _iow(DRM_I915_GEM_UNPIN, drm_i915_gem_unpin)
DRM_IOCTL_I915_GEM_BUSY = _iowr(DRM_I915_GEM_BUSY, drm_i915_gem_busy)
DRM_IOCTL_I915_GEM_SET_CACHING = _iow(DRM_I915_GEM_SET_CACHING, drm_i915_gem_caching)
DRM_IOCTL_I915_GEM_GET_CACHING = _iowr(DRM_I915_GEM_GET_CACHING, drm_i915_gem_caching)
DRM_IOCTL_I915_GEM_THROTTLE = DRM_IO(DRM_COMMAND_BASE + DRM_I915_GEM_THROTTLE)
DRM_IOCTL_I915_GEM_ENTERVT = DRM_IO(DRM_COMMAND_BASE + DRM_I915_GEM_ENTERVT)
DRM_IOCTL_I915_GEM_LEAVEVT = DRM_IO(DRM_COMMAND_BASE + DRM_I915_GEM_LEAVEVT)
DRM_IOCTL_I915_GEM_CREATE = _iowr(DRM_I915_GEM_CREATE, drm_i915_gem_create)
DRM_IOCTL_I915_GEM_CREATE_EXT = _iowr(DRM_I915_GEM_CREATE_EXT, drm_i915_gem_create_ext)
DRM_IOCTL_I915_GEM_PREAD = _iow(DRM_I915_GEM_PREAD, drm_i915_gem_pread)
DRM_IOCTL_I915_GEM_PWRITE = _iow(DRM_I915_GEM_PWRITE, drm_i915_gem_pwrite)
DRM_IOCTL_I915_GEM_MMAP = _iowr(DRM_I915_GEM_MMAP, drm_i915_gem_mmap)
DRM_IOCTL_I915_GEM_MMAP_GTT = _iowr(DRM_I915_GEM_MMAP_GTT, drm_i915_gem_mmap_gtt)
# Same command index as MMAP_GTT; only the size field of the request number differs.
DRM_IOCTL_I915_GEM_MMAP_OFFSET = _iowr(DRM_I915_GEM_MMAP_GTT, drm_i915_gem_mmap_offset)
DRM_IOCTL_I915_GEM_SET_DOMAIN = _iow(DRM_I915_GEM_SET_DOMAIN, drm_i915_gem_set_domain)
DRM_IOCTL_I915_GEM_SW_FINISH = _iow(DRM_I915_GEM_SW_FINISH, drm_i915_gem_sw_finish)
DRM_IOCTL_I915_GEM_SET_TILING = _iowr(DRM_I915_GEM_SET_TILING, drm_i915_gem_set_tiling)
DRM_IOCTL_I915_GEM_GET_TILING = _iowr(DRM_I915_GEM_GET_TILING, drm_i915_gem_get_tiling)
DRM_IOCTL_I915_GEM_GET_APERTURE = _ior(DRM_I915_GEM_GET_APERTURE, drm_i915_gem_get_aperture)
DRM_IOCTL_I915_GET_PIPE_FROM_CRTC_ID = _iowr(DRM_I915_GET_PIPE_FROM_CRTC_ID,
                                             drm_i915_get_pipe_from_crtc_id)
DRM_IOCTL_I915_GEM_MADVISE = _iowr(DRM_I915_GEM_MADVISE, drm_i915_gem_madvise)
DRM_IOCTL_I915_OVERLAY_PUT_IMAGE = _iow(DRM_I915_OVERLAY_PUT_IMAGE, drm_intel_overlay_put_image)
DRM_IOCTL_I915_OVERLAY_ATTRS = _iowr(DRM_I915_OVERLAY_ATTRS, drm_intel_overlay_attrs)
DRM_IOCTL_I915_SET_SPRITE_COLORKEY = _iowr(DRM_I915_SET_SPRITE_COLORKEY, drm_intel_sprite_colorkey)
DRM_IOCTL_I915_GET_SPRITE_COLORKEY = _iowr(DRM_I915_GET_SPRITE_COLORKEY, drm_intel_sprite_colorkey)
DRM_IOCTL_I915_GEM_WAIT = _iowr(DRM_I915_GEM_WAIT, drm_i915_gem_wait)
DRM_IOCTL_I915_GEM_CONTEXT_CREATE = _iowr(DRM_I915_GEM_CONTEXT_CREATE, drm_i915_gem_context_create)
# Same command index as CONTEXT_CREATE, longer struct.
DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT = _iowr(DRM_I915_GEM_CONTEXT_CREATE,
                                              drm_i915_gem_context_create_ext)
DRM_IOCTL_I915_GEM_CONTEXT_DESTROY = _iow(DRM_I915_GEM_CONTEXT_DESTROY,
                                          drm_i915_gem_context_destroy)
DRM_IOCTL_I915_REG_READ = _iowr(DRM_I915_REG_READ, drm_i915_reg_read)
DRM_IOCTL_I915_GET_RESET_STATS = _iowr(DRM_I915_GET_RESET_STATS, drm_i915_reset_stats)
DRM_IOCTL_I915_GEM_USERPTR = _iowr(DRM_I915_GEM_USERPTR, drm_i915_gem_userptr)
DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM = _iowr(DRM_I915_GEM_CONTEXT_GETPARAM,
                                            drm_i915_gem_context_param)
DRM_IOCTL_I915_GEM_CONTEXT_SETPARAM = _iowr(DRM_I915_GEM_CONTEXT_SETPARAM,
                                            drm_i915_gem_context_param)
DRM_IOCTL_I915_PERF_OPEN = _iow(DRM_I915_PERF_OPEN, drm_i915_perf_open_param)
DRM_IOCTL_I915_PERF_ADD_CONFIG = _iow(DRM_I915_PERF_ADD_CONFIG, drm_i915_perf_oa_config)
# The argument is a bare __u64 (the config id), not a struct.
DRM_IOCTL_I915_PERF_REMOVE_CONFIG = DRM_IOW(DRM_COMMAND_BASE + DRM_I915_PERF_REMOVE_CONFIG,
                                            c_uint64)
DRM_IOCTL_I915_QUERY = _iowr(DRM_I915_QUERY, drm_i915_query)
DRM_IOCTL_I915_GEM_VM_CREATE = _iowr(DRM_I915_GEM_VM_CREATE, drm_i915_gem_vm_control)
DRM_IOCTL_I915_GEM_VM_DESTROY = _iow(DRM_I915_GEM_VM_DESTROY, drm_i915_gem_vm_control)



# Every C name above, plus UapiStruct (tests/uapi/test_uapi_exports.py checks it is complete).
__all__ = [
    "I915_L3_PARITY_UEVENT", "I915_ERROR_UEVENT", "I915_RESET_UEVENT", "I915_MOCS_UNCACHED",
    "I915_MOCS_PTE", "I915_MOCS_CACHED", "I915_ENGINE_CLASS_RENDER", "I915_ENGINE_CLASS_COPY",
    "I915_ENGINE_CLASS_VIDEO", "I915_ENGINE_CLASS_VIDEO_ENHANCE", "I915_ENGINE_CLASS_COMPUTE",
    "I915_ENGINE_CLASS_INVALID", "I915_ENGINE_CLASS_INVALID_NONE",
    "I915_ENGINE_CLASS_INVALID_VIRTUAL", "I915_SAMPLE_BUSY", "I915_SAMPLE_WAIT",
    "I915_SAMPLE_SEMA", "I915_PMU_SAMPLE_BITS", "I915_PMU_SAMPLE_MASK",
    "I915_PMU_SAMPLE_INSTANCE_BITS", "I915_PMU_CLASS_SHIFT", "__I915_PMU_ENGINE",
    "I915_PMU_ENGINE_BUSY", "I915_PMU_ENGINE_WAIT", "I915_PMU_ENGINE_SEMA", "__I915_PMU_OTHER",
    "I915_PMU_ACTUAL_FREQUENCY", "I915_PMU_REQUESTED_FREQUENCY", "I915_PMU_INTERRUPTS",
    "I915_PMU_RC6_RESIDENCY", "I915_PMU_SOFTWARE_GT_AWAKE_TIME", "I915_PMU_LAST",
    "I915_NR_TEX_REGIONS", "I915_LOG_MIN_TEX_REGION_SIZE", "I915_INIT_DMA", "I915_CLEANUP_DMA",
    "I915_RESUME_DMA", "I915_BOX_RING_EMPTY", "I915_BOX_FLIP", "I915_BOX_WAIT",
    "I915_BOX_TEXTURE_LOAD", "I915_BOX_LOST_CONTEXT", "I915_SETPARAM_USE_MI_BATCHBUFFER_START",
    "I915_SETPARAM_TEX_LRU_LOG_GRANULARITY", "I915_SETPARAM_ALLOW_BATCHBUFFER",
    "I915_SETPARAM_NUM_USED_FENCES", "I915_MEM_REGION_AGP", "DRM_I915_VBLANK_PIPE_A",
    "DRM_I915_VBLANK_PIPE_B", "DRM_I915_INIT", "DRM_I915_FLUSH", "DRM_I915_FLIP",
    "DRM_I915_BATCHBUFFER", "DRM_I915_IRQ_EMIT", "DRM_I915_IRQ_WAIT", "DRM_I915_GETPARAM",
    "DRM_I915_SETPARAM", "DRM_I915_ALLOC", "DRM_I915_FREE", "DRM_I915_INIT_HEAP",
    "DRM_I915_CMDBUFFER", "DRM_I915_DESTROY_HEAP", "DRM_I915_SET_VBLANK_PIPE",
    "DRM_I915_GET_VBLANK_PIPE", "DRM_I915_VBLANK_SWAP", "DRM_I915_HWS_ADDR", "DRM_I915_GEM_INIT",
    "DRM_I915_GEM_EXECBUFFER", "DRM_I915_GEM_PIN", "DRM_I915_GEM_UNPIN", "DRM_I915_GEM_BUSY",
    "DRM_I915_GEM_THROTTLE", "DRM_I915_GEM_ENTERVT", "DRM_I915_GEM_LEAVEVT", "DRM_I915_GEM_CREATE",
    "DRM_I915_GEM_PREAD", "DRM_I915_GEM_PWRITE", "DRM_I915_GEM_MMAP", "DRM_I915_GEM_SET_DOMAIN",
    "DRM_I915_GEM_SW_FINISH", "DRM_I915_GEM_SET_TILING", "DRM_I915_GEM_GET_TILING",
    "DRM_I915_GEM_GET_APERTURE", "DRM_I915_GEM_MMAP_GTT", "DRM_I915_GET_PIPE_FROM_CRTC_ID",
    "DRM_I915_GEM_MADVISE", "DRM_I915_OVERLAY_PUT_IMAGE", "DRM_I915_OVERLAY_ATTRS",
    "DRM_I915_GEM_EXECBUFFER2", "DRM_I915_GEM_EXECBUFFER2_WR", "DRM_I915_GET_SPRITE_COLORKEY",
    "DRM_I915_SET_SPRITE_COLORKEY", "DRM_I915_GEM_WAIT", "DRM_I915_GEM_CONTEXT_CREATE",
    "DRM_I915_GEM_CONTEXT_DESTROY", "DRM_I915_GEM_SET_CACHING", "DRM_I915_GEM_GET_CACHING",
    "DRM_I915_REG_READ", "DRM_I915_GET_RESET_STATS", "DRM_I915_GEM_USERPTR",
    "DRM_I915_GEM_CONTEXT_GETPARAM", "DRM_I915_GEM_CONTEXT_SETPARAM", "DRM_I915_PERF_OPEN",
    "DRM_I915_PERF_ADD_CONFIG", "DRM_I915_PERF_REMOVE_CONFIG", "DRM_I915_QUERY",
    "DRM_I915_GEM_VM_CREATE", "DRM_I915_GEM_VM_DESTROY", "DRM_I915_GEM_CREATE_EXT",
    "I915_GEM_PPGTT_NONE", "I915_GEM_PPGTT_ALIASING", "I915_GEM_PPGTT_FULL",
    "I915_PARAM_IRQ_ACTIVE", "I915_PARAM_ALLOW_BATCHBUFFER", "I915_PARAM_LAST_DISPATCH",
    "I915_PARAM_CHIPSET_ID", "I915_PARAM_HAS_GEM", "I915_PARAM_NUM_FENCES_AVAIL",
    "I915_PARAM_HAS_OVERLAY", "I915_PARAM_HAS_PAGEFLIPPING", "I915_PARAM_HAS_EXECBUF2",
    "I915_PARAM_HAS_BSD", "I915_PARAM_HAS_BLT", "I915_PARAM_HAS_RELAXED_FENCING",
    "I915_PARAM_HAS_COHERENT_RINGS", "I915_PARAM_HAS_EXEC_CONSTANTS",
    "I915_PARAM_HAS_RELAXED_DELTA", "I915_PARAM_HAS_GEN7_SOL_RESET", "I915_PARAM_HAS_LLC",
    "I915_PARAM_HAS_ALIASING_PPGTT", "I915_PARAM_HAS_WAIT_TIMEOUT", "I915_PARAM_HAS_SEMAPHORES",
    "I915_PARAM_HAS_PRIME_VMAP_FLUSH", "I915_PARAM_HAS_VEBOX", "I915_PARAM_HAS_SECURE_BATCHES",
    "I915_PARAM_HAS_PINNED_BATCHES", "I915_PARAM_HAS_EXEC_NO_RELOC",
    "I915_PARAM_HAS_EXEC_HANDLE_LUT", "I915_PARAM_HAS_WT", "I915_PARAM_CMD_PARSER_VERSION",
    "I915_PARAM_HAS_COHERENT_PHYS_GTT", "I915_PARAM_MMAP_VERSION", "I915_PARAM_HAS_BSD2",
    "I915_PARAM_REVISION", "I915_PARAM_SUBSLICE_TOTAL", "I915_PARAM_EU_TOTAL",
    "I915_PARAM_HAS_GPU_RESET", "I915_PARAM_HAS_RESOURCE_STREAMER", "I915_PARAM_HAS_EXEC_SOFTPIN",
    "I915_PARAM_HAS_POOLED_EU", "I915_PARAM_MIN_EU_IN_POOL", "I915_PARAM_MMAP_GTT_VERSION",
    "I915_PARAM_HAS_SCHEDULER", "I915_SCHEDULER_CAP_ENABLED", "I915_SCHEDULER_CAP_PRIORITY",
    "I915_SCHEDULER_CAP_PREEMPTION", "I915_SCHEDULER_CAP_SEMAPHORES",
    "I915_SCHEDULER_CAP_ENGINE_BUSY_STATS", "I915_SCHEDULER_CAP_STATIC_PRIORITY_MAP",
    "I915_PARAM_HUC_STATUS", "I915_PARAM_HAS_EXEC_ASYNC", "I915_PARAM_HAS_EXEC_FENCE",
    "I915_PARAM_HAS_EXEC_CAPTURE", "I915_PARAM_SLICE_MASK", "I915_PARAM_SUBSLICE_MASK",
    "I915_PARAM_HAS_EXEC_BATCH_FIRST", "I915_PARAM_HAS_EXEC_FENCE_ARRAY",
    "I915_PARAM_HAS_CONTEXT_ISOLATION", "I915_PARAM_CS_TIMESTAMP_FREQUENCY",
    "I915_PARAM_MMAP_GTT_COHERENT", "I915_PARAM_HAS_EXEC_SUBMIT_FENCE", "I915_PARAM_PERF_REVISION",
    "I915_PARAM_HAS_EXEC_TIMELINE_FENCES", "I915_PARAM_HAS_USERPTR_PROBE", "I915_MMAP_WC",
    "I915_MMAP_OFFSET_GTT", "I915_MMAP_OFFSET_WC", "I915_MMAP_OFFSET_WB", "I915_MMAP_OFFSET_UC",
    "I915_MMAP_OFFSET_FIXED", "I915_GEM_DOMAIN_CPU", "I915_GEM_DOMAIN_RENDER",
    "I915_GEM_DOMAIN_SAMPLER", "I915_GEM_DOMAIN_COMMAND", "I915_GEM_DOMAIN_INSTRUCTION",
    "I915_GEM_DOMAIN_VERTEX", "I915_GEM_DOMAIN_GTT", "I915_GEM_DOMAIN_WC", "I915_CACHING_NONE",
    "I915_CACHING_CACHED", "I915_CACHING_DISPLAY", "I915_TILING_NONE", "I915_TILING_X",
    "I915_TILING_Y", "I915_TILING_LAST", "I915_BIT_6_SWIZZLE_NONE", "I915_BIT_6_SWIZZLE_9",
    "I915_BIT_6_SWIZZLE_9_10", "I915_BIT_6_SWIZZLE_9_11", "I915_BIT_6_SWIZZLE_9_10_11",
    "I915_BIT_6_SWIZZLE_UNKNOWN", "I915_BIT_6_SWIZZLE_9_17", "I915_BIT_6_SWIZZLE_9_10_17",
    "I915_MADV_WILLNEED", "I915_MADV_DONTNEED", "__I915_MADV_PURGED", "EXEC_OBJECT_NEEDS_FENCE",
    "EXEC_OBJECT_NEEDS_GTT", "EXEC_OBJECT_WRITE", "EXEC_OBJECT_SUPPORTS_48B_ADDRESS",
    "EXEC_OBJECT_PINNED", "EXEC_OBJECT_PAD_TO_SIZE", "EXEC_OBJECT_ASYNC", "EXEC_OBJECT_CAPTURE",
    "__EXEC_OBJECT_UNKNOWN_FLAGS", "I915_EXEC_FENCE_WAIT", "I915_EXEC_FENCE_SIGNAL",
    "__I915_EXEC_FENCE_UNKNOWN_FLAGS", "DRM_I915_GEM_EXECBUFFER_EXT_TIMELINE_FENCES",
    "I915_EXEC_RING_MASK", "I915_EXEC_DEFAULT", "I915_EXEC_RENDER", "I915_EXEC_BSD",
    "I915_EXEC_BLT", "I915_EXEC_VEBOX", "I915_EXEC_CONSTANTS_MASK",
    "I915_EXEC_CONSTANTS_REL_GENERAL", "I915_EXEC_CONSTANTS_ABSOLUTE",
    "I915_EXEC_CONSTANTS_REL_SURFACE", "I915_EXEC_GEN7_SOL_RESET", "I915_EXEC_SECURE",
    "I915_EXEC_IS_PINNED", "I915_EXEC_NO_RELOC", "I915_EXEC_HANDLE_LUT", "I915_EXEC_BSD_SHIFT",
    "I915_EXEC_BSD_MASK", "I915_EXEC_BSD_DEFAULT", "I915_EXEC_BSD_RING1", "I915_EXEC_BSD_RING2",
    "I915_EXEC_RESOURCE_STREAMER", "I915_EXEC_FENCE_IN", "I915_EXEC_FENCE_OUT",
    "I915_EXEC_BATCH_FIRST", "I915_EXEC_FENCE_ARRAY", "I915_EXEC_FENCE_SUBMIT",
    "I915_EXEC_USE_EXTENSIONS", "__I915_EXEC_UNKNOWN_FLAGS", "I915_EXEC_CONTEXT_ID_MASK",
    "I915_OVERLAY_TYPE_MASK", "I915_OVERLAY_YUV_PLANAR", "I915_OVERLAY_YUV_PACKED",
    "I915_OVERLAY_RGB", "I915_OVERLAY_DEPTH_MASK", "I915_OVERLAY_RGB24", "I915_OVERLAY_RGB16",
    "I915_OVERLAY_RGB15", "I915_OVERLAY_YUV422", "I915_OVERLAY_YUV411", "I915_OVERLAY_YUV420",
    "I915_OVERLAY_YUV410", "I915_OVERLAY_SWAP_MASK", "I915_OVERLAY_NO_SWAP",
    "I915_OVERLAY_UV_SWAP", "I915_OVERLAY_Y_SWAP", "I915_OVERLAY_Y_AND_UV_SWAP",
    "I915_OVERLAY_FLAGS_MASK", "I915_OVERLAY_ENABLE", "I915_OVERLAY_UPDATE_ATTRS",
    "I915_OVERLAY_UPDATE_GAMMA", "I915_OVERLAY_DISABLE_DEST_COLORKEY", "I915_SET_COLORKEY_NONE",
    "I915_SET_COLORKEY_DESTINATION", "I915_SET_COLORKEY_SOURCE",
    "I915_CONTEXT_CREATE_FLAGS_USE_EXTENSIONS", "I915_CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE",
    "I915_CONTEXT_CREATE_FLAGS_UNKNOWN", "I915_CONTEXT_CREATE_EXT_SETPARAM",
    "I915_CONTEXT_CREATE_EXT_CLONE", "I915_CONTEXT_PARAM_BAN_PERIOD",
    "I915_CONTEXT_PARAM_NO_ZEROMAP", "I915_CONTEXT_PARAM_GTT_SIZE",
    "I915_CONTEXT_PARAM_NO_ERROR_CAPTURE", "I915_CONTEXT_PARAM_BANNABLE",
    "I915_CONTEXT_PARAM_PRIORITY", "I915_CONTEXT_MAX_USER_PRIORITY",
    "I915_CONTEXT_DEFAULT_PRIORITY", "I915_CONTEXT_MIN_USER_PRIORITY", "I915_CONTEXT_PARAM_SSEU",
    "I915_CONTEXT_PARAM_RECOVERABLE", "I915_CONTEXT_PARAM_VM", "I915_CONTEXT_PARAM_ENGINES",
    "I915_CONTEXT_PARAM_PERSISTENCE", "I915_CONTEXT_PARAM_RINGSIZE",
    "I915_CONTEXT_PARAM_PROTECTED_CONTENT", "I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX",
    "I915_CONTEXT_ENGINES_EXT_LOAD_BALANCE", "I915_CONTEXT_ENGINES_EXT_BOND",
    "I915_CONTEXT_ENGINES_EXT_PARALLEL_SUBMIT", "I915_REG_READ_8B_WA", "I915_USERPTR_READ_ONLY",
    "I915_USERPTR_PROBE", "I915_USERPTR_UNSYNCHRONIZED", "I915_OA_FORMAT_A13",
    "I915_OA_FORMAT_A29", "I915_OA_FORMAT_A13_B8_C8", "I915_OA_FORMAT_B4_C8",
    "I915_OA_FORMAT_A45_B8_C8", "I915_OA_FORMAT_B4_C8_A16", "I915_OA_FORMAT_C4_B8",
    "I915_OA_FORMAT_A12", "I915_OA_FORMAT_A12_B8_C8", "I915_OA_FORMAT_A32u40_A4u32_B8_C8",
    "I915_OA_FORMAT_MAX", "DRM_I915_PERF_PROP_CTX_HANDLE", "DRM_I915_PERF_PROP_SAMPLE_OA",
    "DRM_I915_PERF_PROP_OA_METRICS_SET", "DRM_I915_PERF_PROP_OA_FORMAT",
    "DRM_I915_PERF_PROP_OA_EXPONENT", "DRM_I915_PERF_PROP_HOLD_PREEMPTION",
    "DRM_I915_PERF_PROP_GLOBAL_SSEU", "DRM_I915_PERF_PROP_POLL_OA_PERIOD",
    "DRM_I915_PERF_PROP_MAX", "I915_PERF_FLAG_FD_CLOEXEC", "I915_PERF_FLAG_FD_NONBLOCK",
    "I915_PERF_FLAG_DISABLED", "I915_PERF_IOCTL_ENABLE", "I915_PERF_IOCTL_DISABLE",
    "I915_PERF_IOCTL_CONFIG", "DRM_I915_PERF_RECORD_SAMPLE", "DRM_I915_PERF_RECORD_OA_REPORT_LOST",
    "DRM_I915_PERF_RECORD_OA_BUFFER_LOST", "DRM_I915_PERF_RECORD_MAX",
    "DRM_I915_QUERY_TOPOLOGY_INFO", "DRM_I915_QUERY_ENGINE_INFO", "DRM_I915_QUERY_PERF_CONFIG",
    "DRM_I915_QUERY_MEMORY_REGIONS", "DRM_I915_QUERY_HWCONFIG_BLOB",
    "DRM_I915_QUERY_GEOMETRY_SUBSLICES", "DRM_I915_QUERY_PERF_CONFIG_LIST",
    "DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_UUID", "DRM_I915_QUERY_PERF_CONFIG_DATA_FOR_ID",
    "I915_ENGINE_INFO_HAS_LOGICAL_INSTANCE", "I915_VIDEO_CLASS_CAPABILITY_HEVC",
    "I915_VIDEO_AND_ENHANCE_CLASS_CAPABILITY_SFC", "I915_MEMORY_CLASS_SYSTEM",
    "I915_MEMORY_CLASS_DEVICE", "I915_GEM_CREATE_EXT_FLAG_NEEDS_CPU_ACCESS",
    "I915_GEM_CREATE_EXT_MEMORY_REGIONS", "I915_GEM_CREATE_EXT_PROTECTED_CONTENT",
    "I915_PROTECTED_CONTENT_DEFAULT_SESSION", "i915_user_extension", "i915_engine_class_instance",
    "_drm_i915_init", "_drm_i915_sarea", "drm_i915_batchbuffer", "_drm_i915_cmdbuffer",
    "drm_i915_irq_emit", "drm_i915_irq_wait", "drm_i915_setparam", "drm_i915_mem_alloc",
    "drm_i915_mem_free", "drm_i915_mem_init_heap", "drm_i915_mem_destroy_heap",
    "drm_i915_vblank_pipe", "drm_i915_vblank_swap", "drm_i915_hws_addr", "drm_i915_gem_init",
    "drm_i915_getparam", "drm_i915_gem_create", "drm_i915_gem_pread", "drm_i915_gem_pwrite",
    "drm_i915_gem_mmap", "drm_i915_gem_mmap_gtt", "drm_i915_gem_mmap_offset",
    "drm_i915_gem_set_domain", "drm_i915_gem_sw_finish", "drm_i915_gem_relocation_entry",
    "drm_i915_gem_exec_object", "drm_i915_gem_execbuffer", "drm_i915_gem_exec_object2",
    "drm_i915_gem_exec_fence", "drm_i915_gem_execbuffer_ext_timeline_fences",
    "drm_i915_gem_execbuffer2", "i915_execbuffer2_set_context_id",
    "i915_execbuffer2_get_context_id", "drm_i915_gem_pin", "drm_i915_gem_unpin",
    "drm_i915_gem_busy", "drm_i915_gem_caching", "drm_i915_gem_set_tiling",
    "drm_i915_gem_get_tiling", "drm_i915_gem_get_aperture", "drm_i915_get_pipe_from_crtc_id",
    "drm_i915_gem_madvise", "drm_intel_overlay_put_image", "drm_intel_overlay_attrs",
    "drm_intel_sprite_colorkey", "drm_i915_gem_wait", "drm_i915_gem_context_create",
    "drm_i915_gem_context_create_ext", "drm_i915_gem_context_param",
    "drm_i915_gem_context_param_sseu", "i915_context_engines_load_balance",
    "i915_context_engines_bond", "i915_context_engines_parallel_submit",
    "i915_context_param_engines", "drm_i915_gem_context_create_ext_setparam",
    "drm_i915_gem_context_destroy", "drm_i915_gem_vm_control", "drm_i915_reg_read",
    "drm_i915_reset_stats", "drm_i915_gem_userptr", "drm_i915_perf_open_param",
    "drm_i915_perf_record_header", "drm_i915_perf_oa_config", "drm_i915_query_item",
    "drm_i915_query", "drm_i915_query_topology_info", "drm_i915_engine_info",
    "drm_i915_query_engine_info", "drm_i915_query_perf_config",
    "drm_i915_gem_memory_class_instance", "drm_i915_memory_region_info",
    "drm_i915_query_memory_regions", "drm_i915_gem_create_ext",
    "drm_i915_gem_create_ext_memory_regions", "drm_i915_gem_create_ext_protected_content",
    "drm_i915_init_t", "drm_i915_sarea_t", "drm_i915_batchbuffer_t", "drm_i915_cmdbuffer_t",
    "drm_i915_irq_emit_t", "drm_i915_irq_wait_t", "drm_i915_getparam_t", "drm_i915_setparam_t",
    "drm_i915_mem_alloc_t", "drm_i915_mem_free_t", "drm_i915_mem_init_heap_t",
    "drm_i915_mem_destroy_heap_t", "drm_i915_vblank_pipe_t", "drm_i915_vblank_swap_t",
    "drm_i915_hws_addr_t", "I915_IOCTL_STRUCTS", "DRM_IOCTL_I915_INIT", "DRM_IOCTL_I915_FLUSH",
    "DRM_IOCTL_I915_FLIP", "DRM_IOCTL_I915_BATCHBUFFER", "DRM_IOCTL_I915_IRQ_EMIT",
    "DRM_IOCTL_I915_IRQ_WAIT", "DRM_IOCTL_I915_GETPARAM", "DRM_IOCTL_I915_SETPARAM",
    "DRM_IOCTL_I915_ALLOC", "DRM_IOCTL_I915_FREE", "DRM_IOCTL_I915_INIT_HEAP",
    "DRM_IOCTL_I915_CMDBUFFER", "DRM_IOCTL_I915_DESTROY_HEAP", "DRM_IOCTL_I915_SET_VBLANK_PIPE",
    "DRM_IOCTL_I915_GET_VBLANK_PIPE", "DRM_IOCTL_I915_VBLANK_SWAP", "DRM_IOCTL_I915_HWS_ADDR",
    "DRM_IOCTL_I915_GEM_INIT", "DRM_IOCTL_I915_GEM_EXECBUFFER", "DRM_IOCTL_I915_GEM_EXECBUFFER2",
    "DRM_IOCTL_I915_GEM_EXECBUFFER2_WR", "DRM_IOCTL_I915_GEM_PIN", "DRM_IOCTL_I915_GEM_UNPIN",
    "DRM_IOCTL_I915_GEM_BUSY", "DRM_IOCTL_I915_GEM_SET_CACHING", "DRM_IOCTL_I915_GEM_GET_CACHING",
    "DRM_IOCTL_I915_GEM_THROTTLE", "DRM_IOCTL_I915_GEM_ENTERVT", "DRM_IOCTL_I915_GEM_LEAVEVT",
    "DRM_IOCTL_I915_GEM_CREATE", "DRM_IOCTL_I915_GEM_CREATE_EXT", "DRM_IOCTL_I915_GEM_PREAD",
    "DRM_IOCTL_I915_GEM_PWRITE", "DRM_IOCTL_I915_GEM_MMAP", "DRM_IOCTL_I915_GEM_MMAP_GTT",
    "DRM_IOCTL_I915_GEM_MMAP_OFFSET", "DRM_IOCTL_I915_GEM_SET_DOMAIN",
    "DRM_IOCTL_I915_GEM_SW_FINISH", "DRM_IOCTL_I915_GEM_SET_TILING",
    "DRM_IOCTL_I915_GEM_GET_TILING", "DRM_IOCTL_I915_GEM_GET_APERTURE",
    "DRM_IOCTL_I915_GET_PIPE_FROM_CRTC_ID", "DRM_IOCTL_I915_GEM_MADVISE",
    "DRM_IOCTL_I915_OVERLAY_PUT_IMAGE", "DRM_IOCTL_I915_OVERLAY_ATTRS",
    "DRM_IOCTL_I915_SET_SPRITE_COLORKEY", "DRM_IOCTL_I915_GET_SPRITE_COLORKEY",
    "DRM_IOCTL_I915_GEM_WAIT", "DRM_IOCTL_I915_GEM_CONTEXT_CREATE",
    "DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT", "DRM_IOCTL_I915_GEM_CONTEXT_DESTROY",
    "DRM_IOCTL_I915_REG_READ", "DRM_IOCTL_I915_GET_RESET_STATS", "DRM_IOCTL_I915_GEM_USERPTR",
    "DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM", "DRM_IOCTL_I915_GEM_CONTEXT_SETPARAM",
    "DRM_IOCTL_I915_PERF_OPEN", "DRM_IOCTL_I915_PERF_ADD_CONFIG",
    "DRM_IOCTL_I915_PERF_REMOVE_CONFIG", "DRM_IOCTL_I915_QUERY", "DRM_IOCTL_I915_GEM_VM_CREATE",
    "DRM_IOCTL_I915_GEM_VM_DESTROY"
]
