"""Daemons the scripts start (dockerd, LocalStack) must not keep the caller's files open.

Each test holds a real lock with flock(1) around the command that starts a daemon, as
`flock lockfile make up` does, and checks that the lock is free again once the command returns,
while the daemon still runs. The control test shows the check catches the old `nohup ... &`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT

SCRIPTS = ROOT / "container" / "scripts"
DETACH = [sys.executable, str(SCRIPTS / "detach.py")]


def lock_is_free(lock: Path) -> bool:
    return subprocess.run(["flock", "--nonblock", str(lock), "true"]).returncode == 0


def open_files(pid: int) -> dict[int, str]:
    fds = Path(f"/proc/{pid}/fd")
    return {int(fd.name): os.readlink(fd) for fd in fds.iterdir()}


@pytest.fixture
def daemons():
    """Pids of the daemons a test started; each is killed at the end, by its id."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def assert_detached(pid: int, log: Path) -> None:
    assert os.getsid(pid) == pid, "the daemon leads its own session"
    assert os.getsid(pid) != os.getsid(0)
    assert open_files(pid) == {0: "/dev/null", 1: str(log), 2: str(log)}


def test_detach_closes_the_callers_files(tmp_path, daemons):
    lock, log = tmp_path / "held.lock", tmp_path / "daemon.log"
    started = subprocess.run(
        ["flock", str(lock), *DETACH, "--log", str(log), "--", "sleep", "60"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(started.stdout)
    daemons.append(pid)
    assert Path(f"/proc/{pid}").exists(), "the daemon runs on after the launcher returned"
    assert lock_is_free(lock), "the daemon kept the caller's lock"
    assert_detached(pid, log)


def test_detach_appends_the_daemons_output_to_its_log(tmp_path, daemons):
    log = tmp_path / "daemon.log"
    log.write_text("earlier run\n")
    pid = int(
        subprocess.check_output(
            [*DETACH, "--log", str(log), "--", "sh", "-c", "echo out; echo err >&2"],
            text=True,
        )
    )
    daemons.append(pid)
    deadline = time.monotonic() + 10
    while log.read_text().count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().splitlines()[0] == "earlier run"
    assert sorted(log.read_text().splitlines()[1:]) == ["err", "out"]


def test_the_check_catches_a_daemon_started_with_nohup(tmp_path, daemons):
    """Control: the way ensure-docker.sh used to start dockerd keeps the lock held."""
    lock, log = tmp_path / "held.lock", tmp_path / "daemon.log"
    started = subprocess.run(
        ["flock", str(lock), "bash", "-c", f"nohup sleep 60 >{log} 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    daemons.append(int(started.stdout))
    assert not lock_is_free(lock)


def test_ensure_docker_starts_dockerd_detached(tmp_path, daemons):
    """The real script, with stand-ins for docker (answers once dockerd wrote its pid) and dockerd."""
    bin_dir, marker, lock = tmp_path / "bin", tmp_path / "dockerd.pid", tmp_path / "held.lock"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\n[ "$1" = info ] && [ -s {marker} ]\n')
    (bin_dir / "dockerd").write_text(f"#!/bin/sh\necho $$ >{marker}\nexec sleep 60\n")
    for stand_in in bin_dir.iterdir():
        stand_in.chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "XDG_CACHE_HOME": str(tmp_path)}
    try:
        subprocess.run(
            ["flock", str(lock), "bash", str(SCRIPTS / "ensure-docker.sh")],
            env=environment,
            check=True,
            timeout=60,
        )
    finally:
        if marker.exists():
            daemons.append(int(marker.read_text()))
    assert lock_is_free(lock), "dockerd kept the caller's lock"
    assert_detached(daemons[0], tmp_path / "darknet-lambda" / "dockerd.log")
