"""`make detect IMAGE=path`: one image through the local container, the way the HTTP path sends it.

Prints Darknet's result.out to stdout and saves image-result.png and result.out in the output
folder (default out/). Without IMAGE it uses the sample dog.jpg shipped in the image. The darknet
engine (`ENGINE=darknet`) runs in the image's reference variant, which `make image` builds beside it.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import tarfile
from pathlib import Path

from lambda_events import make_api_event
from local_lambda import DEFAULT_IMAGE, LocalLambda, file_from_image

from darknet_detector.contract import RESULT_IMAGE, RESULT_TEXT, reference_tag

SAMPLE_IMAGE = "/opt/darknet/data/dog.jpg"


def error_code(response: dict) -> str | None:
    """The `error.code` of a JSON error answer, None for anything else."""
    try:
        return json.loads(response.get("body") or "{}").get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("image", nargs="?", type=Path, help="an image file (default: the sample dog.jpg)")
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument(
        "--container-image", default=DEFAULT_IMAGE, help="the default image (darknet: its reference variant)"
    )
    parser.add_argument("--engine", choices=["onnx", "darknet"], default="onnx")
    args = parser.parse_args()

    container_image = args.container_image
    if args.engine == "darknet":
        container_image = reference_tag(container_image)
    try:
        body = args.image.read_bytes() if args.image else file_from_image(container_image, SAMPLE_IMAGE)
    except OSError as error:
        print(f"detect: cannot read {args.image}: {error.strerror or error}", file=sys.stderr)
        return 2
    with LocalLambda(image=container_image, env={"DETECTOR_ENGINE": args.engine}) as function:
        response = function.invoke(make_api_event(body, {"Accept": "application/gzip"}))
        if error_code(response) == "answer_too_large":
            # A large photo's tar.gz exceeds Lambda's response limit, and this local run has no bucket
            # to store it in: the JSON answer still carries the detections and result.out.
            print(
                "detect: the tar.gz is over Lambda's response limit and a local run has no bucket to store "
                "it in; result.out from the JSON answer follows (no image-result.png)",
                file=sys.stderr,
            )
            response = function.invoke(make_api_event(body, {"Accept": "application/json"}))
            if response.get("statusCode") == 200:
                sys.stdout.write(json.loads(response["body"])["result_out"])
                return 0
    if response.get("statusCode") != 200:
        error = json.loads(response.get("body") or "{}").get("error", response)
        print(f"detect: HTTP {response.get('statusCode')}: {error}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(response["body"])), mode="r:gz") as archive:
        archive.extractall(args.out, filter="data")
    sys.stdout.write((args.out / RESULT_TEXT).read_text())
    print(f"detect: {RESULT_IMAGE} saved to {args.out / RESULT_IMAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
