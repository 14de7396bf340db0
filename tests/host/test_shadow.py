"""The device namespace: shadow tree paths, stat buffers, path arguments."""

from __future__ import annotations

import ctypes
import os
import pathlib
import stat
import struct

import pytest

from softgem.gem import DEFAULT_PLATFORM
from softgem.host.paths import PROC_FD, PathResolver, signed32
from softgem.host.shadow import Shadow, _merge_host_entries
from softgem.host.statbuf import Attr, device_attr, pack_stat, pack_statx

_libc = ctypes.CDLL(None, use_errno=True)


@pytest.fixture
def shadow():
    tree = Shadow()
    yield tree
    tree.destroy()


@pytest.mark.parametrize(("vpath", "covered"), [
    (b"/dev/dri", True),
    (b"/dev/dri/card0", True),
    (b"/dev/drifter", False),
    (b"/sys/dev/char/226:0", True),
    (b"/sys/dev/char/226:00", False),
    (b"/sys/kernel/debug/dri/0/name", True),
    (b"/sys/class/net", False),
    (b"/dev/null", False),
])
def test_only_the_shadowed_roots_are_redirected(shadow: Shadow, vpath: bytes,
                                                covered: bool) -> None:
    assert shadow.covers(vpath) is covered


def test_device_nodes_are_found_directly_and_through_shadow_symlinks(shadow: Shadow) -> None:
    assert shadow.device_minor(b"/dev/dri/card0", follow=True) == 0
    assert shadow.device_minor(b"/dev/dri/renderD128", follow=False) == 128
    assert shadow.device_minor(b"/dev/dri/card1", follow=True) is None
    assert shadow.device_minor(b"/sys/dev/char/226:0", follow=True) is None   # a directory


def test_shadow_paths_translate_back_to_their_virtual_names(shadow: Shadow) -> None:
    spath = shadow.to_shadow(b"/sys/dev/char/226:0")
    assert shadow.to_virtual(spath) == b"/sys/dev/char/226:0"
    assert shadow.to_virtual(b"/tmp/elsewhere") is None
    real = os.path.realpath(spath)
    assert shadow.to_virtual(real) == b"/sys/devices/pci0000:00/0000:00:02.0/drm/card0"
    with open(os.path.join(real, b"dev")) as f:
        assert f.read() == "226:0\n"


@pytest.mark.parametrize(("path", "expected"), [
    (b"/proc/self/fd/3", (1000, 3)),
    (b"/proc/thread-self/fd/12", (1000, 12)),
    (b"/proc/77/fd/4", (77, 4)),
    (b"/proc/77/task/78/fd/5", (78, 5)),
    (b"/dev/fd/6", (1000, 6)),
    (b"/proc/self/fdinfo/3", None),
])
def test_proc_fd_magic_links_are_recognised(path: bytes, expected) -> None:
    assert PathResolver.proc_fd(path, 1000) == expected
    assert (PROC_FD.match(path) is not None) == (expected is not None)


def test_relative_paths_resolve_against_the_callers_cwd(shadow: Shadow, tmp_path) -> None:
    resolver = PathResolver(shadow)
    cwd = os.getcwd()
    os.chdir("/dev")
    try:
        assert resolver.locate(os.getpid(), -100, b"dri/card0") == (b"/dev/dri/card0", False)
        assert resolver.locate(os.getpid(), -100, b"null") == (b"/dev/null", False)
        os.chdir(tmp_path)
        assert resolver.absolute(os.getpid(), -100, b"file") is None     # not /dev, /sys
        os.chdir(shadow.to_shadow(b"/sys/class"))
        assert resolver.locate(os.getpid(), -100, b"drm") == (b"/sys/class/drm", True)
        assert resolver.locate(os.getpid(), -100, b"../../etc") == (b"/etc", True)
    finally:
        os.chdir(cwd)
    assert resolver.absolute(1, -100, b"/usr/lib/libc.so") is None
    assert resolver.absolute(1, -100, b"/dev//dri/./card0") == b"/dev/dri/card0"
    assert signed32(0xFFFFFF9C) == -100 and signed32(7) == 7


def test_pack_stat_matches_what_glibc_stat_writes(tmp_path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"x" * 1234)
    raw = ctypes.create_string_buffer(144)
    assert _libc.stat(bytes(path), raw) == 0
    assert pack_stat(Attr.of(os.stat(path))) == raw.raw


def test_pack_statx_has_the_fields_the_kernel_fills(tmp_path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"y" * 77)
    raw = ctypes.create_string_buffer(256)
    assert _libc.statx(-100, bytes(path), 0, 0x7FF, raw) == 0
    ours = pack_statx(Attr.of(os.stat(path)))
    for off, fmt in ((4, "I"), (16, "I"), (20, "I"), (24, "I"), (28, "H"), (32, "Q"),
                     (40, "Q"), (112, "q"), (136, "I"), (140, "I")):
        assert struct.unpack_from("<" + fmt, ours, off) == struct.unpack_from("<" + fmt, raw,
                                                                              off), off


def test_a_device_node_is_a_character_device_of_the_drm_major() -> None:
    attr = device_attr(226, 128)
    assert stat.S_ISCHR(attr.mode)
    assert (os.major(attr.rdev), os.minor(attr.rdev)) == (226, 128)
    assert device_attr(226, 128) == attr                      # stat and fstat agree
    assert device_attr(226, 0).ino != attr.ino


@pytest.mark.parametrize(("vpath", "covered"), [
    (b"/sys/class", True),                        # merged: the listing must show drm
    (b"/sys/class/net", False),                   # a host entry of a merged directory
    (b"/sys/class/drm/card0/dev", True),
    (b"/sys/bus/pci/devices", True),
    (b"/sys/bus/pci/devices/0000:00:02.0/vendor", True),
    (b"/sys/bus/pci/devices/0000:00:01.0/vendor", False),
    (b"/sys/devices/pci0000:00", True),
    (b"/sys/devices/pci0000:00/0000:00:1f.0", False),
    (b"/sys/devices", False),
    (b"/sys", False),
])
def test_merged_directories_are_ours_but_their_host_entries_are_not(
        shadow: Shadow, vpath: bytes, covered: bool) -> None:
    assert shadow.covers(vpath) is covered


def test_a_merged_directory_lists_host_entries_beside_ours(tmp_path) -> None:
    host = tmp_path / "host"
    (host / "adir").mkdir(parents=True)
    (host / "afile").write_text("x")
    os.symlink("../elsewhere/target", host / "alink")
    os.symlink("../mine-on-the-host", host / "ours")
    root = str(tmp_path / "shadow")
    sdir = root + str(host)
    os.makedirs(sdir)
    os.symlink("../our/device", os.path.join(sdir, "ours"))
    _merge_host_entries(root, str(host))
    assert sorted(os.listdir(sdir)) == ["adir", "afile", "alink", "ours"]
    assert os.readlink(os.path.join(sdir, "alink")) == "../elsewhere/target"   # copied
    assert os.readlink(os.path.join(sdir, "adir")) == str(host / "adir")      # the host's
    assert os.readlink(os.path.join(sdir, "afile")) == str(host / "afile")
    assert os.readlink(os.path.join(sdir, "ours")) == "../our/device"          # ours wins
    _merge_host_entries(root, str(tmp_path / "absent"))                        # no error


def test_the_tree_holds_the_pci_function_libdrm_and_libpciaccess_read(shadow: Shadow) -> None:
    def read(vpath: str) -> bytes:
        return pathlib.Path(shadow.root + vpath).read_bytes()
    dev = "/sys/bus/pci/devices/0000:00:02.0"
    assert read(dev + "/vendor") == b"0x8086\n"
    assert read(dev + "/device") == f"{DEFAULT_PLATFORM.chipset_id:#06x}\n".encode()
    assert read(dev + "/class") == b"0x030000\n"
    config = read(dev + "/config")
    assert len(config) == 256
    assert struct.unpack_from("<HH", config, 0) == (0x8086, DEFAULT_PLATFORM.chipset_id)
    assert config[8] == DEFAULT_PLATFORM.revision and config[9:12] == b"\x00\x00\x03"
    assert struct.unpack_from("<HH", config, 0x2C) == (0x8086, 0x2015)
    assert os.path.basename(os.readlink(shadow.root + dev + "/subsystem")) == "pci"
    assert os.path.basename(os.readlink(shadow.root + dev + "/driver")) == "i915"
    real = os.path.realpath(shadow.root + "/sys/dev/char/226:128/device")
    assert shadow.to_virtual(os.fsencode(real)) == b"/sys/devices/pci0000:00/0000:00:02.0"
    assert b"PCI_SLOT_NAME=0000:00:02.0\n" in read(dev + "/uevent")
    assert sorted(os.listdir(shadow.root + dev + "/drm")) == ["card0", "renderD128"]
