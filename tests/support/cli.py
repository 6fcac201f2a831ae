"""The command's unit tests' helpers: a stack on moto, images made with Pillow, the command in-process."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

BUCKET = "darknet-bucket"
FUNCTION = "darknet-detector"
LOG_GROUP = "/aws/lambda/darknet-detector-logs"  # the configured group, not Lambda's default


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (seed * 40 % 256, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class CliStack:
    """An outputs file for a stack whose AWS side is moto's; `run` invokes the command with it."""

    outputs_file: Path
    outputs: dict

    def write(self, **changes) -> None:
        self.outputs.update(changes)
        self.outputs_file.write_text(json.dumps(self.outputs))

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        from darknet_lambda.cli import cli

        return CliRunner().invoke(
            cli, ["--outputs", str(self.outputs_file), *args], env=env, catch_exceptions=False
        )


def outputs(api_url: str = "http://127.0.0.1:9/v1/detect", **extra) -> dict:
    base = api_url.rsplit("/", 1)[0]
    return {
        "bucketName": BUCKET,
        "inputUri": f"s3://{BUCKET}/input/",
        "outputUri": f"s3://{BUCKET}/output/",
        "inputPrefix": "input/",
        "outputPrefix": "output/",
        "apiUrl": api_url,
        "uploadsUrl": f"{base}/uploads",
        "resultsUrl": f"{base}/results/",
        "apiAuthorization": "none",
        "functionName": FUNCTION,
        "logGroupName": LOG_GROUP,
        **extra,
    }
