"""The parity verdict: what counts as the same detections (the engines themselves run in tests/container)."""

from __future__ import annotations

import pytest

from darknet_detector.building.parity import box_iou, compare
from darknet_detector.core.detection import Detection

DOG = Detection("dog", 0.5707, 129, 186, 369, 517)
CAR = Detection("car", 0.6153, 465, 71, 679, 169)
TRUCK = Detection("truck", 0.5578, 533, 94, 621, 157)


def shifted(detection: Detection, dx: int = 0, confidence: float | None = None) -> Detection:
    return Detection(
        detection.label,
        detection.confidence if confidence is None else confidence,
        detection.left + dx,
        detection.top,
        detection.right + dx,
        detection.bottom,
    )


def test_iou_of_inclusive_pixel_boxes():
    assert box_iou(DOG, DOG) == 1.0
    assert box_iou(DOG, TRUCK) == 0.0
    one = Detection("x", 1, 0, 0, 9, 9)
    assert box_iou(one, Detection("x", 1, 5, 0, 14, 9)) == pytest.approx(50 / 150)


def test_identical_detections_in_another_order_pass():
    result = compare("dog.jpg", [DOG, CAR, TRUCK], [TRUCK, DOG, CAR])
    assert result.passed and [pair["iou"] for pair in result.pairs] == [1.0, 1.0, 1.0]


def test_small_differences_within_tolerance_pass():
    assert compare("dog.jpg", [DOG], [shifted(DOG, dx=1, confidence=0.5757)]).passed


@pytest.mark.parametrize(
    ("candidate", "problem"),
    [
        ([DOG, CAR], "classes differ"),
        ([DOG, CAR, TRUCK, CAR], "classes differ"),
        ([DOG, CAR, Detection("bus", 0.56, 533, 94, 621, 157)], "classes differ"),
        ([shifted(DOG, confidence=0.5820), CAR, TRUCK], "dog: confidence"),
        ([shifted(DOG, dx=5), CAR, TRUCK], "dog: box IoU"),
    ],
)
def test_disagreements_fail_with_a_reason(candidate, problem):
    result = compare("dog.jpg", [DOG, CAR, TRUCK], candidate)
    assert not result.passed
    assert any(problem in p for p in result.problems), result.problems


def test_same_class_boxes_pair_with_their_best_match():
    other_car = Detection("car", 0.5173, 533, 94, 621, 157)
    assert compare("dog.jpg", [CAR, other_car], [other_car, CAR]).passed
