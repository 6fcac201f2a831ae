"""Boxes in every form, and COCO, YOLO and VOC from result.json documents, read back by maintained
readers: pycocotools for COCO, globox for YOLO and Pascal VOC.

The documents are made by result_document from a run, as the function makes them; the dog's box is
yolov3-tiny's on dog.jpg (768 x 576), and every expected number below is worked out by hand from its
corners, so that a convention changed in one format and not the others fails here.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from PIL import Image
from support.stand_in import StandInEngine

from darknet_detector.core import annotation_formats as formats
from darknet_detector.core.detection import Detection, DetectionRun
from darknet_detector.core.outputs import result_document

DOG_SIZE = (768, 576)
DOG = Detection("dog", 0.570731, 129, 186, 369, 517)  # yolov3-tiny on dog.jpg: class 16 of coco.names
CAR = Detection("car", 0.62, 465, 71, 679, 169)
NAMES = [f"class{i}" for i in range(80)]
NAMES[2], NAMES[16] = "car", "dog"


def document(
    detections=(DOG, CAR), size=DOG_SIZE, request_id="req-1", key="input/photos/dog.jpg", names=NAMES
) -> dict:
    engine = StandInEngine()
    engine.names = tuple(names)
    run = DetectionRun(list(detections), 0.1, "", None, *size)
    return result_document(request_id, {"bucket": "b", "key": key}, engine, run)


# ------------------------------------------------------------------------------------ the box itself
def test_width_counts_the_pixels_the_box_covers_both_ends_included():
    assert (DOG.width, DOG.height) == (369 - 129 + 1, 517 - 186 + 1) == (241, 332)
    assert DOG.xywh() == (129, 186, 241, 332)
    assert DOG.voc_corners() == (130, 187, 370, 518)


def test_a_box_over_the_whole_image_is_the_image_centred_and_of_size_one():
    whole = Detection("x", 0.9, 0, 0, 767, 575)
    assert whole.xywh() == (0, 0, 768, 576)
    assert whole.normalized(*DOG_SIZE) == (0.5, 0.5, 1.0, 1.0)


def test_result_json_gives_corners_size_fractions_and_the_model_s_class_id():
    dog = document()["detections"][0]
    assert dog["class"] == "dog" and dog["class_id"] == 16
    assert dog["box"] == {
        "left": 129, "top": 186, "right": 369, "bottom": 517, "x": 129, "y": 186, "width": 241, "height": 332,
    }  # fmt: skip
    # centre (129 + 241/2) / 768, (186 + 332/2) / 576; size 241/768, 332/576, six decimals
    assert dog["box_normalized"] == {
        "center_x": 0.324870,
        "center_y": 0.611111,
        "width": 0.313802,
        "height": 0.576389,
    }


def test_an_old_document_s_corners_are_all_a_reader_needs():
    old = {
        "class": "dog",
        "confidence": 0.570731,
        "box": {"left": 129, "top": 186, "right": 369, "bottom": 517},
    }
    assert Detection.from_dict(old) == DOG
    assert Detection.from_dict(document()["detections"][0]) == DOG


# ---------------------------------------------------------------------------------------------- COCO
def test_coco_of_one_result_loads_in_pycocotools_with_the_dog_s_bbox(tmp_path):
    from pycocotools.coco import COCO

    path = tmp_path / "coco.json"
    path.write_text(formats.render("coco", document(), NAMES))
    with redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert len(coco.getCatIds()) == 80 and coco.loadCats(16)[0]["name"] == "dog"
    (image,) = coco.loadImgs(coco.getImgIds())
    assert (image["file_name"], image["width"], image["height"]) == ("input/photos/dog.jpg", 768, 576)
    (dog,) = coco.loadAnns(coco.getAnnIds(catIds=[16]))
    assert dog["bbox"] == [129, 186, 241, 332]
    assert dog["area"] == 241 * 332
    assert dog["score"] == 0.570731


def test_coco_detections_evaluate_against_the_export_itself_as_perfect(tmp_path):
    """loadRes takes the annotations as detection results; COCOeval finds each of its own boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path = tmp_path / "coco.json"
    dataset = formats.coco_dataset(document(), NAMES)
    path.write_text(json.dumps(dataset))
    with redirect_stdout(io.StringIO()):
        truth = COCO(str(path))
        found = truth.loadRes(
            [{k: a[k] for k in ("image_id", "category_id", "bbox", "score")} for a in dataset["annotations"]]
        )
        evaluation = COCOeval(truth, found, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP at IoU .50:.95


def test_the_coco_writer_streams_many_results_into_one_dataset(tmp_path):
    from pycocotools.coco import COCO

    table = formats.ClassTable()
    path = tmp_path / "annotations.json"
    with path.open("w") as out, (tmp_path / "spill").open("w+") as spill:
        writer = formats.CocoWriter(out, spill, "three results")
        for number in range(3):
            doc = document(request_id=f"req-{number}", key=f"input/{number}/dog.jpg")
            table.learn(doc)
            writer.add(formats.labelled_image(doc, input_prefix="input/"))
        writer.close(table.categories())
    with redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert [image["file_name"] for image in coco.loadImgs(coco.getImgIds())] == [
        "0/dog.jpg",
        "1/dog.jpg",
        "2/dog.jpg",
    ]
    assert len(coco.getAnnIds()) == 6 and sorted(coco.getAnnIds()) == list(range(1, 7))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {2: "car", 16: "dog"}
    assert coco.loadAnns(coco.getAnnIds(imgIds=[3], catIds=[16]))[0]["bbox"] == [129, 186, 241, 332]


# ---------------------------------------------------------------------------------------------- YOLO
def test_yolo_lines_are_class_id_and_the_normalised_centre_and_size():
    assert formats.render("yolo", document(), NAMES).splitlines() == [
        "16 0.324870 0.611111 0.313802 0.576389",
        # car: (465 + 215/2) / 768, (71 + 99/2) / 576, 215/768, 99/576
        "2 0.745443 0.209201 0.279948 0.171875",
    ]
    with_scores = formats.yolo_lines(formats.labelled_image(document()), scores=True)
    assert with_scores.splitlines()[0] == "16 0.324870 0.611111 0.313802 0.576389 0.570731"


def blank_image(folder: Path, name: str, size: tuple[int, int]) -> None:
    """A stand-in for the photo, of its upright size: YOLO readers take the size from the image file."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(folder / name)


def test_globox_reads_the_yolo_label_back_to_the_dog_s_pixels(tmp_path):
    import globox

    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "dog.txt").write_text(formats.render("yolo", document(), NAMES))
    blank_image(tmp_path / "images", "dog.jpg", DOG_SIZE)
    read = globox.AnnotationSet.from_yolo_darknet(tmp_path / "labels", image_folder=tmp_path / "images")
    boxes = {box.label: box for box in read["dog.jpg"].boxes}
    # globox's boxes are continuous: the pixels 129..369 span 129.0 to 370.0
    assert boxes["16"].ltrb == pytest.approx((129, 186, 370, 518), abs=0.01)


# ----------------------------------------------------------------------------------------------- VOC
def test_voc_counts_pixels_from_one_and_names_the_class():
    root = ElementTree.fromstring(formats.render("voc", document(), NAMES))
    assert root.findtext("folder") == "input/photos" and root.findtext("filename") == "dog.jpg"
    assert [root.findtext(f"size/{tag}") for tag in ("width", "height", "depth")] == ["768", "576", "3"]
    dog = root.find("object")
    assert dog is not None and dog.findtext("name") == "dog"
    assert [dog.findtext(f"bndbox/{tag}") for tag in ("xmin", "ymin", "xmax", "ymax")] == [
        "130",
        "187",
        "370",
        "518",
    ]


def test_globox_reads_the_voc_file_with_the_dog_s_corners(tmp_path):
    import globox

    (tmp_path / "dog.xml").write_text(formats.render("voc", document(), NAMES))
    read = globox.AnnotationSet.from_pascal_voc(tmp_path)
    annotation = read["dog.jpg"]
    assert annotation.image_size == DOG_SIZE
    boxes = {box.label: box for box in annotation.boxes}
    assert boxes["dog"].ltrb == (130, 187, 370, 518)  # VOC's: 1-based, the same pixels


# ------------------------------------------------------------------------------------- one class table
def test_a_document_written_before_class_ids_takes_them_from_the_model_s_names():
    old = document()
    for item in old["detections"]:
        del item["class_id"]
    with pytest.raises(formats.AnnotationError, match="names file"):
        formats.labelled_image(old)
    assert formats.yolo_label(old, NAMES).startswith("16 ")


def test_classes_learnt_from_results_keep_the_model_s_ids_and_mark_the_gaps():
    table = formats.ClassTable()
    table.learn(document())
    assert table.classes_txt().splitlines()[2] == "car"
    assert table.classes_txt().splitlines()[16] == "dog"
    assert table.classes_txt().splitlines()[3] == "class_3"
    assert table.unnamed() == [i for i in range(17) if i not in (2, 16)]
    assert formats.ClassTable(NAMES).classes_txt().splitlines() == NAMES


def test_results_of_two_models_naming_an_id_two_ways_are_refused():
    table = formats.ClassTable()
    table.learn(document())
    swapped = list(NAMES)
    swapped[2], swapped[16] = "dog", "car"
    other = document(names=swapped)
    with pytest.raises(formats.AnnotationError, match="different models"):
        table.learn(other)


def test_a_failed_result_is_not_an_image_of_a_dataset():
    failed = {"request_id": "x", "status": "error", "error": {"code": "corrupt_image", "message": "?"}}
    assert not formats.is_success(failed)
    with pytest.raises(formats.AnnotationError):
        formats.labelled_image(failed)


@pytest.mark.parametrize(
    ("source", "image", "name"),
    [
        ({"bucket": "b", "key": "input/a/IMG_1.JPG"}, {"format": "jpeg"}, "a/IMG_1.JPG"),
        ({"bucket": "b", "key": "elsewhere/IMG_1.JPG"}, {"format": "jpeg"}, "elsewhere/IMG_1.JPG"),
        ({"http": "request"}, {"format": "jpeg"}, "req-1.jpg"),
        ({"http": "request"}, {"format": "png"}, "req-1.png"),
    ],
)
def test_an_image_is_named_by_its_key_below_the_input_prefix_or_by_its_request_id(source, image, name):
    assert (
        formats.image_file_name({"request_id": "req-1", "source": source, "image": image}, "input/") == name
    )
