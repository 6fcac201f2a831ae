"""The detector's settings contract, shared by deploy time and run time.

The names of the function's environment variables, their types, ranges, defaults, the prefix rules
and the model manifest's rules are defined here once, and so is every other fact more than one part
states: the default model and image tag, the service's name, the routes, the error shape, the output
file names, and Lambda's limits. The Pulumi components build the function's environment with
`DetectorConfig.environment()` and the handler reads it back with `DetectorConfig.from_environment()`,
so a value the components accept never fails at a cold start.

Standard library only: the image, the components, the command, the scripts and the tests import it, and
the Makefile and shell scripts ask it (`python3 -m darknet_detector.contract default-model`).
"""

import json
import math
import re
import secrets
import struct
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

VERSION = "0.6.3"
"""The project's version: the wheel's, the image tag's suffix, and the function's DARKNET_LAMBDA_VERSION."""

SERVICE_NAME = "darknet-lambda"
"""The service's name: its Powertools logs and metrics dimension, and the image repository's name."""
DEFAULT_MODEL = "yolov3-tiny"
"""The model an image is built with and a function runs unless told otherwise (a models.json entry)."""


def image_tag(model: str = DEFAULT_MODEL) -> str:
    """The local tag `make image` gives the image of a model (darknet-lambda:yolov3-tiny by default)."""
    return f"{SERVICE_NAME}:{model}"


DEFAULT_IMAGE_TAG = image_tag()
ENGINES = ("onnx", "darknet")
FLAVOURS = ("pjreddie", "fork")
"""Which Darknet trained a model: pjreddie's original (the image's CLI runs it) or the maintained fork."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
AUTHORIZATIONS = ("none", "iam", "api_key")
"""Who may call the HTTP API: anyone, SigV4-signed principals, or holders of an API key (the stack's
apiAuthorization output, which tells the command how to call it)."""
REFERENCE_TARGET = "reference"
"""The image variant that also carries Darknet's own CLI and the weights it reads, the only one that runs
the reference engine: the Dockerfile's build target of that name, tagged by `reference_tag`."""


def reference_tag(tag: str) -> str:
    """The reference variant's tag beside an image's (darknet-lambda:yolov3-tiny-reference)."""
    return f"{tag}-{REFERENCE_TARGET}"


MANIFEST_FILE = "models.json"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# Environment variables the deployed function receives; the components set each of them.
ENGINE_ENV = "DETECTOR_ENGINE"
MODEL_ENV = "DETECTOR_MODEL"
THRESHOLD_ENV = "DETECTOR_THRESHOLD"
TILES_ENV = "DETECTOR_TILES"
"""The stack's sliced inference for requests that do not choose (see parse_tiles): off by default."""
MAX_TILES_ENV = "DETECTOR_MAX_TILES"
"""The most tiles one photo is cut into (besides the whole-photo pass)."""
INPUT_PREFIX_ENV = "INPUT_PREFIX"
OUTPUT_PREFIX_ENV = "OUTPUT_PREFIX"
OUTPUT_BUCKET_ENV = "OUTPUT_BUCKET"
LOG_LEVEL_ENV = "LOG_LEVEL"
POWERTOOLS_LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"
POWERTOOLS_SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
VERSION_ENV = "DARKNET_LAMBDA_VERSION"
RESULT_WINDOW_ENV = "RESULT_WINDOW_SECONDS"
"""The uploads function's: how long after minting an id a missing result counts as pending."""
CORS_ORIGINS_ENV = "CORS_ALLOWED_ORIGINS"
"""Both functions': the origins whose pages may read the API's answers, comma-separated (see cors_origins)."""
LAMBDA_RUNTIME_API_ENV = "AWS_LAMBDA_RUNTIME_API"
"""Set by Lambda's execution environment (and AWS's emulator) for the runtime client: the process serves
invocations, so its init phase is the place for work every invocation needs."""

METRICS_NAMESPACE = "DarknetLambda"
"""The CloudWatch namespace of the function's own metrics (embedded metric format), dimension `service`
= SERVICE_NAME; the alarms and the dashboard read them by these names."""
METRIC_IMAGES_PROCESSED = "ImagesProcessed"
METRIC_IMAGES_REJECTED = "ImagesRejected"
METRIC_IMAGES_FAILED = "ImagesFailed"
METRIC_DETECTIONS = "Detections"
METRIC_MEGAPIXELS = "ImageMegapixels"
METRIC_STAGE_PREFIX = "StageLatency_"
"""Followed by the stage (`predict`, `upload`, ...): milliseconds of one stage of one image."""
METRIC_QUEUE_LATENCY = "UploadToResultLatency"
"""Milliseconds from the object's upload (the event's time) to its result."""
METRIC_EVENTS_NOT_PUBLISHED = "EventsNotPublished"
"""Completion events that EventBridge refused after every retry: their results exist, their events do not."""

# The files a detection writes into OUTPUT_PREFIX/REQUEST_ID/, which the binary answers carry too.
RESULT_IMAGE = "image-result.png"
"""The annotated picture, as Darknet names it."""
RESULT_TEXT = "result.out"
"""Darknet's text output, as `darknet detector test` prints it."""
RESULT_JSON = "result.json"
"""The result document of a request, written last into OUTPUT_PREFIX/REQUEST_ID/: its presence means done."""
OUTPUT_FILES = (RESULT_IMAGE, RESULT_TEXT, RESULT_JSON)
"""Every file of a detection's output folder; the tar.gz answer holds the first two."""


# Completion events: one EventBridge event for every result.json written (success or error), on the bus
# the deployment names. Its detail is a CloudEvents 1.0 structured event whose `id` is the request id,
# the key a consumer drops the duplicates of at-least-once delivery by.
EVENT_COMPLETED = "Detection Completed"
"""The detail-type of the event of a result.json whose status is ok."""
EVENT_FAILED = "Detection Failed"
"""The detail-type of the event of a result.json that holds an error (a corrupt image, ...)."""
DEFAULT_EVENT_SOURCE = SERVICE_NAME
"""The events' `source` unless the deployment sets another (events.source)."""
EVENT_BUS_ENV = "DETECTION_EVENT_BUS"
"""The detector's: the ARN of the bus its completion events go to; unset, it publishes none."""
EVENT_SOURCE_ENV = "DETECTION_EVENT_SOURCE"
"""The detector's: the `source` of its completion events (DEFAULT_EVENT_SOURCE when unset)."""
EVENT_ENTRY_LIMIT_BYTES = 256 * 1024
"""EventBridge's limit on one PutEvents entry, counted as its docs say (Time 14 bytes, then the UTF-8 bytes
of Source, DetailType, Detail and each Resource):
docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html. Some regions now take larger
events; 256 KB fits them all, and any bus a rule forwards to."""
EVENT_PUBLISH_ATTEMPTS = 3
"""PutEvents calls for one event before it is counted as not published (METRIC_EVENTS_NOT_PUBLISHED)."""
EVENT_RETRY_BASE_SECONDS = 0.2
"""The wait before the second attempt, doubled before each further one (0.2 s, then 0.4 s)."""
_EVENT_SOURCE = re.compile(r"[A-Za-z0-9._/-]{1,256}")


def event_source_problem(source: object) -> str | None:
    """None when source can be a custom event's Source: PutEvents refuses sources that start with `aws.`."""
    if not isinstance(source, str) or not _EVENT_SOURCE.fullmatch(source):
        return f"{source!r} is not an event source (1 to 256 letters, digits, '.', '_', '/', '-')"
    if source.lower().startswith("aws."):
        return f"{source!r} starts with 'aws.', which EventBridge keeps for AWS services"
    return None


def archive_name(request_id: str) -> str:
    """The file name a client saves the tar.gz answer of a request as (its Content-Disposition)."""
    return f"{request_id}.tar.gz"


def output_folder(output_prefix: str, request_id: str) -> str:
    return f"{output_prefix}{request_id}/"


# Request ids of S3 objects are derived from the object's exact content version, so a redelivered
# notification, a redriven queue message and a backfill of the same object all write one folder,
# while a re-upload with new content gets a new one.
S3_REQUEST_NAMESPACE = uuid.UUID("6f1c5a8e-3d0b-4f59-9a55-0c2a6b7f4e21")


def object_request_id(bucket: str, key: str, etag: str) -> str:
    """The request id of one version of an S3 object. The ETag (quotes stripped: listings quote it,
    notifications do not) names the content; the notification's sequencer does not (LocalStack gives
    every notification the same one) and the version id is absent from unversioned buckets and
    listings alike."""
    return str(uuid.uuid5(S3_REQUEST_NAMESPACE, f"{bucket}\0{key}\0{etag.strip(chr(34))}"))


# Uploads through POST /uploads. The route mints a time-ordered id (a UUID version 7: its first 48 bits
# are the Unix time in milliseconds), signs a POST policy for exactly one key that carries it,
# `<input_prefix>uploads/<id>/<name>`, and the detector takes that id as the request id of the object,
# so the client knows where its result will be before it uploads. The time in the id lets GET /results
# tell a result still to come from an id nobody minted, with no permission beyond reading results.
UPLOADS_FOLDER = "uploads/"
UPLOADS_HANDLER = "darknet_detector.serving.uploads_handler.lambda_handler"
"""The uploads function's command: the detector's image, another handler."""
UPLOAD_URL_SECONDS = 900
"""How long a presigned upload form stays valid."""
S3_IMAGE_LIMIT_BYTES = 30 * 1024 * 1024
"""The largest image the S3 path takes (it reads an object into memory whole); upload forms allow up to it."""
UPLOAD_CONTENT_TYPE_PREFIX = "image/"
"""The Content-Type an upload form requires to start with; the detector checks the bytes themselves."""
UPLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""An upload's file name inside its key: letters, digits, '.', '_', '-', at most 100."""
DEFAULT_UPLOAD_NAME = "image"
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""The form of every request id (a UUID, lower case): ETag-based, upload, and HTTP ids alike."""
_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def mint_time_ordered_id(now_ms: int, random_bits: int) -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits."""
    value = (now_ms & (2**48 - 1)) << 80 | (random_bits & (2**74 - 1))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def new_time_ordered_id() -> str:
    return mint_time_ordered_id(time.time_ns() // 1_000_000, secrets.randbits(74))


def time_ordered_id_millis(request_id: str) -> int | None:
    """When a time-ordered id was minted (Unix milliseconds); None for any other id."""
    if not _UUID7.fullmatch(request_id):
        return None
    return uuid.UUID(request_id).int >> 80


def upload_name(filename: str | None) -> str:
    """The name part of an upload's key from a client's file name: its base name, unsafe characters
    replaced, so that 'IMG 1234.HEIC' keeps its extension as 'IMG_1234.HEIC'."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip("._-")[:100]
    return cleaned if UPLOAD_NAME.fullmatch(cleaned) else DEFAULT_UPLOAD_NAME


def upload_key(input_prefix: str, upload_id: str, name: str) -> str:
    return f"{input_prefix}{UPLOADS_FOLDER}{upload_id}/{name}"


def request_id_of_object(bucket: str, key: str, etag: str, input_prefix: str) -> str:
    """The request id of one version of an S3 object: the upload id for a key of exactly the form
    POST /uploads signs, the ETag-based id (object_request_id) for any other key."""
    uploads = input_prefix + UPLOADS_FOLDER
    if key.startswith(uploads):
        upload_id, _, name = key.removeprefix(uploads).partition("/")
        if _UUID7.fullmatch(upload_id) and UPLOAD_NAME.fullmatch(name):
            return upload_id
    return object_request_id(bucket, key, etag)


def result_json_key(output_prefix: str, request_id: str) -> str:
    return output_folder(output_prefix, request_id) + RESULT_JSON


# The image formats the detector reads, and how a file's first bytes tell them. Part of the contract: the
# HTTP API names them in its answers, and the `darknet-lambda` command refuses other files before sending.
# Darknet's own stb_image decodes JPEG, where decoders differ (IDCT, chroma upsampling): detections
# match `darknet detector test`. The lossless formats it also reads give the very same pixels through
# Pillow, which, unlike stb_image 2.19, survives corrupt input (a damaged PNG can make stb loop forever).
STB_FORMATS = ("jpeg",)
# Formats decoded by Pillow (pillow-heif for HEIC/HEIF), imported only when one arrives.
LIBRARY_FORMATS = ("png", "bmp", "gif", "webp", "heif", "avif", "tiff")
SUPPORTED_FORMATS = STB_FORMATS + LIBRARY_FORMATS
# How photos are decoded: the same on every stack, whatever its memory, so the same photo gets the same
# detections everywhere. Every photo is decoded whole, as `darknet detector test` decodes it.
MAX_IMAGE_PIXELS = 8192 * 6144
"""The largest photo taken, on every stack (`too_large` above it): 8192x6144, the largest 50 MP camera
sensors, so every 48 and 50 MP phone photo fits."""
DRAWN_MAX_PIXELS = 4096 * 4096
"""A photo up to this size is detected on Darknet's own float image and drawn whole; a larger one gets the
same network input computed from its 8-bit pixels, and image-result.png drawn at 1/k, the smallest whole
k that brings it within this size (a rule of the photo alone)."""
ENGINE_MIN_MEMORY_MB = {"onnx": 1024, "darknet": 1536}
"""The function memory each engine needs for a MAX_IMAGE_PIXELS photo (measured by
container/scripts/reduction_report.py --memory): the onnx engine keeps the photo's 8-bit pixels, Darknet's
CLI its float image and drawing (about 21 bytes a pixel). The components refuse less."""
# How messages name each format; SUPPORTED_NAMES, the list every "not an image" answer gives, follows
# SUPPORTED_FORMATS, so a format added to the decoders is named without another edit.
FORMAT_NAMES = {"heif": "HEIC/HEIF"}
SUPPORTED_NAMES = (
    ", ".join(FORMAT_NAMES.get(kind, kind.upper()) for kind in SUPPORTED_FORMATS[:-1])
    + f" or {FORMAT_NAMES.get(SUPPORTED_FORMATS[-1], SUPPORTED_FORMATS[-1].upper())}"
)
# Recognised, but not images the detector reads.
UNSUPPORTED_SIGNATURES = {
    b"%PDF": "pdf",
    b"\x00\x00\x00\x0cjP": "jpeg2000",
    b"\xff\x4f\xff\x51": "jpeg2000",
    b"\xff\x0a": "jpeg-xl",
    b"8BPS": "psd",
}
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}


def sniff(data: bytes) -> str | None:
    """The image type from its magic bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data[4:8] == b"ftyp":
        (box_size,) = struct.unpack(">I", data[:4])
        brands = {data[i : i + 4] for i in range(8, min(box_size, 64), 4)} - {b"\x00\x00\x00\x00"}
        if brands & AVIF_BRANDS:
            return "avif"
        if brands & HEIF_BRANDS:
            return "heif"
    for signature, kind in UNSUPPORTED_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    return None


# The HTTP API's media types. API Gateway hands a request body of a binary media type to the function
# base64-encoded (anything else as UTF-8 text, which mangles image bytes), and turns a base64 answer
# back into bytes only when the FIRST type of the request's Accept header is a binary media type.
# application/x-www-form-urlencoded is listed because `curl --data-binary @photo.jpg` sends it.
# application/json is not: a JSON body already carries its image in base64, and a second encoding
# would cut the image a JSON body can carry by a quarter.
JSON_MEDIA_TYPE = "application/json"
PNG_MEDIA_TYPE = "image/png"
"""The annotated picture, answered alone (image-result.png) when Accept asks for it."""
ARCHIVE_MEDIA_TYPES = ("application/gzip", "application/x-gzip")
BINARY_MEDIA_TYPES = (
    "image/*",
    "application/octet-stream",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    *ARCHIVE_MEDIA_TYPES,
)

# Standard annotation formats: POST /detect?format=NAME answers one image in one of them, and
# `darknet-lambda export --format NAME` writes the results under a prefix as a dataset in it. Every one
# is computed from result.json's box (core/annotation_formats.py), in the conventions docs/http-api.md states.
FORMAT_PARAMETER = "format"
"""POST /detect's query parameter that asks for an annotation format instead of result.json."""
ANNOTATION_FORMATS = ("coco", "yolo", "voc")
ANNOTATION_MEDIA_TYPES = {"coco": JSON_MEDIA_TYPE, "yolo": "text/plain", "voc": "application/xml"}
"""What each format's answer is: a COCO dataset (JSON), YOLO label lines (text), a VOC XML annotation."""
ANNOTATION_EXTENSIONS = {"coco": ".json", "yolo": ".txt", "voc": ".xml"}
COCO_FILE = "annotations.json"
"""An export's COCO dataset: images, categories and annotations of every result, in one file."""
YOLO_CLASSES_FILE = "classes.txt"
"""An export's YOLO class names, one a line: line N (from 0) is class id N."""
YOLO_LABELS_FOLDER = "labels/"
"""Where an export puts one YOLO label file per image, named after the image."""
VOC_FOLDER = "Annotations/"
"""Where an export puts one VOC XML file per image, named after the image, as VOC's own tree does."""


# The HTTP API's routes, as API Gateway and both functions name them (GET / is the viewer page).
VIEWER_ROUTE = "/"
DETECT_ROUTE = "/detect"
UPLOADS_ROUTE = "/uploads"
RESULT_ROUTE = "/results/{request_id}"
API_ROUTES = (("GET", VIEWER_ROUTE), ("POST", DETECT_ROUTE), ("POST", UPLOADS_ROUTE), ("GET", RESULT_ROUTE))
VIEWER_THRESHOLD = 0.1
"""The threshold the viewer page asks POST /detect for, once per photo; its slider filters above it."""


def routes_text(routes=API_ROUTES) -> str:
    return ", ".join(f"{method} {path}" for method, path in routes)


def result_route(request_id: str) -> str:
    """GET /results/{request_id} for one request id."""
    return RESULT_ROUTE.replace("{request_id}", request_id)


def error_detail(code: str, message: str) -> dict[str, str]:
    """What went wrong, as every error names it: a stable code for programs, a message for people
    (result.json's `error` and the `error` of every error answer)."""
    return {"code": code, "message": message}


def error_document(code: str, message: str, request_id: str, **fields: object) -> dict[str, object]:
    """The one shape of every error answer, the functions' and API Gateway's own alike:
    {"error": {"code", "message"}, "request_id"}, plus any route's own fields."""
    return {"error": error_detail(code, message), "request_id": request_id, **fields}


# CORS, the same at API Gateway (preflight, its own answers) and in both functions (their answers): the
# request headers a browser client may send (x-amz-invocation-type asks for an asynchronous run), the
# answer headers it may read, and how long a browser may keep a preflight's answer.
CORS_ALLOW_HEADERS = (
    "Content-Type",
    "X-Api-Key",
    "Authorization",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Invocation-Type",
)
CORS_EXPOSE_HEADERS = ("X-Request-Id", "Retry-After", "Content-Disposition")
CORS_MAX_AGE_SECONDS = 600
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def cors_origins_problem(origins: object) -> str | None:
    """None when origins is a CORS setting: a list of "*" alone, or of origins like https://app.example.com
    (scheme, host and port only: a browser's Origin header never carries a path or a trailing slash)."""
    if not isinstance(origins, list | tuple) or not all(isinstance(origin, str) for origin in origins):
        return f"{origins!r} is not a list of origins"
    if "*" in origins and len(origins) > 1:
        return "'*' allows every origin: give it alone"
    bad = [origin for origin in origins if origin != "*" and not _ORIGIN.fullmatch(origin)]
    if bad:
        return f"{', '.join(map(repr, bad))}: an origin is scheme://host[:port], e.g. https://app.example.com"
    return None


def cors_origins(value: str | None) -> tuple[str, ...]:
    """The origins of CORS_ALLOWED_ORIGINS (comma-separated; unset or empty: none, same origin only)."""
    return tuple(origin.strip() for origin in (value or "").split(",") if origin.strip())


# Lambda's quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), which the components
# check arguments against and the function sizes itself by.
LAMBDA_MIN_MEMORY_MB = 128
LAMBDA_MAX_MEMORY_MB = 10240
LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives CPU in proportion to memory: 1769 MB is one full vCPU (up to 6 at 10240 MB)."""
LAMBDA_MAX_TIMEOUT_SECONDS = 900
LAMBDA_MIN_EPHEMERAL_MB = 512
LAMBDA_MAX_EPHEMERAL_MB = 10240
LAMBDA_ASYNC_PAYLOAD_BYTES = 1024 * 1024
"""An asynchronous (Event) invocation's payload limit, which the HTTP path's asynchronous job must fit."""
ASYNC_IMAGE_LIMIT_BYTES = 700 * 1024
"""The largest image an asynchronous POST /detect takes: base64 of it, with the job's other fields, fits
LAMBDA_ASYNC_PAYLOAD_BYTES."""
SQS_MAX_RETENTION_SECONDS = 14 * 24 * 3600
"""The longest SQS keeps a message (14 days): the dead-letter queues keep theirs that long."""
DEFAULT_LOG_RETENTION_DAYS = 14
"""Days every log group of the stack (the functions', the API's access logs) keeps its events by default."""

# Lambda's synchronous invocation payload limit (6 MB), which API Gateway's event must fit: the body,
# base64-encoded (4 bytes per 3), plus the event's envelope, whose largest parts are the headers, twice
# (`headers` and `multiValueHeaders`, up to 10 KiB each in API Gateway), the query string (the URL is at
# most 8 KiB) and requestContext (about 1.5 KiB): 64 KiB leaves room for all of them with JSON quoting.
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
EVENT_ENVELOPE_RESERVE_BYTES = 64 * 1024
SYNC_BODY_LIMIT_BYTES = (LAMBDA_SYNC_PAYLOAD_BYTES - EVENT_ENVELOPE_RESERVE_BYTES) // 4 * 3
"""The largest request body POST /detect takes synchronously: 4,669,440 bytes (4.45 MiB)."""
# The same 6 MB limits the answer: a binary body, base64-encoded, plus status and headers (16 KiB).
ANSWER_ENVELOPE_RESERVE_BYTES = 16 * 1024
SYNC_ANSWER_LIMIT_BYTES = (LAMBDA_SYNC_PAYLOAD_BYTES - ANSWER_ENVELOPE_RESERVE_BYTES) // 4 * 3
"""The largest tar.gz answered in the body, 4,706,304 bytes; a larger one is stored and linked."""
ANSWER_LINK_SECONDS = 3600
"""How long the links to a stored answer's files stay valid."""


class ContractError(ValueError):
    """A setting outside the contract; `setting` is the DetectorConfig field, `variable` its env name."""

    def __init__(self, setting: str, reason: str):
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.variable = _VARIABLES[setting]
        self.reason = reason


def threshold_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return f"{value!r} is not a number"
    if not 0.0 < value < 1.0:
        # Darknet keeps a box whose probability exceeds the threshold: 0 keeps every box, 1 none.
        return f"{value} must be above 0 and below 1 (Darknet keeps boxes whose probability exceeds it)"
    return None


TILES_OFF = "off"
TILES_AUTO = "auto"
TILE_OVERLAP = 0.2
"""The share of a tile's width (height) it has in common with its neighbour unless the request says."""
MAX_TILE_OVERLAP = 0.5
MIN_TILE_SIZE = 64
"""The smallest tile side a request may ask for, in photo pixels."""
AUTO_TILE_SCALE = 2.0
"""`auto` cuts tiles of this many times the network's input size (832x832 photo pixels for a 416 network):
measured on the panorama and pasted-objects photos of the tests (docs/performance.md, "Sliced inference")."""
DEFAULT_MAX_TILES = 64
"""The stack's default bound on tiles per photo; `auto` grows its tiles to stay within it."""
MAX_TILES_LIMIT = 1024
TILE_MERGE_IOS = 0.5
"""Boxes of one class whose intersection covers more than this share of the smaller box are one object
(greedy merging across tile edges, as SAHI's GREEDYNMM with its IOS metric)."""
TILE_TAIL_SECONDS = 3.0
"""Of the invocation's remaining time, what is kept for merging, drawing and writing the outputs after the
last tile: a tile that would end later is not started."""
TILES_SYNTAX = (
    "tiles is auto, off, a grid COLUMNSxROWS (3x2) or a square tile side in photo pixels (640), "
    f"optionally followed by :OVERLAP, a fraction from 0 to {MAX_TILE_OVERLAP} (640:0.25; default "
    f"{TILE_OVERLAP})"
)
_TILES = re.compile(r"(?:(auto)|(\d{1,3})x(\d{1,3})|(\d{1,6}))(?::(\d*\.?\d+))?")


@dataclass(frozen=True)
class TileSpec:
    """How a photo is cut for sliced inference: `auto` (no columns, rows or size), a grid of columns x rows,
    or square tiles of `size` photo pixels; neighbours share `overlap` of a tile's side."""

    columns: int = 0
    rows: int = 0
    size: int = 0
    overlap: float = TILE_OVERLAP

    @property
    def auto(self) -> bool:
        return not (self.columns or self.size)

    @property
    def explicit_count(self) -> int | None:
        """A grid's tile count, known before the photo's size is."""
        return self.columns * self.rows if self.columns else None

    def __str__(self) -> str:
        shape = f"{self.columns}x{self.rows}" if self.columns else str(self.size) if self.size else TILES_AUTO
        return shape if self.overlap == TILE_OVERLAP else f"{shape}:{self.overlap:g}"


def parse_tiles(value: object) -> TileSpec | None:
    """A tiles option or setting (TILES_SYNTAX) as a TileSpec, None for off; ValueError names the problem."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text; {TILES_SYNTAX}")
    text = value.strip().lower()
    if text == TILES_OFF:
        return None
    match = _TILES.fullmatch(text)
    if not match:
        raise ValueError(f"{value!r} is not a tiling; {TILES_SYNTAX}")
    _auto, columns, rows, size, overlap = match.groups()
    spec = TileSpec(
        columns=int(columns or 0),
        rows=int(rows or 0),
        size=int(size or 0),
        overlap=TILE_OVERLAP if overlap is None else float(overlap),
    )
    if not 0 <= spec.overlap <= MAX_TILE_OVERLAP:
        raise ValueError(f"overlap {spec.overlap:g} is outside 0..{MAX_TILE_OVERLAP}; {TILES_SYNTAX}")
    if columns is not None and spec.columns * spec.rows < 1:
        raise ValueError(f"{value!r} has no tiles; {TILES_SYNTAX}")
    if size is not None and spec.size < MIN_TILE_SIZE:
        raise ValueError(f"a tile side of {spec.size} is below {MIN_TILE_SIZE} pixels; {TILES_SYNTAX}")
    return spec


def tiles_problem(value: object) -> str | None:
    try:
        parse_tiles(value)
    except ValueError as error:
        return str(error)
    return None


def too_many_tiles(count: int, max_tiles: int) -> str | None:
    """The message of an explicit tiling over the stack's bound, None within it."""
    if count <= max_tiles:
        return None
    return (
        f"the tiling asks for {count} tiles; this function runs at most {max_tiles} per photo "
        f"({MAX_TILES_ENV}): ask for fewer or larger tiles, or tiles=auto"
    )


def prefix_problem(prefix: object) -> str | None:
    if not isinstance(prefix, str) or not prefix or not prefix.endswith("/") or prefix.startswith("/"):
        return f"{prefix!r} must be a key prefix like 'input/' (not empty, ending in '/', no leading '/')"
    return None


def overlap_problem(input_prefix: str, output_prefix: str) -> str | None:
    """Outputs must never land under the input prefix, or each result would trigger a new detection."""
    if input_prefix.startswith(output_prefix) or output_prefix.startswith(input_prefix):
        return (
            f"{output_prefix!r} overlaps the input prefix {input_prefix!r}: "
            "results would trigger new detections"
        )
    return None


def model_name_problem(model: object) -> str | None:
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        return f"{model!r} is not a model name (letters, digits, '.', '_', '-'; at most 64)"
    return None


@dataclass(frozen=True)
class DetectorConfig:
    """What the handler needs from its environment; each field maps to one variable."""

    engine: str = "onnx"
    model: str = DEFAULT_MODEL
    threshold: float = 0.5
    tiles: str = TILES_OFF
    max_tiles: int = DEFAULT_MAX_TILES
    input_prefix: str = "input/"
    output_prefix: str = "output/"
    output_bucket: str | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        problems = {
            "engine": None
            if self.engine in ENGINES
            else f"{self.engine!r} is not one of {', '.join(ENGINES)}",
            "model": model_name_problem(self.model),
            "threshold": threshold_problem(self.threshold),
            "tiles": tiles_problem(self.tiles),
            "max_tiles": None
            if isinstance(self.max_tiles, int) and 1 <= self.max_tiles <= MAX_TILES_LIMIT
            else f"{self.max_tiles!r} is not a whole number from 1 to {MAX_TILES_LIMIT}",
            "input_prefix": prefix_problem(self.input_prefix),
            "output_prefix": prefix_problem(self.output_prefix),
            "log_level": None
            if self.log_level in LOG_LEVELS
            else f"{self.log_level!r} is not one of {', '.join(LOG_LEVELS)}",
        }
        for setting, problem in problems.items():
            if problem:
                raise ContractError(setting, problem)
        spec = parse_tiles(self.tiles)
        grid = too_many_tiles(spec.explicit_count or 0, self.max_tiles) if spec else None
        if grid:
            raise ContractError("tiles", grid)
        if spec and self.engine == "darknet":
            raise ContractError("tiles", "the darknet engine detects on whole images only: leave tiles off")
        overlap = overlap_problem(self.input_prefix, self.output_prefix)
        if overlap:
            raise ContractError("output_prefix", overlap)

    def shared_environment(self) -> dict[str, str]:
        """What every function of the service reads: the prefixes, the log level, the service and version."""
        return {
            INPUT_PREFIX_ENV: self.input_prefix,
            OUTPUT_PREFIX_ENV: self.output_prefix,
            LOG_LEVEL_ENV: self.log_level,
            POWERTOOLS_LOG_LEVEL_ENV: self.log_level,
            POWERTOOLS_SERVICE_ENV: SERVICE_NAME,
            VERSION_ENV: VERSION,
        }

    def environment(self) -> dict[str, str]:
        """The detector's environment for these settings (OUTPUT_BUCKET only when known here)."""
        environment = {
            ENGINE_ENV: self.engine,
            MODEL_ENV: self.model,
            THRESHOLD_ENV: repr(float(self.threshold)),
            TILES_ENV: self.tiles,
            MAX_TILES_ENV: str(self.max_tiles),
            **self.shared_environment(),
        }
        if self.output_bucket is not None:
            environment[OUTPUT_BUCKET_ENV] = self.output_bucket
        return environment

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> "DetectorConfig":
        """Unset or blank variables keep the defaults; a bad value raises ContractError."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(_VARIABLES[field.name], "").strip()
            if not raw:
                continue
            if field.name == "threshold":
                try:
                    values[field.name] = float(raw)
                except ValueError:
                    raise ContractError(field.name, f"{raw!r} is not a number") from None
            elif field.name == "max_tiles":
                try:
                    values[field.name] = int(raw)
                except ValueError:
                    raise ContractError(field.name, f"{raw!r} is not a whole number") from None
            elif field.name in ("engine", "log_level"):
                values[field.name] = raw.lower() if field.name == "engine" else raw.upper()
            else:
                values[field.name] = raw
        return cls(**values)


_VARIABLES = {
    "engine": ENGINE_ENV,
    "model": MODEL_ENV,
    "threshold": THRESHOLD_ENV,
    "tiles": TILES_ENV,
    "max_tiles": MAX_TILES_ENV,
    "input_prefix": INPUT_PREFIX_ENV,
    "output_prefix": OUTPUT_PREFIX_ENV,
    "output_bucket": OUTPUT_BUCKET_ENV,
    "log_level": LOG_LEVEL_ENV,
}
RESERVED_VARIABLES = frozenset(
    {
        *_VARIABLES.values(),
        POWERTOOLS_LOG_LEVEL_ENV,
        POWERTOOLS_SERVICE_ENV,
        VERSION_ENV,
        CORS_ORIGINS_ENV,
        EVENT_BUS_ENV,
        EVENT_SOURCE_ENV,
    }
)
"""Variables the components own: extra environment entries may not override them."""


def load_manifest(build_context: Path) -> dict[str, dict]:
    """The model manifest of a build context (models.json): model name -> entry."""
    return json.loads((Path(build_context) / MANIFEST_FILE).read_text())


def manifest_model_problem(manifest: Mapping[str, Mapping], model: str, engine: str) -> str | None:
    """Deploy-time check of a model the image is built with, against the build context's manifest."""
    entry = manifest.get(model)
    if entry is None:
        return f"{model!r} is not in {MANIFEST_FILE}; known models: {', '.join(sorted(manifest))}"
    if engine == "darknet" and entry.get("darknet_cli", True) is False:
        return (
            f"{model!r} cannot run on the darknet engine: the image's Darknet CLI does not support its "
            "layers; use engine 'onnx'"
        )
    return None


# Facts the Makefile and the shell scripts read, which cannot import Python:
#   python3 -m darknet_detector.contract default-model
# (standard library only, so a bare python3 with container/ on PYTHONPATH serves, before any virtualenv).
SHELL_FACTS: dict[str, Callable[..., str]] = {
    "default-model": lambda: DEFAULT_MODEL,
    "image-tag": image_tag,
    "reference-target": lambda: REFERENCE_TARGET,
    "reference-tag": reference_tag,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SHELL_FACTS:
        facts = "|".join(SHELL_FACTS)
        print(f"usage: python3 -m darknet_detector.contract {{{facts}}} [ARG]", file=sys.stderr)
        return 2
    try:
        print(SHELL_FACTS[argv[0]](*argv[1:]))
    except TypeError:
        print(f"{argv[0]}: wrong number of arguments", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
