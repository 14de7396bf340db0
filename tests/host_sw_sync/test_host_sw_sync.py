"""debugfs sync/sw_sync in host mode: a C client under the supervisor gets the simulated
machine's answers (gpu/sw_sync.py), step for step, and nothing leaks in either world."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from c_steps import read_steps
from sw_sync_scenario import play

import softgem.gpu
from softgem import Machine
from softgem.host import Supervisor
from softgem.host.core import CoreBackend


def test_the_sw_sync_client_gets_the_simulated_machines_answers(sw_sync_client: str,
                                                                tmp_path: pathlib.Path) -> None:
    out = tmp_path / "steps.txt"
    backend = CoreBackend(memory=64 << 20)
    lines: list[str] = []
    sup = Supervisor(backend, warn=lambda _line: None, trace=lines.append)
    status = sup.run([sw_sync_client, str(out)])
    assert status == 0 and not sup.errors
    steps = read_steps(out)
    host_only = {k: steps.pop(k) for k in list(steps) if k.startswith("host_")}
    # access: IGT's kernel_sw_sync_path asks first; a drm file closed while its batch waits
    # on the timeline: the close does not wait for the GPU (the simulated machine's does)
    assert host_only == {"host_access": 0, "host_inc_after_drm_close": 0,
                         "host_gated_batch_done": 1}
    machine = Machine(memory=64 << 20)
    softgem.gpu.attach(machine.device)
    simulated = play(machine)
    machine.shutdown()
    assert steps == simulated
    # the kernel's answers, whichever world gave them
    assert [steps[k] for k in ("pending_status", "busy_while_pending", "out_fence_pending",
                               "batch_done", "signalled_status", "twin_signalled",
                               "out_fence_signalled")] == [0, 1, 0, 0, 1, 1, 2]
    assert (steps["pending_timestamp_0"], steps["signal_timestamp"]) == (1, 1)
    assert (steps["generated_name"], steps["driver_and_timeline"]) == (1, 1)
    assert (steps["reached_status"], steps["half_way_status"]) == (1, 1)
    assert [steps[k] for k in ("wrapped_pending", "wrapped_still_pending",
                               "wrapped_signalled")] == [0, 0, 1]
    assert (steps["deadline_unset"], steps["deadline_earliest"]) == (-2, 1)
    assert [steps[k] for k in ("set_deadline_pad", "deadline_in_nonzero", "deadline_pad",
                               "deadline_bad_fd", "deadline_drm_fd", "deadline_i915_fence",
                               "deadline_merged")] == [-22] * 7
    assert steps["deadline_merge_of_one"] == 0
    assert [steps[k] for k in ("create_efault", "inc_efault", "deadline_efault",
                               "unknown_ioctl", "sync_ioctl_on_timeline")] == [-14] * 3 + [-25] * 2
    assert (steps["other_signalled"], steps["other_untouched"]) == (1, 0)
    assert [steps[k] for k in ("closed_status", "closed_poll", "merged_closed_status")] == \
        [-2, 1, -2]
    counts = backend.counters()
    assert {k: v for k, v in counts.items() if v and k != "frames_used"} == {}
    assert machine.counters().leaks() == {}
    assert sum("sync/sw_sync closed: last fd gone" in line for line in lines) == 3
