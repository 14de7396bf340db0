"""Starting PROGRAM under the filter, and learning how it ended.

Process tree::

    supervisor (this process: threads serving the listener)
      `-- reaper   (forked; PR_SET_CHILD_SUBREAPER; reports the program's status)
            `-- program (forked; no_new_privs, filter installed, then execvp)
                  `-- its children, grandchildren ... (orphans are re-parented to the reaper)

The reaper exists because the supervisor may live inside a larger process (pytest, an IDE)
whose own children it must not reap: the reaper is the subreaper of the program's tree and
reaps everything in it; when the program itself exits it reports the status and kills what
is left of the tree ("nothing escapes"), and it exits once the tree is empty.

Lifetime (docs/host-mode.md, "Lifetime"): the tree dies with the supervisor, whatever
signal killed it.  The reaper's PDEATHSIG is SIGTERM, which it catches to SIGKILL every
descendant (orphans come to it, the subreaper) until none is left; the program's is
SIGKILL (so it dies even if its reaper was SIGKILLed directly).  Both check their parent
after the prctl, in case it died before.

Handing the listener over: right after ``seccomp(SET_MODE_FILTER, NEW_LISTENER)`` the
program may not run any trapped system call until the supervisor serves the listener, or it
would wait forever.  So it only writes the listener's fd number to the status pipe and
waits for a byte on the *go* pipe (``read`` is never trapped).  The supervisor takes the fd
with ``pidfd_getfd``, starts serving, and sends the byte; the program then calls ``execve``.
Its own copy of the listener is close-on-exec (the kernel makes it so).

Messages on the status pipe are 5 bytes: a tag and a little-endian int.
``P`` program pid (reaper), ``K`` 1 when the filter has WAIT_KILLABLE_RECV (program),
``L`` listener fd (program), ``E`` setup errno (program),
``S`` exit status, 128+signal when killed (reaper).  End of file: the tree is empty.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .seccomp import (
    NR_SECCOMP,
    SECCOMP_FILTER_FLAG_NEW_LISTENER,
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    SECCOMP_SET_MODE_FILTER,
    HostUnsupported,
    libc,
    sock_filter,
    sock_fprog,
)

__all__ = ["Launched", "launch"]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
NR_PIDFD_GETFD = 438
_MSG = struct.Struct("<ci")


@dataclass
class Launched:
    pid: int          # the program
    reaper: int
    listener: int     # our copy of the listener fd
    status_fd: int    # read end of the status pipe
    go_fd: int        # write end of the go pipe
    killable: bool = True   # WAIT_KILLABLE_RECV: a received call is not interrupted

    def go(self) -> None:
        """Let the program proceed to execve (call once its listener is being served)."""
        os.write(self.go_fd, b"g")
        os.close(self.go_fd)
        self.go_fd = -1

    def wait_status(self) -> int:
        """Block until the program has exited; its status (128+signal if killed)."""
        status = 255
        while True:
            msg = _read_msg(self.status_fd)
            if msg is None:
                return status
            if msg[0] == b"S":
                return msg[1]

    def wait_tree(self) -> None:
        """Block until every process of the tree is gone (the reaper exited)."""
        while _read_msg(self.status_fd) is not None:
            pass
        _waitpid(self.reaper)

    def kill(self) -> None:
        for pid in (self.pid, self.reaper):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        os.close(self.status_fd)
        if self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1


def _read_msg(fd: int) -> tuple[bytes, int] | None:
    data = b""
    while len(data) < _MSG.size:
        try:
            chunk = os.read(fd, _MSG.size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    tag, value = _MSG.unpack(data)
    return tag, value


def _waitpid(pid: int) -> None:
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _write_msg(fd: int, tag: bytes, value: int) -> None:
    os.write(fd, _MSG.pack(tag, value))


def _prctl(option: int, arg: int) -> None:
    if libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _install_filter(prog: sock_fprog) -> tuple[int, bool]:
    """(the listener fd (close-on-exec) or -errno, whether WAIT_KILLABLE_RECV is on).
    Prefers WAIT_KILLABLE_RECV (5.19+): once the supervisor has received a call, a non-fatal
    signal no longer interrupts it, so an ioctl cannot be half served and then restarted."""
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    ret = int(libc.syscall(NR_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog)))
    killable = bool(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    if ret < 0 and ctypes.get_errno() == errno.EINVAL:
        killable = False
        ret = int(libc.syscall(NR_SECCOMP, SECCOMP_SET_MODE_FILTER,
                               SECCOMP_FILTER_FLAG_NEW_LISTENER, ctypes.byref(prog)))
    return (ret if ret >= 0 else -ctypes.get_errno()), killable


def _program_main(path: str, argv: Sequence[str], env: Mapping[str, str], filt: bytes,
                  status_w: int, go_r: int, reaper: int) -> None:
    """In the forked program: never returns.  It dies with its reaper (PDEATHSIG SIGKILL,
    kept across execve), and its reaper dies with the supervisor (see _reaper_main)."""
    code = 126
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != reaper:
            os._exit(code)
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        # A process whose credentials changed (a root supervisor that dropped to a user) is
        # not dumpable, which would refuse pidfd_getfd and process_vm_readv; execve
        # recomputes it for the program's own image.
        _prctl(PR_SET_DUMPABLE, 1)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        insns = (sock_filter * (len(filt) // ctypes.sizeof(sock_filter))).from_buffer_copy(filt)
        prog = sock_fprog(len(insns), insns)
        ret, killable = _install_filter(prog)
        if ret < 0:
            _write_msg(status_w, b"E", -ret)
            os._exit(code)
        # From here on, nothing but the messages and execve (see the module docstring).
        _write_msg(status_w, b"K", int(killable))
        _write_msg(status_w, b"L", ret)
        if os.read(go_r, 1) != b"g":
            os._exit(code)              # the supervisor gave up
        os.close(go_r)
        code = 127
        os.execve(path, list(argv), dict(env))
    except OSError as exc:
        os.write(2, f"softgem: {argv[0]}: {exc.strerror}\n".encode())
        code = 127 if exc.errno == errno.ENOENT else 126
    except BaseException:
        pass
    os._exit(code)


def _kill_children() -> None:
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _SupervisorGone(Exception):
    """The reaper's parent died (its PDEATHSIG, SIGTERM, arrived)."""


def _watch_supervisor(supervisor: int) -> None:
    """SIGTERM means the supervisor is gone once the reaper's parent is no longer it.  The
    kernel sends PDEATHSIG each time the parent *thread* exits and the child moves to
    another thread of the same process, so a dying multi-threaded supervisor sends several:
    those that find it still the parent are ignored, and after the first that does not,
    every later one is (the tree is being killed)."""
    def on_term(signum: int, frame: object) -> None:
        if os.getppid() != supervisor:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            raise _SupervisorGone

    signal.signal(signal.SIGTERM, on_term)


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (``/proc/PID/task/TID/children``, recursively)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tids = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    kids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _kill_tree() -> None:
    """SIGKILL every descendant, reap, and again until no child is left.  A process made
    after a scan has a parent that was alive at it (and is killed by it, and so forks no
    more) or is an orphan re-parented to this subreaper: the next scan finds it."""
    while True:
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _reaper_main(path: str, argv: Sequence[str], env: Mapping[str, str], filt: bytes,
                 status_w: int, go_r: int, supervisor: int, leftovers: Sequence[str]) -> None:
    """In the forked reaper: never returns.  Its PDEATHSIG is SIGTERM, caught: when the
    supervisor dies, whatever killed it, the reaper kills the whole tree, removes the
    supervisor's ``leftovers`` (directories it could not remove itself), then exits."""
    try:
        _watch_supervisor(supervisor)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != supervisor:       # it died before the prctl
            os._exit(0)
        for sig in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)
        me = os.getpid()
        program = os.fork()
        if program == 0:
            _program_main(path, argv, env, filt, status_w, go_r, me)
        os.close(go_r)
        _write_msg(status_w, b"P", program)
        done = False
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if info is not None and info.si_pid == program:
                killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
                _write_msg(status_w, b"S", 128 + info.si_status if killed else info.si_status)
                done = True
            if done:
                _kill_children()
    except BaseException:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            _kill_tree()             # supervisor gone, or a reaper failure: nothing outlives it
            for leftover in leftovers:
                shutil.rmtree(leftover, ignore_errors=True)
        except BaseException:
            pass
    os._exit(0)


def _getfd(pid: int, fd: int) -> int:
    pidfd = os.pidfd_open(pid)
    try:
        ret = int(libc.syscall(NR_PIDFD_GETFD, pidfd, fd, 0))
        if ret < 0:
            raise OSError(ctypes.get_errno(), f"pidfd_getfd({pid}, {fd})")
        return ret
    finally:
        os.close(pidfd)


def _resolve(argv0: str, env: Mapping[str, str]) -> str:
    """execvp's search, done before forking (so the program execs once)."""
    if "/" in argv0:
        return argv0
    found = shutil.which(argv0, path=env.get("PATH", os.defpath))
    return found or argv0


def _await_listener(status_r: int, go_w: int, reaper: int) -> tuple[int, int, bool]:
    """(program pid, listener fd number in the program, killable wait) from the status
    pipe."""
    pid = listener = -1
    killable = True
    while pid < 0 or listener < 0:
        msg = _read_msg(status_r)
        if msg is None or msg[0] == b"E":
            os.close(status_r)
            os.close(go_w)
            _waitpid(reaper)
            why = os.strerror(msg[1]) if msg else "the program exited during setup"
            raise HostUnsupported(f"could not install the seccomp filter: {why}")
        if msg[0] == b"P":
            pid = msg[1]
        elif msg[0] == b"K":
            killable = bool(msg[1])
        elif msg[0] == b"L":
            listener = msg[1]
    return pid, listener, killable


def launch(argv: Sequence[str], filt: bytes, env: Mapping[str, str] | None = None,
           leftovers: Sequence[str] = ()) -> Launched:
    """Fork the reaper and the program; return once the listener is ours.  ``leftovers``:
    directories the reaper removes if the supervisor dies first (the shadow tree).

    Raises HostUnsupported if the program could not install the filter."""
    if not argv:
        raise ValueError("no program given")
    env = dict(os.environ if env is None else env)
    path = _resolve(argv[0], env)
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    supervisor = os.getpid()
    reaper = os.fork()
    if reaper == 0:
        os.close(status_r)
        os.close(go_w)
        _reaper_main(path, argv, env, filt, status_w, go_r, supervisor, tuple(leftovers))
    os.close(status_w)
    os.close(go_r)
    pid, listener, killable = _await_listener(status_r, go_w, reaper)
    try:
        fd = _getfd(pid, listener)
    except OSError:
        # Killed, not told: with the filter installed, its own exit would wait for us.
        os.kill(pid, signal.SIGKILL)
        os.close(go_w)
        while _read_msg(status_r) is not None:
            pass
        os.close(status_r)
        _waitpid(reaper)
        raise
    return Launched(pid, reaper, fd, status_r, go_w, killable)
