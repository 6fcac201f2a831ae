"""`export` on moto: results made by result_document as the function makes them, listed a page at a
time (the page size forced small), written as COCO, YOLO and VOC and read back by pycocotools and globox."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import boto3
import pytest
from support.cli import BUCKET
from support.stand_in import StandInEngine

from darknet_detector.contract import COCO_FILE, VOC_FOLDER, YOLO_CLASSES_FILE, YOLO_LABELS_FOLDER
from darknet_detector.core.detection import Detection, DetectionRun
from darknet_detector.core.outputs import result_document

DOG_SIZE = (768, 576)
DOG = Detection("dog", 0.570731, 129, 186, 369, 517)
CAR = Detection("car", 0.615292, 465, 71, 679, 169)
NAMES = ("person", "bicycle", "car", *(f"class{i}" for i in range(3, 16)), "dog")
IMAGES = 7


def request_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def put_result(s3, number: int, key: str, detections=(DOG, CAR), size=DOG_SIZE, error: bool = False) -> None:
    engine = StandInEngine()
    engine.names = NAMES
    if error:
        document = result_document(
            request_id(number), {"key": key}, engine, error={"code": "corrupt_image", "message": "?"}
        )
    else:
        run = DetectionRun(list(detections), 0.1, "", None, *size)
        document = result_document(request_id(number), {"bucket": BUCKET, "key": key}, engine, run)
    s3.put_object(Bucket=BUCKET, Key=f"output/{request_id(number)}/result.json", Body=json.dumps(document))
    s3.put_object(Bucket=BUCKET, Key=f"output/{request_id(number)}/image-result.png", Body=b"png")


@pytest.fixture
def stack(cli_stack):
    """Seven images (the sixth sideways: its upright size is 576 x 768, the seventh without boxes) and a
    failed result, under two folders of the input prefix."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for number in range(IMAGES - 2):
        put_result(s3, number, f"input/photos/dog-{number}.jpg")
    put_result(s3, 5, "input/phone/sideways.jpg", [Detection("dog", 0.6, 10, 20, 300, 700)], (576, 768))
    put_result(s3, 6, "input/phone/empty.png", [])
    put_result(s3, 7, "input/phone/broken.jpg", error=True)
    return cli_stack


@pytest.fixture
def pages(monkeypatch):
    """Forces listing pages of 3 keys and records each ListObjectsV2 and GetObject call in order."""
    from darknet_lambda.cli import dataset_export, stack

    monkeypatch.setattr(dataset_export, "LIST_PAGE_SIZE", 3)
    calls: list[str] = []
    client = stack.Stack.client

    def recording(self, service: str):
        made = client(self, service)
        made.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
        return made

    monkeypatch.setattr(stack.Stack, "client", recording)
    return calls


def exported(stack, tmp_path: Path, *args: str) -> tuple[Path, dict]:
    out = tmp_path / "export"
    result = stack.run("export", *args, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_the_listing_is_paged_and_each_page_written_before_the_next_is_read(stack, pages, tmp_path):
    _, report = exported(stack, tmp_path, "--format", "yolo")
    listings = [i for i, call in enumerate(pages) if call == "ListObjectsV2"]
    # 16 keys (a result.json and an image-result.png per result), 3 a page: 6 pages
    assert len(listings) == 6, pages
    assert pages.index("GetObject") < listings[1], (
        "the first page's documents are read before the second page"
    )
    assert (report["images"], report["annotations"], report["skipped"]) == (IMAGES, 11, 1)


def test_coco_export_loads_in_pycocotools_with_every_image_and_the_dog_s_box(stack, pages, tmp_path):
    from pycocotools.coco import COCO

    out, report = exported(stack, tmp_path, "--format", "coco")
    assert sorted(p.name for p in out.iterdir()) == [COCO_FILE], "the temporary annotations file is gone"
    with redirect_stdout(io.StringIO()):
        coco = COCO(str(out / COCO_FILE))
    images = {image["file_name"]: image for image in coco.loadImgs(coco.getImgIds())}
    assert len(images) == IMAGES and report["files"] == 1
    assert (images["phone/sideways.jpg"]["width"], images["phone/sideways.jpg"]["height"]) == (576, 768)
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {2: "car", 16: "dog"}
    dog = coco.loadAnns(coco.getAnnIds(imgIds=[images["photos/dog-0.jpg"]["id"]], catIds=[16]))[0]
    assert (dog["bbox"], dog["area"], dog["score"]) == ([129, 186, 241, 332], 241 * 332, 0.570731)
    assert coco.getAnnIds(imgIds=[images["phone/empty.png"]["id"]]) == []


def test_yolo_export_has_a_label_file_per_image_and_classes_with_the_model_s_ids(stack, pages, tmp_path):
    import globox
    from PIL import Image

    out, report = exported(stack, tmp_path, "--format", "yolo", "--names", str(names_file(tmp_path)))
    lines = (out / YOLO_CLASSES_FILE).read_text().splitlines()
    assert lines == list(NAMES) and report["unnamed_classes"] == []
    labels = out / YOLO_LABELS_FOLDER
    assert (labels / "phone/empty.txt").read_text() == ""
    assert (labels / "photos/dog-0.txt").read_text().splitlines()[
        0
    ] == "16 0.324870 0.611111 0.313802 0.576389"
    images = tmp_path / "images"
    for label in labels.rglob("*.txt"):
        size = (576, 768) if label.stem == "sideways" else DOG_SIZE
        (images / label.parent.relative_to(labels)).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size).save(images / label.relative_to(labels).with_suffix(".jpg"))
    read = globox.AnnotationSet.from_yolo_darknet(labels, image_folder=images, recursive=True)
    assert len(read) == IMAGES
    sideways = {box.label: box for box in read["sideways.jpg"].boxes}
    # pixels 10..300 x 20..700 of the upright 576 x 768 photo: 10.0 to 301.0, 20.0 to 701.0
    assert sideways["16"].ltrb == pytest.approx((10, 20, 301, 701), abs=0.01)


def test_yolo_without_the_names_file_marks_the_classes_no_result_named(stack, tmp_path):
    out, report = exported(stack, tmp_path, "--format", "yolo", "--scores")
    lines = (out / YOLO_CLASSES_FILE).read_text().splitlines()
    assert (lines[2], lines[16], lines[3]) == ("car", "dog", "class_3")
    assert report["unnamed_classes"] == [0, 1, *range(3, 16)]
    assert (out / YOLO_LABELS_FOLDER / "photos/dog-0.txt").read_text().splitlines()[0].endswith(" 0.570731")


def test_voc_export_reads_back_in_globox_counting_pixels_from_one(stack, tmp_path):
    import globox

    out, _ = exported(stack, tmp_path, "--format", "voc", "--prefix", "photos/")
    files = sorted(p.relative_to(out / VOC_FOLDER).as_posix() for p in (out / VOC_FOLDER).rglob("*.xml"))
    assert files == [f"photos/dog-{n}.xml" for n in range(5)]
    read = globox.AnnotationSet.from_pascal_voc(out / VOC_FOLDER, recursive=True)
    dog = next(box for box in read["dog-0.jpg"].boxes if box.label == "dog")
    assert dog.ltrb == (130, 187, 370, 518)


def test_named_request_ids_are_read_without_a_listing_and_a_missing_one_fails(stack, pages, tmp_path):
    out = tmp_path / "export"
    result = stack.run(
        "export", "--format", "voc", request_id(0), request_id(99), "--out", str(out), "--json"
    )
    assert result.exit_code == 1, result.output
    assert "ListObjectsV2" not in pages
    assert json.loads(result.stdout)["missing"] == [request_id(99)]
    assert f"no result output/{request_id(99)}/" in result.stderr


def test_an_export_never_writes_into_a_folder_that_has_files(stack, tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "mine.txt").write_text("keep me")
    result = stack.run("export", "--format", "yolo", "--out", str(tmp_path / "export"))
    assert result.exit_code == 2 and "not an empty folder" in result.stderr


def test_results_written_before_class_ids_need_the_names_file(stack, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    key = f"output/{request_id(0)}/result.json"
    document = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    for detection in document["detections"]:
        del detection["class_id"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document))
    result = stack.run("export", "--format", "coco", "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "names file" in result.stderr
    _, report = exported(stack, tmp_path, "--format", "coco", "--names", str(names_file(tmp_path)))
    assert report["images"] == IMAGES


def names_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.names"
    path.write_text("\n".join(NAMES) + "\n")
    return path
