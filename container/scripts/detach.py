"""Start a daemon detached from its caller: python3 detach.py --log FILE [--cwd DIR] -- COMMAND...

A daemon started with `nohup COMMAND &` keeps every file descriptor of the shell that started it,
so a lock the caller held (`flock lockfile make up`) stays held for as long as the daemon runs.
This starts COMMAND in a new session (no controlling terminal, out of the caller's process group),
with stdin from /dev/null, stdout and stderr appended to FILE and every other descriptor closed,
prints its pid and returns at once. Standard library only: the scripts that start the Docker engine
run it with the system's python3 before any venv exists.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def start(command: list[str], log: str, cwd: str | None = None) -> int:
    """Start `command` detached; return its pid."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            close_fds=True,
            start_new_session=True,
        )
    return process.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="detach.py", description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True, help="file the daemon's output is appended to")
    parser.add_argument("--cwd", help="the daemon's working directory")
    parser.add_argument("command", nargs="+", help="the daemon and its arguments (after --)")
    args = parser.parse_args(argv)
    print(start(args.command, args.log, args.cwd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
