"""A child process that lives and dies with the command that started it.

``aggregator dashboard`` runs Streamlit as a child. Stopping the command must stop Streamlit,
however it is stopped:

- the child runs in its own process group, and SIGTERM, SIGINT or SIGHUP sent to the command is
  forwarded to that whole group; the command then waits for the group to exit and kills it with
  SIGKILL after a grace period;
- a terminal's Ctrl-C reaches only the command (the child's group is not the terminal's), so the
  child is told once, by the command;
- on Linux the child also asks the kernel for SIGKILL when its parent dies
  (``PR_SET_PDEATHSIG``), so it goes even when the command is killed by a signal it cannot catch
  (SIGKILL, a crash). SIGKILL, not SIGTERM: Streamlit's own stop writes to standard output first,
  and when that was a pipe read by whoever just lost the command, the write fails and Streamlit
  would keep running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 10.0

# Run first in the child's interpreter, then the module named after the parent's pid runs as
# ``python -m`` would run it. A child whose parent died before the request was made exits at once.
_LAUNCHER = """\
import os, runpy, signal, sys
parent = int(sys.argv[1])
if sys.platform.startswith("linux"):
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != parent:
    sys.exit(0)
del sys.argv[:2]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


class _Stop(Exception):
    """A stop signal arrived while waiting for the child."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` as a child that dies with this
    process."""
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), module, *args]


def run_owned(
    command: Sequence[str], *, env: Mapping[str, str], grace: float = GRACE_SECONDS
) -> int:
    """Run ``command`` until it exits or this process is told to stop; returns the exit code.

    A stop signal is forwarded to the child's process group; the exit code is then 0 when the
    child stopped within ``grace`` seconds, else the group is killed and the code is 128 + the
    signal, as a shell reports a process killed by it."""
    child = subprocess.Popen(list(command), env=dict(env), start_new_session=True)

    waiting = [True]

    def stop(signum: int, _frame: FrameType | None) -> None:
        if waiting[0]:  # once the wait is over, the child is gone or about to be killed
            raise _Stop(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    deadline: float | None = None
    try:
        while True:
            try:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                code = child.wait(timeout)
                return 0 if deadline is not None else code
            except _Stop as request:
                _signal_group(child, request.signum)
                if deadline is None:
                    deadline = time.monotonic() + grace
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
                return 128 + signal.SIGKILL
    finally:
        waiting[0] = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # an error of our own: the child never outlives the command
            _signal_group(child, signal.SIGKILL)
            child.wait()


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has exited already
        os.killpg(child.pid, signum)
