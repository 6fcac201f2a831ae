"""What the command prints: Rich on terminals (colour off without one or under NO_COLOR), JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

PIPED_WIDTH = 200


def counted(count: int, noun: str) -> str:
    """'1 file', '2 files': a count with its noun."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def consoles() -> tuple[Console, Console]:
    """stdout and stderr consoles, made per run (tests swap the streams). Rich turns colour off when
    the stream is not a terminal; NO_COLOR (any value) turns it off on a terminal too."""
    return _console(sys.stdout), _console(sys.stderr)


def _console(file) -> Console:
    console = Console(file=file, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH  # a pipe or file has no width: whole table rows, not 80-column folds
    return console


def print_json(value: Any) -> None:
    """JSON for scripts: plain, on stdout, whatever the terminal."""
    sys.stdout.write(json.dumps(value, indent=1, default=str) + "\n")
    sys.stdout.flush()


def byte_progress(err: Console) -> Progress:
    """One bar for a batch: files done of all and bytes, on stderr, only when stderr is a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[files]}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=False,
    )


Advance = Callable[[int, bool], None]
"""advance(bytes, file_finished): what a transfer reports as it goes."""


@contextmanager
def file_bar(err: Console, description: str, files: int, total_bytes: int) -> Iterator[Advance]:
    """byte_progress for one batch of `files` files; yields advance(bytes, file_finished)."""
    finished = 0
    with byte_progress(err) as progress:
        task = progress.add_task(description, total=total_bytes, files=f"0/{files} files")

        def advance(count: int, file_finished: bool) -> None:
            nonlocal finished
            finished += file_finished
            progress.update(task, advance=count, files=f"{finished}/{files} files")

        yield advance


def count_progress(err: Console) -> Progress:
    """A bar of items (results waited for), on stderr, only on a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} {task.fields[note]}"),
        console=err,
        disable=not err.is_terminal,
        transient=False,
    )


@contextmanager
def item_progress(
    err: Console, description: str, total: int | None, quiet: bool
) -> Iterator[Callable[[str], None]]:
    """A bar of results handled, on stderr, only on a terminal and not under --json; a spinner and a
    count when the total is not known (a listing read a page at a time). Yields advance(state), which
    counts each state (exported, skipped, missing) beside the bar."""
    counts: dict[str, int] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total, note="")

        def advance(state: str) -> None:
            counts[state] = counts.get(state, 0) + 1
            progress.update(task, advance=1, note=", ".join(f"{n} {s}" for s, n in counts.items()))

        yield advance
