"""softgem.uapi against the real headers: one generated C program, compiled once.

The program is generated from softgem.uapi's own structs and constants, so whatever softgem
defines is checked (sizeof of every struct and typedef, offsetof and size of every field,
the value of every constant and request number, a few function-like macros); a second test
walks ``i915_drm.h`` and checks softgem defines every name in it.  gcc and Debian's
libdrm-dev headers are required: CI installs them with ``scripts/setup``; a missing tool is a
failure, not a skip.
"""

from __future__ import annotations

import ctypes
import pathlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from softgem.abi import drm, i915, ioc

SETUP_HINT = "run scripts/setup (installs gcc, pkg-config and libdrm-dev) and retry"
HEADER_DIRS = (pathlib.Path("/usr/include/libdrm"), pathlib.Path("/usr/include/drm"))

# Function-like macros checked at sample arguments: (C call, softgem's value for it).
_RW = ioc._IOC_READ | ioc._IOC_WRITE
MACRO_CALLS: list[tuple[str, int]] = [
    ("I915_PMU_ENGINE_BUSY(1, 2)", i915.I915_PMU_ENGINE_BUSY(1, 2)),
    ("I915_PMU_ENGINE_WAIT(3, 1)", i915.I915_PMU_ENGINE_WAIT(3, 1)),
    ("I915_PMU_ENGINE_SEMA(4, 0)", i915.I915_PMU_ENGINE_SEMA(4, 0)),
    ("__I915_PMU_ENGINE(2, 5, 1)", i915.__I915_PMU_ENGINE(2, 5, 1)),
    ("__I915_PMU_OTHER(7)", i915.__I915_PMU_OTHER(7)),
    ("_IOC(_IOC_READ|_IOC_WRITE, 'x', 7, 24)", ioc._IOC(_RW, ord("x"), 7, 24)),
    ("_IOR('i', 3, struct drm_gem_open)", ioc._IOR(ord("i"), 3, drm.drm_gem_open)),
    ("_IOW('i', 4, __u64)", ioc._IOW(ord("i"), 4, ctypes.c_uint64)),
    ("_IO('i', 5)", ioc._IO(ord("i"), 5)),
    ("_IOC_NR(0xC0186473u)", ioc._IOC_NR(0xC0186473)),
    ("_IOC_TYPE(0xC0186473u)", ioc._IOC_TYPE(0xC0186473)),
    ("_IOC_SIZE(0xC0186473u)", ioc._IOC_SIZE(0xC0186473)),
    ("_IOC_DIR(0x80106464u)", ioc._IOC_DIR(0x80106464)),
    ("DRM_IO(0x1E)", drm.DRM_IO(0x1E)),
    ("DRM_IOR(0x02, struct drm_auth)", drm.DRM_IOR(0x02, drm.drm_auth)),
]


# --- what softgem defines ------------------------------------------------------------------
def _c_names(module: Any) -> Iterator[tuple[str, Any]]:
    for name in module.__all__:
        yield name, getattr(module, name)


def _flat_fields(ctype: Any, base: int = 0) -> Iterator[tuple[str, int, int]]:
    """(C field name, offset, size), members of anonymous unions/structs promoted as in C."""
    anonymous = getattr(ctype, "_anonymous_", ())
    for spec in ctype._fields_:
        name, member_type = spec[0], spec[1]
        offset = base + getattr(ctype, name).offset
        if name in anonymous:
            yield from _flat_fields(member_type, offset)
        else:
            yield name, offset, ctypes.sizeof(member_type)


def _expected() -> dict[str, tuple[str, int | str]]:
    """key -> (C expression, value softgem gives it)."""
    out: dict[str, tuple[str, int | str]] = {}
    for module in (drm, i915, ioc):
        for name, obj in _c_names(module):
            if isinstance(obj, type) and issubclass(obj, ctypes.Structure):
                if "_fields_" not in vars(obj):
                    continue  # the UapiStruct base, not a C type
                ctype = f"struct {name}" if name == obj.__name__ else name
                out[f"sizeof {ctype}"] = (f"sizeof({ctype})", ctypes.sizeof(obj))
                if name != obj.__name__:
                    continue  # a typedef: its fields are checked under the struct tag
                for field, offset, size in _flat_fields(obj):
                    out[f"offsetof {ctype}.{field}"] = (f"offsetof({ctype}, {field})", offset)
                    if size:  # flexible array members have no C sizeof
                        out[f"sizeof {ctype}.{field}"] = (
                            f"sizeof((({ctype} *)0)->{field})", size)
            elif isinstance(obj, type) and issubclass(obj, ctypes._SimpleCData):
                out[f"sizeof {name}"] = (f"sizeof({name})", ctypes.sizeof(obj))
            elif isinstance(obj, int | str) and not isinstance(obj, bool):
                out[f"const {name}"] = (name, obj)
    for call, value in MACRO_CALLS:
        out[f"macro {call}"] = (call, value)
    return out


# --- the C side -----------------------------------------------------------------------------
C_PRELUDE = r"""
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>
#include <fcntl.h>
#include <drm.h>
#include <i915_drm.h>
#include <linux/sync_file.h>
#include <linux/dma-buf.h>

#define NUM(key, expr) ((expr) < 0 \
    ? printf("%s\t%lld\n", key, (long long)(expr)) \
    : printf("%s\t%llu\n", key, (unsigned long long)(expr)))
#define STR(key, expr) printf("%s\t%s\n", key, expr)

int main(void)
{
"""


def _c_program(expected: dict[str, tuple[str, int | str]]) -> str:
    lines = [C_PRELUDE]
    for key, (expr, value) in expected.items():
        macro = "STR" if isinstance(value, str) else "NUM"
        lines.append(f'    {macro}("{key}", {expr});')
    lines.append("    return 0;\n}\n")
    return "\n".join(lines)


def _include_flags() -> list[str]:
    if shutil.which("pkg-config"):
        done = subprocess.run(["pkg-config", "--cflags", "libdrm"], capture_output=True,
                              text=True, check=False)
        if done.returncode == 0:
            return done.stdout.split()
    return [f"-I{d}" for d in HEADER_DIRS if (d / "i915_drm.h").exists()]


def _header() -> pathlib.Path:
    for flag in _include_flags():
        path = pathlib.Path(flag.removeprefix("-I")) / "i915_drm.h"
        if flag.startswith("-I") and path.exists():
            return path
    pytest.fail(f"i915_drm.h (libdrm-dev) not found: {SETUP_HINT}")


def _compile_and_run(source: str, tmp: pathlib.Path) -> dict[str, str]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail(f"gcc not found: {SETUP_HINT}")
    _header()
    (tmp / "layout.c").write_text(source)
    build = subprocess.run([gcc, "-std=gnu11", "-w", *_include_flags(), "-o",
                            str(tmp / "layout"), str(tmp / "layout.c")],
                           capture_output=True, text=True, check=False)
    if build.returncode != 0:
        pytest.fail("the generated layout program does not compile; a name softgem defines is "
                    f"missing from the headers, or {SETUP_HINT}:\n{build.stderr[-6000:]}")
    run = subprocess.run([str(tmp / "layout")], capture_output=True, text=True, check=True)
    return dict(line.split("\t", 1) for line in run.stdout.splitlines())


@pytest.fixture(scope="module")
def c_says(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _compile_and_run(_c_program(_expected()), tmp_path_factory.mktemp("uapi_layout"))


def _shown(value: int | str | None) -> str:
    return hex(value) if isinstance(value, int) else repr(value)


def _differences(c_says: dict[str, str], prefix: str) -> list[str]:
    bad = []
    for key, (_, value) in _expected().items():
        theirs = c_says.get(key)
        if key.startswith(prefix) and str(value) != theirs:
            c_value = int(theirs) if isinstance(value, int) and theirs is not None else theirs
            bad.append(f"{key}: softgem {_shown(value)}, C {_shown(c_value)}")
    return bad


# --- the comparisons ------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["sizeof", "offsetof", "const", "macro"])
def test_softgem_matches_the_c_headers(c_says: dict[str, str], prefix: str) -> None:
    checked = [k for k in _expected() if k.startswith(prefix)]
    assert checked, f"nothing to compare for {prefix}"
    bad = _differences(c_says, prefix)
    assert not bad, f"{len(bad)} of {len(checked)} differ:\n" + "\n".join(bad)


def test_every_request_number_is_compared_with_c(c_says: dict[str, str]) -> None:
    requests = [k for k in _expected() if k.startswith("const DRM_IOCTL_")]
    assert len(requests) > 80
    assert all(k in c_says for k in requests)


def test_the_comparison_catches_a_wrong_value(c_says: dict[str, str]) -> None:
    forged = dict(c_says, **{"const I915_USERPTR_READ_ONLY": "2"})
    assert _differences(forged, "const I915_USERPTR_") == [
        "const I915_USERPTR_READ_ONLY: softgem 0x1, C 0x2"]


# --- completeness against i915_drm.h --------------------------------------------------------
# Names in i915_drm.h that softgem deliberately does not define, and why.
NOT_VALUES = {
    "_I915_DRM_H_": "include guard",
    **{f"plane{p}_{c}": "DRI1 sarea field alias of pipe{p}_{c}" for p in "AB" for c in "xywh"},
}


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _header_names(text: str) -> set[str]:
    text = _strip_comments(text)
    names = set(re.findall(r"^\s*#\s*define\s+(\w+)(?=\s|$)", text, flags=re.M))
    names |= set(re.findall(r"\bstruct\s+(\w+)\s*\{", text))
    names |= set(re.findall(r"\}\s*(\w+_t)\s*;", text))
    names |= set(re.findall(r"\btypedef\s+struct\s+\w+\s+(\w+)\s*;", text))
    for body in re.findall(r"\benum\b[^{;]*\{(.*?)\}", text, flags=re.S):
        names |= set(re.findall(r"^\s*([A-Za-z_]\w*)\s*(?:=|,|$)", body, flags=re.M))
    return names


def test_every_name_in_i915_drm_h_is_defined() -> None:
    from softgem import uapi

    names = _header_names(_header().read_text())
    assert {"DRM_IOCTL_I915_GEM_USERPTR", "drm_i915_gem_userptr", "I915_MOCS_PTE",
            "drm_i915_getparam_t"} <= names  # the scanner itself works
    missing = sorted(n for n in names - NOT_VALUES.keys() if not hasattr(uapi, n))
    assert not missing, f"{len(missing)} names of i915_drm.h are missing: {missing}"
