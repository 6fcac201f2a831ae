"""The work behind the handler, as plain functions of bytes, clients and an engine.

Nothing here reads the Lambda context or depends on the function's memory, so every path (S3, HTTP,
job) is testable with fakes and moto, and a photo gets the same answer on every stack.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from aws_lambda_powertools import Logger

from darknet_detector.contract import (
    ANSWER_LINK_SECONDS,
    DEFAULT_MAX_TILES,
    SERVICE_NAME,
    SYNC_ANSWER_LIMIT_BYTES,
    TILES_OFF,
    error_detail,
    parse_tiles,
    threshold_problem,
    too_many_tiles,
)
from darknet_detector.core.detection import (
    DEFAULT_OPTIONS,
    DetectionRun,
    DetectOptions,
    Engine,
    Tiling,
    UnsupportedOption,
)
from darknet_detector.core.images import ImageDecodeError, InvalidImage
from darknet_detector.core.outputs import output_keys, result_archive, result_document, safe_filename
from darknet_detector.core.requests import AsyncJob, S3ObjectRequest, make_async_job
from darknet_detector.core.settings import Settings
from darknet_detector.core.source import SourceImage, inspect_image
from darknet_detector.core.tiles import TooManyTiles

logger = Logger(service=SERVICE_NAME)


WORKDIR_PREFIX = "detect-"
OUT_OF_MEMORY_MESSAGE = "the image needs more memory to decode than this function has; raise its memory"


def remove_stale_workdirs(work_root: Path) -> int:
    """Delete work folders a killed earlier invocation left in this execution environment's /tmp."""
    stale = list(Path(work_root).glob(f"{WORKDIR_PREFIX}*"))
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def source_image(data: bytes, name_hint: str, settings: Settings, max_bytes: int) -> SourceImage:
    """Check data, before anything is decoded."""
    info = inspect_image(data, max_bytes, settings.max_pixels)
    return SourceImage(data, info, safe_filename(name_hint, info.extension))


class InvalidOption(ValueError):
    """A per-request option outside what the model and Darknet accept; code names which one."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


NAMES_SHOWN = 8  # how many of the model's class names an unknown_class message lists


def check_tiles(tiles: object, max_tiles: int, engine: Callable[[], Engine]) -> str | None:
    """A request's tiles (None: the stack's) as contract.parse_tiles' canonical text ("off" included),
    a grid checked against the stack's bound; engine() is called only when tiles are asked for."""
    if tiles is None:
        return None
    try:
        spec = parse_tiles(tiles)
    except ValueError as error:
        raise InvalidOption("bad_tiles", str(error)) from None
    if spec is None:
        return TILES_OFF
    problem = too_many_tiles(spec.explicit_count or 0, max_tiles)
    if problem:
        raise InvalidOption("too_many_tiles", problem)
    if engine().name == "darknet":
        raise InvalidOption(
            "option_unsupported",
            "this function runs the darknet engine, which detects on the whole image only: leave out tiles",
        )
    return str(spec)


def check_options(
    threshold: object,
    classes: list[str],
    engine: Callable[[], Engine],
    tiles: object = None,
    max_tiles: int = DEFAULT_MAX_TILES,
) -> DetectOptions:
    """A request's threshold (None: the stack's), class names and tiles (None: the stack's), checked by
    the rules the stack's own settings follow (contract.threshold_problem, parse_tiles) and against the
    model's class names (any case).

    engine() is called only for a class filter or tiles, so a request without them never loads the model."""
    value = None
    if threshold is not None:
        problem = threshold_problem(threshold)
        if problem:
            raise InvalidOption("bad_threshold", f"threshold {problem}")
        value = float(cast(float, threshold))  # threshold_problem accepted it as a number
    tiling = check_tiles(tiles, max_tiles, engine)
    if not classes:
        return DetectOptions(threshold=value, tiles=tiling)
    model = engine()
    by_lower = {name.lower(): name for name in model.names}
    unknown = [name for name in classes if name.lower() not in by_lower]
    if unknown:
        raise InvalidOption(
            "unknown_class",
            f"{', '.join(map(repr, unknown))} {'is not a class' if len(unknown) == 1 else 'are not classes'} "
            f"of model {model.model}; its {len(model.names)} classes include "
            f"{', '.join(model.names[:NAMES_SHOWN])}",
        )
    if model.name == "darknet":
        raise InvalidOption(
            "option_unsupported",
            "this function runs the darknet engine, which draws every class it finds and cannot filter "
            "them: leave out classes",
        )
    return DetectOptions(
        threshold=value,
        classes=frozenset(by_lower[name.lower()] for name in classes),
        tiles=tiling,
    )


@contextmanager
def detect_image(
    data: bytes,
    name_hint: str,
    engine: Engine,
    settings: Settings,
    max_bytes: int,
    *,
    annotate: bool = True,
    options: DetectOptions = DEFAULT_OPTIONS,
) -> Iterator[tuple[SourceImage, DetectionRun]]:
    """Validate data, run the engine with a private folder under the work root, clean up after.

    options.tiles is the request's tiling, or the stack's when None; a tiling the photo's size makes
    too many tiles raises InvalidOption."""
    source = source_image(data, name_hint, settings, max_bytes)
    spec = parse_tiles(options.tiles or settings.tiles)
    tiling = Tiling(spec, settings.max_tiles, options.deadline) if spec else None
    folder = work_folder(settings.work_root)
    try:
        try:
            run = engine.detect(
                source,
                folder,
                annotate=annotate,
                threshold=options.threshold,
                classes=options.classes,
                tiling=tiling,
            )
        except MemoryError:
            raise InvalidImage("too_large", OUT_OF_MEMORY_MESSAGE) from None
        except TooManyTiles as error:
            raise InvalidOption("too_many_tiles", str(error)) from None
        yield source, run
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def work_folder(work_root: Path) -> Path:
    """A fresh private folder's path under work_root, not yet created: the engine creates it when it
    writes a file (Engine.detect), which a JSON answer's detection never does, and creating and
    removing an empty folder costs about 0.3 ms a call."""
    return Path(work_root) / f"{WORKDIR_PREFIX}{secrets.token_hex(8)}"


def _error(error: Exception) -> dict:
    if isinstance(error, UnsupportedOption):
        return error_detail("option_unsupported", str(error))
    code = error.code if isinstance(error, InvalidImage | InvalidOption) else "corrupt_image"
    return error_detail(code, str(error))


def store_detection(
    s3,
    bucket: str,
    request_id: str,
    source: dict,
    data: bytes,
    name_hint: str,
    engine: Engine,
    settings: Settings,
    max_bytes: int,
    options: DetectOptions = DEFAULT_OPTIONS,
) -> dict:
    """Detect and write the three outputs; a bad image yields result.json with the error instead.

    result.json is written last, so its presence means the folder is complete.
    """
    options = options.with_tiles_default(settings.tiles)
    keys = output_keys(settings.output_prefix, request_id)
    try:
        with detect_image(data, name_hint, engine, settings, max_bytes, options=options) as (image, run):
            started = time.perf_counter()
            put_run_files(s3, bucket, keys, run)
            document = result_document(
                request_id,
                source,
                engine,
                run=run,
                image=image.info,
                timings={"upload_seconds": round(time.perf_counter() - started, 4)},
                options=options,
            )
    except (InvalidImage, ImageDecodeError, UnsupportedOption, InvalidOption) as error:
        logger.warning("image rejected", extra={"error": str(error), "source": source})
        document = result_document(request_id, source, engine, error=_error(error), options=options)
    return write_result_json(s3, bucket, keys, document)


def put_run_files(s3, bucket: str, keys: dict[str, str], run: DetectionRun) -> None:
    """image-result.png and result.out; result.json follows once they are written."""
    s3.put_object(Bucket=bucket, Key=keys["image"], Body=run.png_bytes(), ContentType="image/png")
    s3.put_object(
        Bucket=bucket,
        Key=keys["text"],
        Body=run.result_text.encode(),
        ContentType="text/plain; charset=utf-8",
    )


def write_result_json(s3, bucket: str, keys: dict[str, str], document: dict) -> dict:
    """Write result.json, listing the outputs that exist: all three, or result.json alone on error."""
    written = ("json",) if document["status"] == "error" else ("image", "text", "json")
    document["outputs"] = {name: f"s3://{bucket}/{keys[name]}" for name in written}
    s3.put_object(
        Bucket=bucket,
        Key=keys["json"],
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    return document


def process_s3_object(
    request: S3ObjectRequest, s3, engine: Engine, settings: Settings, options: DetectOptions = DEFAULT_OPTIONS
) -> dict:
    """One uploaded object: read it from the input prefix, write OUTPUT_PREFIX/REQUEST_ID/.

    options are the stack's (an upload chooses none), with the invocation's deadline."""
    source = request.source()
    if request.key.endswith("/"):
        # A folder marker (the console's "Create folder"): an empty object, not an image.
        logger.info("ignoring a folder marker", extra=source)
        return {"request_id": request.request_id, "status": "ignored", "source": source}
    if not request.key.startswith(settings.input_prefix):
        # The notification filters input/; this guards against a misconfigured trigger looping on outputs.
        logger.warning("ignoring object outside the input prefix", extra=source)
        return {"request_id": request.request_id, "status": "ignored", "source": source}
    if request.size is not None and request.size > settings.max_s3_image_bytes:
        too_large = InvalidImage(
            "too_large",
            f"the object is {request.size} bytes; the limit is {settings.max_s3_image_bytes} bytes",
        )
        document = result_document(request.request_id, source, engine, error=_error(too_large))
        return write_result_json(
            s3, request.bucket, output_keys(settings.output_prefix, request.request_id), document
        )
    started = time.perf_counter()
    try:
        data = s3.get_object(Bucket=request.bucket, Key=request.key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        logger.warning("object deleted before it could be read", extra=source)
        return {"request_id": request.request_id, "status": "gone", "source": source}
    logger.info(
        "object read",
        extra={**source, "bytes": len(data), "download_seconds": round(time.perf_counter() - started, 4)},
    )
    return store_detection(
        s3,
        request.bucket,
        request.request_id,
        source,
        data,
        request.key,
        engine,
        settings,
        settings.max_s3_image_bytes,
        options,
    )


def process_job(job: AsyncJob, s3, engine: Engine, settings: Settings, deadline: float | None = None) -> dict:
    """The asynchronous half of an HTTP request: same outputs as the S3 path; deadline bounds its tiles."""
    return store_detection(
        s3,
        job.bucket,
        job.request_id,
        {"http": job.filename},
        job.image,
        job.filename,
        engine,
        settings,
        settings.max_async_image_bytes,
        replace(job.options, deadline=deadline),
    )


class AnswerTooLarge(RuntimeError):
    """The answer exceeds Lambda's response limit and there is nowhere to store it."""


class AsyncUnavailable(RuntimeError):
    """Asynchronous detection writes its results to S3, and this function has no output bucket."""


@dataclass(frozen=True)
class Accepted:
    """An image handed to an asynchronous run: where its outputs, result.json last, will appear."""

    request_id: str
    folder: str
    result: str


def detect_document(
    image: bytes,
    request_id: str,
    engine: Engine,
    settings: Settings,
    options: DetectOptions = DEFAULT_OPTIONS,
) -> dict:
    """The synchronous JSON answer: result.json's document with result.out's text inside.

    Nothing is drawn: the document carries no image, and drawing and encoding take as long as the
    network."""
    options = options.with_tiles_default(settings.tiles)
    limit = settings.max_http_image_bytes
    with detect_image(image, "request", engine, settings, limit, annotate=False, options=options) as (
        source,
        run,
    ):
        document = result_document(
            request_id, {"http": "request"}, engine, run=run, image=source.info, options=options
        )
        document["result_out"] = run.result_text
        return document


@dataclass(frozen=True)
class StoredAnswer:
    """A binary answer (the tar.gz or the PNG) too large for Lambda's response: its files written under
    `folder` (the stack's output prefix, then ID/) instead, with links (by output name: image, text, json)
    valid for expires_in seconds, and the result.json `document` written there."""

    request_id: str
    size: int
    links: dict[str, str]
    expires_in: int
    folder: str
    kind: str
    document: dict


def detect_archive(
    image: bytes,
    request_id: str,
    engine: Engine,
    settings: Settings,
    s3: Callable[[], Any],
    options: DetectOptions = DEFAULT_OPTIONS,
) -> bytes | StoredAnswer:
    """The synchronous tar.gz of image-result.png and result.out (the original's binary mode)."""
    return _detect_binary(image, request_id, engine, settings, s3, options, "tar.gz", result_archive)


def detect_png(
    image: bytes,
    request_id: str,
    engine: Engine,
    settings: Settings,
    s3: Callable[[], Any],
    options: DetectOptions = DEFAULT_OPTIONS,
) -> bytes | StoredAnswer:
    """The synchronous image-result.png alone, the picture a browser or `curl -o out.png` wants."""
    return _detect_binary(
        image, request_id, engine, settings, s3, options, "PNG", lambda run: run.png_bytes()
    )


def _detect_binary(
    image: bytes,
    request_id: str,
    engine: Engine,
    settings: Settings,
    s3: Callable[[], Any],
    options: DetectOptions,
    kind: str,
    render: Callable[[DetectionRun], bytes],
) -> bytes | StoredAnswer:
    """render(run)'s bytes, or, over what Lambda can answer, the run's files stored as the S3 path
    writes them, linked. s3() gives the client, made on demand."""
    options = options.with_tiles_default(settings.tiles)
    limit = settings.max_http_image_bytes
    with detect_image(image, "request", engine, settings, limit, options=options) as (source, run):
        answer = render(run)
        if len(answer) <= SYNC_ANSWER_LIMIT_BYTES:
            return answer
        if not settings.output_bucket:
            raise AnswerTooLarge(
                f"the {kind} is {len(answer)} bytes, over the {SYNC_ANSWER_LIMIT_BYTES} Lambda can answer, "
                "and this function has no bucket to store it in; ask for JSON"
            )
        client, bucket = s3(), settings.output_bucket
        keys = output_keys(settings.output_prefix, request_id)
        put_run_files(client, bucket, keys, run)
        document = result_document(
            request_id, {"http": "request"}, engine, run=run, image=source.info, options=options
        )
        written = write_result_json(client, bucket, keys, document)
    links = {
        name: client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": keys[name]}, ExpiresIn=ANSWER_LINK_SECONDS
        )
        for name in ("image", "text", "json")
    }
    return StoredAnswer(request_id, len(answer), links, ANSWER_LINK_SECONDS, keys["folder"], kind, written)


def submit_job(
    image: bytes, request_id: str, settings: Settings, invoke_async, options: DetectOptions = DEFAULT_OPTIONS
) -> Accepted:
    """Check the image now, then hand it to an asynchronous run of this function.

    invoke_async(payload: dict) sends the job to this same function with InvocationType=Event.
    """
    if not settings.output_bucket:
        raise AsyncUnavailable("asynchronous requests need an output bucket, and this function has none")
    source = source_image(image, "request", settings, settings.max_async_image_bytes)
    invoke_async(make_async_job(request_id, settings.output_bucket, image, source.name, options))
    keys = output_keys(settings.output_prefix, request_id)
    return Accepted(
        request_id=request_id,
        folder=f"s3://{settings.output_bucket}/{keys['folder']}",
        result=f"s3://{settings.output_bucket}/{keys['json']}",
    )
