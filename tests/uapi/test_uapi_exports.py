"""What ``from softgem import uapi`` offers: the public contract, complete export lists, the
request -> struct map the ioctl table relies on, and the few behaviours the structs add."""

from __future__ import annotations

import ast
import ctypes
import inspect
import types

import pytest

from softgem import uapi
from softgem.abi import drm, i915, ioc

CONTRACT = [
    "drm_i915_gem_userptr", "DRM_IOCTL_I915_GEM_USERPTR", "I915_USERPTR_READ_ONLY",
    "drm_i915_gem_mmap_offset", "DRM_IOCTL_I915_GEM_MMAP_OFFSET", "I915_MMAP_OFFSET_WB",
    "drm_gem_close", "DRM_IOCTL_GEM_CLOSE", "drm_version",
    # named in the uapi brief
    "drm_gem_flink", "drm_gem_open", "drm_prime_handle", "drm_get_cap", "drm_set_version",
    "drm_unique", "DRM_CAP_PRIME", "DRM_CAP_SYNCOBJ", "DRM_IOCTL_BASE", "DRM_COMMAND_BASE",
    "DRM_IOCTL_VERSION", "DRM_IOCTL_GET_UNIQUE", "DRM_IOCTL_GEM_FLINK", "DRM_IOCTL_GEM_OPEN",
    "DRM_IOCTL_GET_CAP", "DRM_IOCTL_SET_VERSION", "DRM_IOCTL_PRIME_HANDLE_TO_FD",
    "DRM_IOCTL_PRIME_FD_TO_HANDLE", "DRM_CLOEXEC", "DRM_RDWR",
    "drm_i915_getparam", "drm_i915_gem_create", "drm_i915_gem_create_ext", "drm_i915_gem_mmap",
    "I915_MMAP_WC", "drm_i915_gem_mmap_gtt", "drm_i915_gem_set_domain",
    "drm_i915_gem_sw_finish", "drm_i915_gem_set_tiling", "drm_i915_gem_get_tiling",
    "drm_i915_gem_caching", "drm_i915_gem_pread", "drm_i915_gem_pwrite", "drm_i915_gem_busy",
    "drm_i915_gem_wait", "drm_i915_gem_madvise", "drm_i915_gem_get_aperture",
    "drm_i915_gem_context_create", "drm_i915_gem_context_create_ext",
    "drm_i915_gem_context_destroy", "drm_i915_gem_context_param", "drm_i915_gem_execbuffer2",
    "drm_i915_gem_exec_object2", "drm_i915_gem_relocation_entry", "drm_i915_query",
    "drm_i915_query_item", "i915_user_extension", "drm_i915_gem_exec_fence",
    "DRM_IOCTL_I915_GEM_EXECBUFFER2_WR", "__I915_EXEC_UNKNOWN_FLAGS", "I915_EXEC_RING_MASK",
    "__EXEC_OBJECT_UNKNOWN_FLAGS", "I915_PARAM_HAS_USERPTR_PROBE", "I915_USERPTR_PROBE",
    "I915_USERPTR_UNSYNCHRONIZED", "__I915_MADV_PURGED", "I915_GEM_CREATE_EXT_MEMORY_REGIONS",
    "_IOC", "_IO", "_IOR", "_IOW", "_IOWR", "_IOC_NR", "_IOC_TYPE", "_IOC_SIZE", "_IOC_DIR",
    "_IOC_NONE", "_IOC_READ", "_IOC_WRITE", "IOCTL_STRUCTS",
]

# Module-level names that are implementation helpers, not C names.
PRIVATE = {
    "_visible_fields", "_show", "_define", "_ior", "_iow", "_iowr", "_ints", "_uints", "_u16s",
    "_exec_object2_rsvd1", "_query_perf_config_head", "_region_cpu_visible",
    "_region_info_tail", "_size_of",
}


@pytest.mark.parametrize("name", CONTRACT)
def test_the_contract_name_is_exported(name: str) -> None:
    assert hasattr(uapi, name)


def _defined_at_top_level(module: types.ModuleType) -> list[str]:
    tree = ast.parse(inspect.getsource(module))
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return [n for n in names if n not in PRIVATE and n != "__all__"]


@pytest.mark.parametrize("module", [drm, i915, ioc], ids=lambda m: m.__name__)
def test_every_c_name_a_module_defines_is_in_its_all_and_reaches_the_package(
        module: types.ModuleType) -> None:
    exported = list(module.__all__)
    assert sorted(exported) == sorted(set(_defined_at_top_level(module)))
    assert [n for n in exported if not hasattr(uapi, n)] == []


def _requests() -> dict[str, int]:
    return {name: getattr(uapi, name) for name in dir(uapi) if name.startswith("DRM_IOCTL_")
            and name != "DRM_IOCTL_BASE" and not name.endswith("_STRUCTS")}


def test_every_request_with_an_argument_maps_to_a_struct_of_that_size() -> None:
    bare_u64 = {"DRM_IOCTL_I915_PERF_REMOVE_CONFIG"}
    wrong = []
    for name, request in _requests().items():
        struct = uapi.IOCTL_STRUCTS.get(request)
        if ioc._IOC_SIZE(request) == 0 or name in bare_u64:
            if struct is not None:
                wrong.append(f"{name} has no struct argument but maps to {struct.__name__}")
        elif struct is None or ctypes.sizeof(struct) != ioc._IOC_SIZE(request):
            wrong.append(f"{name} maps to {struct}")
    assert not wrong, "\n".join(wrong)
    assert set(uapi.IOCTL_STRUCTS) <= set(_requests().values())


def test_request_numbers_are_unique_so_the_table_can_dispatch_on_them() -> None:
    by_number: dict[int, list[str]] = {}
    for name, request in _requests().items():
        by_number.setdefault(request, []).append(name)
    assert [names for names in by_number.values() if len(names) > 1] == []


def test_mmap_offset_is_mmap_gtt_with_a_longer_struct() -> None:
    gtt, offset = uapi.DRM_IOCTL_I915_GEM_MMAP_GTT, uapi.DRM_IOCTL_I915_GEM_MMAP_OFFSET
    assert uapi._IOC_NR(gtt) == uapi._IOC_NR(offset) == 0x40 + uapi.DRM_I915_GEM_MMAP_GTT
    assert (uapi._IOC_SIZE(gtt), uapi._IOC_SIZE(offset)) == (16, 32)
    assert uapi.IOCTL_STRUCTS[offset] is uapi.drm_i915_gem_mmap_offset


def test_getparam_value_is_a_64_bit_user_address_after_padding() -> None:
    assert uapi.drm_i915_getparam.value.offset == 8
    assert uapi.drm_i915_getparam.value.size == 8
    param = uapi.drm_i915_getparam(param=uapi.I915_PARAM_CHIPSET_ID, value=0x7FFF_FFFF_F000)
    assert param.value == 0x7FFF_FFFF_F000


def test_anonymous_union_members_read_and_write_the_same_bytes() -> None:
    obj = uapi.drm_i915_gem_exec_object2(handle=1, pad_to_size=0x2000)
    assert obj.rsvd1 == 0x2000
    region = uapi.drm_i915_memory_region_info(probed_cpu_visible_size=7)
    assert list(region.rsvd1)[:2] == [7, 0]


def test_the_unknown_flag_masks_reject_exactly_the_bits_above_the_last_flag() -> None:
    unknown = uapi.__I915_EXEC_UNKNOWN_FLAGS
    assert uapi.I915_EXEC_USE_EXTENSIONS & unknown == 0
    assert (uapi.I915_EXEC_USE_EXTENSIONS << 1) & unknown
    assert (1 << 63) & unknown
    obj_unknown = uapi.__EXEC_OBJECT_UNKNOWN_FLAGS
    assert uapi.EXEC_OBJECT_CAPTURE & obj_unknown == 0
    assert (uapi.EXEC_OBJECT_CAPTURE << 1) & obj_unknown


def test_the_context_id_lives_in_the_low_half_of_rsvd1() -> None:
    eb = uapi.drm_i915_gem_execbuffer2()
    uapi.i915_execbuffer2_set_context_id(eb, 0x1_0000_0005)
    assert eb.rsvd1 == 5
    assert uapi.i915_execbuffer2_get_context_id(eb) == 5


def test_a_struct_repr_names_every_c_field() -> None:
    text = repr(uapi.drm_i915_gem_userptr(user_ptr=0x1000, user_size=0x2000, flags=1))
    assert text == ("drm_i915_gem_userptr(user_ptr=0x1000, user_size=0x2000, flags=0x1, "
                    "handle=0x0)")
    assert "pad_to_size=0x0" in repr(uapi.drm_i915_gem_exec_object2())
