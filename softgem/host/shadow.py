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
devices of major 226.

Rejected alternatives: bind mounts or a FUSE file system (need privileges or a daemon and
touch the whole system); answering every sysfs read from a table (would re-implement
``getdents`` and every relative walk).
"""

from __future__ import annotations

import os
import shutil
import tempfile

__all__ = ["DEVICE_NODES", "DRM_MAJOR", "PCI_DEVICE", "Shadow"]

DRM_MAJOR = 226
PCI_SLOT = "0000:00:02.0"
PCI_DEVICE = f"/sys/devices/pci0000:00/{PCI_SLOT}"
PCI_ID = (0x8086, 0x1912)     # Intel, Skylake GT2 (gen9, LLC)

#: virtual path -> DRM minor
DEVICE_NODES: dict[str, int] = {"/dev/dri/card0": 0, "/dev/dri/renderD128": 128}

_ROOTS = ("/dev/dri", "/sys/dev/char/226:0", "/sys/dev/char/226:128", PCI_DEVICE,
          "/sys/class/drm", "/sys/bus/pci/drivers/i915", "/sys/module/i915",
          "/sys/kernel/debug")
_DEBUGFS_NAME = f"i915 dev={PCI_SLOT} unique={PCI_SLOT}\n"


def _minor_files(name: str, minor: int) -> dict[str, str | tuple[str]]:
    base = f"{PCI_DEVICE}/drm/{name}"
    return {
        f"{base}/dev": f"{DRM_MAJOR}:{minor}\n",
        f"{base}/uevent": f"MAJOR={DRM_MAJOR}\nMINOR={minor}\nDEVNAME=dri/{name}\n"
                          "DEVTYPE=drm_minor\n",
        f"{base}/device": ("../../../" + PCI_SLOT,),
        f"{base}/subsystem": ("../../../../../class/drm",),
        f"/sys/dev/char/{DRM_MAJOR}:{minor}": (f"../../devices/pci0000:00/{PCI_SLOT}/drm/{name}",),
        f"/sys/class/drm/{name}": (f"../../devices/pci0000:00/{PCI_SLOT}/drm/{name}",),
        f"/dev/dri/{name}": "",
        f"/sys/kernel/debug/dri/{minor}/name": _DEBUGFS_NAME,
    }


def _layout() -> dict[str, str | tuple[str]]:
    """virtual path -> file content, or (symlink target,).  Directories are implied."""
    vendor, device = PCI_ID
    spec: dict[str, str | tuple[str]] = {
        f"{PCI_DEVICE}/vendor": f"{vendor:#06x}\n",
        f"{PCI_DEVICE}/device": f"{device:#06x}\n",
        f"{PCI_DEVICE}/subsystem_vendor": f"{vendor:#06x}\n",
        f"{PCI_DEVICE}/subsystem_device": "0x2015\n",
        f"{PCI_DEVICE}/class": "0x030000\n",
        f"{PCI_DEVICE}/revision": "0x07\n",
        f"{PCI_DEVICE}/uevent": (f"DRIVER=i915\nPCI_CLASS=30000\nPCI_ID={vendor:04X}:{device:04X}\n"
                                 f"PCI_SUBSYS_ID={vendor:04X}:2015\nPCI_SLOT_NAME={PCI_SLOT}\n"
                                 f"MODALIAS=pci:v{vendor:08X}d{device:08X}sv{vendor:08X}"
                                 "sd00002015bc03sc00i00\n"),
        f"{PCI_DEVICE}/driver": ("../../../bus/pci/drivers/i915",),
        "/sys/bus/pci/drivers/i915/module": ("../../../../module/i915",),
        "/sys/module/i915/initstate": "live\n",
        "/sys/module/i915/parameters/reset": "2\n",
        "/sys/module/i915/parameters/enable_guc": "0\n",
        # debugfs (a whole shadowed mount point: IGT mounts debugfs itself when it finds
        # none, which must not happen to the host)
        "/sys/kernel/debug/dri/0/i915_gem_drop_caches": "0x000001ff\n",
        "/sys/kernel/debug/dri/0/i915_params/reset": "2\n",
    }
    spec.update(_minor_files("card0", 0))
    spec.update(_minor_files("renderD128", 128))
    return spec


class Shadow:
    """The tree on disk and the translation between virtual and shadow paths."""

    def __init__(self) -> None:
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="softgem-shadow-"))
        self._root_b = os.fsencode(self.root)
        self.roots = tuple(os.fsencode(r) for r in _ROOTS)
        for vpath, content in _layout().items():
            spath = self.root + vpath
            os.makedirs(os.path.dirname(spath), exist_ok=True)
            if isinstance(content, tuple):
                os.symlink(content[0], spath)
            else:
                with open(spath, "w") as f:
                    f.write(content)
        self.devices = {os.fsencode(self.root + v): m for v, m in DEVICE_NODES.items()}

    def covers(self, vpath: bytes) -> bool:
        """Whether the absolute, normalised virtual path lies in a shadowed root."""
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
