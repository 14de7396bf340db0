"""Host mode with the real core: unmodified programs get the same answers as the simulation."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from c_steps import read_steps
from userptr_scenario import play

from softgem import Machine
from softgem.host import Supervisor
from softgem.host.core import CoreBackend

IGT_BENCH = "/usr/libexec/igt-gpu-tools/benchmarks/gem_userptr_benchmark"


def _run_client(client: str, out: str) -> tuple[int, CoreBackend, list[str]]:
    backend = CoreBackend(memory=64 << 20)
    sup = Supervisor(backend, warn=lambda _line: None)
    status = sup.run([client, out])
    return status, backend, sup.errors


def _no_leaks(backend: CoreBackend) -> dict[str, int]:
    counts = backend.counters()
    return {k: v for k, v in counts.items() if v and k in
            ("pins", "objects", "handles", "offset_nodes", "files")}


def test_the_libdrm_client_gets_the_simulated_machines_answers(userptr_client: str,
                                                                tmp_path: pathlib.Path) -> None:
    out = str(tmp_path / "steps.txt")
    status, backend, errors = _run_client(userptr_client, out)
    assert status == 0 and not errors
    host = read_steps(out)
    machine = Machine(memory=64 << 20)
    simulated = play(machine)
    assert host == simulated
    assert host["validate_after_munmap"] == -14 and host["child_validate_parent_userptr"] == -14
    assert _no_leaks(backend) == {}
    assert machine.counters().leaks() == {}


def test_the_client_runs_as_an_unprivileged_user(userptr_client: str) -> None:
    """no_new_privs makes the filter legal without CAP_SYS_ADMIN: drop to nobody in a forked
    child (the program is copied where nobody can reach it) and compare the answers."""
    workdir = tempfile.mkdtemp(prefix="softgem-nobody-")
    try:
        os.chmod(workdir, 0o777)
        exe = shutil.copy(userptr_client, workdir)
        out = os.path.join(workdir, "steps.txt")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                status, backend, errors = _run_client(exe, out)
                ok = status == 0 and not errors and not _no_leaks(backend)
                code = 0 if ok and os.getuid() == 65534 else 2
            finally:
                os._exit(code)
        _, wstatus = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wstatus) == 0
        assert read_steps(out) == play(Machine(memory=64 << 20))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_softgem_run_propagates_status_and_trace(userptr_client: str,
                                                 tmp_path: pathlib.Path) -> None:
    out = str(tmp_path / "steps.txt")
    proc = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--trace", "--",
                           userptr_client, out], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "I915_GEM_USERPTR" in proc.stderr and "[userptr] invalidate" in proc.stderr
    assert "leaked" not in proc.stderr
    killed = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--", "sh", "-c",
                             "kill -TERM $$"], capture_output=True, text=True, timeout=60)
    assert killed.returncode == 128 + 15


def test_debian_gem_userptr_benchmark_userptr_sync_succeeds() -> None:
    """The unmodified IGT binary from Debian's intel-gpu-tools (scripts/setup installs it)."""
    assert os.path.exists(IGT_BENCH), "intel-gpu-tools is missing: run scripts/setup"
    proc = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--", IGT_BENCH,
                           "--run-subtest", "userptr-sync"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Subtest userptr-sync: SUCCESS" in proc.stdout
    assert "create-destroy" in proc.stdout


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_each_ioctl_reaches_the_open_file_its_fd_names_now(fd_identity_client: str,
                                                           tmp_path: pathlib.Path) -> None:
    """The supervisor remembers which file an fd named (checked with kcmp on every ioctl):
    dup, another thread, dup2 over it, close and reuse of the number must all be seen."""
    out = str(tmp_path / "steps.txt")
    before = _open_fds()
    status, backend, errors = _run_client(fd_identity_client, out)
    assert status == 0 and not errors
    steps = read_steps(out)
    assert steps == {
        "open_two": 0, "create_on_a": 0, "handle": 1,
        "busy_a": 0, "busy_b": -errno.ENOENT, "busy_a_again": 0, "busy_a_other_thread": 0,
        "busy_dup_of_a": 0, "busy_closed_dup": -errno.EBADF,
        "busy_a_after_dup2": -errno.ENOENT,          # b's file now: no handle 1 there
        "null_got_same_number": 0, "getparam_on_null": -errno.ENOTTY,
        "getparam_ok": 0, "getparam_value": 1,
        "getparam_read_only_struct": -errno.EFAULT,
        "getparam_value_written_before_fault": 1,   # the kernel's order: value, then struct
        "getparam_bad_value": -errno.EFAULT,
    }
    assert _no_leaks(backend) == {}
    assert _open_fds() <= before          # registry slots and peers are all closed
