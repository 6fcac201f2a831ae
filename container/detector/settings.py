"""Settings from the function's environment, read once per container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENGINES = ("onnx", "darknet")


class SettingsError(ValueError):
    """An environment variable has a value the function cannot work with."""


@dataclass(frozen=True)
class Settings:
    engine: str = "onnx"
    model: str = "yolov3-tiny"
    threshold: float = 0.5
    input_prefix: str = "input/"
    output_prefix: str = "output/"
    output_bucket: str | None = None
    model_dir: Path = Path("/opt/model")
    darknet_bin: Path = Path("/opt/darknet/bin/darknet")
    # The HTTP path carries the image base64-encoded inside Lambda's 6 MB synchronous payload.
    max_http_image_bytes: int = 4 * 1024 * 1024
    # The asynchronous HTTP path re-invokes the function with the image in a 1 MB Event payload.
    max_async_image_bytes: int = 700 * 1024
    # An S3 object is read into memory whole.
    max_s3_image_bytes: int = 30 * 1024 * 1024
    # 0: as many pixels as the function's memory holds (images.pixel_budget); a positive value caps it.
    max_pixels: int = 0
    work_root: Path = Path("/tmp")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: float, cast=float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return cast(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a number") from None

        engine = text("DETECTOR_ENGINE", defaults.engine).lower()
        if engine not in ENGINES:
            raise SettingsError(f"DETECTOR_ENGINE={engine!r}; expected one of {', '.join(ENGINES)}")
        threshold = number("DETECTOR_THRESHOLD", defaults.threshold)
        if not 0.0 < threshold < 1.0:
            raise SettingsError(f"DETECTOR_THRESHOLD={threshold} must be between 0 and 1")
        input_prefix = text("INPUT_PREFIX", defaults.input_prefix)
        output_prefix = text("OUTPUT_PREFIX", defaults.output_prefix)
        for name, prefix in (("INPUT_PREFIX", input_prefix), ("OUTPUT_PREFIX", output_prefix)):
            if not prefix.endswith("/"):
                raise SettingsError(f"{name}={prefix!r} must end with '/'")
        if input_prefix.startswith(output_prefix) or output_prefix.startswith(input_prefix):
            raise SettingsError(
                "INPUT_PREFIX and OUTPUT_PREFIX must not overlap: outputs would trigger the function"
            )
        return cls(
            engine=engine,
            model=text("DETECTOR_MODEL", defaults.model),
            threshold=threshold,
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            output_bucket=env.get("OUTPUT_BUCKET", "").strip() or None,
            model_dir=Path(text("DETECTOR_MODEL_DIR", str(defaults.model_dir))),
            darknet_bin=Path(text("DARKNET_BIN", str(defaults.darknet_bin))),
            max_http_image_bytes=int(number("MAX_HTTP_IMAGE_BYTES", defaults.max_http_image_bytes, int)),
            max_async_image_bytes=int(number("MAX_ASYNC_IMAGE_BYTES", defaults.max_async_image_bytes, int)),
            max_s3_image_bytes=int(number("MAX_S3_IMAGE_BYTES", defaults.max_s3_image_bytes, int)),
            max_pixels=int(number("MAX_PIXELS", defaults.max_pixels, int)),
            work_root=Path(text("DETECTOR_WORK_ROOT", str(defaults.work_root))),
        )
