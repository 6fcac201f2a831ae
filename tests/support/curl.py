"""curl as the end-to-end tests run it: the real client users copy commands from."""

from __future__ import annotations

import subprocess


def curl(*arguments: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl; return the status, the response headers (lower-case names) and the body."""
    completed = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "120", "--include", *arguments],
        capture_output=True,
        check=True,
    )
    head, _, body = completed.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # curl shows the interim answer to Expect: 100-continue
        head, _, body = body.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
    }
    return int(status_line.split()[1]), headers, body
