"""The shadow tree: the few paths under /dev and /sys where a program looks for an i915.

The supervisor builds a real directory tree in a private temporary directory with the same
layout as the kernel's (``dev/dri/card0``, ``sys/dev/char/226:0 -> ../../devices/...``,
``sys/devices/pci0000:00/0000:00:02.0/drm/card0/...``, ``sys/module/i915/...``) and
redirects every path system call of the program that names a path under one of the shadowed
roots into it.  Because the shadow is a real tree, everything after the redirect is the
kernel's work: ``openat`` relative to a shadow directory fd, ``getdents``, relative symlinks
(they resolve inside the shadow), reads and writes of attribute files.  Only the device
nodes themselves are special: in the shadow they are empty regular files (so that they are
listed and symlinks to them resolve), and the supervisor answers for them as character
devices of major 226.  What the tree holds is the table of sysfs.py.

A few host directories are *merged* (``MERGED_DIRS``): their listing must show our entries
beside the host's (``/sys/class`` must list ``drm``, ``/sys/bus/pci/devices`` our function).
Such a directory is itself redirected to a shadow directory in which every host entry we do
not define is a symbolic link to the host's absolute path; a path below a host entry is not
ours and goes to the host untouched.  The host entries are those present when the supervisor
starts.  Where the host has an entry of the same name (a host device at 0000:00:02.0), ours
hides it from the program.

Rejected alternatives: bind mounts or a FUSE file system (need privileges or a daemon and
touch the whole system); answering every sysfs read from a table (would re-implement
``getdents`` and every relative walk).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ..gem import DEFAULT_PLATFORM, Platform
from .sysfs import DRM_MAJOR, PCI_DEVICE, PCI_SLOT, read_only, sysfs_layout

__all__ = ["DEVICE_NODES", "DRM_MAJOR", "MERGED_DIRS", "PCI_DEVICE", "Shadow"]

PCI_ID = (0x8086, DEFAULT_PLATFORM.chipset_id)     # Intel, Skylake GT2 (gen9, LLC)

#: virtual path -> DRM minor
DEVICE_NODES: dict[str, int] = {"/dev/dri/card0": 0, "/dev/dri/renderD128": 128}

#: Subtrees that are wholly ours: every path under one of them is redirected.
_ROOTS = ("/dev/dri", "/sys/dev/char/226:0", "/sys/dev/char/226:128", PCI_DEVICE,
          "/sys/class/drm", "/sys/bus/pci/devices/" + PCI_SLOT, "/sys/bus/pci/drivers/i915",
          "/sys/module/i915", "/sys/kernel/debug")

#: Host directories whose *listing* must also show our entries (libudev lists /sys/class and
#: /sys/bus to find the drm and pci subsystems, libpciaccess lists /sys/bus/pci/devices).  The
#: directory itself is redirected; each host entry in it becomes a symbolic link to the host's
#: absolute path, and paths below a host entry are not ours, so they go to the host untouched.
MERGED_DIRS = ("/sys/class", "/sys/bus", "/sys/bus/pci", "/sys/bus/pci/devices",
               "/sys/bus/pci/drivers", "/sys/devices/pci0000:00", "/sys/dev/char",
               "/sys/module")


def _merge_host_entries(root: str, vdir: str) -> None:
    """A placeholder for each entry of the host's ``vdir`` that the shadow does not define:
    a host symbolic link is copied (same target, so ``readlink`` and a walk through it answer
    as on the host), anything else becomes a link to the host's absolute path (listed as
    DT_LNK; opened by name it is the host's own, see devices.py)."""
    try:
        names = os.listdir(vdir)
    except OSError:
        return                                  # no such host directory: only ours
    sdir = root + vdir
    for name in names:
        spath = os.path.join(sdir, name)
        if os.path.lexists(spath):
            continue
        host = os.path.join(vdir, name)
        try:
            target = os.readlink(host)
        except OSError:
            target = host
        os.symlink(target, spath)


class Shadow:
    """The tree on disk and the translation between virtual and shadow paths."""

    def __init__(self, platform: Platform = DEFAULT_PLATFORM) -> None:
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="softgem-shadow-"))
        self._root_b = os.fsencode(self.root)
        self.roots = tuple(os.fsencode(r) for r in _ROOTS)
        self.merged = frozenset(os.fsencode(d) for d in MERGED_DIRS)
        try:
            for vpath, content in sysfs_layout(platform).items():
                spath = self.root + vpath
                os.makedirs(os.path.dirname(spath), exist_ok=True)
                if isinstance(content, tuple):
                    os.symlink(content[0], spath)
                else:
                    with open(spath, "wb") as f:
                        f.write(content.encode() if isinstance(content, str) else content)
                    if read_only(vpath):
                        os.chmod(spath, 0o444)
            for vdir in MERGED_DIRS:
                os.makedirs(self.root + vdir, exist_ok=True)
                _merge_host_entries(self.root, vdir)
        except BaseException:
            self.destroy()
            raise
        self.devices = {os.fsencode(self.root + v): m for v, m in DEVICE_NODES.items()}

    def covers(self, vpath: bytes) -> bool:
        """Whether the absolute, normalised virtual path lies in a shadowed root or is a
        merged directory."""
        if vpath in self.merged:
            return True
        for root in self.roots:
            if vpath.startswith(root) and (len(vpath) == len(root) or vpath[len(root)] == 47):
                return True
        return False

    def to_shadow(self, vpath: bytes) -> bytes:
        return self._root_b + vpath

    def to_virtual(self, spath: bytes) -> bytes | None:
        """The virtual path of a path inside the shadow, or None if it is outside."""
        root = self._root_b
        if spath.startswith(root) and (len(spath) == len(root) or spath[len(root)] == 47):
            return spath[len(root):] or b"/"
        return None

    def device_minor(self, vpath: bytes, follow: bool) -> int | None:
        """The DRM minor if ``vpath`` names a device node (through shadow symlinks when
        ``follow``), else None."""
        spath = self.to_shadow(vpath)
        if follow:
            spath = os.path.realpath(spath)
        else:
            head, tail = os.path.split(spath)
            spath = os.path.join(os.path.realpath(head), tail)
        return self.devices.get(spath)

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
