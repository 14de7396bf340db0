"""debugfs ``i915_wedged`` in host mode: a write resets the GPU, as the kernel's does.

IGT forces a GPU reset by writing an engine mask (``-1``: every engine) to
``/sys/kernel/debug/dri/0/i915_wedged`` (``igt_force_gpu_reset``) and reads the file back
expecting ``0``.  The kernel's write runs ``intel_gt_handle_error`` and returns once the
reset is done.  In host mode that file is a plain file of the shadow tree, and its writes are
not system calls the supervisor sees; so once the program has opened it for writing, the
supervisor looks at it before serving each trapped call of the program: a value other than
``0`` is taken as the written engine mask, the file goes back to ``0``, and the backend's
``manual_reset`` runs (softgem.gpu.manual_reset: the running request of each engine in the
mask completes with -EIO, its context marked guilty).  The program's next trapped call --
the re-open that reads the value back, its GEM_WAIT, its next execbuf -- is served only after
the reset, which is all the ordering a program can observe, since the write itself returns
before either.  A value that is not a number is ignored (the kernel answers EINVAL to such a
write; here it was already written).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..sync import Mutex

__all__ = ["WEDGED", "WedgedFile"]

WEDGED = b"/sys/kernel/debug/dri/0/i915_wedged"
_IDLE = (b"", b"0")


class WedgedFile:
    def __init__(self, spath: bytes, reset: Callable[[int], object]) -> None:
        self.spath = spath
        self.armed = False          # set at the first open for writing
        self._reset = reset
        self._lock = Mutex("host.wedged")

    def arm(self) -> None:
        self.armed = True

    def poll(self) -> None:
        """Run the reset a write asked for, if any (before the caller's call is served)."""
        with self._lock:
            try:
                with open(self.spath, "rb") as f:
                    value = f.read(64).strip()
            except OSError:
                return
            if value in _IDLE:
                return
            fd = os.open(self.spath, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
            try:
                os.write(fd, b"0\n")
            finally:
                os.close(fd)
            try:
                mask = int(value, 0) & 0xFFFFFFFFFFFFFFFF
            except ValueError:
                return
            if mask:
                self._reset(mask)
