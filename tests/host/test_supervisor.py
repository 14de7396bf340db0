"""The supervisor end to end: real programs (programs.c) under seccomp, a FakeBackend behind."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import tempfile

import pytest

from softgem.host import FakeBackend, HostUnsupported, Supervisor, run
from softgem.host.fake import DRM_IOCTL_I915_GETPARAM, DRM_IOCTL_VERSION
from softgem.mm.notify import NotifyEvent

PAGE = 4096


def test_a_program_opens_card0_and_gets_the_i915_version_and_chipset(run_mode) -> None:
    out = run_mode("version")
    assert out.status == 0
    assert out.values["version"] == "0"
    assert out.values["name"] == "i915"
    assert out.values["name_len"] == "4"
    assert out.values["desc"] == "Intel Graphics"
    assert out.values["chipset"] == "0x1912"
    assert out.supervisor.errors == []


def test_fstat_and_stat_describe_drm_character_devices(run_mode) -> None:
    out = run_mode("version")
    assert out.values["fstat"] == "chr:226:0"
    assert out.values["same_inode"] == "1"
    assert out.values["stat128"] == "128"


def test_readlink_of_the_fd_names_the_device_and_open_flags_are_kept(run_mode) -> None:
    out = run_mode("version")
    assert out.values["link"] == "/dev/dri/card0"
    assert out.values["cloexec"] == "1"


def test_a_device_that_does_not_exist_stays_missing(run_mode) -> None:
    assert run_mode("version").values["missing"] == str(-errno.ENOENT)


def test_dup_and_fork_share_one_file_released_once_after_the_last_close(run_mode) -> None:
    out = run_mode("share")
    assert out.values == {"child": "0", "after_first_close": str(0x1912),
                          "after_last_close": str(-errno.EBADF)}
    backend = out.backend
    assert len(backend.files) == 1
    assert backend.releases == backend.files
    callers = {pid for pid, _req, _arg in backend.files[0].ioctls}
    assert len(callers) == 2                   # the parent and the forked child


@pytest.mark.parametrize(("case", "expected"), [
    ("struct", errno.EFAULT),        # the ioctl argument itself is a bad pointer
    ("value", errno.EFAULT),         # a pointer inside it is bad
    ("readonly", errno.EFAULT),      # ... or points to a read-only page
    ("param", errno.EINVAL),         # the backend's own errno comes through
    ("unknown", errno.ENOTTY),
    ("mmap", errno.ENODEV),          # CPU mmap of a device fd is not served yet
])
def test_errors_reach_the_program_as_errnos(run_mode, case: str, expected: int) -> None:
    out = run_mode("efault")
    assert out.status == 0
    assert out.values[case] == str(expected)
    assert out.supervisor.errors == []


def test_mmap_of_a_device_fd_warns_once(run_mode) -> None:
    out = run_mode("efault")
    assert len(out.warnings) == 1
    assert "mmap" in out.warnings[0]


@pytest.mark.parametrize(("status_args", "expected"), [
    (("exit", "0"), 0),
    (("exit", "3"), 3),
    (("signal", str(int(signal.SIGKILL))), 128 + signal.SIGKILL),
    (("signal", str(int(signal.SIGTERM))), 128 + signal.SIGTERM),
])
def test_the_programs_exit_status_is_returned(run_mode, status_args, expected) -> None:
    assert run_mode(*status_args).status == expected


def test_a_program_that_cannot_be_found_exits_127() -> None:
    assert run(["/nonexistent/softgem-test-program"], FakeBackend()) == 127


def test_munmap_mprotect_madvise_and_mmap_fixed_reach_mm_event_before_they_run(
        run_mode) -> None:
    out = run_mode("mm")
    base = int(out.values["base"])
    events = [(ev, start - base, end - base, cause)
              for _tgid, ev, start, end, cause in out.backend.events
              if base <= start < base + 4 * PAGE]
    assert events == [
        (NotifyEvent.UNMAP, 3 * PAGE, 4 * PAGE, "munmap"),
        (NotifyEvent.PROTECTION_VMA, PAGE, 2 * PAGE, "mprotect"),
        (NotifyEvent.CLEAR, 0, PAGE, "madvise"),
        (NotifyEvent.UNMAP, 2 * PAGE, 3 * PAGE, "mmap"),
    ]


def test_a_shrinking_brk_unmaps_the_released_heap_pages(run_mode) -> None:
    out = run_mode("brk")
    top = int(out.values["top"])
    brk_events = [(ev, start, end) for _t, ev, start, end, cause in out.backend.events
                  if cause == "brk"]
    assert (NotifyEvent.UNMAP, _up(top + 8 * PAGE), _up(top + 16 * PAGE)) in brk_events


def _up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


def test_concurrent_ioctls_from_several_threads_are_all_served(run_mode) -> None:
    out = run_mode("threads")
    assert out.values["failures"] == "0"
    ioctls = out.backend.files[0].ioctls
    assert len(ioctls) == 4 * 200
    assert len({pid for pid, _r, _a in ioctls}) == 4
    assert out.supervisor.errors == []


def test_a_program_killed_in_the_middle_of_ioctls_is_cleaned_up(run_mode) -> None:
    out = run_mode("killed-mid-ioctl")
    assert out.status == 128 + signal.SIGKILL
    assert out.supervisor.errors == []
    assert out.backend.releases == out.backend.files
    assert len(out.backend.exits) >= 1


def test_forks_threads_and_racing_closes_leave_nothing_behind(run_mode) -> None:
    out = run_mode("storm")
    assert out.status == 0 and out.values["done"] == "1"
    assert len(out.backend.files) == 16
    assert sorted(id(f) for f in out.backend.releases) == sorted(id(f) for f in out.backend.files)
    assert {f.minor for f in out.backend.files} == {0, 128}
    assert out.supervisor.errors == []


def test_fork_and_exec_are_followed_as_new_address_spaces(run_mode) -> None:
    out = run_mode("forkexec")
    assert out.values["child"] == "0"
    parent, child = int(out.values["parent_pid"]), int(out.values["child_pid"])
    assert [(p.tgid, c.tgid) for p, c in out.backend.forks] == [(parent, child)]
    execs = [(old.tgid, old.gen, new.gen) for old, new in out.backend.execs]
    assert (child, 0, 1) in execs                       # the child ran /bin/true
    assert (parent, 0, 1) in execs                      # and the program itself was exec'd
    assert {mm.tgid for mm in out.backend.exits} >= {parent, child}
    assert any(cause == "fork" and ev is NotifyEvent.PROTECTION_PAGE
               for _t, ev, _s, _e, cause in out.backend.events)


def test_sysfs_and_dev_dri_look_like_an_i915_machine(run_mode) -> None:
    out = run_mode("sysfs")
    assert out.values["link"] == "../../devices/pci0000:00/0000:00:02.0/drm/card0"
    assert out.values["vendor"] == "0x8086"
    assert sorted(out.values["entries"].strip(",").split(",")) == ["card0", "renderD128"]
    assert out.values["access"] == "0"
    assert out.values["relative"] == "226:128"     # ".." from a sysfs dir fd


def test_the_trace_shows_each_served_ioctl_and_invalidation(run_mode) -> None:
    lines: list[str] = []
    run_mode("mm", trace=lines)
    assert any("munmap -> UNMAP" in line for line in lines)
    lines.clear()
    run_mode("version", trace=lines)
    assert any(f"ioctl {DRM_IOCTL_VERSION:#010x}" in line for line in lines)
    assert any(f"ioctl {DRM_IOCTL_I915_GETPARAM:#010x}" in line for line in lines)


def test_an_unprivileged_user_can_run_a_program(programs: str) -> None:
    """The supervisor drops to nobody in a forked child (no_new_privs is what makes the
    filter legal without CAP_SYS_ADMIN); the child reports through its exit status.  The
    program is copied where nobody can reach it (pytest's tmp dirs are private to root)."""
    workdir = tempfile.mkdtemp(prefix="softgem-nobody-")
    try:
        os.chmod(workdir, 0o777)
        exe = shutil.copy(programs, workdir)
        result = os.path.join(workdir, "version.out")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                backend = FakeBackend()
                status = Supervisor(backend, warn=lambda _l: None).run(
                    [exe, "version", result])
                good = status == 0 and len(backend.releases) == 1 and os.getuid() == 65534
                code = 0 if good else 2
            finally:
                os._exit(code)
        _, wstatus = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wstatus) == 0
        with open(result) as f:
            assert "name=i915" in f.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_probing_a_fd_that_is_not_a_listener_explains_what_is_missing() -> None:
    from softgem.host.seccomp import probe_kernel, probe_listener

    r, w = os.pipe()
    try:
        with pytest.raises(HostUnsupported, match="CONTINUE"):
            probe_listener(r, probe_kernel())
    finally:
        os.close(r)
        os.close(w)
