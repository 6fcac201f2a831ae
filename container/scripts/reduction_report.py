"""How close large photos' detections stay to Darknet's own full decode, before and after the reduction rule.

Makes a corpus of large photos from the image's sample photos (tests/support/corpus.py: 12, 24 and 48 MP,
clean enlargements and grainy ones, upscaled with a sensor's noise), then, inside the reference image:
- reference: `darknet detector test` on the whole photo (Darknet's full decode);
- after: the onnx engine as the function runs it now, the same on every stack (the network input
  from the 8-bit pixels of the full decode);
- before: what the memory-dependent decode this project used until 0.4.0 gave on a stack of
  --before-memory MB: the photo decoded at 1/k (libjpeg's DCT scaling, then box averaging) when
  3 x 24 bytes a pixel did not fit, and the Darknet CLI on that copy.
It prints each photo's detections per class, says whether `after` matches the reference by the parity
criteria (darknet_detector.building.parity), and ends with one JSON line.

`--memory` instead measures the peak memory of each engine on the largest photo taken
(contract.MAX_IMAGE_PIXELS, grainy: the worst case for JPEG decoding), one fresh container each: the
figures behind contract.ENGINE_MIN_MEMORY_MB.

Usage: python container/scripts/reduction_report.py [--samples dog,horses] [--sizes 12mp,48mp] [--memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from local_lambda import DEFAULT_IMAGE, file_from_image

from darknet_detector.contract import DEFAULT_MODEL, MAX_IMAGE_PIXELS, reference_tag

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from support import corpus  # noqa: E402  (the test corpus helpers, shared with the tests)

SAMPLES_DIR = "/opt/darknet/data"
# The old rule's figures: a full decode took 24 bytes a pixel within a third of the memory.
OLD_FULL_DECODE_BYTES_PER_PIXEL, OLD_FULL_DECODE_SHARE = 24, 3

IN_IMAGE = r"""
import json, math, sys, tempfile
from pathlib import Path
from PIL import Image
from darknet_detector.building.parity import compare
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.darknet_cli import DarknetCliEngine
from darknet_detector.engines.onnx_runtime import OnnxEngine

model_dir, model = Path("/opt/model"), sys.argv[1]
before_memory = int(sys.argv[2])
darknet = DarknetCliEngine(model_dir, model, 0.5, Path("/opt/darknet/bin/darknet"))
onnx = OnnxEngine(model_dir, model, 0.5)
full_decode = before_memory * 2**20 // 3 // 24


def old_factor(width, height):
    factor = 1
    while math.ceil(width / factor) * math.ceil(height / factor) > full_decode:
        factor += 1
    return factor


def old_decode(path, factor, out):
    # pillow_decoder.library_pixels until 0.4.0: libjpeg's DCT scaling, then box averaging.
    target = (math.ceil(Image.open(path).width / factor), math.ceil(Image.open(path).height / factor))
    with Image.open(path) as image:
        image.draft("RGB", target)
        image = image.convert("RGB")
        extra = math.ceil(max(image.width / target[0], image.height / target[1]) - 1e-9)
        if extra > 1:
            image = image.reduce(extra)
        image.save(out)


def per_class(detections, scale=1):
    found = {}
    for d in detections:
        found.setdefault(d.label, []).append(round(d.confidence, 4))
    return {label: sorted(values, reverse=True) for label, values in sorted(found.items())}


reports = []
with tempfile.TemporaryDirectory() as scratch:
    for number, path in enumerate(sorted(Path("/photos").glob("*.jpg"))):
        work = [Path(scratch) / f"{number}-{side}" for side in ("ref", "onnx", "before")]
        for folder in work:
            folder.mkdir()
        source = SourceImage.from_file(path)
        reference = darknet.detect(source, work[0])
        after = onnx.detect(source, work[1])
        factor = old_factor(source.info.width, source.info.height)
        if factor > 1:
            shrunk = work[2] / (path.stem + ".png")
            old_decode(path, factor, shrunk)
            before = darknet.detect(SourceImage.from_file(shrunk), work[2])
        else:
            before = reference
        comparison = compare(path.name, reference.detections, after.detections)
        reports.append({
            "photo": path.name,
            "size": f"{source.info.width}x{source.info.height}",
            "reference": per_class(reference.detections),
            "after": per_class(after.detections),
            "after_matches_reference": comparison.passed,
            "after_problems": comparison.problems,
            "after_result_text_identical": (
                reference.result_text.splitlines()[1:] == after.result_text.splitlines()[1:]
            ),
            "before_factor": factor,
            "before": per_class(before.detections),
            "before_same_classes": (
                per_class(before.detections).keys() == per_class(reference.detections).keys()
            ),
        })
        print(json.dumps(reports[-1]), flush=True)
"""

PEAK = r"""
import json, sys, time
from pathlib import Path
from darknet_detector.contract import S3_IMAGE_LIMIT_BYTES
from darknet_detector.core.outputs import result_document
from darknet_detector.core.pipeline import detect_image
from darknet_detector.core.settings import Settings
from darknet_detector.engines.loader import load_engine

settings = Settings.from_env()
engine = load_engine(settings)
data = Path(sys.argv[1]).read_bytes()
started = time.perf_counter()
# As the S3 path detects: drawing image-result.png, from an object of up to the S3 limit.
with detect_image(data, "photo.jpg", engine, settings, S3_IMAGE_LIMIT_BYTES) as (source, run):
    document = result_document("id", {}, engine, run, image=source.info)
seconds = time.perf_counter() - started
for name in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
    if Path(name).exists():
        peak = int(Path(name).read_text())
        break
print(json.dumps({"status": document["status"], "error": document.get("error"), "seconds": round(seconds, 2),
                  "peak_mib": round(peak / 2**20), "image": document.get("image")}))
"""


def make_corpus(image: str, samples: list[str], sizes: list[str], folder: Path) -> None:
    for sample in samples:
        photo = file_from_image(image, f"{SAMPLES_DIR}/{sample}.jpg")
        for size in sizes:
            (folder / f"{sample}-{size}-clean.jpg").write_bytes(corpus.large_photo(photo, size).data)
            (folder / f"{sample}-{size}-grainy.jpg").write_bytes(corpus.grainy_photo(photo, size))


def in_image(image: str, folder: Path, program: str, *args: str, env: tuple[str, ...] = ()) -> str:
    """program's output, run by the image's python3 with the photos at /photos (8 GB: never the limit)."""
    command = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--volume",
        f"{folder}:/photos:ro",
        "--memory",
        "8g",
    ]
    command += [
        *(f"--env={variable}" for variable in env),
        "--entrypoint",
        "python3",
        image,
        "-c",
        program,
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"reduction_report: the run in {image} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def print_report(reports: list[dict], before_memory: int) -> None:
    before = f"before ({before_memory} MB)"
    print(f"{'photo':28} {'class':10} {'reference (full)':>18} {'after':>18} {before:>22}")
    for report in reports:
        classes = sorted({*report["reference"], *report["after"], *report["before"]})
        for label in classes:
            row = [
                ", ".join(f"{v:.2f}" for v in report[key].get(label, [])) or "-"
                for key in ("reference", "after", "before")
            ]
            factor = f" 1/{report['before_factor']}" if report["before_factor"] > 1 else " full"
            print(f"{report['photo']:28} {label:10} {row[0]:>18} {row[1]:>18} {row[2] + factor:>22}")
        verdict = "matches" if report["after_matches_reference"] else f"DIFFERS {report['after_problems']}"
        print(f"{'':28} after {verdict}; result.out lines identical: {report['after_result_text_identical']}")


def measure_memory(image: str, folder: Path, sample: str) -> dict:
    """Peak memory of each engine on a MAX_IMAGE_PIXELS grainy photo (8192x6144), upright and turned, fresh
    container each; and of the onnx engine on a HEIC of that size (Pillow's decode, 4 bytes a pixel)."""
    photo = file_from_image(image, f"{SAMPLES_DIR}/{sample}.jpg")
    corpus.MEGAPIXEL_SIZES["max"] = (8192, MAX_IMAGE_PIXELS // 8192)
    largest = corpus.grainy_photo(photo, "max")
    (folder / "largest.jpg").write_bytes(largest)
    (folder / "largest-turned.jpg").write_bytes(corpus.oriented(largest, 6))
    # HEIC from the clean enlargement: a grainy one is over the S3 limit (Pillow's memory is the same).
    (folder / "largest.heic").write_bytes(corpus.encode(corpus.upright(photo).resize((8192, 6144)), "HEIF"))
    for path in folder.iterdir():
        path.chmod(0o644)
    results = {}
    for engine, tag, names in (
        ("onnx", image, ("largest.jpg", "largest-turned.jpg", "largest.heic")),
        ("darknet", reference_tag(image), ("largest.jpg", "largest-turned.jpg")),
    ):
        for name in names:
            out = in_image(tag, folder, PEAK, f"/photos/{name}", env=(f"DETECTOR_ENGINE={engine}",))
            results[f"{engine} {name}"] = json.loads(out.splitlines()[-1])
            print(engine, name, results[f"{engine} {name}"], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--image", default=DEFAULT_IMAGE, help="the default image (its -reference variant runs)"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--samples", default="dog", help="sample photos of the image, comma-separated")
    parser.add_argument("--sizes", default="12mp,24mp,48mp", help=f"of {', '.join(corpus.MEGAPIXEL_SIZES)}")
    parser.add_argument("--before-memory", type=int, default=1536, help="the old rule's stack memory (MB)")
    parser.add_argument("--memory", action="store_true", help="measure each engine's peak memory instead")
    args = parser.parse_args()
    samples = [s.strip() for s in args.samples.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="reduction-") as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)
        if args.memory:
            print(json.dumps(measure_memory(args.image, folder, samples[0])))
            return
        make_corpus(args.image, samples, args.sizes.split(","), folder)
        for path in folder.iterdir():
            path.chmod(0o644)
        out = in_image(reference_tag(args.image), folder, IN_IMAGE, args.model, str(args.before_memory))
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    print_report(reports, args.before_memory)
    print(json.dumps({"before_memory_mb": args.before_memory, "photos": reports}))


if __name__ == "__main__":
    main()
