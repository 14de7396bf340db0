"""Discovery under ``softgem run``: programs find one gen9 i915 at 0000:00:02.0 the way they
find a real one (docs/host-discovery.md)."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest
from discovery_helpers import require_program, softgem_run

from softgem.gem import DEFAULT_PLATFORM

DEVICE_ID = f"{DEFAULT_PLATFORM.chipset_id:04x}"
HERE = pathlib.Path(__file__).parent


def test_lsgpu_lists_the_device_and_its_render_node() -> None:
    proc = softgem_run(require_program("lsgpu", "intel-gpu-tools"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"card0\s+Intel Skylake \(Gen9\)\s+drm:/dev/dri/card0", lines[0]), lines
    assert re.fullmatch(r"\W*renderD128\s+drm:/dev/dri/renderD128", lines[1]), lines
    assert len(lines) == 2


def test_lsgpu_prints_the_pci_properties_libudev_read() -> None:
    proc = softgem_run("lsgpu", "-p")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "========== pci:/sys/devices/pci0000:00/0000:00:02.0 ==========" in out
    for line in (rf"PCI_ID\s+: 8086:{DEVICE_ID.upper()}", r"PCI_SLOT_NAME\s+: 0000:00:02.0",
                 r"DRIVER\s+: i915", r"SUBSYSTEM\s+: pci", r"vendor\s+: 0x8086",
                 rf"device\s+: 0x{DEVICE_ID}", r"gt_max_freq_mhz\s+: 1150",
                 r"DEVNAME\s+: /dev/dri/renderD128"):
        assert re.search(line, out), line


def test_an_igt_device_filter_by_vendor_and_codename_selects_it() -> None:
    proc = softgem_run("lsgpu", "-d", "pci:vendor=intel,device=skylake")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Device /dev/dri/card0 successfully opened" in proc.stdout
    assert "Device /dev/dri/renderD128 successfully opened" in proc.stdout


def test_intel_gpu_top_lists_the_device() -> None:
    proc = softgem_run(require_program("intel_gpu_top", "intel-gpu-tools"), "-L")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(rf"card0\s+Intel Skylake \(Gen9\)\s+pci:vendor=8086,device={DEVICE_ID.upper()},"
                        r"card=0", lines[0]), lines
    assert lines[1].strip().endswith("renderD128"), lines


def test_libdrm_describes_the_device_by_list_and_by_fd(drm_device_client: str) -> None:
    proc = softgem_run(drm_device_client)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    device = {"bus": "pci", "primary": "/dev/dri/card0", "render": "/dev/dri/renderD128",
              "slot": "0000:00:02.0", "vendor": "0x8086", "device": f"0x{DEVICE_ID}",
              "subvendor": "0x8086", "subdevice": "0x2015",
              "revision": "0xff"}            # not asked for: libdrm reports 0xff
    expected = {"count": "1", **{f"list0.{k}": v for k, v in device.items()},
                **{f"fd.{k}": v for k, v in device.items()},
                "asked.revision": f"0x{DEFAULT_PLATFORM.revision:02x}",
                "fd.name": "/dev/dri/renderD128", "fd.primary_name": "/dev/dri/card0"}
    assert got == expected


def test_sysfs_and_debugfs_parameters_take_writes_as_stores() -> None:
    """IGT sets parameters with open(O_WRONLY) + write, no O_TRUNC: the value read back is the
    value written, as a sysfs store would leave it.  Attributes without a store method refuse
    writers (EACCES), root included."""
    script = ("import os\n"
              "def store(p, v):\n"
              "    fd = os.open(p, os.O_WRONLY); os.write(fd, v); os.close(fd)\n"
              "def show(p):\n"
              "    with open(p) as f: return f.read().strip()\n"
              "m = '/sys/module/i915/parameters/'\n"
              "d = '/sys/kernel/debug/dri/0/i915_params/'\n"
              "print(show(m + 'request_timeout_ms'), show(d + 'enable_hangcheck'))\n"
              "store(m + 'request_timeout_ms', b'1'); store(d + 'enable_hangcheck', b'N')\n"
              "print(show(m + 'request_timeout_ms'), show(d + 'enable_hangcheck'))\n"
              "store('/sys/class/drm/card0/gt_min_freq_mhz', b'500')\n"
              "print(show('/sys/devices/pci0000:00/0000:00:02.0/drm/card0/gt_min_freq_mhz'))\n"
              "print(sorted(os.listdir('/sys/class/drm')))\n"
              "for p in ('/sys/bus/pci/devices/0000:00:02.0/vendor',\n"
              "          '/sys/class/drm/card0/gt_RP0_freq_mhz'):\n"
              "    try:\n"
              "        store(p, b'1')\n"
              "    except PermissionError:\n"
              "        print('EACCES', show(p))\n")
    proc = softgem_run("python3", "-c", script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["20000 Y", "1 N", "500", "['card0', 'renderD128', 'version']",
                                          "EACCES 0x8086", "EACCES 1150"]


def test_eglinfo_reports_iris_for_the_device() -> None:
    """Mesa's loader picks the driver from the PCI id libdrm reads in sysfs: without discovery
    it says "Failed to query drm device" and falls back to kms_swrast.  With it, iris loads,
    queries the device (I915_QUERY, GEM_CONTEXT_GETPARAM, GET_APERTURE), maps its first
    buffers (CPU mmap of GEM offsets, docs/host-mmap.md) and the GBM and surfaceless
    platforms report "EGL driver name: iris".  Wayland and X11 fail to initialise (no display
    here, as on a headless gen9 machine): eglinfo exits 2, one for each."""
    eglinfo = require_program("eglinfo", "mesa-utils")
    proc = softgem_run(eglinfo, env={"EGL_PLATFORM": "surfaceless", "LD_DEBUG": "files",
                                     "EGL_LOG_LEVEL": "debug"}, trace=True)
    out = proc.stdout + proc.stderr
    assert "Failed to query drm device" not in out
    assert re.search(r"file=\S*/dri/iris_dri\.so \[0\];\s+dynamically loaded", out), out[-3000:]
    assert "kms_swrast" not in out
    for ioctl in ("I915_QUERY", "I915_GEM_CONTEXT_GETPARAM", "I915_GEM_GET_APERTURE",
                  "I915_GEM_CREATE", "I915_GEM_MMAP_OFFSET"):
        assert f"name={ioctl} " in out, ioctl
    surfaceless = proc.stdout.split("Surfaceless platform:", 1)[1].split("platform:", 1)[0]
    assert "EGL driver name: iris" in surfaceless, proc.stdout[-3000:]
    assert "GBM platform:\nEGL API version" in proc.stdout
    assert "softgem: this mmap" not in out
    assert proc.returncode == 2, out[-3000:]


def test_a_gles2_clear_runs_to_completion_on_iris(tmp_path: pathlib.Path) -> None:
    """Mesa's iris creates its contexts, clears through one execbuf with a syncobj fence
    array, waits on the syncobjs and reads the pixel back; the program exits 0.  The pixel is
    0,0,0,0 where a gen9 reads 255,0,0,255: the render engine skips the 3D pipeline
    (docs/host-discovery.md, "what rendering would need next")."""
    if shutil.which("pkg-config") is None or subprocess.run(
            ["pkg-config", "--exists", "egl", "glesv2"]).returncode != 0:
        pytest.fail("libegl-dev and libgles-dev are needed: run scripts/setup")
    exe = tmp_path / "gles_clear"
    libs = subprocess.run(["pkg-config", "--cflags", "--libs", "egl", "glesv2"],
                          capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(HERE / "gles_clear_client.c"),
                    *libs], check=True)
    proc = softgem_run(str(exe), trace=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "renderer Mesa Intel(R) HD Graphics 530 (SKL GT2)" in proc.stdout, proc.stdout
    assert "fb status 0x8cd5" in proc.stdout                    # GL_FRAMEBUFFER_COMPLETE
    assert "pixel 0 0 0 0 err 0x0" in proc.stdout
    assert re.search(r"name=I915_GEM_EXECBUFFER2_WR nr=105 ret=0", proc.stderr)
    assert re.search(r"name=SYNCOBJ_CREATE nr=191 ret=0", proc.stderr)
    assert "internal error" not in proc.stderr


_STATFS_PROGRAM = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def f_type(path=None, fd=None):
    buf = ctypes.create_string_buffer(120)
    ret = libc.statfs(path.encode(), buf) if path else libc.fstatfs(fd, buf)
    return hex(int.from_bytes(buf.raw[:8], "little")) if ret == 0 else -ctypes.get_errno()
fd = os.open("/sys/class/drm/card0", os.O_RDONLY | os.O_DIRECTORY)
print(f_type("/sys/class/drm/card0"), f_type(fd=fd), f_type("/sys/kernel/debug/dri/0"),
      f_type("/sys/class/drm/card9"))
"""


def test_statfs_says_sysfs_and_debugfs_where_systemd_and_igt_check() -> None:
    proc = softgem_run("python3", "-c", _STATFS_PROGRAM)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["0x62656572", "0x62656572", "0x64626720", "-2"]


_CHASE_PROGRAM = """
import os, stat
P = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
fd = os.open("/", os.O_PATH | os.O_DIRECTORY)
for name in ("sys", "class", "drm"):
    fd = os.open(name, P, dir_fd=fd)
link = os.open("card0", P, dir_fd=fd)
print(stat.S_ISLNK(os.fstat(link).st_mode), os.readlink("card0", dir_fd=fd))
up = os.open("..", P, dir_fd=fd)                      # /sys/class
listed = os.listdir(os.open(".", os.O_RDONLY, dir_fd=up))
print("drm" in listed, "drm" in os.listdir("/sys/class"))
kernel = os.open("../kernel", os.O_RDONLY | os.O_DIRECTORY, dir_fd=up)   # the host's
print(sorted(os.listdir(kernel)))
"""


def test_a_chase_walk_with_o_path_goes_through_the_shadow_and_back_to_the_host() -> None:
    """systemd's chase (libudev) opens one component at a time with O_PATH | O_NOFOLLOW;
    an O_PATH fd cannot be injected, so shadow directories come back O_RDONLY and links
    are left to the kernel inside the shadow; ``..`` out of the shadow is the host's."""
    proc = softgem_run("python3", "-c", _CHASE_PROGRAM)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "True ../../devices/pci0000:00/0000:00:02.0/drm/card0"
    assert lines[1] == "True True"
    assert lines[2] == str(sorted(os.listdir("/sys/kernel")))
