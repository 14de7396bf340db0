"""userptr in host mode is a live view of the program's memory, the notifier window stays
closed while munmap really runs, and write-only / userfaultfd memory pins as the kernel's."""

from __future__ import annotations

import pathlib

from c_steps import read_steps
from userptr_live_scenario import play

from softgem import Machine
from softgem.gpu import attach
from softgem.host import Supervisor
from softgem.host.core import CoreBackend

HANG_TIMEOUT = 0.2   # the spinner of section 6 holds the blitter this long


def test_host_mode_userptr_matches_the_simulated_machine(userptr_live: str, race_iterations: int,
                                                         tmp_path: pathlib.Path) -> None:
    out = tmp_path / "steps.txt"
    backend = CoreBackend(memory=64 << 20)
    attach(backend.dev).hang_timeout = HANG_TIMEOUT
    sup = Supervisor(backend, warn=lambda _line: None)
    status = sup.run([userptr_live, str(out), str(race_iterations)])
    assert status == 0 and not sup.errors
    host = read_steps(out)
    machine = Machine(memory=64 << 20)
    attach(machine.device).hang_timeout = HANG_TIMEOUT
    simulated = play(machine, race_iterations)
    assert host == simulated
    # the kernel's outcomes, spelled out
    assert host["store_seen"] == host["blit_equal"] == host["store_cpu_write_kept"] == 1
    assert host["race_valid_after_munmap"] == 0 and host["race_efault_after_munmap"] == 1
    assert host["wo_validate"] == 0 and host["wo_read_only_validate"] == -14
    assert host["wo_store_seen"] == 1
    assert host["uffd_validate"] == 0 and host["uffd_contents"] == 1
    assert host["uffd_wo_validate"] == 0 and host["uffd_wo_contents"] == 1
    assert host["pending_dst_has_last_src"] == 1 and host["pending_validate_after"] == -14
    counts = backend.counters()
    assert {k: v for k, v in counts.items() if v and k in ("pins", "objects", "handles")} == {}
    assert machine.counters().leaks() == {}
