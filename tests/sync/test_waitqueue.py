"""WaitQueue and Completion: sleepers wake on the state change, never miss one."""

from __future__ import annotations

from sync_threads import Threads

from softgem.sync import Completion, WaitQueue

WAIT = 20.0     # liveness bound: a lost wake-up makes the wait time out and the test fail


def test_a_waiter_wakes_once_another_thread_changes_the_state(threads: Threads) -> None:
    wq, state = WaitQueue("t_wq.basic"), {"ready": False}
    got: list[bool] = []
    threads.start(lambda: got.append(wq.wait_event(lambda: state["ready"], WAIT)))
    state["ready"] = True
    wq.wake_up_all()
    threads.join()
    assert got == [True]


def test_a_wait_that_times_out_returns_false() -> None:
    assert WaitQueue("t_wq.timeout").wait_event(lambda: False, timeout=0.01) is False


def test_ping_pong_never_loses_a_wake_up(threads: Threads) -> None:
    wq = WaitQueue("t_wq.pingpong")
    turn = [0]
    rounds = 300

    def player(me: int) -> None:
        for _ in range(rounds):
            assert wq.wait_event(lambda: turn[0] % 2 == me, WAIT)
            turn[0] += 1
            wq.wake_up_all()

    threads.start(lambda: player(0), "ping")
    threads.start(lambda: player(1), "pong")
    threads.join()
    assert turn[0] == 2 * rounds


def test_complete_all_releases_every_waiter_and_later_ones(threads: Threads) -> None:
    done = Completion("t_comp.all")
    woke: list[bool] = []
    for i in range(3):
        threads.start(lambda: woke.append(done.wait(WAIT)), f"waiter{i}")
    assert not done.done()
    done.complete_all()
    threads.join()
    assert woke == [True, True, True]
    assert done.wait(0) is True


def test_reinit_makes_a_completion_wait_again() -> None:
    done = Completion("t_comp.reinit")
    done.complete()
    done.reinit()
    assert not done.done()
    assert done.wait(0.01) is False
