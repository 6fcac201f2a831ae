"""Check that the fast engine reports what the Darknet binary reports, image by image.

Runs both engines on each image and fails unless they agree: the same classes the same number of times,
each confidence within 1 point and each box overlapping its counterpart with IoU >= 0.98. Used at image
build time to verify the converted graph, and by the container tests:

    python3 -m darknet_detector.building.parity --model-dir /opt/model --model yolov3-tiny \
        --darknet /opt/darknet/bin/darknet IMAGE...

Prints a per-image report on stderr and a JSON summary on stdout; exits 1 when any image breaks parity.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from darknet_detector.contract import DEFAULT_MODEL
from darknet_detector.core.detection import Detection, DetectionRun
from darknet_detector.core.source import SourceImage
from darknet_detector.engines.darknet_cli import DarknetCliEngine
from darknet_detector.engines.onnx_runtime import OnnxEngine

MAX_CONFIDENCE_GAP = 0.01
MIN_IOU = 0.98


def box_iou(a: Detection, b: Detection) -> float:
    """Overlap of two pixel boxes whose right/bottom edges are inclusive, as draw_detections draws them.

    Identical boxes overlap fully even when clipping left them empty (a box beyond the image's edge).
    """
    if (a.left, a.top, a.right, a.bottom) == (b.left, b.top, b.right, b.bottom):
        return 1.0
    width = min(a.right, b.right) - max(a.left, b.left) + 1
    height = min(a.bottom, b.bottom) - max(a.top, b.top) + 1
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height

    def area(d: Detection) -> int:
        return (d.right - d.left + 1) * (d.bottom - d.top + 1)

    return inter / (area(a) + area(b) - inter)


@dataclass
class Comparison:
    image: str
    problems: list[str] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def compare(image: str, reference: list[Detection], candidate: list[Detection]) -> Comparison:
    """Pair each reference detection with the same-class candidate it overlaps most, then check the pair."""
    result = Comparison(image)
    wanted, got = Counter(d.label for d in reference), Counter(d.label for d in candidate)
    if wanted != got:
        result.problems.append(f"classes differ: darknet {dict(wanted)}, onnx {dict(got)}")
        return result
    unpaired = list(candidate)
    for ref in reference:
        same_class = [d for d in unpaired if d.label == ref.label]
        best = max(same_class, key=lambda d: box_iou(ref, d))
        unpaired.remove(best)
        iou = box_iou(ref, best)
        gap = abs(ref.confidence - best.confidence)
        result.pairs.append(
            {
                "class": ref.label,
                "iou": round(iou, 4),
                "confidence_gap": round(gap, 4),
                "darknet": ref.as_dict(),
            }
        )
        if gap > MAX_CONFIDENCE_GAP:
            result.problems.append(
                f"{ref.label}: confidence {best.confidence:.4f}, darknet {ref.confidence:.4f} (gap {gap:.4f})"
            )
        if iou < MIN_IOU:
            result.problems.append(f"{ref.label}: box IoU {iou:.4f} < {MIN_IOU} ({best.as_dict()['box']})")
    return result


def _class_lines(run: DetectionRun) -> list[str]:
    return run.result_text.splitlines()[1:]


def check_images(reference_engine, fast_engine, images: list[Path]) -> dict:
    """Run both engines on every image and collect the per-image comparisons into a JSON-able summary."""
    reports = []
    with tempfile.TemporaryDirectory(prefix="parity-") as scratch:
        for number, image in enumerate(images):
            workdirs = [Path(scratch) / f"{number}-{side}" for side in ("darknet", "onnx")]
            for workdir in workdirs:
                workdir.mkdir()
            source = SourceImage.from_file(image)
            reference = reference_engine.detect(source, workdirs[0])
            fast = fast_engine.detect(source, workdirs[1])
            comparison = compare(str(image), reference.detections, fast.detections)
            if (fast.image_width, fast.image_height) != (reference.image_width, reference.image_height):
                comparison.problems.append(
                    f"annotated PNG is {fast.image_width}x{fast.image_height}, "
                    f"darknet's {reference.image_width}x{reference.image_height}"
                )
            reports.append(
                {
                    "image": str(image),
                    "passed": comparison.passed,
                    "problems": comparison.problems,
                    "detections": len(reference.detections),
                    "pairs": comparison.pairs,
                    "result_text_identical": _class_lines(reference) == _class_lines(fast),
                    "darknet_predict_seconds": reference.predict_seconds,
                    "onnx_predict_seconds": round(fast.predict_seconds, 6),
                }
            )
    return {
        "passed": all(report["passed"] for report in reports),
        "model": fast_engine.model,
        "threshold": fast_engine.threshold,
        "criteria": {"max_confidence_gap": MAX_CONFIDENCE_GAP, "min_iou": MIN_IOU},
        "images": reports,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare the ONNX engine with the Darknet binary.")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--darknet", type=Path, required=True, help="the Darknet binary (reference)")
    parser.add_argument("--darknet-lib", type=Path, help="libdarknet.so (default: $DARKNET_LIB)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("images", type=Path, nargs="+")
    args = parser.parse_args(argv)

    # Darknet runs in a scratch directory, so every path it is given must be absolute.
    model_dir = args.model_dir.resolve()
    reference = DarknetCliEngine(model_dir, args.model, args.threshold, args.darknet.resolve())
    fast = OnnxEngine(model_dir, args.model, args.threshold, darknet_lib=args.darknet_lib)
    summary = check_images(reference, fast, [image.resolve() for image in args.images])
    for report in summary["images"]:
        verdict = "ok  " if report["passed"] else "FAIL"
        worst_iou = min((pair["iou"] for pair in report["pairs"]), default=1.0)
        worst_gap = max((pair["confidence_gap"] for pair in report["pairs"]), default=0.0)
        print(
            f"parity {verdict} {report['image']}: {report['detections']} detections, "
            f"min IoU {worst_iou:.4f}, max confidence gap {worst_gap:.4f}",
            file=sys.stderr,
        )
        for problem in report["problems"]:
            print(f"    {problem}", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
