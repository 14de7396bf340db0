"""SeqCount: a reader that sees no retry saw a consistent snapshot."""

from __future__ import annotations

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import Mutex, SeqCount


def test_a_write_section_forces_readers_to_retry() -> None:
    seq = SeqCount("t_seq.basic")
    start = seq.read_begin()
    assert not seq.read_retry(start)
    with seq:
        assert seq.read_retry(seq.read_begin())     # odd: a writer is inside
    assert seq.read_retry(start)
    assert not seq.read_retry(seq.read_begin())


def test_readers_never_accept_a_torn_pair(threads: Threads) -> None:
    seq, lock = SeqCount("t_seq.pair"), Mutex("t_seq.writer")
    pair = {"a": 0, "b": 0}
    stop = [False]
    accepted = [0]

    def writer() -> None:
        for v in range(1, 2001):
            with lock, seq:
                pair["a"] = v
                pair["b"] = v
        stop[0] = True

    def reader() -> None:
        # Always one more read after the writer stopped: on a loaded machine the writer may
        # finish before the reader's first iteration, and that read must still be accepted.
        while True:
            writer_done = stop[0]
            start = seq.read_begin()
            a, b = pair["a"], pair["b"]
            if not seq.read_retry(start):
                assert a == b
                accepted[0] += 1
            if writer_done:
                break

    threads.start(writer, "writer")
    threads.start(reader, "reader")
    threads.join()
    assert accepted[0] > 0


@pytest.mark.parametrize("misuse", ["nested begin", "end without begin"])
def test_unbalanced_write_sections_are_bugs(misuse: str) -> None:
    seq = SeqCount("t_seq.misuse")
    if misuse == "nested begin":
        seq.write_begin()
        with pytest.raises(SimBug):
            seq.write_begin()
    else:
        with pytest.raises(SimBug):
            seq.write_end()
