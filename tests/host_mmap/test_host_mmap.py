"""CPU mappings of GEM objects under `softgem run`: the C client's answers equal the simulated
machine's, privileged (the injected calls skip the filter) and not (they are trapped)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from mmap_scenario import play

from softgem import Machine
from softgem.host import Supervisor
from softgem.host.core import CoreBackend


def _run(client: str) -> tuple[int, list[str], CoreBackend, list[str]]:
    backend = CoreBackend(memory=64 << 20)
    sup = Supervisor(backend, warn=lambda _line: None)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:               # the program's stdout is the pipe; the supervisor stays here
        os.close(r)
        os.dup2(w, 1)
        code = 3
        try:
            code = sup.run([client])
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        lines = f.read().splitlines()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), lines, backend, sup.errors


def test_mmap_client_answers_as_the_simulated_machine(mmap_client: str) -> None:
    machine = Machine(memory=64 << 20)
    simulated = play(machine)
    assert machine.counters().leaks() == {}
    status, host, _backend, errors = _run(mmap_client)
    assert status == 0 and not errors
    assert host == simulated
    assert "userptr-over-mmap-offset: 0 -14" in host and "purged-read: SIGBUS" in host


def test_in_process_backend_has_no_mirror_left(mmap_client: str) -> None:
    backend = CoreBackend(memory=64 << 20)
    sup = Supervisor(backend, warn=lambda _line: None)
    with open(os.devnull, "w") as null:
        saved = os.dup(1)
        os.dup2(null.fileno(), 1)
        try:
            status = sup.run([mmap_client])
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    assert status == 0 and sup.errors == []
    counts = backend.counters()
    assert counts["host_mirrors"] == 0 and counts["objects"] == 0 and counts["pins"] == 0


def test_unprivileged_program_gets_the_same_answers(mmap_client: str) -> None:
    """As nobody, PTRACE_O_SUSPEND_SECCOMP is refused: the injected mmap/madvise/close are
    trapped by the filter like any call and proceed."""
    workdir = tempfile.mkdtemp(prefix="softgem-nobody-")
    try:
        os.chmod(workdir, 0o777)
        exe = shutil.copy(mmap_client, workdir)
        out = os.path.join(workdir, "out.txt")
        # Everything is imported and built before the privileges go (the checkout may not be
        # readable by nobody), as the unprivileged userptr test does.
        code = (f"import os,sys\n"
                f"from softgem.host import CoreBackend, Supervisor\n"
                f"s=Supervisor(CoreBackend(memory=64<<20),warn=lambda l:None)\n"
                f"os.setgroups([]);os.setresgid(65534,65534,65534);"
                f"os.setresuid(65534,65534,65534)\n"
                f"fd=os.open({out!r},os.O_WRONLY|os.O_CREAT,0o666);os.dup2(fd,1)\n"
                f"sys.exit(s.run([{exe!r}]) or (5 if s.errors else 0))\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, cwd=workdir)
        assert proc.returncode == 0, proc.stderr
        with open(out) as f:
            assert f.read().splitlines() == play(Machine(memory=64 << 20))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
