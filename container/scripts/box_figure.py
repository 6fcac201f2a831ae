"""`make box-figure`: docs/box-coordinates.svg and the worked example of docs/http-api.md, from a real run.

Sends the sample dog.jpg through the local container, then draws the image's frame and the dog's box
with every number result.json gives for it (corners, x/y/width/height, the normalised centre and size)
and prints the detection and its COCO, YOLO and VOC forms as POST /detect?format= answers them, so the
documentation's numbers are the function's, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lambda_events import make_api_event
from local_lambda import DEFAULT_IMAGE, LocalLambda, file_from_image

from darknet_detector.contract import ANNOTATION_FORMATS, FORMAT_PARAMETER

SAMPLE_IMAGE = "/opt/darknet/data/dog.jpg"
SCALE = 0.75  # the figure's pixels per image pixel
MARGIN = 70


def answer(function: LocalLambda, body: bytes, query: dict[str, str] | None = None) -> str:
    event = make_api_event(body)
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    response = function.invoke(event)
    if response.get("statusCode") != 200:
        raise SystemExit(
            f"box-figure: the function answered {response.get('statusCode')}: {response.get('body')}"
        )
    return response["body"]


def svg(document: dict, detection: dict) -> str:
    """The image's frame and one box, every coordinate labelled with result.json's own numbers."""
    width, height = document["image"]["width"], document["image"]["height"]
    box, rel = detection["box"], detection["box_normalized"]

    def at(x: float, y: float) -> tuple[float, float]:
        return MARGIN + x * SCALE, MARGIN + y * SCALE

    x0, y0 = at(0, 0)
    left, top = at(box["left"], box["top"])
    right, bottom = at(box["right"] + 1, box["bottom"] + 1)  # the far edge of the last pixel covered
    cx, cy = at(rel["center_x"] * width, rel["center_y"] * height)
    total_w, total_h = width * SCALE + 2 * MARGIN, height * SCALE + 2 * MARGIN + 80
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect x="0" y="0" width="{total_w:.0f}" height="{total_h:.0f}" fill="white"/>',
        f'<rect x="{x0}" y="{y0}" width="{width * SCALE}" height="{height * SCALE}" fill="#eef2f7" '
        'stroke="#555"/>',
        f'<text x="{x0}" y="{y0 - 8}">(0, 0): top-left of the upright image, {width} x {height} pixels '
        "(result.json image.width, image.height)</text>",
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="#f5a62333" '
        'stroke="#d0021b" stroke-width="2"/>',
        f'<circle cx="{cx}" cy="{cy}" r="4" fill="#d0021b"/>',
        f'<text x="{cx}" y="{cy + 20}" text-anchor="middle">centre</text>',
        f'<text x="{cx}" y="{cy + 36}" text-anchor="middle">({rel["center_x"]}, {rel["center_y"]})</text>',
        f'<text x="{left + 4}" y="{top + 16}" font-weight="bold">{detection["class"]} '
        f"(class_id {detection['class_id']}) {detection['confidence']:.3f}</text>",
        f'<text x="{left + 4}" y="{top + 34}">left {box["left"]}, top {box["top"]} = x, y</text>',
        f'<text x="{right - 4}" y="{bottom - 8}" text-anchor="end">right {box["right"]}, bottom '
        f"{box['bottom']}</text>",
        f'<text x="{(left + right) / 2}" y="{bottom + 18}" text-anchor="middle">width {box["width"]} px = '
        f"right - left + 1; {rel['width']} of the image</text>",
        f'<text x="{right + 8}" y="{(top + bottom) / 2}">height {box["height"]} px</text>',
        f'<text x="{right + 8}" y="{(top + bottom) / 2 + 16}">= bottom - top + 1;</text>',
        f'<text x="{right + 8}" y="{(top + bottom) / 2 + 32}">{rel["height"]} of the image</text>',
        f'<text x="{x0}" y="{y0 + height * SCALE + 50}">COCO bbox [{box["x"]}, {box["y"]}, {box["width"]}, '
        f"{box['height']}], area {box['width'] * box['height']}</text>",
        f'<text x="{x0}" y="{y0 + height * SCALE + 68}">YOLO {detection["class_id"]} {rel["center_x"]:.6f} '
        f"{rel['center_y']:.6f} {rel['width']:.6f} {rel['height']:.6f}</text>",
        f'<text x="{x0}" y="{y0 + height * SCALE + 86}">VOC xmin {box["left"] + 1} ymin {box["top"] + 1} '
        f"xmax {box['right'] + 1} ymax {box['bottom'] + 1} (from 1)</text>",
        f'<text x="{x0}" y="{y0 + height * SCALE + 110}" fill="#555" font-size="11">{document["model"]} on '
        f"dog.jpg, {document['engine']} engine: drawn by container/scripts/box_figure.py from the function's "
        "answer</text>",
        "</svg>",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/box-coordinates.svg"))
    parser.add_argument("--container-image", default=DEFAULT_IMAGE)
    parser.add_argument("--class", dest="wanted", default="dog", help="the detection to draw")
    args = parser.parse_args()
    body = file_from_image(args.container_image, SAMPLE_IMAGE)
    with LocalLambda(image=args.container_image) as function:
        document = json.loads(answer(function, body))
        forms = {name: answer(function, body, {FORMAT_PARAMETER: name}) for name in ANNOTATION_FORMATS}
    detection = next(d for d in document["detections"] if d["class"] == args.wanted)
    args.out.write_text(svg(document, detection))
    print(json.dumps({"image": document["image"], "detection": detection}, indent=1))
    for name, text in forms.items():
        print(f"--- format={name}\n{text.rstrip()}")
    print(f"box-figure: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
