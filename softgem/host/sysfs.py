"""The sysfs and debugfs files of the one simulated i915, as a table: virtual path -> content.

This is what discovery code reads on a real gen9 machine with one integrated GPU at PCI
address 0000:00:02.0 (docs/host-discovery.md lists who reads what):

* the PCI function ``/sys/devices/pci0000:00/0000:00:02.0``: ``vendor``, ``device``,
  ``subsystem_vendor``, ``subsystem_device``, ``class``, ``revision``, ``config`` (256 bytes),
  ``resource``, ``uevent`` (``DRIVER``, ``PCI_ID``, ``PCI_SLOT_NAME``, ...), and the links
  ``subsystem -> bus/pci`` (libdrm's bus type), ``driver -> bus/pci/drivers/i915`` (IGT's
  driver name);
* the two DRM minors under it (``drm/card0``, ``drm/renderD128``) with ``dev``, ``uevent``,
  ``device`` and ``subsystem -> class/drm``, the card's ``gt_*_freq_mhz`` and ``engine/*``;
* ``/sys/class/drm/*``, ``/sys/dev/char/226:*`` and ``/sys/bus/pci/devices/0000:00:02.0``
  links, the driver directory ``/sys/bus/pci/drivers/i915``, the module ``/sys/module/i915``
  with its parameters;
* debugfs ``/sys/kernel/debug/dri/{0,128}``: ``name``, ``i915_params/*``,
  ``i915_gem_drop_caches``, ``clients``, ``i915_wedged`` (writes reset the GPU: wedged.py);
  ``/sys/kernel/debug/sync/sw_sync`` (its opens are served: a fence timeline, gpu/sw_sync.py).

Values are those of a Skylake GT2 desktop part (the platform table's chipset id and revision);
frequencies are the HD 530's.  Content is ``str`` or ``bytes`` for a file, a 1-tuple with a
relative target for a symbolic link.  Nothing here is served by code: shadow.py writes the
table to disk once and the kernel does the rest.
"""

from __future__ import annotations

import struct

from ..gem import DEFAULT_PLATFORM, Platform
from ..gpu import MMIO_BASE

__all__ = ["DRM_MAJOR", "I915_PARAMS", "PCI_DEVICE", "PCI_SLOT", "Content", "read_only",
           "sysfs_layout"]

Content = str | bytes | tuple[str]

DRM_MAJOR = 226
PCI_SLOT = "0000:00:02.0"
PCI_DEVICE = f"/sys/devices/pci0000:00/{PCI_SLOT}"
PCI_VENDOR_INTEL = 0x8086
PCI_SUBSYSTEM_DEVICE = 0x2015          # an OEM board id; any value is legal
PCI_CLASS_DISPLAY_VGA = 0x030000

#: gt_*_freq_mhz of the card: (name, MHz)
GT_FREQ_MHZ = (("RP0", 1150), ("RP1", 350), ("RPn", 350), ("min", 350), ("max", 1150),
               ("boost", 1150), ("cur", 350), ("act", 350))

#: the i915 module parameters (and debugfs ``i915_params``) IGT and Mesa read or set, with
#: the values a v6 kernel prints by default (booleans as Y/N, as the kernel's param_ops do)
I915_PARAMS = {
    "enable_hangcheck": "Y", "reset": "3", "error_capture": "Y", "enable_guc": "-1",
    "guc_log_level": "-1", "request_timeout_ms": "20000", "enable_fbc": "-1",
    "enable_psr": "-1", "enable_dc": "-1", "modeset": "-1", "force_probe": "",
    "mmio_debug": "0", "verbose_state_checks": "Y", "nuclear_pageflip": "N",
    "enable_gvt": "N", "lmem_size": "0", "memtest": "N", "disable_power_well": "-1",
    "enable_ips": "Y", "load_detect_test": "N", "guc_firmware_path": "",
    "huc_firmware_path": "", "dmc_firmware_path": "",
}

#: engine name -> (class, instance, mmio base) as the kernel's sysfs ``engine/*`` shows them
_ENGINES = {"rcs0": (0, 0, MMIO_BASE["rcs0"]), "bcs0": (1, 0, MMIO_BASE["bcs0"]),
            "vcs0": (2, 0, MMIO_BASE["vcs0"]), "vecs0": (3, 0, MMIO_BASE["vecs0"])}


#: attributes without a store method (mode 0444 on the kernel's sysfs: opening one for
#: writing fails with EACCES, even for root)
_READ_ONLY = frozenset({
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
    "resource", "irq", "boot_vga", "numa_node", "local_cpulist", "dma_mask_bits",
    "consistent_dma_mask_bits", "modalias", "dev", "version", "initstate", "refcnt", "name",
    "instance", "mmio_base", "clients", "gt_RP0_freq_mhz", "gt_RP1_freq_mhz",
    "gt_RPn_freq_mhz", "gt_act_freq_mhz", "gt_cur_freq_mhz",
})


def read_only(vpath: str) -> bool:
    """Whether the attribute at ``vpath`` takes no writes (i915 parameters all do)."""
    return "/parameters/" not in vpath and "/i915_params/" not in vpath and \
        vpath.rsplit("/", 1)[-1] in _READ_ONLY


def pci_config(platform: Platform) -> bytes:
    """The first 256 bytes of the function's configuration space (type 0 header).

    BAR0 is the 16 MiB GTTMMADR (64-bit memory), BAR2 the mappable aperture (64-bit,
    prefetchable), BAR4 the I/O window; the status register announces no capability list,
    so no reader walks one we do not have.
    """
    cfg = bytearray(256)
    struct.pack_into("<HHHH", cfg, 0, PCI_VENDOR_INTEL, platform.chipset_id,
                     0x0007, 0x0000)                          # io, memory, bus master
    cfg[8] = platform.revision
    cfg[9:12] = PCI_CLASS_DISPLAY_VGA.to_bytes(3, "little")  # prog-if, subclass, class
    struct.pack_into("<QQI", cfg, 0x10, 0xF600_0004, 0xE000_000C, 0xF001)
    struct.pack_into("<HH", cfg, 0x2C, PCI_VENDOR_INTEL, PCI_SUBSYSTEM_DEVICE)
    cfg[0x3C], cfg[0x3D] = 11, 1                              # IRQ 11, INTA
    return bytes(cfg)


def _resource(platform: Platform) -> str:
    """The ``resource`` file: start, end, flags of the six BARs and the ROM."""
    bars = [(0xF600_0000, 0xF6FF_FFFF, 0x140204),
            (0, 0, 0),
            (0xE000_0000, 0xE000_0000 + platform.mappable_size - 1, 0x14220C),
            (0, 0, 0),
            (0xF000, 0xF03F, 0x40101),
            (0, 0, 0), (0, 0, 0)]
    return "".join(f"0x{s:016x} 0x{e:016x} 0x{f:016x}\n" for s, e, f in bars)


def _pci_function(platform: Platform) -> dict[str, Content]:
    vendor, device, sub = PCI_VENDOR_INTEL, platform.chipset_id, PCI_SUBSYSTEM_DEVICE
    d = PCI_DEVICE
    return {
        f"{d}/vendor": f"{vendor:#06x}\n",
        f"{d}/device": f"{device:#06x}\n",
        f"{d}/subsystem_vendor": f"{vendor:#06x}\n",
        f"{d}/subsystem_device": f"{sub:#06x}\n",
        f"{d}/class": f"{PCI_CLASS_DISPLAY_VGA:#08x}\n",
        f"{d}/revision": f"{platform.revision:#04x}\n",
        f"{d}/config": pci_config(platform),
        f"{d}/resource": _resource(platform),
        f"{d}/irq": "11\n",
        f"{d}/enable": "1\n",
        f"{d}/boot_vga": "1\n",
        f"{d}/numa_node": "-1\n",
        f"{d}/local_cpulist": "0-1\n",
        f"{d}/dma_mask_bits": "39\n",
        f"{d}/consistent_dma_mask_bits": "39\n",
        f"{d}/modalias": (f"pci:v{vendor:08X}d{device:08X}sv{vendor:08X}sd{sub:08X}"
                          "bc03sc00i00\n"),
        f"{d}/uevent": (f"DRIVER=i915\nPCI_CLASS={PCI_CLASS_DISPLAY_VGA:X}\n"
                        f"PCI_ID={vendor:04X}:{device:04X}\nPCI_SUBSYS_ID={vendor:04X}:{sub:04X}\n"
                        f"PCI_SLOT_NAME={PCI_SLOT}\nMODALIAS=pci:v{vendor:08X}d{device:08X}"
                        f"sv{vendor:08X}sd{sub:08X}bc03sc00i00\n"),
        f"{d}/driver": ("../../../bus/pci/drivers/i915",),
        f"{d}/subsystem": ("../../../bus/pci",),
        "/sys/bus/pci/devices/" + PCI_SLOT: ("../../../devices/pci0000:00/" + PCI_SLOT,),
    }


def _minor(name: str, minor: int) -> dict[str, Content]:
    base = f"{PCI_DEVICE}/drm/{name}"
    target = f"devices/pci0000:00/{PCI_SLOT}/drm/{name}"
    return {
        f"{base}/dev": f"{DRM_MAJOR}:{minor}\n",
        f"{base}/uevent": f"MAJOR={DRM_MAJOR}\nMINOR={minor}\nDEVNAME=dri/{name}\n"
                          "DEVTYPE=drm_minor\n",
        f"{base}/device": ("../../../" + PCI_SLOT,),
        f"{base}/subsystem": ("../../../../../class/drm",),
        f"/sys/dev/char/{DRM_MAJOR}:{minor}": ("../../" + target,),
        f"/sys/class/drm/{name}": ("../../" + target,),
        f"/dev/dri/{name}": "",
        f"/sys/kernel/debug/dri/{minor}/name": f"i915 dev={PCI_SLOT} unique={PCI_SLOT}\n",
    }


def _card_attributes() -> dict[str, Content]:
    base = f"{PCI_DEVICE}/drm/card0"
    spec: dict[str, Content] = {f"{base}/gt_{n}_freq_mhz": f"{mhz}\n" for n, mhz in GT_FREQ_MHZ}
    spec[f"{base}/error"] = "No error state collected\n"
    for name, (klass, inst, mmio) in _ENGINES.items():
        eng = f"{base}/engine/{name}"
        spec.update({f"{eng}/name": f"{name}\n", f"{eng}/class": f"{klass}\n",
                     f"{eng}/instance": f"{inst}\n", f"{eng}/mmio_base": f"{mmio:#x}\n",
                     f"{eng}/heartbeat_interval_ms": "2500\n",
                     f"{eng}/preempt_timeout_ms": "640\n", f"{eng}/stop_timeout_ms": "100\n",
                     f"{eng}/timeslice_duration_ms": "1\n",
                     f"{eng}/max_busywait_duration_ns": "8000\n"})
    return spec


def _driver_and_module() -> dict[str, Content]:
    drv = "/sys/bus/pci/drivers/i915"
    spec: dict[str, Content] = {
        f"{drv}/module": ("../../../../module/i915",),
        f"{drv}/{PCI_SLOT}": ("../../../../devices/pci0000:00/" + PCI_SLOT,),
        f"{drv}/bind": "", f"{drv}/unbind": "", f"{drv}/new_id": "", f"{drv}/remove_id": "",
        f"{drv}/uevent": "",
        "/sys/module/i915/initstate": "live\n",
        "/sys/module/i915/refcnt": "0\n",
        "/sys/module/i915/drivers/pci:i915": ("../../../bus/pci/drivers/i915",),
        "/sys/kernel/debug/dri/0/i915_gem_drop_caches": "0x000001ff\n",
        "/sys/kernel/debug/dri/0/i915_wedged": "0\n",         # a write resets (wedged.py)
        "/sys/kernel/debug/dri/0/clients": "             command   tgid dev master a   uid  "
                                           "    magic\n",
        "/sys/kernel/debug/sync/sw_sync": "",       # each open is a new timeline (devices.py)
    }
    for name, value in I915_PARAMS.items():
        spec[f"/sys/module/i915/parameters/{name}"] = value + "\n"
        spec[f"/sys/kernel/debug/dri/0/i915_params/{name}"] = value + "\n"
    return spec


def sysfs_layout(platform: Platform = DEFAULT_PLATFORM) -> dict[str, Content]:
    """Every file and symbolic link of the device, by virtual path (directories implied)."""
    spec = _pci_function(platform)
    spec["/sys/class/drm/version"] = "drm 1.1.0 20060810\n"    # the DRM core's, any driver
    spec.update(_minor("card0", 0))
    spec.update(_minor("renderD128", 128))
    spec.update(_card_attributes())
    spec.update(_driver_and_module())
    return spec
