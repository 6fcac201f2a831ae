"""Sliced inference through the built image: small objects in large photos found, bounds kept.

The scenes are generated from the samples (tests/support/corpus.py): a 12000x1500 panorama of dog.jpg's
dog six times side by side (600 pixels tall), and a 48 MP photo with an object of four samples pasted
in (500 pixels tall): shrunk whole to the network's 416x416 they are 20 to 26 pixels and lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_lambda import LocalLambda
from support import corpus
from support.boxes import corners, iou

from darknet_detector.contract import MAX_TILES_ENV, TILES_ENV

pytestmark = pytest.mark.docker

MATCH_IOU = 0.5
# A 1024 MB function whose invocation may last this many seconds: too short for every tile of a 48 MP
# photo at 416-pixel tiles.
SHORT_TIMEOUT_SECONDS = 6


@pytest.fixture(scope="session")
def sample_files(samples: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in samples.glob("*.jpg")}


@pytest.fixture(scope="session")
def scenes(sample_files) -> dict[str, corpus.Scene]:
    return {
        "panorama": corpus.panorama(sample_files["dog.jpg"]),
        "pasted": corpus.pasted_objects(sample_files),
    }


@pytest.fixture(scope="session")
def lambda_tiles(detector_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """A 1024 MB function whose stack default is tiles=auto (the S3 path's only way to tile)."""
    function = LocalLambda(
        image=detector_image, env={**lambda_env, TILES_ENV: "auto", MAX_TILES_ENV: "64"}, memory_mb=1024
    )
    function.start()
    function.wait_ready(timeout=60)
    yield function
    function.stop()


@pytest.fixture(scope="session")
def lambda_short(detector_image: str, lambda_env: dict[str, str]) -> Iterator[LocalLambda]:
    """A 1024 MB function with a timeout too short for many tiles."""
    env = {**lambda_env, "AWS_LAMBDA_FUNCTION_TIMEOUT": str(SHORT_TIMEOUT_SECONDS), MAX_TILES_ENV: "1024"}
    function = LocalLambda(image=detector_image, env=env, memory_mb=1024)
    function.start()
    function.wait_ready(timeout=60)
    yield function
    function.stop()


def placed_found(scene: corpus.Scene, detections: list[dict]) -> list[tuple[str, int]]:
    """Each placed object and how many detections of its class cover it (IoU >= MATCH_IOU)."""
    return [
        (label, sum(d["class"] == label and iou(corners(d), placed) >= MATCH_IOU for d in detections))
        for label, placed in scene.objects
    ]


def detect(function: LocalLambda, api_event, data: bytes, query: dict | None = None) -> tuple[int, dict]:
    event = api_event(data)
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    response = function.invoke(event)
    return response["statusCode"], json.loads(response["body"])


def test_the_panorama_s_six_dogs_are_found_with_tiles_and_not_without(lambda_onnx, api_event, scenes):
    panorama = scenes["panorama"]
    status, whole = detect(lambda_onnx, api_event, panorama.data)
    assert status == 200, whole
    assert [count for _, count in placed_found(panorama, whole["detections"])] == [0] * corpus.PANORAMA_DOGS

    status, tiled = detect(lambda_onnx, api_event, panorama.data, {"tiles": "auto"})
    assert status == 200, tiled
    # Every dog once: dogs straddle tile edges (832-pixel tiles, 600-pixel dogs), so merging is at work.
    assert placed_found(panorama, tiled["detections"]) == [("dog", 1)] * corpus.PANORAMA_DOGS, tiled[
        "detections"
    ]
    assert tiled["options"]["tiles"] == "auto"
    report = tiled["tiles"]
    assert report["complete"] and report["run"] == report["planned"] > 1 and report["whole_image"]
    assert report["tile"] == {"width": 832, "height": 832}
    lines = [line for line in tiled["result_out"].splitlines()[1:] if line.startswith("dog: ")]
    assert len(lines) == sum(d["class"] == "dog" for d in tiled["detections"])


def test_objects_pasted_into_a_48_mp_photo_are_found_with_the_stack_s_tiles(
    lambda_tiles, lambda_1024, s3, bucket, s3_event, scenes
):
    pasted = scenes["pasted"]
    documents = {}
    for name, function in (("tiles", lambda_tiles), ("whole", lambda_1024)):
        key = f"input/pasted-{name}.jpg"
        s3.put_object(Bucket=bucket, Key=key, Body=pasted.data)
        (result,) = function.invoke(s3_event(bucket, key, size=len(pasted.data)))["results"]
        folder = f"output/{result['request_id']}/"
        documents[name] = json.loads(s3.get_object(Bucket=bucket, Key=folder + "result.json")["Body"].read())
        documents[name]["result.out"] = s3.get_object(Bucket=bucket, Key=folder + "result.out")["Body"].read()
        documents[name]["png"] = s3.get_object(Bucket=bucket, Key=folder + "image-result.png")["Body"].read()
    tiled, whole = documents["tiles"], documents["whole"]
    assert tiled["status"] == "ok" and tiled["options"]["tiles"] == "auto" and tiled["tiles"]["complete"]
    found_tiled = placed_found(pasted, tiled["detections"])
    found_whole = placed_found(pasted, whole["detections"])
    assert all(count == 1 for _, count in found_tiled), found_tiled
    assert sum(count > 0 for _, count in found_whole) < len(pasted.objects), found_whole
    assert "tiles" not in whole and whole["options"]["tiles"] == "off"
    # result.out and the drawing cover the merged detections.
    assert len(tiled["result.out"].decode().splitlines()) == 1 + len(tiled["detections"])
    # Drawn on the same shrunk copy as without tiles.
    drawn = tiled["image"]["drawn"]
    assert drawn == whole["image"]["drawn"] and png_size(tiled["png"]) == (drawn["width"], drawn["height"])


def png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_small_photo_with_tiles_gets_exactly_the_answer_without(lambda_onnx, api_event, dog_jpg):
    """dog.jpg fits one 832-pixel tile: the whole-photo pass alone, today's detections."""
    _, plain = detect(lambda_onnx, api_event, dog_jpg)
    status, tiled = detect(lambda_onnx, api_event, dog_jpg, {"tiles": "auto"})
    assert status == 200
    assert tiled["detections"] == plain["detections"]
    assert tiled["tiles"] == {
        "requested": "auto",
        "planned": 0,
        "run": 0,
        "complete": True,
        "whole_image": True,
    }


def test_a_12_mp_photo_with_tiles_keeps_what_the_whole_photo_finds(lambda_onnx, api_event, dog_jpg):
    """A photo Darknet's float image holds whole (12 MP) and its tiles: the dog stays found, once."""
    photo = corpus.large_photo(dog_jpg, "12mp")
    _, plain = detect(lambda_onnx, api_event, photo.data)
    status, tiled = detect(lambda_onnx, api_event, photo.data, {"tiles": "auto"})
    assert status == 200, tiled
    assert tiled["tiles"]["complete"] and tiled["tiles"]["planned"] > 1
    (dog,) = [d for d in plain["detections"] if d["class"] == "dog"]
    tiled_dogs = [d for d in tiled["detections"] if d["class"] == "dog"]
    assert [iou(corners(d), corners(dog)) >= MATCH_IOU for d in tiled_dogs] == [True]


@pytest.mark.parametrize(
    ("tiles", "code"),
    [
        ("sometimes", "bad_tiles"),
        ("640:0.8", "bad_tiles"),
        ("9x9", "too_many_tiles"),
        ("100", "too_many_tiles"),
    ],
)
def test_bad_tiles_get_400_and_their_code(lambda_onnx, api_event, scenes, tiles, code):
    """9x9 is over the bound whatever the photo; 100-pixel tiles only once the panorama's size is known."""
    status, answer = detect(lambda_onnx, api_event, scenes["panorama"].data, {"tiles": tiles})
    assert (status, answer["error"]["code"]) == (400, code), answer


def test_the_reference_engine_refuses_tiles(lambda_darknet, api_event, dog_jpg):
    status, answer = detect(lambda_darknet, api_event, dog_jpg, {"tiles": "auto"})
    assert (status, answer["error"]["code"]) == (400, "option_unsupported")


def test_tiles_stop_before_the_invocation_s_time_runs_out(lambda_short, api_event, scenes):
    """416-pixel tiles of the 48 MP photo are hundreds of network runs: more than a 6 s invocation holds.
    The answer comes in time and says it is incomplete."""
    status, answer = detect(lambda_short, api_event, scenes["pasted"].data, {"tiles": "416"})
    assert status == 200, answer
    report = answer["tiles"]
    assert not report["complete"] and report["run"] < report["planned"], report
    assert "time" in report["reason"]
