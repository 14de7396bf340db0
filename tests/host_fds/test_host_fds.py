"""PRIME, sync_file and syncobj fds in host mode: a libdrm client under the supervisor gets
the simulated machine's answers, and nothing leaks in either world."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from c_steps import read_steps
from fds_scenario import play

import softgem.gpu
from softgem import Machine, uapi
from softgem.gem.prime import DmaBuf
from softgem.host import Supervisor
from softgem.host.core import CoreBackend
from softgem.host.hostfds import dmabuf_of
from softgem.host.task import HostTask


class _SeeingBackend(CoreBackend):
    """Asks dmabuf_of about every fd PRIME_HANDLE_TO_FD hands out, as mmap will."""

    def __init__(self) -> None:
        super().__init__(memory=64 << 20)
        self.seen: list[object] = []

    def ioctl(self, file: object, task: HostTask, request: int, arg: int) -> int:
        ret = super().ioctl(file, task, request, arg)
        if request == uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD:
            fd = int.from_bytes(task.read(arg + 8, 4), "little", signed=True)
            self.seen.append(dmabuf_of(task.pid, fd))
        return ret


def test_the_fds_client_gets_the_simulated_machines_answers(fds_client: str,
                                                             tmp_path: pathlib.Path) -> None:
    out = tmp_path / "steps.txt"
    backend = _SeeingBackend()
    lines: list[str] = []
    sup = Supervisor(backend, warn=lambda _line: None, trace=lines.append)
    status = sup.run([fds_client, str(out)])
    assert status == 0 and not sup.errors
    steps = read_steps(out)
    host_only = {k: v for k, v in steps.items() if k.startswith("host_")}
    assert host_only == {"host_export_cloexec": 1, "host_export_plain_inherits": 1,
                         "host_fence_cloexec": 1}
    host = {k: v for k, v in steps.items() if not k.startswith("host_")}
    machine = Machine(memory=64 << 20)
    softgem.gpu.attach(machine.device)
    simulated = play(machine)
    machine.shutdown()
    assert host == simulated
    assert host["fence_out_emfile"] == -24 and host["fence_poll"] == 1
    assert [host[k] for k in ("dmabuf_sync_bad_flags", "dmabuf_sync_without_rw",
                              "dmabuf_sync_start", "dmabuf_sync_end",
                              "drm_ioctl_on_dmabuf")] == [-22, -22, 0, 0, -25]
    assert host["scm_rights_child_imports"] == 0 and host["fork_child_imports"] == 0
    assert host["syncobj_wait_execbuf"] == 0 and host["merged_poll"] == 1
    counts = backend.counters()
    assert {k: v for k, v in counts.items() if v and k != "frames_used"} == {}
    assert machine.counters().leaks() == {}
    assert len(backend.seen) == 3 and all(isinstance(b, DmaBuf) for b in backend.seen)
    # --trace shows the fds as they come and go
    assert any("anon_inode:dmabuf -> fd" in line for line in lines)
    assert any("anon_inode:sync_file closed" in line for line in lines)
    assert sum("anon_inode:dmabuf closed: last fd gone" in line for line in lines) == 3


@pytest.mark.parametrize("fd", [-1, 1000])
def test_dmabuf_of_answers_none_without_a_dmabuf(fd: int) -> None:
    assert dmabuf_of(1, fd) is None
