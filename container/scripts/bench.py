"""`make bench`: both engines side by side in the local Lambda container, on the machine at hand.

What it measures, and how:
- yolov3-tiny on Darknet's dog.jpg through the synchronous HTTP JSON path (an API Gateway REST proxy
  event, so no S3 transfer is timed), for the `onnx` engine (the default) and the `darknet` engine (the
  stock CLI, reloading the weights each call), unrestricted and under `--cpus 0.6 --memory 1024m`
  (about the CPU share of a 1024 MB Lambda).
- Image size: uncompressed as docker counts it, and gzip-compressed (about what a registry stores).
- Cold start: from `docker run` to the first answer, median of five fresh containers. Start-up cost:
  the detector's first answer after `docker run` returned, less the first answer of a trivial handler
  (`operator.is_`, the image's CMD overridden) started the same way in the same image, less the warm
  answer; median of five rounds alternating the two (and `--baseline-image`, when given, with the image),
  with the machine's load beside it and its parts: the runtime's init phase (the handler's imports, the
  emulator's INIT REPORT), the session creation (the engine's log line) and the rest of the first
  invocation. `--cold-start-only` measures just that. Warm latency:
  the client's wall time per invocation (one kept-alive connection, the event encoded once), median and
  p90, next to the handler's own figures (timings in the JSON answer; predict_seconds is the network
  alone, Darknet's "Predicted in" for the CLI engine) and the emulator's REPORT duration; the warm path's
  goals are ratios to predict within the run. `--warm-only` measures just that, alternating with
  `--baseline-image`.
- Peak memory: the container cgroup's high-water mark, read with `docker exec` (v2 memory.peak or
  v1 memory.max_usage_in_bytes, whichever the host keeps; both count page cache).
- Parity: darknet_detector.building.parity inside the image on every sample image, judged by its exit code.
- Other models for scale, beside the original example's own: YOLOv2 at 608x608 (12.4 s per image on
  Lambda) always, plus any model of container/models.json named in BENCH_MODELS (comma-separated). Each
  gets random weights of its real shape at its cfg's own size (the cfg from the image's cached `darknet`
  build stage, or the repo's cfg/), converted on the host and mounted read-only into the same image.
  Random weights give meaningless detections: those models are for timing only. The darknet engine is
  timed only for models the image's Darknet CLI can run.
- Large photos: dog.jpg enlarged to 12 MP (4000x3000) and 48 MP (8000x6000) JPEGs (quality 90, small
  enough for the HTTP path), each in a fresh container at the 1024 MB share: latency and peak memory
  of a photo detected on Darknet's float image (12 MP) and of one whose network input is computed from
  its 8-bit pixels (48 MP); both are decoded whole. Then each without and with sliced inference (the
  stack's DETECTOR_TILES off and auto) at 1024 MB and at the components' default 1769 MB (`make tune`'s
  balanced size), CPU share MB/1769: warm latency, the emulator's billed duration, peak memory and cost
  per million at x86 prices. `--tiles-only` measures just that.

Containers run one at a time (timings on a 2-core machine would otherwise disturb each other) and are
always removed. The last line of output is one JSON object for the README and CI logs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from lambda_events import make_api_event
from local_lambda import DEFAULT_IMAGE, LocalLambda, file_from_image

from darknet_detector.building.convert import (
    build_layers,
    conv_layers,
    convert,
    parse_cfg,
    write_random_weights,
)
from darknet_detector.building.model_dir import assemble
from darknet_detector.contract import DEFAULT_MODEL, LAMBDA_MB_PER_VCPU, MODEL_ENV, TILES_ENV, reference_tag
from darknet_detector.engines.optimised_graph import SESSION_READY_LOG

SCRIPTS = Path(__file__).resolve().parent
CONTAINER = SCRIPTS.parent
ROOT = CONTAINER.parent

ENGINES = ("onnx", "darknet")
DEFAULT_ENGINE = "onnx"
SAMPLE_IMAGE = "/opt/darknet/data/dog.jpg"
STAGE_IMAGE = "darknet-lambda-stage:darknet"
MANIFEST = json.loads((CONTAINER / "models.json").read_text())
ORIGINAL_MODEL = "yolov2"  # the original example's yolo.weights, at its cfg's 608x608
ORIGINAL_SECONDS = 12.38  # its time for dog.jpg on Lambda's CPU, as the original reported it
TIMING_MODELS_ENV = "BENCH_MODELS"
TIMING_MOUNT = "/opt/timing-model"
COLD_STARTS = 5
INVOKE_TIMEOUT_SECONDS = 300
DOCKER_TIMEOUT_SECONDS = 300
STAGE_BUILD_TIMEOUT_SECONDS = 1200
LARGE_PHOTOS = {"12mp": (4000, 3000), "48mp": (8000, 6000)}
# Sliced inference on the large photos: without tiles and with tiles=auto, at the smallest size the project
# deploys and at the components' default (`make tune`'s balanced size for yolov3-tiny).
TILED_SIZES_MB = (1024, LAMBDA_MB_PER_VCPU)
TILINGS = ("off", "auto")
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_MILLION_REQUESTS = 0.20
MB_PER_GB = 1024
LARGE_PHOTO_QUALITY = 90
GOAL_SPEEDUP = 10.0
GOAL_COLD_START_SECONDS = 1.0
# The start-up cost (first answer less the trivial handler's, less the warm answer) by setting.
GOAL_STARTUP_MS = {"unrestricted": 100, "cpus0.6_mem1024m": 175}
# The trivial handler the start-up cost is measured against: the standard library's, so its start-up is
# the interpreter, the runtime client and the emulator alone.
TRIVIAL_HANDLER = "operator.is_"
STARTUP_WARM_CALLS = 3
# The warm path, as ratios within one run: the warm answer's median over the engine's predict time, by
# setting, and the warm p90 over the median at the 1024 MB share.
GOAL_WARM_OVER_PREDICT = {"unrestricted": 1.25, "cpus0.6_mem1024m": 1.10}
GOAL_P90_OVER_MEDIAN = {"cpus0.6_mem1024m": 1.25}
# The default image's size, for the models that have a size goal: uncompressed as docker counts it, and
# gzip-compressed as compressed_size() measures it.
GOAL_IMAGE_BYTES = {DEFAULT_MODEL: {"uncompressed": 150_000_000, "gzip": 70_000_000}}


@dataclass(frozen=True)
class Limits:
    key: str
    label: str
    cpus: float | None = None
    memory_mb: int | None = None


@dataclass
class EngineTiming:
    """One engine under one setting: cold starts of fresh containers, then warm calls on the last one."""

    engine: str
    limits: Limits
    cold_seconds: list[float] = field(default_factory=list)
    docker_run_seconds: list[float] = field(default_factory=list)
    init_ms: list[float] = field(default_factory=list)
    warm_seconds: list[float] = field(default_factory=list)
    predict_seconds: list[float] = field(default_factory=list)
    # The emulator's REPORT lines for the warm calls: the function's own duration and what Lambda bills.
    duration_ms: list[float] = field(default_factory=list)
    billed_ms: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    peak_source: str | None = None
    error: str | None = None

    def after_start_seconds(self) -> list[float]:
        """Each cold start less its `docker run`: what the function itself takes to first answer."""
        paired = zip(self.cold_seconds, self.docker_run_seconds, strict=False)  # a failed start has no cold
        return [cold - run for cold, run in paired]

    def summary(self) -> dict:
        return {
            "cold_start_ms": ms(median(self.cold_seconds)),
            "docker_run_ms": ms(median(self.docker_run_seconds)),
            "after_start_ms": ms(median(self.after_start_seconds())),
            "runtime_init_ms": round(median(self.init_ms), 1) if self.init_ms else None,
            "warm_ms": {"median": ms(median(self.warm_seconds)), "p90": ms(p90(self.warm_seconds))},
            "calls": len(self.warm_seconds),
            "predict_ms": ms(median(self.predict_seconds)),
            "peak_memory_mib": round(self.peak_bytes / 2**20, 1) if self.peak_bytes else None,
            **({"error": self.error} if self.error else {}),
        }


def cost_per_million(billed_ms: float, memory_mb: int, architecture: str = "x86_64") -> float:
    """Dollars for a million invocations of billed_ms each at memory_mb, requests included."""
    gb_seconds = billed_ms / 1000 * memory_mb / MB_PER_GB
    return 1e6 * gb_seconds * PRICE_PER_GB_SECOND[architecture] + PRICE_PER_MILLION_REQUESTS


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def docker(
    *args: str, timeout: float = DOCKER_TIMEOUT_SECONDS, check: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, timeout=timeout, check=check)


def machine() -> dict:
    """What the README quotes next to the figures: the timings mean little without the machine.

    Family/model numbers and the widest vector unit matter because "model name" may be as vague as
    "AMD EPYC", and ONNX Runtime uses AVX-512 where the CPU has it (Lambda's CPUs may not).
    """
    first_cpu = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    cpuinfo = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in first_cpu.splitlines())
    )
    flags = set(cpuinfo.get("flags", "").split())
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M).group(1))
    engine = docker("info", "-f", "{{.ServerVersion}} {{.CgroupVersion}}").stdout.decode().split()
    return {
        "cpu": cpuinfo.get("model name") or platform.processor(),
        "cpu_family_model": f"{cpuinfo.get('cpu family', '?')}/{cpuinfo.get('model', '?')}",
        "vector": "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "none of avx2/avx512",
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        "kernel": platform.release(),
        "docker": engine[0] if engine else None,
        "cgroup": f"v{engine[1]}" if len(engine) > 1 else None,
    }


def compressed_size(image: str) -> int:
    """Bytes of the image's layers gzip-compressed, about what a registry stores and Lambda fetches."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as saving:
        while chunk := saving.stdout.read(1 << 20):
            total += len(packer.compress(chunk))
    if saving.returncode != 0:
        raise RuntimeError(f"docker save {image} failed")
    return total + len(packer.flush())


def image_env(image: str) -> dict[str, str]:
    lines = docker("image", "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", image).stdout
    return dict(line.split("=", 1) for line in lines.decode().splitlines() if "=" in line)


def answer_body(answer: dict) -> dict:
    """The JSON document of a 200 answer; anything else stops the measurement of that engine."""
    if not isinstance(answer, dict) or answer.get("statusCode") != 200:
        raise RuntimeError(f"unexpected answer: {json.dumps(answer)[:500]}")
    body = json.loads(answer["body"])
    if body.get("status") != "ok":
        raise RuntimeError(f"detection failed: {json.dumps(body)[:500]}")
    return body


RUNTIME_INIT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
SESSION_READY = re.compile(re.escape(SESSION_READY_LOG.partition("%")[0]) + r"([0-9.]+) ms")
INVOKE_REPORT = re.compile(r"\tDuration: ([0-9.]+) ms\tBilled Duration: ([0-9]+) ms")


def time_engine(
    image: str,
    engine: str,
    limits: Limits,
    event: dict,
    warm_calls: int,
    cold_starts: int = COLD_STARTS,
    extra_env: dict[str, str] | None = None,
    volumes: dict[str, str] | None = None,
) -> EngineTiming:
    """Cold-start fresh containers, then time warm calls on the last; failures are recorded, not raised."""
    timing = EngineTiming(engine, limits)
    env = {"DETECTOR_ENGINE": engine, **(extra_env or {})}
    try:
        for attempt in range(cold_starts):
            container = LocalLambda(
                image=image, env=env, cpus=limits.cpus, memory_mb=limits.memory_mb, volumes=volumes or {}
            )
            try:
                started = time.perf_counter()
                container.start()
                timing.docker_run_seconds.append(time.perf_counter() - started)
                container.wait_ready()
                answer_body(container.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS))
                timing.cold_seconds.append(time.perf_counter() - started)
                init = RUNTIME_INIT.search(container.logs())
                if init:
                    timing.init_ms.append(float(init.group(1)))
                if attempt < cold_starts - 1:
                    continue
                call = container.invoker(event, timeout=INVOKE_TIMEOUT_SECONDS)
                for _ in range(warm_calls):
                    started = time.perf_counter()
                    body = answer_body(call())
                    timing.warm_seconds.append(time.perf_counter() - started)
                    timing.predict_seconds.append(body["timings"]["predict_seconds"])
                reports = INVOKE_REPORT.findall(container.logs())[-warm_calls:] if warm_calls else []
                timing.duration_ms = [float(duration) for duration, _ in reports]
                timing.billed_ms = [float(billed) for _, billed in reports]
                peak = container.peak_memory()
                if peak:
                    timing.peak_bytes, timing.peak_source = peak
            finally:
                container.stop()
    except (RuntimeError, TimeoutError, subprocess.SubprocessError, OSError) as error:
        timing.error = str(error).splitlines()[0][:300]
    progress(f"{engine:8s} {limits.label}: {json.dumps(timing.summary())}")
    return timing


@dataclass
class StartupTiming:
    """Fresh containers of one image under one setting: the detector's start-ups and the trivial handler's.

    Every list holds one value per round, in ms; a round's start-up cost is the detector's first answer less
    the trivial handler's first answer (the same image, emulator and limits) less the warm answer."""

    image: str
    first_answer: list[float] = field(default_factory=list)
    trivial_first_answer: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    init: list[float] = field(default_factory=list)
    trivial_init: list[float] = field(default_factory=list)
    session: list[float] = field(default_factory=list)
    first_invocation: list[float] = field(default_factory=list)
    warm_invocation: list[float] = field(default_factory=list)
    # CPU time of the container's processes (the cgroup's count): at the first answer, per warm answer,
    # and at the trivial handler's first answer; less disturbed by other work on the machine than time.
    cpu_first: list[float] = field(default_factory=list)
    cpu_warm: list[float] = field(default_factory=list)
    trivial_cpu_first: list[float] = field(default_factory=list)
    error: str | None = None

    def costs(self) -> list[float]:
        rounds = zip(self.first_answer, self.trivial_first_answer, self.warm, strict=False)
        return [first - trivial - warm for first, trivial, warm in rounds]

    def cpu_costs(self) -> list[float]:
        """The same subtraction in CPU time."""
        rounds = zip(self.cpu_first, self.trivial_cpu_first, self.cpu_warm, strict=False)
        return [first - trivial - warm for first, trivial, warm in rounds]

    def summary(self) -> dict:
        def med(values: list[float]) -> float | None:
            return round(median(values), 1) if values else None

        # The emulator starts the runtime at the first invocation: that invocation's Duration includes init.
        first_work = [
            first - init - warm
            for first, init, warm in zip(self.first_invocation, self.init, self.warm_invocation, strict=False)
        ]
        return {
            "image": self.image,
            "startup_cost_ms": med(self.costs()),
            "startup_cpu_ms": med(self.cpu_costs()),
            "first_answer_ms": med(self.first_answer),
            "trivial_first_answer_ms": med(self.trivial_first_answer),
            "warm_ms": med(self.warm),
            "runtime_init_ms": med(self.init),
            "trivial_runtime_init_ms": med(self.trivial_init),
            "session_ms": med(self.session),
            "first_invocation_ms": med(self.first_invocation),
            "warm_invocation_ms": med(self.warm_invocation),
            "first_invocation_work_ms": med(first_work),
            "rounds": len(self.costs()),
            **({"error": self.error} if self.error else {}),
        }


def first_answer_ms(container: LocalLambda, event: dict) -> float:
    """From `docker run` having returned to the first answer (any answer: the trivial handler's is false)."""
    started = time.perf_counter()
    container.wait_ready()
    answer = container.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS)
    elapsed = (time.perf_counter() - started) * 1000
    if container.handler is None:
        answer_body(answer)
    return elapsed


def startup_round(timing: StartupTiming, limits: Limits, event: dict) -> None:
    """A fresh container of the detector (first answer, then warm ones), then one of the trivial handler."""
    container = LocalLambda(
        image=timing.image,
        env={"DETECTOR_ENGINE": DEFAULT_ENGINE},
        cpus=limits.cpus,
        memory_mb=limits.memory_mb,
    )
    try:
        container.start()
        first = first_answer_ms(container, event)
        cpu_first = container.cpu_seconds()
        warm = []
        for _ in range(STARTUP_WARM_CALLS):
            started = time.perf_counter()
            answer_body(container.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS))
            warm.append((time.perf_counter() - started) * 1000)
        cpu_after = container.cpu_seconds()
        logs = container.logs()
    finally:
        container.stop()
    trivial = LocalLambda(
        image=timing.image, cpus=limits.cpus, memory_mb=limits.memory_mb, handler=TRIVIAL_HANDLER
    )
    try:
        trivial.start()
        trivial_first = first_answer_ms(trivial, event)
        trivial_cpu = trivial.cpu_seconds()
        trivial_logs = trivial.logs()
    finally:
        trivial.stop()
    timing.first_answer.append(first)
    timing.warm.append(median(warm))
    timing.trivial_first_answer.append(trivial_first)
    if cpu_first is not None and cpu_after is not None and trivial_cpu is not None:
        # The reading's own shell (about a millisecond) is in the detector's and the trivial figure alike.
        timing.cpu_first.append(cpu_first * 1000)
        timing.cpu_warm.append((cpu_after - cpu_first) * 1000 / STARTUP_WARM_CALLS)
        timing.trivial_cpu_first.append(trivial_cpu * 1000)
    for values, pattern, text in (
        (timing.init, RUNTIME_INIT, logs),
        (timing.trivial_init, RUNTIME_INIT, trivial_logs),
        (timing.session, SESSION_READY, logs),
    ):
        found = pattern.search(text)
        if found:
            values.append(float(found.group(1)))
    durations = [float(duration) for duration, _ in INVOKE_REPORT.findall(logs)]
    if durations:
        timing.first_invocation.append(durations[0])
        timing.warm_invocation.append(median(durations[1:]) if len(durations) > 1 else durations[0])


def time_startup(images: list[str], limits: Limits, event: dict, rounds: int = COLD_STARTS) -> dict:
    """The start-up cost of each image under one setting: rounds of fresh containers, alternating the
    detector and the trivial handler (and the images, when there are several), with the machine's load
    (1-minute average) before and after."""
    timings = [StartupTiming(image) for image in images]
    load_before = os.getloadavg()[0]
    for _ in range(rounds):
        for timing in timings:
            if timing.error:
                continue
            try:
                startup_round(timing, limits, event)
            except (RuntimeError, TimeoutError, subprocess.SubprocessError, OSError) as failure:
                timing.error = str(failure).splitlines()[0][:300]
    summary = {
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "images": [timing.summary() for timing in timings],
    }
    progress(f"start-up cost, {limits.label}: {json.dumps(summary)}")
    return summary


def startup_table(by_setting: dict[str, tuple[Limits, dict]], rounds: int) -> list[str]:
    columns = (
        ("cost", 8), ("cpu", 6), ("first", 8), ("trivial", 9), ("warm", 7), ("init", 7), ("triv.init", 10),
        ("session", 9), ("1st call", 10), ("1st work", 10),
    )  # fmt: skip
    keys = (
        "startup_cost_ms", "startup_cpu_ms", "first_answer_ms", "trivial_first_answer_ms", "warm_ms",
        "runtime_init_ms", "trivial_runtime_init_ms", "session_ms", "first_invocation_ms",
        "first_invocation_work_ms",
    )  # fmt: skip
    rows = [
        f"start-up cost: median of {rounds} rounds, each a fresh container of the detector then one of "
        f"the trivial handler ({TRIVIAL_HANDLER}), images alternating; ms",
        f"{'setting':<24}{'load':<11}{'image':<28}" + "".join(f"{name:>{width}}" for name, width in columns),
    ]
    for limits, summary in by_setting.values():
        load = "{:.1f}->{:.1f}".format(*summary["load"])
        for part in summary["images"]:
            rows.append(
                f"{limits.label:<24}{load:<11}{part['image'][-27:]:<28}"
                + "".join(f"{fmt(part[key]):>{width}}" for key, (_, width) in zip(keys, columns, strict=True))
                + (f"  ERROR {part['error']}" if "error" in part else "")
            )
    rows += [
        "  cost: first - trivial - warm (the goal's figure); cpu: the same in the container's CPU time (its",
        "  cgroup's count, all processes, the emulator's included: steadier on a busy machine than time);",
        "  first: `docker run` returned to the detector's first answer; trivial: the same for the trivial",
        "  handler in the same image; warm: the median of",
        f"  {STARTUP_WARM_CALLS} answers after the first; init: the runtime's init phase, the imports",
        "  (INIT REPORT); session: ONNX Runtime session creation (the engine's log line: in init when the",
        "  handler creates the engine there, else in the first call); 1st call: the first invocation's",
        "  Duration (REPORT, init included: the emulator starts the runtime then); 1st work: that less init",
        "  and the warm Duration (what the first call does that a warm one does not: imports deferred to it,",
        "  the engine when not made in init, the first inference's extra).",
    ]
    return rows


def startup_goals(by_setting: dict[str, tuple[Limits, dict]], image: str) -> dict[str, bool]:
    """Each setting's start-up cost of image (the one under test) against its goal."""
    verdicts = {}
    for key, (_, summary) in by_setting.items():
        cost = next(part["startup_cost_ms"] for part in summary["images"] if part["image"] == image)
        verdicts[f"{key}_at_most_{GOAL_STARTUP_MS[key]}ms"] = (
            cost is not None and cost <= GOAL_STARTUP_MS[key]
        )
    return verdicts


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ImageSize:
    """An image as docker counts it and gzip-compressed, plus what it adds to the default image's layers."""

    tag: str
    size_bytes: int
    compressed_bytes: int
    layers: list[str]

    @classmethod
    def of(cls, image: str) -> ImageSize:
        inspected = docker("image", "inspect", "-f", '{{.Size}} {{join .RootFS.Layers ","}}', image)
        size, layers = inspected.stdout.decode().split()
        return cls(image, int(size), compressed_size(image), layers.split(","))

    def line(self, base: ImageSize | None = None) -> str:
        size, compressed = self.size_bytes / 1e6, self.compressed_bytes / 1e6
        text = f"{self.tag}: {size:.0f} MB uncompressed, {compressed:.0f} MB gzip-compressed"
        if base is not None:
            owner = (
                "the default image" if self.layers[: len(base.layers)] == base.layers else "NOT the default"
            )
            text += f" ({owner}'s layers + {(self.size_bytes - base.size_bytes) / 1e6:.0f} MB)"
        return text

    def summary(self) -> dict:
        return {
            "size_mb": round(self.size_bytes / 1e6, 1),
            "compressed_mb": round(self.compressed_bytes / 1e6, 1),
        }


def parity(image: str, model: str) -> bool:
    command = (
        f"python3 -m darknet_detector.building.parity --model-dir /opt/model --model {model} "
        "--darknet /opt/darknet/bin/darknet /opt/darknet/data/*.jpg"
    )
    done = docker("run", "--rm", "--entrypoint", "sh", image, "-c", command, check=False)
    return done.returncode == 0


def large_photo_event(photo: bytes, size: tuple[int, int]) -> dict:
    """The photo enlarged to a phone camera's size, as a JPEG in an API Gateway event."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(photo)) as image:
        large = image.convert("RGB").resize(size, Image.BILINEAR)
    buffer = io.BytesIO()
    large.save(buffer, format="JPEG", quality=LARGE_PHOTO_QUALITY)
    return make_api_event(buffer.getvalue())


def time_large_photos(image: str, photo: bytes, limits: Limits, warm_calls: int) -> list[EngineTiming]:
    """The default engine on each large photo, one fresh container per photo so each peak is its own."""
    timings = []
    for name, size in LARGE_PHOTOS.items():
        megapixels = f"{size[0] * size[1] / 1e6:.0f} MP"
        photo_limits = Limits(
            f"{limits.key}_{name}", f"{megapixels}, {limits.label}", limits.cpus, limits.memory_mb
        )
        event = large_photo_event(photo, size)
        timings.append(time_engine(image, DEFAULT_ENGINE, photo_limits, event, warm_calls, cold_starts=1))
    return timings


def time_tiled_photos(image: str, photo: bytes, warm_calls: int) -> list[dict]:
    """Each large photo without and with tiles=auto (the stack's DETECTOR_TILES) at TILED_SIZES_MB, one
    fresh container each: warm latency, Lambda's billed duration, peak memory and cost per million."""
    rows = []
    for name, size in LARGE_PHOTOS.items():
        event = large_photo_event(photo, size)
        for memory_mb in TILED_SIZES_MB:
            cpus = round(memory_mb / LAMBDA_MB_PER_VCPU, 3)
            for tiles in TILINGS:
                limits = Limits(
                    f"{name}_mem{memory_mb}_{tiles}",
                    f"{name}, {memory_mb} MB, tiles {tiles}",
                    cpus,
                    memory_mb,
                )
                timing = time_engine(
                    image,
                    DEFAULT_ENGINE,
                    limits,
                    event,
                    warm_calls,
                    cold_starts=1,
                    extra_env={TILES_ENV: tiles},
                )
                billed = median(timing.billed_ms)
                summary = timing.summary()
                rows.append(
                    {
                        "photo": name,
                        "memory_mb": memory_mb,
                        "tiles": tiles,
                        "warm_ms": summary["warm_ms"],
                        "billed_ms": billed,
                        "peak_memory_mib": summary["peak_memory_mib"],
                        "cost_per_million_x86": round(cost_per_million(billed, memory_mb), 2)
                        if billed
                        else None,
                        **({"error": timing.error} if timing.error else {}),
                    }
                )
    return rows


def tiled_table(rows: list[dict], warm_calls: int) -> list[str]:
    lines = [
        f"large photos without and with tiles=auto (dog.jpg enlarged, JPEG): {warm_calls} warm calls each",
        f"{'photo':<6}{'memory':>9}{'tiles':>7}{'warm p50':>13}{'p90':>13}{'billed':>12}"
        f"{'peak mem':>11}{'$/M x86':>10}",
    ]
    for row in rows:
        lines.append(
            f"{row['photo']:<6}{row['memory_mb']:>6} MB{row['tiles']:>7}"
            f"{fmt(row['warm_ms']['median'], ' ms', 1):>13}"
            f"{fmt(row['warm_ms']['p90'], ' ms', 1):>13}{fmt(row['billed_ms'], ' ms'):>12}"
            f"{fmt(row['peak_memory_mib'], ' MiB'):>11}{fmt(row['cost_per_million_x86'], '', 2):>10}"
            + (f"  ERROR {row['error']}" if "error" in row else "")
        )
    return lines


def timing_cfg(cfg_text: str) -> str:
    """Darknet's training cfg as one deploys it: batch 1 (its own "Testing" lines), at the cfg's size."""
    for key in ("batch", "subdivisions"):
        cfg_text = re.sub(rf"^{key}\s*=\s*\d+\s*$", f"{key}=1", cfg_text, count=1, flags=re.M)
    return cfg_text


def timing_models(requested: str) -> list[str]:
    """The models timed with random weights: the original's own first, then those BENCH_MODELS names."""
    names = [ORIGINAL_MODEL, *(name.strip() for name in requested.split(",") if name.strip())]
    unknown = sorted(set(names) - set(MANIFEST))
    if unknown:
        raise SystemExit(
            f"bench: {TIMING_MODELS_ENV} names unknown models {unknown}; known: {sorted(MANIFEST)}"
        )
    return list(dict.fromkeys(names))


def model_cfg_text(model: str) -> str:
    """A manifest model's Darknet cfg as shipped: from the Dockerfile's `darknet` stage, or the repo's cfg/.

    The runtime image ships no cfg files; the `darknet` stage is a cache hit after `make image`.
    """
    origin, _, cfg_path = MANIFEST[model]["cfg"].partition(":")
    if origin != "darknet":
        return (CONTAINER / cfg_path).read_text()
    docker(
        "build", "--quiet", "--target", "darknet", "-t", STAGE_IMAGE, str(CONTAINER),
        timeout=STAGE_BUILD_TIMEOUT_SECONDS,
    )  # fmt: skip
    return file_from_image(STAGE_IMAGE, f"/opt/darknet/{cfg_path}").decode()


def input_size(cfg_text: str) -> str:
    """The network's input as the cfg gives it, e.g. 608x608."""
    net = parse_cfg(cfg_text)[0]
    return f"{net.integer('width', 0)}x{net.integer('height', 0)}"


def cfg_gflop(cfg_text: str, flavour: str) -> float:
    """Darknet's own count of a network's work per image (its BFLOPs line): 2 x weights x output cells
    summed over the convolutions, from the cfg alone; the other layers are small beside them."""
    _, layers = build_layers(parse_cfg(cfg_text), flavour)
    return (
        sum(2 * layer.conv.weight_count * layer.shape.h * layer.shape.w for layer in conv_layers(layers))
        / 1e9
    )


def timing_mount(model: str, model_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The environment and volume that make the image run a timing model directory instead of its own."""
    return {MODEL_ENV: model, "DETECTOR_MODEL_DIR": TIMING_MOUNT}, {str(model_dir): TIMING_MOUNT}


def timing_model_dir(image: str, model: str, folder: Path) -> tuple[Path, str]:
    """A model directory like /opt/model for a manifest model, with random weights (timing only).

    The runtime image ships no converter dependencies, so the conversion runs on the host.
    Returns the directory and the network's input size as the cfg gives it.
    """
    entry = MANIFEST[model]
    cfg_text = model_cfg_text(model)
    source = folder / "source"
    source.mkdir()
    cfg = source / f"{model}.cfg"
    cfg.write_text(timing_cfg(cfg_text))
    names = source / f"{model}.names"
    names.write_bytes(file_from_image(image, "/opt/darknet/data/coco.names"))
    weights = source / f"{model}.weights"
    write_random_weights(cfg, weights, seed=0)
    model_dir = folder / "model"
    files = assemble(cfg, weights, names, model_dir, model, entry["flavour"], entry["darknet_cli"])
    # The .data file names the .names file where the container sees it.
    files.data.write_text(files.data.read_text().replace(str(model_dir), TIMING_MOUNT))
    progress(
        "converted: " + convert(files.cfg, files.weights, files.onnx, entry["flavour"]).split(": ", 1)[1]
    )
    model_dir.chmod(0o755)
    for path in model_dir.iterdir():
        path.chmod(0o644)
    return model_dir, input_size(cfg_text)


def fmt(value, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


COLUMNS = (
    ("setting", 24),
    ("engine", 9),
    ("cold start", 11),
    ("docker run", 11),
    ("warm median", 13),
    ("warm p90", 12),
    ("predict", 12),
    ("peak mem", 10),
    ("speedup", 9),
)


def table(title: str, timings: list[EngineTiming]) -> list[str]:
    def row(cells: list[str]) -> str:
        """Setting and engine left-aligned, figures right-aligned."""
        return "".join(
            f"{cell:<{width}}" if index < 2 else f"{cell:>{width}}"
            for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
        )

    rows = [title, row([name for name, _ in COLUMNS])]
    by_setting: dict[str, dict[str, EngineTiming]] = {}
    for timing in timings:
        by_setting.setdefault(timing.limits.label, {})[timing.engine] = timing
    for label, engines in by_setting.items():
        for engine, timing in engines.items():
            summary = timing.summary()
            speed = speedup(engines) if engine == DEFAULT_ENGINE else None
            cells = [
                label,
                engine,
                fmt(summary["cold_start_ms"], " ms"),
                fmt(summary["docker_run_ms"], " ms"),
                fmt(summary["warm_ms"]["median"], " ms", 1),
                fmt(summary["warm_ms"]["p90"], " ms", 1),
                fmt(summary["predict_ms"], " ms", 1),
                fmt(summary["peak_memory_mib"], " MiB"),
                fmt(speed, "x", 1),
            ]
            rows.append(row(cells) + (f"  ERROR {timing.error}" if timing.error else ""))
    return rows


def goal_lines(goals: dict) -> list[str]:
    def verdict(value) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{key} {verdict(inner)}" for key, inner in value.items())
        return "PASS" if value else "FAIL"

    return [f"  {name}: {verdict(value)}" for name, value in goals.items()]


def speedup(engines: dict[str, EngineTiming]) -> float | None:
    fast, reference = (median(engines[name].warm_seconds) if name in engines else None for name in ENGINES)
    return round(reference / fast, 1) if fast and reference else None


def grouped(timings: list[EngineTiming]) -> dict:
    """Summaries keyed by setting, then engine, with the speedup of each setting."""
    by_setting: dict[str, dict[str, EngineTiming]] = {}
    for timing in timings:
        by_setting.setdefault(timing.limits.key, {})[timing.engine] = timing
    return {
        key: {**{name: timing.summary() for name, timing in engines.items()}, "speedup": speedup(engines)}
        for key, engines in by_setting.items()
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def warm_ratios(timing: EngineTiming) -> dict:
    """Where a warm call's time goes beside the network: medians in ms of the client's wall time, the
    emulator's REPORT duration (what Lambda bills, rounded up) and predict_seconds, and their ratios."""
    warm, predict = ms(median(timing.warm_seconds)), ms(median(timing.predict_seconds))
    duration = round(median(timing.duration_ms), 1) if timing.duration_ms else None
    return {
        "warm_ms": warm,
        "duration_ms": duration,
        "predict_ms": predict,
        "warm_over_predict": ratio(warm, predict),
        "p90_over_median": ratio(ms(p90(timing.warm_seconds)), warm),
        "billed_over_predict": ratio(median(timing.billed_ms), predict),
        "outside_function_ms": round(warm - duration, 1) if warm and duration else None,
    }


def warm_table(rows: list[tuple[str, str, dict]]) -> list[str]:
    """One line per (image, setting): the warm path's medians and ratios (warm_ratios)."""
    width = max(len("image"), *(len(image) for image, _, _ in rows)) + 2
    lines = [
        f"{'image':<{width}}{'setting':<24}{'warm':>9}{'REPORT':>9}{'predict':>9}{'warm/pred':>11}"
        f"{'p90/med':>9}{'billed/pred':>13}{'outside':>9}"
    ]
    for image, label, part in rows:
        lines.append(
            f"{image:<{width}}{label:<24}{fmt(part['warm_ms'], '', 1):>9}{fmt(part['duration_ms'], '', 1):>9}"
            f"{fmt(part['predict_ms'], '', 1):>9}{fmt(part['warm_over_predict'], 'x', 2):>11}"
            f"{fmt(part['p90_over_median'], 'x', 2):>9}{fmt(part['billed_over_predict'], 'x', 2):>13}"
            f"{fmt(part['outside_function_ms'], '', 1):>9}"
        )
    lines += [
        "  medians in ms. warm: client wall time (one kept-alive connection, the body encoded once);",
        "  REPORT: the emulator's Duration (the function as Lambda bills it, before rounding up);",
        "  predict: predict_seconds, the network's run alone (ONNX Runtime's session.run, as Darknet's",
        "  'Predicted in' times network_predict); outside: warm less REPORT (emulator and client).",
    ]
    return lines


def warm_goals(ratios: dict[str, dict]) -> dict:
    """Goal 3 of the warm path, judged on one run's ratios by setting key."""
    return {
        "warm_median_over_predict": {
            key: (ratios[key]["warm_over_predict"] or float("inf")) <= limit
            for key, limit in GOAL_WARM_OVER_PREDICT.items()
            if key in ratios
        },
        "warm_p90_over_median": {
            key: (ratios[key]["p90_over_median"] or float("inf")) <= limit
            for key, limit in GOAL_P90_OVER_MEDIAN.items()
            if key in ratios
        },
    }


def warm_only(images: list[str], settings: tuple[Limits, ...], event: dict, calls: int, rounds: int) -> int:
    """Warm calls of the default engine only, the images alternating round by round (a fresh container
    each), at each setting: the before/after comparison of the warm path on a busy machine."""
    names = [
        f"{image} (baseline)" if index == 0 and len(images) > 1 else image
        for index, image in enumerate(images)
    ]
    pooled = {
        (name, limits.key): EngineTiming(DEFAULT_ENGINE, limits) for name in names for limits in settings
    }
    for _ in range(rounds):
        for limits in settings:
            for name, image in zip(names, images, strict=True):
                timing = time_engine(image, DEFAULT_ENGINE, limits, event, calls, cold_starts=1)
                total = pooled[(name, limits.key)]
                for field_name in ("warm_seconds", "predict_seconds", "duration_ms", "billed_ms"):
                    getattr(total, field_name).extend(getattr(timing, field_name))
                total.error = total.error or timing.error
    rows = [
        (name, limits.label, warm_ratios(pooled[(name, limits.key)])) for name in names for limits in settings
    ]
    lines = ["", f"warm path: {rounds} rounds x {calls} warm calls, images alternating; load {load()}"]
    lines += warm_table(rows)
    for name in names:
        verdicts = warm_goals({limits.key: warm_ratios(pooled[(name, limits.key)]) for limits in settings})
        lines += [f"goals, {name}:", *goal_lines(verdicts)]
    print("\n".join(lines))
    print(
        json.dumps({"warm_path": [{"image": name, "setting": label, **part} for name, label, part in rows]})
    )
    return 1 if any(timing.error for timing in pooled.values()) else 0


def load() -> str:
    """The 1, 5 and 15 minute load averages: the figures mean little on a machine busy with other work."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument(
        "--reference-image", help="the variant with Darknet's CLI (default: the image's reference tag)"
    )
    parser.add_argument("--warm-calls", type=int, default=20, help="warm calls per engine and setting")
    parser.add_argument("--photo-calls", type=int, default=5, help="warm calls per large photo")
    parser.add_argument(
        "--timing-model-calls", type=int, default=3, help="warm calls of each random-weights model"
    )
    parser.add_argument(
        "--cold-start-only", action="store_true", help="only the start-up cost, against the trivial handler"
    )
    parser.add_argument(
        "--startup-rounds",
        type=int,
        default=COLD_STARTS,
        help=f"rounds of the start-up cost (the goal's figure is the median of {COLD_STARTS})",
    )
    parser.add_argument(
        "--baseline-image",
        help="an earlier image measured alternating with the image's (start-up cost, and --warm-only)",
    )
    parser.add_argument(
        "--tiles-only", action="store_true", help="only the large photos without and with tiles=auto"
    )
    parser.add_argument(
        "--warm-only", action="store_true", help="only the warm path's ratios (with --baseline-image: both)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="--warm-only: rounds of fresh containers")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    models_to_time = timing_models(os.environ.get(TIMING_MODELS_ENV, ""))

    host = machine()
    env = image_env(args.image)
    model = env.get(MODEL_ENV, DEFAULT_MODEL)
    reference = args.reference_image or reference_tag(args.image)
    # The darknet engine runs in the reference variant; everything else in the default image.
    engine_image = {DEFAULT_ENGINE: args.image, "darknet": reference}
    sizes = {DEFAULT_ENGINE: ImageSize.of(args.image), "reference": ImageSize.of(reference)}
    progress(f"{sizes[DEFAULT_ENGINE].line()}; on {host['cpu']}, {host['cores']} cores")
    dog = file_from_image(args.image, SAMPLE_IMAGE)
    event = make_api_event(dog)
    if args.tiles_only:
        tiled_rows = time_tiled_photos(args.image, dog, args.photo_calls)
        print("\n".join(["", *tiled_table(tiled_rows, args.photo_calls)]))
        print(json.dumps({"image": args.image, "machine": host, "tiled_photos": tiled_rows}))
        return 1 if any("error" in row for row in tiled_rows) else 0
    settings = (
        Limits("unrestricted", f"{host['cores']} CPUs (unrestricted)"),
        Limits("cpus0.6_mem1024m", "0.6 CPU, 1024 MB", cpus=0.6, memory_mb=1024),
    )

    if args.warm_only:
        images = [args.baseline_image, args.image] if args.baseline_image else [args.image]
        return warm_only(images, settings, event, args.warm_calls, args.rounds)

    startup_images = [args.baseline_image, args.image] if args.baseline_image else [args.image]
    startup = {
        limits.key: (limits, time_startup(startup_images, limits, event, args.startup_rounds))
        for limits in settings
    }
    startup_summary = {key: summary for key, (_, summary) in startup.items()}
    startup_failed = any(
        "error" in part for summary in startup_summary.values() for part in summary["images"]
    )
    if args.cold_start_only:
        print(
            "\n".join(
                [
                    "",
                    *startup_table(startup, args.startup_rounds),
                    "goals:",
                    *goal_lines({"startup_cost": startup_goals(startup, args.image)}),
                ]
            )
        )
        print(json.dumps({"image": args.image, "machine": host, "startup": startup_summary}))
        return 1 if startup_failed else 0

    progress("parity: darknet_detector.building.parity inside the image on every sample")
    parity_ok = parity(reference, model)

    timings = [
        time_engine(engine_image[engine], engine, limits, event, args.warm_calls)
        for limits in settings
        for engine in ENGINES
    ]

    photo_timings = time_large_photos(args.image, dog, settings[1], args.photo_calls)
    tiled_rows = time_tiled_photos(args.image, dog, args.photo_calls)

    model_timings: dict[str, list[EngineTiming]] = {}
    inputs: dict[str, str] = {}
    for timed in models_to_time:
        with tempfile.TemporaryDirectory(prefix="bench-model-") as folder:
            progress(f"{timed}: random weights, converted on the host")
            model_dir, inputs[timed] = timing_model_dir(args.image, timed, Path(folder))
            engines = ENGINES if MANIFEST[timed]["darknet_cli"] else (DEFAULT_ENGINE,)
            model_env, volumes = timing_mount(timed, model_dir)
            model_timings[timed] = [
                time_engine(
                    engine_image[engine],
                    engine,
                    limits,
                    event,
                    args.timing_model_calls,
                    cold_starts=1,
                    extra_env=model_env,
                    volumes=volumes,
                )
                for limits in settings
                for engine in engines
            ]
    all_timings = timings + photo_timings + [t for group in model_timings.values() for t in group]

    warm_path = {t.limits.key: warm_ratios(t) for t in timings if t.engine == DEFAULT_ENGINE}
    peak_source = next((t.peak_source for t in all_timings if t.peak_source), None)
    results = grouped(timings)
    onnx_cold = {key: engines[DEFAULT_ENGINE]["cold_start_ms"] for key, engines in results.items()}
    full = results["unrestricted"][DEFAULT_ENGINE]["warm_ms"]["median"]
    quota = results["cpus0.6_mem1024m"][DEFAULT_ENGINE]["warm_ms"]["median"]
    goals = {
        "onnx_at_least_10x_faster": {key: (e["speedup"] or 0) >= GOAL_SPEEDUP for key, e in results.items()},
        "onnx_under_60ms_unrestricted": full is not None and full < 60,
        "onnx_under_150ms_cpus0.6_mem1024m": quota is not None and quota < 150,
        "startup_cost": startup_goals(startup, args.image),
        "cold_start_under_1s": {
            key: v is not None and v < GOAL_COLD_START_SECONDS * 1000 for key, v in onnx_cold.items()
        },
        **warm_goals(warm_path),
        "parity": parity_ok,
    }
    if model in GOAL_IMAGE_BYTES:
        default_size = sizes[DEFAULT_ENGINE]
        measured = {"uncompressed": default_size.size_bytes, "gzip": default_size.compressed_bytes}
        goals["image_at_most"] = {
            f"{limit // 1_000_000} MB {kind}": measured[kind] <= limit
            for kind, limit in GOAL_IMAGE_BYTES[model].items()
        }

    lines = [
        "",
        f"machine: {host['cpu']} (family/model {host['cpu_family_model']}, {host['vector']}), "
        f"{host['cores']} cores, {host['memory_gib']} GiB, kernel {host['kernel']}, "
        f"docker {host['docker']}, cgroup {host['cgroup']}",
        f"image:   {sizes[DEFAULT_ENGINE].line()}; default engine {DEFAULT_ENGINE}; "
        f"parity {'PASS' if parity_ok else 'FAIL'}",
        f"         {sizes['reference'].line(sizes[DEFAULT_ENGINE])}, for the darknet engine",
        "event:   dog.jpg (768x576) as an API Gateway REST proxy event, synchronous JSON answer (no S3)",
        "",
        *table(f"{model}: {args.warm_calls} warm calls per engine and setting", timings),
        "",
        f"warm path of {DEFAULT_ENGINE} (load {load()}):",
        *warm_table(
            [
                (args.image, t.limits.label, warm_path[t.limits.key])
                for t in timings
                if t.engine == DEFAULT_ENGINE
            ]
        ),
        "",
        *table(f"{model} on large photos (JPEG): {args.photo_calls} warm calls each", photo_timings),
        "",
        *tiled_table(tiled_rows, args.photo_calls),
        "",
        *(
            line
            for timed, group in model_timings.items()
            for line in (
                *table(
                    f"{timed} {inputs[timed]}, RANDOM weights (timing only, detections meaningless): "
                    f"{args.timing_model_calls} warm calls per engine and setting",
                    group,
                ),
                "",
            )
        ),
        *startup_table(startup, args.startup_rounds),
        "",
        f"original example: {ORIGINAL_MODEL} {inputs[ORIGINAL_MODEL]}, darknet on Lambda's CPU: "
        f"{ORIGINAL_SECONDS} s per image (dog.jpg)",
        f"cold start: docker run to first answer, median of {COLD_STARTS} fresh containers (others: 1);",
        "  docker run: of that, until `docker run` returned (a step Lambda's own cold start does not have);",
        "  the rest (after_start_ms in the JSON) is the function's own start-up and first answer.",
        "warm: client wall time per invoke; predict: the handler's predict_seconds (the network alone;",
        "  Darknet's own 'Predicted in' for the darknet engine, which also reloads the weights every call).",
        f"peak mem: {peak_source or 'not available'} via docker exec (page cache included).",
        "speedup: darknet warm median / onnx warm median, same run, same setting.",
        "goals:",
        *goal_lines(goals),
        f"bench took {time.perf_counter() - began:.0f} s",
    ]
    print("\n".join(lines))
    summary = {
        "model": model,
        "engine": DEFAULT_ENGINE,
        "machine": host,
        "image": args.image,
        "image_size_mb": sizes[DEFAULT_ENGINE].summary()["size_mb"],
        "image_compressed_mb": sizes[DEFAULT_ENGINE].summary()["compressed_mb"],
        "reference_image": {"tag": reference, **sizes["reference"].summary()},
        "parity": parity_ok,
        "warm_calls": args.warm_calls,
        "cold_start_ms": onnx_cold,
        "startup": startup_summary,
        "results": results,
        "warm_path": warm_path,
        "peak_memory_source": peak_source,
        "goals": goals,
        "large_photos": {"warm_calls": args.photo_calls, "results": grouped(photo_timings)},
        "tiled_photos": {"warm_calls": args.photo_calls, "rows": tiled_rows},
        "original_example": {"model": ORIGINAL_MODEL, "lambda_seconds_per_image": ORIGINAL_SECONDS},
        "timing_models": {
            timed: {
                "input": inputs[timed],
                "weights": "random, timing only: never used for detections",
                "warm_calls": args.timing_model_calls,
                "results": grouped(group),
            }
            for timed, group in model_timings.items()
        },
    }
    print(json.dumps(summary))
    return 0 if all(t.error is None for t in all_timings) and not startup_failed else 1


if __name__ == "__main__":
    sys.exit(main())
