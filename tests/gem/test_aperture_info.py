"""GET_APERTURE: the GGTT size, minus what the GPU layer has pinned there."""

from __future__ import annotations

import dataclasses

from softgem.gem.aperture_info import get_aperture
from softgem.gem.device import GemDevice
from softgem.gem.platform import DEFAULT_PLATFORM
from softgem.mm import PhysMem


class PinningGpu:
    """GPU hooks that report 1 MiB pinned in the GGTT."""

    def unbind_object(self, obj: object, wait: bool) -> None:
        pass

    def close_object(self, obj: object, file: object) -> None:
        pass

    def nr_bindings(self) -> int:
        return 0

    def ggtt_pinned_size(self) -> int:
        return 1 << 20


def test_with_nothing_pinned_the_whole_ggtt_is_available() -> None:
    dev = GemDevice(PhysMem(16))
    assert get_aperture(dev) == (4 << 30, 4 << 30)


def test_the_size_comes_from_the_platform() -> None:
    plat = dataclasses.replace(DEFAULT_PLATFORM, ggtt_size=2 << 30)
    assert get_aperture(GemDevice(PhysMem(16), platform=plat)) == (2 << 30, 2 << 30)


def test_pinned_ggtt_space_is_not_available() -> None:
    dev = GemDevice(PhysMem(16))
    dev.gpu = PinningGpu()
    assert get_aperture(dev) == (4 << 30, (4 << 30) - (1 << 20))
