"""`make bench`: both engines side by side in the local Lambda container, on the machine at hand.

What it measures, and how:
- yolov3-tiny on Darknet's dog.jpg through the synchronous HTTP JSON path (an API Gateway REST proxy
  event, so no S3 transfer is timed), for the `onnx` engine (the default) and the `darknet` engine (the
  stock CLI, reloading the weights each call), unrestricted and under `--cpus 0.6 --memory 1024m`
  (about the CPU share of a 1024 MB Lambda).
- Image size: uncompressed as docker counts it, and gzip-compressed (about what a registry stores).
- Cold start: from `docker run` to the first answer, median of five fresh containers. Its parts, by
  graph: fresh containers alternately loading the graph pre-optimised for this CPU at build time and
  optimising the plain graph at start-up (DETECTOR_PLAIN_GRAPH=1, the baseline in the same run, so the
  ratio holds on a busy machine): the time after `docker run` returned to the first answer, the runtime's
  init phase (the handler's imports, the emulator's INIT REPORT) and the session creation (the engine's
  log line). `--cold-start-only` measures just that. Warm latency:
  the client's wall time per invocation, median and p90, next to the handler's own figures (timings in
  the JSON answer; predict_seconds is the network alone, Darknet's "Predicted in" for the CLI engine).
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

from darknet_detector.building.convert import convert, parse_cfg, write_random_weights
from darknet_detector.building.model_dir import assemble
from darknet_detector.contract import DEFAULT_MODEL, LAMBDA_MB_PER_VCPU, MODEL_ENV, TILES_ENV, reference_tag
from darknet_detector.engines.optimised_graph import PLAIN_GRAPH_ENV, SESSION_READY_LOG

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
# From the container's start (after `docker run` returned) to the first answer, by setting.
GOAL_AFTER_START_MS = {"unrestricted": 250, "cpus0.6_mem1024m": 450}
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
# The cold-start comparison: the default start-up, and the baseline that optimises the plain graph.
GRAPH_VARIANTS = {"pre-optimised": {}, "plain graph": {PLAIN_GRAPH_ENV: "1"}}
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
                for _ in range(warm_calls):
                    started = time.perf_counter()
                    body = answer_body(container.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS))
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


def time_cold_start_by_graph(image: str, limits: Limits, event: dict, rounds: int = COLD_STARTS) -> dict:
    """Fresh containers of the default engine, alternating the graph variants round by round.

    Per variant, medians in ms of: the first answer after `docker run` returned, the runtime's init phase
    (imports) and the session creation; then the baseline's first answer over the default's.
    """
    parts: dict[str, dict[str, list[float]]] = {
        name: {"first_answer": [], "init": [], "session": []} for name in GRAPH_VARIANTS
    }
    error = None
    try:
        for _ in range(rounds):
            for name, env in GRAPH_VARIANTS.items():
                container = LocalLambda(
                    image=image,
                    env={"DETECTOR_ENGINE": DEFAULT_ENGINE, **env},
                    cpus=limits.cpus,
                    memory_mb=limits.memory_mb,
                )
                try:
                    container.start()
                    started = time.perf_counter()
                    container.wait_ready()
                    answer_body(container.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS))
                    parts[name]["first_answer"].append((time.perf_counter() - started) * 1000)
                    logs = container.logs()
                finally:
                    container.stop()
                for key, pattern in (("init", RUNTIME_INIT), ("session", SESSION_READY)):
                    found = pattern.search(logs)
                    if found:
                        parts[name][key].append(float(found.group(1)))
    except (RuntimeError, TimeoutError, subprocess.SubprocessError, OSError) as failure:
        error = str(failure).splitlines()[0][:300]
    summary: dict = {
        name: {f"{key}_ms": round(median(values), 1) if values else None for key, values in measured.items()}
        for name, measured in parts.items()
    }
    default, baseline = (summary[name]["first_answer_ms"] for name in GRAPH_VARIANTS)
    summary["baseline_over_default"] = round(baseline / default, 2) if default and baseline else None
    if error:
        summary["error"] = error
    progress(f"cold start by graph, {limits.label}: {json.dumps(summary)}")
    return summary


def cold_start_table(by_setting: dict[str, tuple[Limits, dict]], rounds: int) -> list[str]:
    rows = [
        f"cold start by graph: median of {rounds} fresh containers each, alternating "
        f"(baseline: {PLAIN_GRAPH_ENV}=1)",
        f"{'setting':<24}{'graph':<15}{'first answer':>14}{'runtime init':>14}{'session':>10}",
    ]
    for limits, summary in by_setting.values():
        for name in GRAPH_VARIANTS:
            part = summary[name]
            rows.append(
                f"{limits.label:<24}{name:<15}{fmt(part['first_answer_ms'], ' ms'):>14}"
                f"{fmt(part['init_ms'], ' ms'):>14}{fmt(part['session_ms'], ' ms'):>10}"
            )
        rows.append(
            f"{'':<24}{'baseline / pre-optimised':<29}{fmt(summary['baseline_over_default'], 'x', 2):>14}"
            + (f"  ERROR {summary['error']}" if "error" in summary else "")
        )
    rows.append(
        "  first answer: after `docker run` returned; runtime init: the handler's imports (INIT REPORT);"
    )
    rows.append("  session: ONNX Runtime session creation, inside the first invocation.")
    return rows


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


def timing_model_dir(image: str, model: str, folder: Path) -> tuple[Path, str]:
    """A model directory like /opt/model for a manifest model, with random weights (timing only).

    The runtime image ships no cfg files and no converter dependencies, so a Darknet cfg comes from the
    Dockerfile's `darknet` stage (a cache hit after `make image`) and the conversion runs on the host.
    Returns the directory and the network's input size as the cfg gives it.
    """
    entry = MANIFEST[model]
    origin, _, cfg_path = entry["cfg"].partition(":")
    if origin == "darknet":
        docker(
            "build", "--quiet", "--target", "darknet", "-t", STAGE_IMAGE, str(CONTAINER),
            timeout=STAGE_BUILD_TIMEOUT_SECONDS,
        )  # fmt: skip
        cfg_text = file_from_image(STAGE_IMAGE, f"/opt/darknet/{cfg_path}").decode()
    else:
        cfg_text = (CONTAINER / cfg_path).read_text()
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
    net = parse_cfg(cfg_text)[0]
    return model_dir, f"{net.integer('width', 0)}x{net.integer('height', 0)}"


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
        "--cold-start-only", action="store_true", help="only the cold-start comparison by graph"
    )
    parser.add_argument(
        "--tiles-only", action="store_true", help="only the large photos without and with tiles=auto"
    )
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

    by_graph = {
        limits.key: (limits, time_cold_start_by_graph(args.image, limits, event)) for limits in settings
    }
    by_graph_summary = {key: summary for key, (_, summary) in by_graph.items()}
    graphs_failed = any("error" in summary for summary in by_graph_summary.values())
    if args.cold_start_only:
        print("\n".join(["", *cold_start_table(by_graph, COLD_STARTS)]))
        print(json.dumps({"image": args.image, "machine": host, "cold_start_by_graph": by_graph_summary}))
        return 1 if graphs_failed else 0

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
            model_timings[timed] = [
                time_engine(
                    engine_image[engine],
                    engine,
                    limits,
                    event,
                    args.timing_model_calls,
                    cold_starts=1,
                    extra_env={"DETECTOR_MODEL": timed, "DETECTOR_MODEL_DIR": TIMING_MOUNT},
                    volumes={str(model_dir): TIMING_MOUNT},
                )
                for limits in settings
                for engine in engines
            ]
    all_timings = timings + photo_timings + [t for group in model_timings.values() for t in group]

    peak_source = next((t.peak_source for t in all_timings if t.peak_source), None)
    results = grouped(timings)
    onnx_cold = {key: engines[DEFAULT_ENGINE]["cold_start_ms"] for key, engines in results.items()}
    full = results["unrestricted"][DEFAULT_ENGINE]["warm_ms"]["median"]
    quota = results["cpus0.6_mem1024m"][DEFAULT_ENGINE]["warm_ms"]["median"]
    goals = {
        "onnx_at_least_10x_faster": {key: (e["speedup"] or 0) >= GOAL_SPEEDUP for key, e in results.items()},
        "onnx_under_60ms_unrestricted": full is not None and full < 60,
        "onnx_under_150ms_cpus0.6_mem1024m": quota is not None and quota < 150,
        "first_answer_after_start": {
            key: (engines[DEFAULT_ENGINE]["after_start_ms"] or float("inf")) <= GOAL_AFTER_START_MS[key]
            for key, engines in results.items()
        },
        "cold_start_under_1s": {
            key: v is not None and v < GOAL_COLD_START_SECONDS * 1000 for key, v in onnx_cold.items()
        },
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
        *cold_start_table(by_graph, COLD_STARTS),
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
        "cold_start_by_graph": by_graph_summary,
        "results": results,
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
    return 0 if all(t.error is None for t in all_timings) and not graphs_failed else 1


if __name__ == "__main__":
    sys.exit(main())
