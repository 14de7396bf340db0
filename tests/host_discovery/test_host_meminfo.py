"""Under ``softgem run`` the machine's RAM is the model's (softgem/host/meminfo.py): sysinfo,
sysconf(_SC_PHYS_PAGES) and /proc/meminfo report ``--memory``, and GEM objects use it up."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
from collections.abc import Callable

HERE = pathlib.Path(__file__).parent


def test_sysinfo_and_meminfo_report_the_models_ram(build_c: Callable[[pathlib.Path], str]
                                                     ) -> None:
    exe = build_c(HERE / "meminfo_client.c")
    proc = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--memory", "64", "--",
                           exe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    m = re.search(r"start total (\d+) free (\d+) unit 1 swap 0 sharedram 0", out)
    assert m, out
    total, free = int(m.group(1)), int(m.group(2))
    assert total == 64 << 20 and 0 < free <= total
    assert f"sysconf pages {(64 << 20) // 4096}" in out
    assert re.search(r"MemTotal:\s+65536 kB", out) and re.search(r"SwapTotal:\s+0 kB", out)
    assert "bad pointer -1 errno 14" in out              # EFAULT, as the kernel's copy_to_user
    m2 = re.search(r"object total (\d+) free (\d+)", out)
    assert m2 and int(m2.group(1)) == total
    assert free - int(m2.group(2)) >= 16 << 20           # the object's frames came from it
