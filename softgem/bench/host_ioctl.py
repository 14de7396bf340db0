"""host-ioctl: what serving one ioctl costs in host mode, against a bare seccomp round trip.

Both sides run the same small C program (compiled here with gcc), which times its own loop:

* **bare** -- ``syscall(SYS_getppid)`` under a filter that traps only getppid, answered
  with a fixed value by the smallest possible supervisor: one thread doing RECV and SEND
  (no poll, no dispatch, no memory access).  This is the floor of a user-notification round
  trip from Python.
* **GETPARAM** -- ``ioctl(fd, DRM_IOCTL_I915_GETPARAM, {CHIPSET_ID, &value})`` on
  ``/dev/dri/card0`` under the full supervisor (``softgem.host.Supervisor``) with
  the real core (``CoreBackend``, as ``softgem run`` uses): fd lookup, copy-in, the ioctl
  table, ``NOTIF_ID_VALID``, copy-out, answer.

* **floor** -- the same program and the same system calls softgem makes for one GETPARAM,
  with no logic between them (host_floor.py): what the kernel interface alone costs.

The rounds alternate (bare, floor, GETPARAM, bare, ...) and each side reports its median, so
a machine that is busy with something else slows all alike.  Target: GETPARAM/bare <= 3.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile

from ..host import Supervisor
from ..host.core import CoreBackend
from ..host.listener import Listener
from ..host.seccomp import trap_filter
from ..host.syscalls import NR
from .host_floor import floor_round_trip, serve_program
from .runner import BenchResult

__all__ = ["bench_host_ioctl"]

WARMUP = 100
PROGRAM = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct getparam { int param; int *value; };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long n = atol(argv[2]);
    double t0, t1;
    if (!strcmp(argv[1], "getparam")) {
        int val = 0, fd = open("/dev/dri/card0", O_RDWR);
        struct getparam gp = {4 /* I915_PARAM_CHIPSET_ID */, &val};
        if (fd < 0)
            return 2;
        for (int i = 0; i < WARMUP; i++)
            ioctl(fd, 0xC0106446, &gp);
        t0 = now();
        for (long i = 0; i < n; i++)
            if (ioctl(fd, 0xC0106446, &gp))
                return 3;
        t1 = now();
    } else {
        for (int i = 0; i < WARMUP; i++)
            syscall(SYS_getppid);
        t0 = now();
        for (long i = 0; i < n; i++)
            if (syscall(SYS_getppid) != 4242)
                return 4;
        t1 = now();
    }
    FILE *out = fopen(argv[3], "w");
    fprintf(out, "%.1f\n", (t1 - t0) / n * 1e9);
    fclose(out);
    return 0;
}
"""


def _compile(workdir: str) -> str:
    if shutil.which("gcc") is None:
        raise RuntimeError("host-ioctl needs gcc to build its test program")
    src = os.path.join(workdir, "roundtrip.c")
    exe = os.path.join(workdir, "roundtrip")
    with open(src, "w") as f:
        f.write(PROGRAM)
    subprocess.run(["gcc", "-O2", f"-DWARMUP={WARMUP}", "-o", exe, src], check=True)
    return exe


def _read_ns(path: str) -> float:
    with open(path) as f:
        return float(f.read())


def _bare(exe: str, n: int, out: str) -> float:
    """getppid round trips answered by a minimal RECV/SEND loop (ns per call)."""
    def serve(listener: Listener) -> None:
        for _ in range(WARMUP + n):
            notif = listener.recv()
            if notif is not None:
                listener.reply(notif.id, 4242)

    return serve_program([exe, "bare", str(n), out], trap_filter([NR["getppid"]], {}), serve,
                         out)


def _getparam(exe: str, n: int, out: str) -> float:
    status = Supervisor(CoreBackend(memory=16 << 20)).run([exe, "getparam", str(n), out])
    if status != 0:
        raise RuntimeError(f"GETPARAM program failed with status {status}")
    return _read_ns(out)


def bench_host_ioctl(quick: bool) -> BenchResult:
    n, rounds = (3000, 3) if quick else (20000, 5)
    bare: list[float] = []
    floor: list[float] = []
    ioctl: list[float] = []
    with tempfile.TemporaryDirectory(prefix="softgem-bench-") as workdir:
        exe = _compile(workdir)
        out = os.path.join(workdir, "result")
        for _ in range(rounds):
            bare.append(_bare(exe, n, out))
            floor.append(floor_round_trip(exe, n, out))
            ioctl.append(_getparam(exe, n, out))
    b, f, g = statistics.median(bare), statistics.median(floor), statistics.median(ioctl)
    result = BenchResult(f"host-ioctl: {n} round trips x {rounds} rounds (medians)")
    result.add("bare seccomp round trip (getppid)", f"{b / 1000:.1f} us  ({1e9 / b:,.0f}/s)")
    result.add("kernel floor of a GETPARAM (no logic)", f"{f / 1000:.1f} us  = {f / b:.2f} x bare")
    result.add("GETPARAM under softgem run", f"{g / 1000:.1f} us  = {g / f:.2f} x floor")
    result.add("load average at the end", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    result.notes.append("each side times its own loop in C; rounds alternate "
                        "bare/floor/GETPARAM; the floor makes softgem's system calls only")
    result.ratio("GETPARAM/bare", g / b, 3.0, "<=")
    return result
