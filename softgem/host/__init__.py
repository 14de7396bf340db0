"""softgem.host (L5): serve unmodified Linux programs a software i915 via seccomp user
notification.

``run(argv, backend)`` starts the program under a seccomp filter whose listener this process
serves: ``/dev/dri/card0`` and ``/dev/dri/renderD128`` appear (open, stat, readlink, sysfs),
their ioctls go to ``backend`` (a :class:`HostBackend`), and the program's address-space
changes and process lifecycle reach it as events.  See docs/host-mode.md.

Modules, bottom up: seccomp (ABI, BPF, probes), syscalls (numbers), listener (answering),
launch (process tree), procmem (target memory and maps), task (TracedMm/HostTask), backend
(the protocol), fake (FakeBackend), shadow/statbuf/paths (the device namespace), drmfile
(device files), watcher (hang-ups and exits), proctable (processes and mms), devices /
fsinfo / mmcalls / gemmap (the handlers), inject + devmmap (CPU mappings of GEM objects),
workers (which thread receives), supervisor (the loop), core (the real backend).
"""

from __future__ import annotations

from .backend import HostBackend
from .core import CoreBackend
from .fake import FakeBackend, FakeFile
from .procmem import HostVma, move_frames, vmas_covering
from .seccomp import HostUnsupported
from .supervisor import Supervisor, run
from .task import HostTask, TracedMm

__all__ = [
    "CoreBackend",
    "FakeBackend",
    "FakeFile",
    "HostBackend",
    "TracedMm",
    "HostTask",
    "HostUnsupported",
    "HostVma",
    "Supervisor",
    "move_frames",
    "run",
    "vmas_covering",
]
