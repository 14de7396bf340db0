"""Debian's unmodified IGT userptr benchmark finds the device and stops at the first ioctl
FakeBackend does not know (GEM_USERPTR) -- docs/host-mode.md lists what it needs next."""

from __future__ import annotations

import os

from softgem.host import FakeBackend, Supervisor
from softgem.host.fake import DRM_IOCTL_VERSION

BENCHMARK = "/usr/libexec/igt-gpu-tools/benchmarks/gem_userptr_benchmark"
DRM_IOCTL_I915_GEM_USERPTR = 0xC0186473
IGT_EXIT_SKIP = 77


def test_gem_userptr_benchmark_finds_an_i915_and_asks_for_userptr(capfd) -> None:
    assert os.access(BENCHMARK, os.X_OK), "intel-gpu-tools is missing: run scripts/setup"
    backend = FakeBackend()
    sup = Supervisor(backend, warn=lambda _line: None)
    status = sup.run([BENCHMARK, "--run-subtest", "userptr-sync"])
    printed = capfd.readouterr().out
    assert status == IGT_EXIT_SKIP, printed
    assert "No userptr support" in printed
    requests = [req for f in backend.files for _pid, req, _arg in f.ioctls]
    assert requests[0] == DRM_IOCTL_VERSION
    assert DRM_IOCTL_I915_GEM_USERPTR in requests
    assert set(requests) == {DRM_IOCTL_VERSION, DRM_IOCTL_I915_GEM_USERPTR}
    assert backend.releases and sorted(id(f) for f in backend.releases) == sorted(
        id(f) for f in backend.files)
    assert sup.errors == []


PRIME_LOOKUP = "/usr/libexec/igt-gpu-tools/benchmarks/prime_lookup"


def test_prime_lookup_runs_to_completion_on_the_real_core(capfd) -> None:
    """PRIME_HANDLE_TO_FD / FD_TO_HANDLE / GEM_CLOSE / close of dma-buf fds across drm files,
    with small arguments (16 objects, 2 devices, 4 fds each; the program loops for 2 s)."""
    from softgem.host.core import CoreBackend

    assert os.access(PRIME_LOOKUP, os.X_OK), "intel-gpu-tools is missing: run scripts/setup"
    backend = CoreBackend(memory=32 << 20)
    sup = Supervisor(backend, warn=lambda _line: None)
    status = sup.run([PRIME_LOOKUP, "-o", "16", "-d", "2", "-a", "4"])
    printed = capfd.readouterr().out
    assert status == 0, printed
    assert printed.strip().endswith(" us")
    assert sup.errors == []
    counts = backend.counters()
    assert {k: v for k, v in counts.items() if v and k != "frames_used"} == {}
