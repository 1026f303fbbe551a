"""``aggregator dashboard`` owns its Streamlit process: stopping the command stops Streamlit.

The real command starts the real Streamlit on a free port of 127.0.0.1; the test waits until it
answers, stops the command the way a terminal, systemd or ``kill`` would, and checks that no
Streamlit process is left and nothing answers on the port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.store import Store

REPO = Path(__file__).resolve().parent.parent
STARTUP = 180.0  # bound on waiting, not a claim about speed: the machine may be busy

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the Streamlit child through /proc (Linux)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def until(condition: object, what: str, limit: float = STARTUP) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting: {what}")


class Dashboard:
    """``aggregator dashboard`` on an empty database, started as a user would start it."""

    def __init__(self, tmp_path: Path) -> None:
        # SQLite only: signals and process groups, whatever the database
        db = tmp_path / "dash.db"
        Store(db).close()
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = ["--db", str(db), "dashboard", "--port", str(self.port)]
        self.command = subprocess.Popen(
            [sys.executable, "-m", "aggregator", *command],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        until(
            lambda: answers(self.port) or self.command.poll() is not None,
            "the dashboard answers",
        )
        assert self.command.poll() is None, self.command.communicate()[0]
        kids = children(self.command.pid)
        assert len(kids) == 1, kids
        self.streamlit = kids[0]

    def stop(self) -> None:
        """Whatever the test did, nothing it started is left running."""
        if self.command.poll() is None:
            self.command.kill()
        if alive(self.streamlit):  # first: Streamlit holds the output pipe open
            os.kill(self.streamlit, signal.SIGKILL)
        self.command.communicate(timeout=60)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    started = Dashboard(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_stops_the_command_and_streamlit(
    dashboard: Dashboard, signum: signal.Signals
) -> None:
    assert alive(dashboard.streamlit)
    dashboard.command.send_signal(signum)
    output, _ = dashboard.command.communicate(timeout=120)
    assert dashboard.command.returncode == 0, output
    assert not alive(dashboard.streamlit)
    assert not answers(dashboard.port)
    assert f"dashboard on http://127.0.0.1:{dashboard.port}" in output


def test_streamlit_goes_when_the_command_is_killed_outright(dashboard: Dashboard) -> None:
    dashboard.command.send_signal(signal.SIGKILL)  # no handler runs: the kernel tells the child
    dashboard.command.communicate(timeout=60)
    until(lambda: not alive(dashboard.streamlit), "Streamlit stops after its parent died", 60)
    until(lambda: not answers(dashboard.port), "the port stops answering", 60)
