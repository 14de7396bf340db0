"""A GPU reset forced through debugfs ``i915_wedged`` under ``softgem run`` (host/wedged.py):
the running request completes with -EIO before the program's next call, the file reads back
0, and the context, hung once, still executes."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Callable

HERE = pathlib.Path(__file__).parent


def test_writing_i915_wedged_resets_the_spinning_batch(build_c: Callable[[pathlib.Path], str]
                                                       ) -> None:
    exe = build_c(HERE / "wedged_client.c")
    proc = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--trace", "--", exe],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines == ["userptr 0", "spin 0", "busy 1 1", "fence before 0", "write 1",
                     "read back 2 0", "fence after -5", "wait 0", "busy after 0", "again 0",
                     "again status 1"], proc.stdout
    # the spinner was stopped by the requested reset, not by the hang timeout
    assert "[gpu] manual_reset" in proc.stderr and "reason=manual reset" in proc.stderr
