"""The darknet-lambda command as a person runs it: a real subprocess against the LocalStack stack, every
verb and the bad situations, checked by their output and exit codes.

The command finds the stack through an outputs file that carries the harness's `localstack` block (as
the file `make up` writes does); the images are made here from dog.jpg.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from e2e_harness.client import localstack_block

from darknet_detector.contract import (
    DEFAULT_MODEL,
    OUTPUT_FILES,
    RESULT_IMAGE,
    RESULT_JSON,
    RESULT_TEXT,
    SYNC_BODY_LIMIT_BYTES,
    request_id_of_object,
    result_json_key,
)

COMMAND = Path(sys.executable).with_name("darknet-lambda")
DARKNET_LINE = re.compile(r"^[a-z][a-z ]*: \d{1,3}%$")
RESULT_SECONDS = "180"


@pytest.fixture(scope="module")
def outputs() -> dict:
    path = os.environ.get("E2E_OUTPUTS")
    if not path:
        pytest.fail("E2E_OUTPUTS is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def outputs_file(outputs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "outputs.json"
    path.write_text(json.dumps({**outputs, "localstack": localstack_block()}))
    return path


def command(*args: str, outputs_file: Path | None = None, env: dict | None = None, timeout: float = 400):
    """darknet-lambda as a subprocess, no terminal, none of the caller's AWS settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DARKNET_LAMBDA_"))}
    environment.update(env or {})
    prefix = ["--outputs", str(outputs_file)] if outputs_file else []
    done = subprocess.run(
        [str(COMMAND), *prefix, *args], capture_output=True, text=True, env=environment, timeout=timeout
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "\x1b[" not in done.stdout + done.stderr  # not a terminal: no colour, no live bars
    return done


@pytest.fixture(scope="module")
def run(outputs_file):
    def run_command(*args: str, **kwargs):
        return command(*args, outputs_file=outputs_file, **kwargs)

    return run_command


@pytest.fixture(scope="module")
def dog_path(tmp_path_factory, dog_jpg) -> Path:
    path = tmp_path_factory.mktemp("dog") / "dog.jpg"
    path.write_bytes(dog_jpg)
    return path


def darknet_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if DARKNET_LINE.match(line)]


@pytest.fixture(scope="module")
def put_folder(run, tmp_path_factory, dog_jpg):
    """put --wait of a folder: dog.jpg, a mirrored PNG in a subfolder, a truncated JPEG the function
    rejects, and a text file the command refuses up front."""
    from PIL import Image, ImageOps

    folder = tmp_path_factory.mktemp("put") / f"photos-{uuid.uuid4().hex[:8]}"
    (folder / "sub").mkdir(parents=True)
    (folder / "dog.jpg").write_bytes(dog_jpg)
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(dog_jpg))).save(mirrored, "PNG")
    (folder / "sub" / "dog-mirrored.png").write_bytes(mirrored.getvalue())
    (folder / "broken.jpg").write_bytes(dog_jpg[:3000])
    (folder / "notes.txt").write_text("not a picture\n")
    done = run("put", str(folder), "--wait", "--timeout", RESULT_SECONDS)
    return folder, done


def test_put_wait_follows_a_folder_to_its_results(put_folder):
    folder, done = put_folder
    assert done.returncode == 1, done.stderr  # two of the four did not succeed
    name = folder.name
    assert f"input/{name}/dog.jpg: Predicted in" in done.stdout
    assert f"input/{name}/sub/dog-mirrored.png: Predicted in" in done.stdout
    lines = darknet_lines(done.stdout)
    assert any(line.startswith("dog: ") for line in lines), done.stdout
    assert done.stdout.strip().splitlines()[-1] == "2 done, 2 rejected, 0 failed"
    assert f"{folder / 'notes.txt'}: not an image the detector reads" in done.stderr
    assert f"rejected: {folder / 'notes.txt'} (not uploaded): not an image" in done.stderr
    assert re.search(rf"rejected: input/{name}/broken.jpg: .*(truncated|corrupt)", done.stderr), done.stderr


def test_ls_lists_the_put_images_and_the_files_of_one(run, put_folder, s3, stack):
    folder, _ = put_folder
    key = f"input/{folder.name}/dog.jpg"
    etag = s3.head_object(Bucket=stack.bucket, Key=key)["ETag"]
    request_id = request_id_of_object(stack.bucket, key, etag, "input/")
    listed = run("ls", "--prefix", f"{folder.name}/", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["source"]: row for row in json.loads(listed.stdout)}
    assert rows[key]["request_id"] == request_id and "dog" in rows[key]["detections"]
    assert rows[f"input/{folder.name}/broken.jpg"]["status"] == "error"
    errors = json.loads(run("ls", "--status", "error", "--prefix", f"{folder.name}/", "--json").stdout)
    assert [row["source"] for row in errors] == [f"input/{folder.name}/broken.jpg"]
    table = run("ls", "--limit", "5")
    assert table.returncode == 0 and "request id" in table.stdout
    files = run("ls", request_id)
    assert files.returncode == 0
    for name in OUTPUT_FILES:
        assert name in files.stdout


def test_get_downloads_a_result_folder(run, put_folder, s3, stack, tmp_path):
    folder, _ = put_folder
    key = f"input/{folder.name}/dog.jpg"
    request_id = request_id_of_object(
        stack.bucket, key, s3.head_object(Bucket=stack.bucket, Key=key)["ETag"], "input/"
    )
    done = run("get", request_id, "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    got = tmp_path / request_id
    assert sorted(p.name for p in got.iterdir()) == sorted(OUTPUT_FILES)
    assert json.loads((got / RESULT_JSON).read_text())["source"]["key"] == key
    assert (got / RESULT_IMAGE).read_bytes().startswith(b"\x89PNG")


def test_invoke_prints_darknet_lines(run, dog_path):
    done = run("invoke", str(dog_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{dog_path}: Predicted in ")
    classes = {line.split(":")[0] for line in darknet_lines(done.stdout)}
    assert {"dog", "truck", "bicycle"} <= classes
    answer = json.loads(
        run("invoke", str(dog_path), "--json", "--classes", "dog", "--threshold", "0.3").stdout
    )
    assert {d["class"] for d in answer["detections"]} == {"dog"} and answer["threshold"] == 0.3


def test_invoke_output_writes_the_archive(run, dog_path, tmp_path):
    target = tmp_path / "result.tar.gz"
    done = run("invoke", str(dog_path), "-o", str(target))
    assert done.returncode == 0, done.stderr
    with tarfile.open(target) as archive:
        assert sorted(archive.getnames()) == sorted([RESULT_IMAGE, RESULT_TEXT])
        text = archive.extractfile(RESULT_TEXT).read().decode()
    assert "dog: " in text


def test_invoke_async_prints_the_request_and_wait_gets_the_result(run, dog_path):
    queued = run("invoke", str(dog_path), "-a")
    assert queued.returncode == 0, queued.stderr
    request_id = re.search(r"request id: (\S+)", queued.stdout)[1]
    assert f"/results/{request_id}" in queued.stdout
    waited = run("invoke", str(dog_path), "-a", "--wait", "--timeout", RESULT_SECONDS)
    assert waited.returncode == 0, waited.stderr
    assert any(line.startswith("dog: ") for line in darknet_lines(waited.stdout))


@pytest.fixture(scope="module")
def photo_12mp(dog_jpg, tmp_path_factory) -> Path:
    """A grainy 12 MP photo made from dog.jpg, over the synchronous limit."""
    from PIL import Image

    photo = Image.open(io.BytesIO(dog_jpg)).resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.frombytes("L", photo.size, random.Random(7).randbytes(4000 * 3000))
    photo = Image.blend(photo, Image.merge("RGB", (noise, noise, noise)), 0.08)
    path = tmp_path_factory.mktemp("photo") / "photo-12mp.jpg"
    photo.save(path, "JPEG", quality=95)
    assert path.stat().st_size > SYNC_BODY_LIMIT_BYTES
    return path


def test_a_12_megapixel_photo_goes_through_uploads_by_itself(run, photo_12mp):
    done = run("invoke", str(photo_12mp), "--timeout", RESULT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert "through POST /uploads" in done.stderr
    assert darknet_lines(done.stdout), done.stdout


def test_logs_render_the_functions_lines(run, put_folder):
    done = run("logs", "--since", "30m")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(re.match(r"^\d\d:\d\d:\d\d\.\d{3} (INFO|DEBUG) +[0-9a-f-]{36} ", line) for line in lines), (
        lines[:5]
    )
    as_json = [json.loads(line) for line in run("logs", "--since", "30m", "--json").stdout.splitlines()]
    request_id = next(line["request_id"] for line in as_json if line["request_id"])
    only = [
        json.loads(line)
        for line in run("logs", "--since", "30m", "--request-id", request_id, "--json").stdout.splitlines()
    ]
    assert only and all(request_id in json.dumps(line) for line in only)
    errors = run("logs", "--since", "30m", "--errors", "--json")
    assert all(json.loads(line)["level"] in ("ERROR", "CRITICAL") for line in errors.stdout.splitlines())


def test_logs_follow_ends_cleanly_on_ctrl_c(outputs_file):
    import signal
    import time

    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [str(COMMAND), "--outputs", str(outputs_file), "logs", "--follow", "--since", "1m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        # as from a terminal's shell: a background job's children start with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_status_shows_the_function_and_the_queues(run, outputs):
    done = run("status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["function"]["model"] == DEFAULT_MODEL and report["function"]["memory_mb"] == 1536
    assert report["function"]["engine"] == "onnx" and report["function"]["version"]
    assert "secretAccessKey" not in done.stdout
    if outputs.get("queueUrl"):
        assert {"waiting", "in_flight"} <= set(report["queue"])
        assert {"waiting", "in_flight"} <= set(report["dead_letter_queue"])
    assert isinstance(report["alarms"], list) and isinstance(report["last_errors"], list)
    text = run("status")
    assert text.returncode == 0 and "function: " in text.stdout and DEFAULT_MODEL in text.stdout


def test_backfill_skips_what_has_a_result_and_reruns_what_lost_it(run, outputs, put_folder, s3, stack):
    if not outputs.get("queueUrl"):
        pytest.fail("the localstack stack has no queue: backfill needs queue ingestion", pytrace=False)
    folder, _ = put_folder
    done = run("backfill", f"{folder.name}/", "--json")  # every image has its result (broken.jpg an error)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert (counts["listed"], counts["skipped"], counts["enqueued"]) == (3, 3, 0), counts
    key = f"input/{folder.name}/sub/dog-mirrored.png"
    etag = s3.head_object(Bucket=stack.bucket, Key=key)["ETag"]
    result = result_json_key("output/", request_id_of_object(stack.bucket, key, etag, "input/"))
    s3.delete_object(Bucket=stack.bucket, Key=result)
    done = run("backfill", f"{folder.name}/sub/", "--wait", "--timeout", RESULT_SECONDS, "--json")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert (counts["listed"], counts["enqueued"], counts["processed"], counts["failed"]) == (1, 1, 1, 0), (
        counts
    )
    assert json.loads(s3.get_object(Bucket=stack.bucket, Key=result)["Body"].read())["status"] == "ok"


# ------------------------------------------------------------------------------------- bad situations
def test_no_stack_found(tmp_path):
    done = command("ls", env={"XDG_STATE_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.startswith("darknet-lambda: no stack found: --outputs FILE")
    assert done.stderr.count("\n") == 1


def test_wrong_api_key_gets_the_apis_refusal(outputs, tmp_path, dog_path):
    keyed = {
        **outputs,
        "apiUrl": outputs["apiKeyApiUrl"],
        "apiAuthorization": "api_key",
        "localstack": localstack_block(),
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(keyed))
    done = command("--api-key", "not-the-key", "invoke", str(dog_path), outputs_file=path)
    assert done.returncode == 2
    assert done.stderr.startswith("darknet-lambda: the API refused the request (403): Forbidden")
    good = command(
        "invoke", str(dog_path), outputs_file=path, env={"DARKNET_LAMBDA_API_KEY": outputs["apiKeyValue"]}
    )
    assert good.returncode == 0, good.stderr
    assert any(line.startswith("dog: ") for line in darknet_lines(good.stdout))


def test_a_text_file_gets_the_apis_415_message(run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a photo\n")
    done = run("invoke", str(notes))
    assert done.returncode == 1
    assert done.stderr.startswith("darknet-lambda: the API rejected it (415): the body is not an image")


def test_a_result_that_does_not_come_in_time_exits_1(run, photo_12mp):
    """The 12 MP photo's result takes seconds (S3, the queue, a 12 MP decode); the first poll comes
    milliseconds after the upload, and a 1 ms timeout allows no second one. A small image sent
    asynchronously could be done by the first poll."""
    done = run("invoke", str(photo_12mp), "--timeout", "0.001")
    assert done.returncode == 1
    assert re.search(
        r"darknet-lambda: no result within 0.001 s; it may still come: GET \S+/results/", done.stderr
    )


def test_an_unreachable_endpoint(outputs, tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps({**outputs, "localstack": {**localstack_block(), "endpointUrl": "http://127.0.0.1:9"}})
    )
    done = command("ls", outputs_file=path, env={"AWS_MAX_ATTEMPTS": "1"})
    assert done.returncode == 2
    assert done.stderr.startswith("darknet-lambda: cannot reach AWS at http://127.0.0.1:9/")


# ------------------------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def samples_put(run, tmp_path_factory, dog_jpg):
    """Darknet's seven sample photos (copied out of the function's image), dog.jpg stored sideways
    (EXIF orientation 6) and a truncated JPEG, put with --wait into a folder of their own."""
    from local_lambda import files_from_image
    from support import corpus

    image = os.environ.get("E2E_FUNCTION_IMAGE")
    if not image:
        pytest.fail("E2E_FUNCTION_IMAGE is not set: run the end-to-end tests with `make e2e`", pytrace=False)
    folder = tmp_path_factory.mktemp("samples") / f"samples-{uuid.uuid4().hex[:8]}"
    files_from_image(image, "/opt/darknet/data", "*.jpg", folder)
    assert len(list(folder.glob("*.jpg"))) == 7, sorted(p.name for p in folder.iterdir())
    (folder / "phone").mkdir()
    (folder / "phone" / "dog-sideways.jpg").write_bytes(corpus.oriented(dog_jpg, 6))
    (folder / "phone" / "broken.jpg").write_bytes(dog_jpg[:3000])
    done = run("put", str(folder), "--wait", "--timeout", RESULT_SECONDS, "--json")
    assert done.returncode == 1, done.stderr  # the truncated one is rejected
    documents = {item["key"]: item for item in json.loads(done.stdout)["items"]}
    assert len(documents) == 9
    return folder


def exported(run, folder: Path, format_name: str, out: Path, *extra: str) -> dict:
    done = run(
        "export", "--format", format_name, "--prefix", f"{folder.name}/", "--out", str(out), "--json", *extra
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["images"], report["skipped"], report["missing"]) == (8, 1, []), report
    return report


def stored_dog(s3, stack, folder: Path, name: str) -> dict:
    """The dog of a photo's result.json, as the function wrote it."""
    key = f"input/{folder.name}/{name}"
    request_id = request_id_of_object(
        stack.bucket, key, s3.head_object(Bucket=stack.bucket, Key=key)["ETag"], "input/"
    )
    document = json.loads(
        s3.get_object(Bucket=stack.bucket, Key=result_json_key("output/", request_id))["Body"].read()
    )
    (dog,) = [d for d in document["detections"] if d["class"] == "dog"]
    return {**dog, "image": document["image"]}


def test_export_coco_of_the_samples_loads_in_pycocotools_with_the_dog_s_box(
    run, samples_put, s3, stack, tmp_path
):
    from contextlib import redirect_stdout

    from pycocotools.coco import COCO

    report = exported(run, samples_put, "coco", tmp_path / "coco")
    with redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    images = {image["file_name"]: image for image in coco.loadImgs(coco.getImgIds())}
    name = samples_put.name
    assert sorted(images) == sorted(
        [f"{name}/{p.name}" for p in samples_put.glob("*.jpg")] + [f"{name}/phone/dog-sideways.jpg"]
    )
    assert len(coco.getAnnIds()) == report["annotations"] > 8
    for photo in ("dog.jpg", "phone/dog-sideways.jpg"):
        dog = stored_dog(s3, stack, samples_put, photo)
        box = dog["box"]
        (found,) = coco.loadAnns(
            coco.getAnnIds(imgIds=[images[f"{name}/{photo}"]["id"]], catIds=[dog["class_id"]])
        )
        assert found["bbox"] == [
            box["left"],
            box["top"],
            box["right"] - box["left"] + 1,
            box["bottom"] - box["top"] + 1,
        ]
        assert (images[f"{name}/{photo}"]["width"], images[f"{name}/{photo}"]["height"]) == (768, 576)
    assert coco.loadCats(dog["class_id"])[0]["name"] == "dog"


def test_export_yolo_of_the_samples_reads_back_in_globox(run, samples_put, s3, stack, tmp_path):
    import globox

    exported(run, samples_put, "yolo", tmp_path / "yolo")
    labels = tmp_path / "yolo" / "labels" / samples_put.name
    assert sorted(p.relative_to(labels).as_posix() for p in labels.rglob("*.txt")) == sorted(
        [f"{p.stem}.txt" for p in samples_put.glob("*.jpg")] + ["phone/dog-sideways.txt"]
    )
    classes = (tmp_path / "yolo" / "classes.txt").read_text().splitlines()
    for photo in ("dog", "phone/dog-sideways"):
        dog = stored_dog(s3, stack, samples_put, f"{photo}.jpg")
        assert classes[dog["class_id"]] == "dog"
        size = (dog["image"]["width"], dog["image"]["height"])
        read = globox.Annotation.from_yolo_darknet(labels / f"{photo}.txt", image_size=size)
        (found,) = [b for b in read.boxes if b.label == str(dog["class_id"])]
        box = dog["box"]
        assert found.ltrb == pytest.approx(
            (box["left"], box["top"], box["right"] + 1, box["bottom"] + 1), abs=0.5
        )


def test_export_voc_of_the_samples_reads_back_in_globox_from_one(run, samples_put, s3, stack, tmp_path):
    import globox

    exported(run, samples_put, "voc", tmp_path / "voc")
    annotations = globox.AnnotationSet.from_pascal_voc(tmp_path / "voc" / "Annotations", recursive=True)
    assert len(annotations) == 8
    for photo in ("dog.jpg", "phone/dog-sideways.jpg"):
        dog = stored_dog(s3, stack, samples_put, photo)
        (found,) = [b for b in annotations[Path(photo).name].boxes if b.label == "dog"]
        box = dog["box"]
        assert found.ltrb == (box["left"] + 1, box["top"] + 1, box["right"] + 1, box["bottom"] + 1)
