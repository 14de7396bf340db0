"""softgem.host exports exactly its public API."""

from __future__ import annotations

import softgem.host


def test_the_package_exports_the_supervisor_api() -> None:
    assert sorted(softgem.host.__all__) == [
        "CoreBackend", "FakeBackend", "FakeFile", "HostBackend", "HostTask", "HostUnsupported",
        "HostVma", "Supervisor", "TracedMm", "move_frames", "run", "vmas_covering",
    ]
    for name in softgem.host.__all__:
        assert getattr(softgem.host, name) is not None
