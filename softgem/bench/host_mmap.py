"""host-mmap: a program's stores and loads through a WB mapping of a GEM object under
``softgem run``, against the same program doing it in its own anonymous memory.

One C program (compiled here with gcc) writes then reads 64 MiB, several passes, and times
each side itself: ``anon`` in ``mmap(MAP_PRIVATE|MAP_ANONYMOUS)`` memory, ``gem`` through
``mmap(fd, MMAP_OFFSET WB)`` of a 64 MiB GEM object, both in the same run of the program
under the supervisor, alternating (anon, gem, anon, ...) so machine load hits both alike.
The first touch of each page (a page fault on either side) is part of the first pass and
excluded: the figure is the steady state of the program's own page tables.
Target: gem/anon >= 0.9 (the mapping must be the program's own page tables).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile

from ..host import CoreBackend, Supervisor
from .runner import BenchResult

__all__ = ["bench_host_mmap"]

PROGRAM = r"""
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <xf86drm.h>
#include <i915_drm.h>

#define SIZE (64ul << 20)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double pass(volatile uint64_t *p)
{
    double t0 = now();
    uint64_t sum = 0;
    for (size_t i = 0; i < SIZE / 8; i++)
        p[i] = i;
    for (size_t i = 0; i < SIZE / 8; i++)
        sum += p[i];
    if (sum != (SIZE / 8) * (SIZE / 8 - 1) / 2)
        exit(5);
    return now() - t0;
}

int main(int argc, char **argv)
{
    int rounds = atoi(argv[1]);
    int fd = open("/dev/dri/card0", O_RDWR);
    if (fd < 0)
        return 2;
    struct drm_i915_gem_create create = { .size = SIZE };
    if (ioctl(fd, DRM_IOCTL_I915_GEM_CREATE, &create))
        return 3;
    struct drm_i915_gem_mmap_offset mo = { .handle = create.handle,
                                           .flags = I915_MMAP_OFFSET_WB };
    if (ioctl(fd, DRM_IOCTL_I915_GEM_MMAP_OFFSET, &mo))
        return 3;
    uint64_t *gem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, mo.offset);
    uint64_t *anon = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    if (gem == MAP_FAILED || anon == MAP_FAILED)
        return 4;
    pass(anon);
    pass(gem);
    FILE *out = fopen(argv[2], "w");
    for (int r = 0; r < rounds; r++)
        fprintf(out, "%.6f %.6f\n", pass(anon), pass(gem));
    fclose(out);
    return 0;
}
"""


def _compile(workdir: str) -> str:
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        raise RuntimeError("host-mmap needs gcc, pkg-config and libdrm-dev (scripts/setup)")
    src, exe = os.path.join(workdir, "mmapbench.c"), os.path.join(workdir, "mmapbench")
    with open(src, "w") as f:
        f.write(PROGRAM)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdrm"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-o", exe, src, *flags], check=True)
    return exe


def bench_host_mmap(quick: bool) -> BenchResult:
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory(prefix="softgem-bench-") as workdir:
        exe = _compile(workdir)
        out = os.path.join(workdir, "result")
        status = Supervisor(CoreBackend(memory=160 << 20)).run([exe, str(rounds), out])
        if status != 0:
            raise RuntimeError(f"the mmap program failed with status {status}")
        with open(out) as f:
            pairs = [tuple(map(float, line.split())) for line in f]
    anon = statistics.median(a for a, _ in pairs)
    gem = statistics.median(g for _, g in pairs)
    mib = 2 * 64       # bytes moved per pass: one write and one read of 64 MiB
    result = BenchResult(f"host-mmap: 64 MiB written then read, {rounds} rounds (medians)")
    result.add("anonymous memory", f"{anon * 1000:.1f} ms  ({mib / anon:,.0f} MiB/s)")
    result.add("WB mapping of a GEM object", f"{gem * 1000:.1f} ms  ({mib / gem:,.0f} MiB/s)")
    result.add("load average at the end", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    result.notes.append("one program under softgem run times both sides, alternating")
    result.ratio("gem/anon", anon / gem, 0.9, ">=")
    return result
