"""The `darknet-lambda` command: put, invoke, ls, get, export, logs, backfill and status against a stack.

Click parses and documents the verbs, Rich draws progress bars, tables and logs. Finding the stack and
the AWS session: `stack.py`. Every known failure ends in one line on stderr and exit code 2 (setup) or 1
(an image or result did not succeed): `errors.py`.
"""

from __future__ import annotations

import io
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click

from darknet_detector.contract import (
    ANNOTATION_FORMATS,
    SERVICE_NAME,
    SYNC_BODY_LIMIT_BYTES,
    VERSION,
    YOLO_CLASSES_FILE,
)

from .errors import EXIT_NOT_ALL_SUCCEEDED, CliError, translate, wrap_unexpected
from .stack import API_KEY_ENV, OUTPUTS_ENV, Stack, discovery_rule, load_stack

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEFAULT_TIMEOUT = 300.0


def example(*lines: str) -> str:
    """A verb's help epilog: its examples, kept as written (Click's \\b marker)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


class Group(click.Group):
    """Maps every known library error to its one line, and anything else to one line too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except Exception as error:
            raise (translate(error) or wrap_unexpected(error)) from None


@dataclass
class Settings:
    outputs: str | None
    stack_name: str | None
    api_key: str | None
    _stack: Stack | None = field(default=None)

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            self._stack = load_stack(self.outputs, self.stack_name)
        return self._stack

    def api(self):
        from .client import Api

        return Api(self.stack, self.api_key)


pass_settings = click.make_pass_decorator(Settings)


@click.group(
    cls=Group,
    context_settings=CONTEXT_SETTINGS,
    epilog=f"Finding the stack: {discovery_rule()}. AWS credentials, region and endpoints come from the "
    "standard SDK configuration (profiles, AWS_* variables), or from the outputs file's localstack block.",
)
@click.option("--outputs", metavar="FILE", help="the stack's outputs (`pulumi stack output --json`)")
@click.option("--stack", "stack_name", metavar="NAME", help="a Pulumi stack, read with the Pulumi CLI")
@click.option("--api-key", metavar="KEY", help=f"the API's key (api_key authorization; or ${API_KEY_ENV})")
@click.version_option(VERSION, prog_name=SERVICE_NAME)
@click.pass_context
def cli(ctx: click.Context, outputs: str | None, stack_name: str | None, api_key: str | None) -> None:
    """Darknet/YOLO object detection on AWS Lambda, from the command line."""
    ctx.obj = Settings(outputs, stack_name, api_key)


def main() -> None:
    cli(prog_name=SERVICE_NAME)


def _consoles():
    from .output import consoles

    return consoles()


# ---------------------------------------------------------------------------------------------- put
@cli.command(
    epilog=example(
        "darknet-lambda put dog.jpg",
        "darknet-lambda put photos/ --wait            # photos/a.jpg -> input/photos/a.jpg",
        "darknet-lambda put photos/ --wait --json > results.json",
    )
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--wait", is_flag=True, help="follow each image to its result and print its detections")
@click.option(
    "--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, help="seconds --wait waits"
)
@click.option("--json", "as_json", is_flag=True, help="print a JSON document instead")
@pass_settings
def put(settings: Settings, paths: tuple[str, ...], wait: bool, timeout: float, as_json: bool) -> None:
    """Upload images and folders (recursively) to the input prefix.

    A folder keeps its name and relative paths under the stack's input prefix; files that are not
    images are refused before anything is sent; large files go up in parts."""
    from rich.filesize import decimal

    from . import batch as put_module
    from .output import count_progress, counted, file_bar, print_json

    out, err = _consoles()
    stack = settings.stack
    items = put_module.collect(paths, stack.input_prefix)
    for item in items:
        if item.state == "rejected":
            err.print(f"skipped {item.path}: {item.reason}")
    s3 = stack.client("s3")
    images = [item for item in items if item.kind is not None]
    total = sum(item.size for item in images)
    with file_bar(err, "upload", len(images), total) as advance:
        put_module.upload(s3, stack.bucket, stack.input_prefix, items, advance)
    if not as_json:
        size = decimal(total)
        err.print(
            f"uploaded {counted(len(images), 'file')} ({size}) to s3://{stack.bucket}/{stack.input_prefix}"
        )
    if wait and images:
        with count_progress(err) as progress:
            task = progress.add_task("results", total=len(images), note="")

            def arrived(item) -> None:
                progress.update(task, advance=1, note=item.key)
                if not as_json:
                    # On a terminal, above the live bar (one screen); piped, the lines are stdout's data.
                    target = progress.console if out.is_terminal and err.is_terminal else out
                    target.print("\n".join(put_module.report_lines(item)), markup=False)

            put_module.wait(s3, stack.bucket, stack.output_prefix, items, timeout, arrived)
    ok = put_module.succeeded(items, wait)
    if as_json:
        print_json({"summary": put_module.summary(items, wait), "items": [i.as_dict() for i in items]})
    else:
        for item in items:
            if item.state in ("rejected", "failed"):
                where = item.key if item.kind else f"{item.path} (not uploaded)"
                err.print(f"{item.state}: {where}: {item.reason}", markup=False)
        out.print(put_module.summary(items, wait))
    if not ok:
        sys.exit(EXIT_NOT_ALL_SUCCEEDED)


# ------------------------------------------------------------------------------------------- invoke
@cli.command(
    epilog=example(
        "darknet-lambda invoke dog.jpg                 # dog: 57% ...",
        "darknet-lambda invoke dog.jpg -o result.tar.gz",
        "darknet-lambda invoke dog.jpg -a --wait",
        "darknet-lambda invoke photo.jpg --threshold 0.25 --classes dog,person --json",
        "darknet-lambda invoke panorama.jpg --tiles auto  # small objects in a large photo",
    )
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out_file", type=click.Path(dir_okay=False), help="write the tar.gz here")
@click.option("-a", "--async", "asynchronous", is_flag=True, help="queue it; print the request id")
@click.option("--wait", is_flag=True, help="with -a: wait for the result")
@click.option("--threshold", type=float, help="keep boxes above this probability (0..1)")
@click.option("--classes", help="only these classes, comma-separated (dog,person)")
@click.option(
    "--tiles", help="sliced inference: auto, off, a grid (3x2) or a tile side (640), optional :OVERLAP"
)
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, help="seconds to wait")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON answer")
@pass_settings
def invoke(
    settings: Settings,
    file: str,
    out_file: str | None,
    asynchronous: bool,
    wait: bool,
    threshold: float | None,
    classes: str | None,
    tiles: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Detect objects in one image through the HTTP API (POST /detect).

    A file over the synchronous body limit goes through POST /uploads and the result is polled."""
    from .client import darknet_lines, error_reason, media_type, read_image
    from .output import print_json

    out, err = _consoles()
    api = settings.api()
    data, kind = read_image(file)
    content_type = media_type(kind)
    params = {}
    if threshold is not None:
        params["threshold"] = str(threshold)
    if classes:
        params["classes"] = classes
    if tiles:
        params["tiles"] = tiles
    name = Path(file).name
    document: dict[str, Any]
    if len(data) > SYNC_BODY_LIMIT_BYTES:
        if params:
            raise CliError(
                "--threshold, --classes and --tiles are not available for files sent through uploads"
            )
        if not as_json:
            err.print(f"{name} is over {SYNC_BODY_LIMIT_BYTES} bytes: sending it through POST /uploads")
        form = api.upload(name, data, content_type)
        if not as_json:
            err.print(f"request {form['request_id']}: waiting for {api.result_url(form)}")
        document = api.wait_result(api.result_url(form), timeout)
        if out_file:
            _archive_from_bucket(settings.stack, document["request_id"], Path(out_file))
    elif asynchronous:
        accepted = api.detect(data, content_type, params, "application/json", asynchronous=True).json()
        if not wait:
            if as_json:
                print_json(accepted)
            else:
                out.print(f"request id: {accepted['request_id']}")
                out.print(f"result:     {api.result_url(accepted)}")
                out.print(f"files:      {accepted.get('location')}")
            return
        if not as_json:
            err.print(f"request {accepted['request_id']}: waiting for its result")
        document = api.wait_result(api.result_url(accepted), timeout)
        if out_file:
            _archive_from_bucket(settings.stack, accepted["request_id"], Path(out_file))
    elif out_file:
        answer = api.detect(data, content_type, params, "application/gzip")
        if answer.headers.get("Content-Type", "").startswith("application/json"):
            stored = answer.json()
            _archive_from_links(stored["links"], Path(out_file))
        else:
            Path(out_file).write_bytes(answer.content)
        request_id = answer.headers.get("X-Request-Id", "")
        if as_json:
            print_json({"request_id": request_id, "output": out_file})
        else:
            out.print(f"wrote {out_file} (request {request_id})")
        return
    else:
        document = api.detect(data, content_type, params, "application/json").json()
    if as_json:
        print_json(document)
    elif document.get("status") == "ok":
        seconds = (document.get("timings") or {}).get("predict_seconds")
        out.print(f"{file}: Predicted in {seconds} seconds.", markup=False)
        out.print("\n".join(darknet_lines(document)), markup=False)
        if out_file:
            out.print(f"wrote {out_file}")
    if document.get("status") != "ok":
        raise CliError(f"{name} was rejected: {error_reason(document)}", EXIT_NOT_ALL_SUCCEEDED)


def _archive_from_links(links: dict[str, str], target: Path) -> None:
    """The stored answer's files (links by output name) packed into the tar.gz the client asked for."""
    import requests

    with tarfile.open(target, "w:gz") as archive:
        for url in links.values():
            body = requests.get(url, timeout=120)
            body.raise_for_status()
            _add(archive, urlparse(url).path.rsplit("/", 1)[-1], body.content)


def _archive_from_bucket(stack: Stack, request_id: str, target: Path) -> None:
    """An output folder (uploads and async paths) packed into a tar.gz."""
    from .results import folder_files

    s3 = stack.client("s3")
    with tarfile.open(target, "w:gz") as archive:
        for item in folder_files(s3, stack.bucket, stack.output_prefix, request_id):
            _add(archive, item["name"], s3.get_object(Bucket=stack.bucket, Key=item["key"])["Body"].read())


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    archive.addfile(info, io.BytesIO(data))


# ----------------------------------------------------------------------------------------------- ls
@cli.command(
    name="ls",
    epilog=example(
        "darknet-lambda ls",
        "darknet-lambda ls --status error --limit 50",
        "darknet-lambda ls --prefix input/photos/",
        "darknet-lambda ls 0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f   # that result's files",
    ),
)
@click.argument("request_id", required=False)
@click.option("--prefix", help="only results of source keys under this prefix")
@click.option("--status", type=click.Choice(["ok", "error"]), help="only results of this status")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_settings
def list_results(
    settings: Settings,
    request_id: str | None,
    prefix: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List results, newest first, or the files of one result."""
    from rich.table import Table

    from .output import print_json
    from .results import folder_files, newest

    out, _ = _consoles()
    stack = settings.stack
    s3 = stack.client("s3")
    if request_id:
        files = folder_files(s3, stack.bucket, stack.output_prefix, request_id)
        if not files:
            raise CliError(f"no result folder {stack.output_prefix}{request_id}/", EXIT_NOT_ALL_SUCCEEDED)
        if as_json:
            print_json(files)
            return
        table = Table("file", "bytes", "modified", box=None)
        for item in files:
            table.add_row(item["name"], str(item["bytes"]), item["modified"].strftime("%Y-%m-%d %H:%M:%S"))
        out.print(table)
        return
    prefixes = (prefix, stack.input_prefix + prefix) if prefix else ()

    def keep(listed) -> bool:
        row = listed.row()
        if status and row["status"] != status:
            return False
        return not prefixes or str(row["source"]).startswith(prefixes)

    rows = [listed.row() for listed in newest(s3, stack.bucket, stack.output_prefix, keep, limit)]
    if as_json:
        print_json(rows)
        return
    table = Table(box=None)
    table.add_column("request id", no_wrap=True, min_width=36)
    for column in ("source", "time", "status", "detections"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = "red" if row["status"] == "error" else None
        table.add_row(
            row["request_id"], row["source"], row["time"], row["status"], row["error"] or row["detections"],
            style=style,
        )  # fmt: skip
    out.print(table)


# ---------------------------------------------------------------------------------------------- get
@cli.command(
    epilog=example(
        "darknet-lambda get 0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f",
        "darknet-lambda get --all --dir results/",
    )
)
@click.argument("request_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="every result folder of the stack")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the downloaded files as JSON")
@pass_settings
def get(
    settings: Settings, request_ids: tuple[str, ...], everything: bool, directory: str, as_json: bool
) -> None:
    """Download result folders (DIR/REQUEST_ID/...)."""
    from .output import counted, file_bar, print_json
    from .results import all_request_ids, download, folder_files

    if bool(request_ids) == everything:
        raise click.UsageError("give REQUEST_ID... or --all")
    out, err = _consoles()
    stack = settings.stack
    s3 = stack.client("s3")
    ids = all_request_ids(s3, stack.bucket, stack.output_prefix) if everything else list(request_ids)
    pairs, sizes, missing = [], 0, []
    for request_id in ids:
        files = folder_files(s3, stack.bucket, stack.output_prefix, request_id)
        if not files:
            missing.append(request_id)
        for item in files:
            pairs.append((item["key"], Path(directory) / request_id / item["name"]))
            sizes += item["bytes"]
    with file_bar(err, "download", len(pairs), sizes) as advance:
        written = list(download(s3, stack.bucket, pairs, advance))
    if as_json:
        print_json({"files": [str(path) for path in written], "missing": missing})
    else:
        out.print(
            f"downloaded {counted(len(written), 'file')} of {counted(len(ids) - len(missing), 'result')} "
            f"to {directory}"
        )
    for request_id in missing:
        err.print(f"no result folder {stack.output_prefix}{request_id}/", markup=False)
    if missing:
        sys.exit(EXIT_NOT_ALL_SUCCEEDED)


# ------------------------------------------------------------------------------------------- export
@cli.command(
    epilog=example(
        "darknet-lambda export --format coco --out dataset/        # dataset/annotations.json",
        "darknet-lambda export --format yolo --prefix photos/ --out labels/",
        "darknet-lambda export --format voc 0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f --out voc/",
        "darknet-lambda export --format yolo --names coco.names --scores --out yolo/ --json",
    )
)
@click.argument("request_ids", nargs=-1)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(ANNOTATION_FORMATS),
    required=True,
    help="the dataset's format",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="a new folder")
@click.option("--prefix", "prefixes", multiple=True, help="only results of source keys under this prefix")
@click.option(
    "--names",
    "names_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the model's class names, one a line (its .names file): every class in categories and classes.txt",
)
@click.option("--scores", is_flag=True, help="YOLO: the score as a sixth column")
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON")
@pass_settings
def export(
    settings: Settings,
    request_ids: tuple[str, ...],
    format_name: str,
    out: Path,
    prefixes: tuple[str, ...],
    names_file: Path | None,
    scores: bool,
    as_json: bool,
) -> None:
    """Export results as a COCO, YOLO or Pascal VOC dataset.

    Every result under the stack's output prefix, those of source keys under --prefix, or the REQUEST_IDS
    given. COCO writes OUT/annotations.json; YOLO OUT/labels/NAME.txt per image and OUT/classes.txt; VOC
    OUT/Annotations/NAME.xml per image, NAME being the image's key below the input prefix. Class ids are
    the model's; failed results are skipped. The listing is read a page at a time, never whole."""
    from . import dataset_export
    from .output import counted, item_progress, print_json

    if request_ids and prefixes:
        raise click.UsageError("give REQUEST_IDS or --prefix, not both")
    out_console, err = _consoles()
    stack = settings.stack
    s3 = stack.client("s3")
    selection = dataset_export.Selection(
        request_ids, tuple(p for prefix in prefixes for p in (prefix, stack.input_prefix + prefix))
    )
    with item_progress(err, f"export {format_name}", len(request_ids) or None, quiet=as_json) as advance:
        report = dataset_export.export(
            s3,
            stack.bucket,
            (stack.input_prefix, stack.output_prefix),
            format_name,
            out,
            selection,
            names_file=names_file,
            scores=scores,
            advance=advance,
        )
    if as_json:
        print_json(report.as_dict())
    else:
        out_console.print(
            f"exported {counted(report.images, 'image')} with {counted(report.annotations, 'box')} as "
            f"{format_name} to {out} ({counted(report.files, 'file')}); "
            f"{counted(report.skipped, 'failed result')} skipped"
        )
        if report.unnamed_classes:
            err.print(
                f"{counted(len(report.unnamed_classes), 'class id')} that no result named are class_N in "
                f"{YOLO_CLASSES_FILE}: give --names (the model's names file) for their names"
            )
    for request_id in report.missing:
        err.print(f"no result {stack.output_prefix}{request_id}/", markup=False)
    if report.missing:
        sys.exit(EXIT_NOT_ALL_SUCCEEDED)


# --------------------------------------------------------------------------------------------- logs
@cli.command(
    epilog=example(
        "darknet-lambda logs --since 10m",
        "darknet-lambda logs --request-id 0193f0e2-8a4b-7c1d-9e2f-3a4b5c6d7e8f",
        "darknet-lambda logs --errors --follow          # until Ctrl-C",
    )
)
@click.option("--since", default="1h", show_default=True, help="how far back: 10m, 2h, 1d, or an ISO time")
@click.option("--request-id", help="only lines of this request")
@click.option("--errors", is_flag=True, help="only errors")
@click.option("--follow", "-f", is_flag=True, help="keep printing new lines until interrupted")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
@pass_settings
def logs(
    settings: Settings, since: str, request_id: str | None, errors: bool, follow: bool, as_json: bool
) -> None:
    """Show the function's log lines: time, level, request id, message."""
    import json as json_module

    from . import loglines as logs_module

    out, _ = _consoles()
    stack = settings.stack
    groups = logs_module.log_groups(stack.outputs)
    client = stack.client("logs")
    start = logs_module.since_millis(since)

    def emit(event: dict) -> None:
        line = logs_module.parse(event)
        if not logs_module.matches(line, event.get("message", ""), request_id, errors):
            return
        if as_json:
            sys.stdout.write(json_module.dumps(line.as_dict(), default=str) + "\n")
            sys.stdout.flush()
        else:
            out.print(logs_module.render(line))

    try:
        if follow:
            logs_module.follow(client, groups, start, emit)
        else:
            for event in logs_module.fetch(client, groups, start):
                emit(event)
    except KeyboardInterrupt:
        return  # --follow ends with Ctrl-C: a normal end


# ----------------------------------------------------------------------------------------- backfill
@cli.command(
    epilog=example(
        "darknet-lambda backfill input/2024/",
        "darknet-lambda backfill photos/ --wait         # input/photos/, and wait for the results",
    )
)
@click.argument("prefix")
@click.option("--wait", is_flag=True, help="wait for every result and report them")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds --wait waits")
@click.option("--json", "as_json", is_flag=True, help="print the counts as JSON")
@pass_settings
def backfill(settings: Settings, prefix: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Detect images already in the bucket, through the queue.

    Objects that already have a result are skipped, so a rerun resumes. A PREFIX outside the input
    prefix is taken as under it."""
    from dataclasses import asdict

    from .. import backfill as backfill_module
    from .output import print_json

    out, _ = _consoles()
    stack = settings.stack
    queue_url = stack.require("queueUrl", "backfill sends to the stack's queue (queue ingestion is off)")
    if not prefix.startswith(stack.input_prefix):
        prefix = stack.input_prefix + prefix
    if not prefix.endswith("/"):
        prefix += "/"
    try:
        counts = backfill_module.run(
            stack.bucket,
            prefix,
            queue_url,
            output_prefix=stack.output_prefix,
            input_prefix=stack.input_prefix,
            wait=wait,
            timeout=timeout,
            clients=(stack.client("s3"), stack.client("sqs")),
            quiet=as_json,
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    if as_json:
        print_json({"prefix": prefix, **asdict(counts)})
    elif counts.listed == 0:
        out.print(f"no objects under s3://{stack.bucket}/{prefix}")
    if counts.not_sent or counts.failed or counts.rejected:
        sys.exit(EXIT_NOT_ALL_SUCCEEDED)


# ------------------------------------------------------------------------------------------- status
@cli.command(epilog=example("darknet-lambda status", "darknet-lambda status --json | jq .function"))
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_settings
def status(settings: Settings, as_json: bool) -> None:
    """Outputs, function settings, queue depths, alarms, last errors."""
    from .output import print_json
    from .overview import gather, render

    out, _ = _consoles()
    report = gather(settings.stack)
    if as_json:
        print_json(report)
    else:
        render(out, report)


__all__ = ["OUTPUTS_ENV", "cli", "main"]
