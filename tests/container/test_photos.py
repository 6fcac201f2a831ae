"""Phone-like photos through the built image: orientation, trailers, formats, large photos, bad files.

The corpus is generated here from Darknet's dog.jpg (tests/support/corpus.py); nothing is committed.
Lossless variants must give exactly the detections of the same pixels sent upright as PNG; lossy ones
must find the same objects in the same places.
"""

from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest
from lambda_events import make_api_event
from local_lambda import LocalLambda
from PIL import Image
from support import corpus
from support.boxes import corners, iou

from darknet_detector.building.parity import compare
from darknet_detector.contract import MAX_IMAGE_PIXELS, RESULT_IMAGE, RESULT_TEXT
from darknet_detector.core.detection import Detection

pytestmark = pytest.mark.docker

DOG_SIZE = (768, 576)
FOUND_IN_EVERY_DOG = {"dog", "bicycle", "truck"}
# A lossy variant (a turned JPEG re-encoded) against the upright photo: every detection of at least
# STRONG confidence in either has a same-class partner in the other overlapping by MIN_IOU, with a
# confidence within CONFIDENCE_GAP.
STRONG, MIN_IOU, CONFIDENCE_GAP = 0.55, 0.85, 0.05
# Peak memory of a container over all the large photos, page cache included, as a share of its memory.
PEAK_MEMORY_SHARE = 0.75


def detect(function: LocalLambda, api_event, data: bytes, headers: dict | None = None) -> dict:
    response = function.invoke(api_event(data, headers))
    assert response["statusCode"] == 200, response["body"][:500]
    return json.loads(response["body"])


def error_of(function: LocalLambda, api_event, data: bytes) -> tuple[int, dict]:
    response = function.invoke(api_event(data))
    error = json.loads(response["body"])["error"]
    assert "/tmp" not in error["message"] and "detect-" not in error["message"], error
    return response["statusCode"], error


def classes(document: dict) -> set[str]:
    return {d["class"] for d in document["detections"]}


def matches(found: list[dict], reference: list[dict]) -> list[str]:
    """Problems: strong reference detections without a close same-class partner in found."""
    problems = []
    for wanted in (d for d in reference if d["confidence"] >= STRONG):
        partners = [
            d
            for d in found
            if d["class"] == wanted["class"]
            and iou(corners(d), corners(wanted)) >= MIN_IOU
            and abs(d["confidence"] - wanted["confidence"]) <= CONFIDENCE_GAP
        ]
        if not partners:
            problems.append(f"no match for {wanted} among {found}")
    return problems


@pytest.fixture(scope="session")
def upright_png_detections(lambda_onnx, lambda_darknet, dog_jpg) -> dict[str, list[dict]]:
    """Each engine's detections on the upright dog as PNG: the exact reference for lossless variants."""
    reference = corpus.lossless_upright(dog_jpg)
    return {
        "onnx": detect(lambda_onnx, make_api_event, reference)["detections"],
        "darknet": detect(lambda_darknet, make_api_event, reference)["detections"],
    }


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_orientation_gives_exactly_the_upright_detections(
    any_engine, dog_jpg, api_event, upright_png_detections, orientation
):
    engine, function = any_engine
    data = corpus.oriented(dog_jpg, orientation, "PNG")
    document = detect(function, api_event, data)
    assert (document["image"]["width"], document["image"]["height"]) == DOG_SIZE
    assert document["image"]["orientation"] == orientation
    assert document["detections"] == upright_png_detections[engine]


def test_oriented_jpegs_find_the_dog_where_a_viewer_shows_it(lambda_onnx, dog_jpg, api_event):
    cases = corpus.orientation_cases(dog_jpg, "JPEG")
    upright = detect(lambda_onnx, api_event, cases[0].data)
    for case in cases[1:]:
        document = detect(lambda_onnx, api_event, case.data)
        assert (document["image"]["width"], document["image"]["height"]) == DOG_SIZE, case.name
        assert classes(document) >= FOUND_IN_EVERY_DOG, (case.name, document["detections"])
        assert matches(document["detections"], upright["detections"]) == [], case.name


def test_the_drawn_image_and_result_out_are_upright(lambda_onnx, dog_jpg, api_event, dog_checks):
    import base64
    import tarfile

    sideways = corpus.oriented(dog_jpg, 6)
    response = lambda_onnx.invoke(api_event(sideways, {"Accept": "application/gzip"}))
    assert response["statusCode"] == 200, response["body"][:300]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(response["body"])), mode="r:gz") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
    assert dog_checks["png_size"](members[RESULT_IMAGE]) == DOG_SIZE
    lines = members[RESULT_TEXT].decode().splitlines()
    assert lines[0].startswith("request.jpg: Predicted in "), lines
    assert {line.split(":")[0] for line in lines[1:]} >= FOUND_IN_EVERY_DOG, lines


def test_complete_images_with_trailers_give_the_same_detections(any_engine, dog_jpg, api_event):
    _, function = any_engine
    as_sent = detect(function, api_event, dog_jpg)["detections"]
    png = detect(function, api_event, corpus.encode(corpus.upright(dog_jpg), "PNG"))["detections"]
    gif = detect(function, api_event, corpus.encode(corpus.upright(dog_jpg), "GIF"))["detections"]
    expected = {
        "jpeg-motion-photo-trailer": as_sent,
        "jpeg-zero-padding": as_sent,
        "png-bytes-after-iend": png,
        "gif-bytes-after-trailer": gif,
    }
    for case in corpus.with_trailers(dog_jpg):
        assert detect(function, api_event, case.data)["detections"] == expected[case.name], case.name


@pytest.fixture(scope="session")
def formats(dog_jpg) -> dict[str, corpus.Case]:
    return {case.name: case for case in corpus.format_cases(dog_jpg)}


FORMAT_NAMES = [
    "jpeg-progressive",
    "jpeg-grayscale",
    "jpeg-cmyk",
    "png-8-bit",
    "png-16-bit",
    "png-palette",
    "png-alpha",
    "gif",
    "bmp",
    "webp",
    "heic",
    "avif",
    "tiff",
]
# Lossless: the same 8-bit pixels as png-8-bit, so exactly its detections.
SAME_PIXELS = {"png-16-bit", "png-alpha", "bmp", "tiff"}
# 256 colours: yolov3-tiny loses the dog (below 50%), so these must give exactly the detections of
# their own pixels sent as RGB PNG.
PALETTE = {"png-palette", "gif"}
# Without colour yolov3-tiny still finds the dog, but not the bicycle and truck.
FOUND_IN_GRAYSCALE = {"dog"}


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_every_common_format_is_detected(lambda_onnx, api_event, formats, name):
    data = formats[name].data
    document = detect(lambda_onnx, api_event, data)
    assert (document["image"]["width"], document["image"]["height"]) == DOG_SIZE
    if name in PALETTE:
        as_rgb = corpus.encode(corpus.upright(data), "PNG")
        assert document["detections"] == detect(lambda_onnx, api_event, as_rgb)["detections"]
        assert classes(document) >= {"bicycle", "truck"}, document["detections"]
        return
    expected = FOUND_IN_GRAYSCALE if name == "jpeg-grayscale" else FOUND_IN_EVERY_DOG
    assert classes(document) >= expected, document["detections"]
    if name in SAME_PIXELS:
        png = detect(lambda_onnx, api_event, formats["png-8-bit"].data)
        assert document["detections"] == png["detections"]


def test_the_reference_engine_reads_the_library_formats_too(lambda_darknet, api_event, formats):
    for name in ("webp", "heic", "avif", "tiff"):
        assert "dog" in classes(detect(lambda_darknet, api_event, formats[name].data)), name


def test_size_bombs_are_refused_as_400(lambda_onnx, dog_jpg, api_event):
    for case in corpus.size_bombs(dog_jpg):
        status, error = error_of(lambda_onnx, api_event, case.data)
        assert (status, error["code"]) == (400, "corrupt_image"), (case.name, error)
        assert "impossible in" in error["message"], error


@pytest.mark.parametrize(
    "name", ["jpeg-truncated", "png-truncated", "gif-truncated", "heic-truncated", "jpeg-no-scan"]
)
def test_truncated_and_corrupt_files_are_400_naming_the_problem(any_engine, dog_jpg, api_event, name):
    _, function = any_engine
    data, code = corpus.broken(dog_jpg)[name]
    status, error = error_of(function, api_event, data)
    assert (status, error["code"]) == (400, code), error


def store(function: LocalLambda, s3, bucket: str, s3_event, key: str, data: bytes) -> dict:
    """Upload and deliver the notification; return result.json."""
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    response = function.invoke(s3_event(bucket, key, size=len(data)))
    (result,) = response["results"]
    body = s3.get_object(Bucket=bucket, Key=f"output/{result['request_id']}/result.json")["Body"].read()
    return json.loads(body)


@pytest.fixture(scope="module")
def large_photos(dog_jpg) -> dict[str, bytes]:
    """dog.jpg at 12, 24 and 48 MP, clean enlargements and grainy ones (a sensor's noise, real file sizes)."""
    photos = {}
    for size in ("12mp", "24mp", "48mp"):
        photos[f"{size}-clean"] = corpus.large_photo(dog_jpg, size).data
        photos[f"{size}-grainy"] = corpus.grainy_photo(dog_jpg, size)
    return photos


def test_large_photos_get_the_same_detections_at_1024_and_3538_mb(
    lambda_1024, lambda_3538, s3, bucket, s3_event, large_photos, dog_checks
):
    """Every photo is decoded whole, whatever the memory: the two stacks agree exactly, and each stays
    well under its memory."""
    for name, data in large_photos.items():
        small = store(lambda_1024, s3, bucket, s3_event, f"input/small-{name}.jpg", data)
        large = store(lambda_3538, s3, bucket, s3_event, f"input/large-{name}.jpg", data)
        assert small["status"] == large["status"] == "ok", (small, large)
        assert small["detections"] == large["detections"], name
        assert small["image"] == large["image"], name
        size = corpus.MEGAPIXEL_SIZES[name.split("-")[0]]
        assert (small["image"]["width"], small["image"]["height"]) == size
        assert small["image"]["network_input"] == {"decoded": "full"}
        factor = small["image"]["drawn"]["factor"]
        assert factor == (1 if name.startswith("12mp") else 2), small["image"]
        drawn = (small["image"]["drawn"]["width"], small["image"]["drawn"]["height"])
        assert drawn == (size[0] // factor, size[1] // factor)
        png = s3.get_object(Bucket=bucket, Key=small["outputs"]["image"].split("/", 3)[3])["Body"].read()
        assert dog_checks["png_size"](png) == drawn
        assert classes(small) >= {"bicycle"}, small["detections"]
        for detection in small["detections"]:
            box = detection["box"]
            assert 0 <= box["left"] < box["right"] < size[0] and 0 <= box["top"] < box["bottom"] < size[1]
    for function in (lambda_1024, lambda_3538):
        peak = function.peak_memory()
        assert peak is not None, "the engine keeps no peak memory figure for the container"
        limit = PEAK_MEMORY_SHARE * function.memory_mb * 2**20
        assert peak[0] < limit, f"peak {peak[0] / 2**20:.0f} MiB ({peak[1]}) at {function.memory_mb} MB"
        assert work_folders(function) == []


def test_a_large_photo_gets_the_detections_of_darknet_s_own_full_decode(
    lambda_1024, lambda_darknet, s3, bucket, s3_event, large_photos
):
    """The reference engine runs `darknet detector test` on the whole photo; the fast engine at 1024 MB
    finds the same objects by the parity criteria (darknet_detector.building.parity)."""
    data = large_photos["48mp-grainy"]
    fast = store(lambda_1024, s3, bucket, s3_event, "input/fast-48mp-grainy.jpg", data)
    reference = store(lambda_darknet, s3, bucket, s3_event, "input/reference-48mp-grainy.jpg", data)
    assert reference["image"]["drawn"] == {"width": 8000, "height": 6000, "factor": 1}
    comparison = compare("48mp-grainy", as_detections(reference), as_detections(fast))
    assert comparison.passed, comparison.problems
    assert [d["class"] for d in fast["detections"]] == [d["class"] for d in reference["detections"]]


def test_a_photo_over_the_largest_taken_is_too_large_on_every_stack(lambda_1024, lambda_3538, api_event):
    """The limit is the contract's, not the memory's: 1024 MB and 3538 MB refuse the same photo."""
    over = corpus.encode(Image.new("L", (8193, 6144), 128), "JPEG", quality=50)
    for function in (lambda_1024, lambda_3538):
        status, error = error_of(function, api_event, over)
        assert (status, error["code"]) == (413, "too_large"), error
        assert "8193x6144" in error["message"] and str(MAX_IMAGE_PIXELS) in error["message"], error


def as_detections(document: dict) -> list[Detection]:
    return [
        Detection(
            d["class"], d["confidence"], *(d["box"][side] for side in ("left", "top", "right", "bottom"))
        )
        for d in document["detections"]
    ]


def work_folders(function: LocalLambda) -> list[str]:
    listing = subprocess.run(
        ["docker", "exec", function.container_id, "python3", "-c", "import os; print(*os.listdir('/tmp'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in listing if name.startswith("detect-")]


def test_a_killed_run_s_work_folder_is_removed_and_folder_markers_are_ignored(
    detector_image, lambda_env, s3, bucket, dog_jpg, s3_event, bucket_keys
):
    function = LocalLambda(image=detector_image, env=lambda_env)
    function.start()
    try:
        function.wait_ready(timeout=60)
        stale = f"/tmp/detect-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["docker", "exec", function.container_id, "python3", "-c", f"import os; os.mkdir({stale!r})"],
            check=True,
        )
        before = bucket_keys("output/")

        marker = "input/holiday photos/"
        s3.put_object(Bucket=bucket, Key=marker, Body=b"")
        response = function.invoke(s3_event(bucket, marker, size=0))
        assert response["processed"] == 0 and response["ignored"] == 1, response
        assert bucket_keys("output/") == before
        assert work_folders(function) == []

        document = store(function, s3, bucket, s3_event, "input/after-marker.jpg", dog_jpg)
        assert document["status"] == "ok"
        assert work_folders(function) == []
    finally:
        function.stop()


PILLOW_ON_DEMAND = """
import json, sys, time
from pathlib import Path
from darknet_detector.engines.loader import load_engine
from darknet_detector.core.pipeline import detect_document
from darknet_detector.core.settings import Settings

settings = Settings.from_env()
engine = load_engine(settings)

def seconds(data):
    started = time.perf_counter()
    assert detect_document(data, "local", engine, settings)["status"] == "ok"
    return time.perf_counter() - started

seconds(Path("/opt/darknet/data/dog.jpg").read_bytes())
loaded = {name: name in sys.modules for name in ("PIL", "pi_heif")}
heic = Path("/photos/photo.heic").read_bytes()
first, second = seconds(heic), seconds(heic)
print(json.dumps({"after_jpeg": loaded, "first_heic_ms": first * 1000, "warm_heic_ms": second * 1000}))
"""


def test_pillow_is_loaded_only_when_a_format_needs_it(detector_image, dog_jpg, tmp_path):
    """Cold start and the JPEG path never import the library decoders; the first HEIC pays once."""
    (tmp_path / "photo.heic").write_bytes(corpus.encode(corpus.upright(dog_jpg), "HEIF", quality=90))
    tmp_path.chmod(0o755)
    (tmp_path / "photo.heic").chmod(0o644)
    command = ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp"]
    command += ["--volume", f"{tmp_path}:/photos:ro", "--entrypoint", "python3", detector_image]
    done = subprocess.run(
        [*command, "-c", PILLOW_ON_DEMAND], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["after_jpeg"] == {"PIL": False, "pi_heif": False}, report
    first, warm = report["first_heic_ms"], report["warm_heic_ms"]
    print(f"HEIC through the handler: first {first:.0f} ms, warm {warm:.0f} ms")


SAME_PIXELS_AS_STB = """
import json, sys
from pathlib import Path
from darknet_detector.core.pillow_decoder import library_pixels
from darknet_detector.core.source import inspect_image
from darknet_detector.core.libdarknet import Libdarknet

darknet = Libdarknet()
report = {}
for path in sorted(Path("/photos").iterdir()):
    data = path.read_bytes()
    pillow = library_pixels(data, inspect_image(data, len(data)))
    stb = darknet.stb_array(data)
    report[path.name] = stb.shape == pillow.shape and bool((stb == pillow).all())
print(json.dumps(report))
"""
LOSSLESS = ["png-8-bit", "png-16-bit", "png-palette", "png-alpha", "gif", "bmp"]


def test_pillow_gives_the_lossless_formats_exactly_the_pixels_of_darknet_s_stb_image(
    detector_image, formats, tmp_path
):
    """Why PNG, GIF and BMP may leave stb_image: the network sees the very same pixels."""
    for name in LOSSLESS:
        (tmp_path / name).write_bytes(formats[name].data)
        (tmp_path / name).chmod(0o644)
    tmp_path.chmod(0o755)
    command = ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp"]
    command += ["--volume", f"{tmp_path}:/photos:ro", "--entrypoint", "python3", detector_image]
    done = subprocess.run(
        [*command, "-c", SAME_PIXELS_AS_STB], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == dict.fromkeys(LOSSLESS, True)
