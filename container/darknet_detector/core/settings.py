"""Settings from the function's environment, read once per container.

The variables the deployment sets are read and checked by the shared contract (`contract.py`); the
ones below it are the image's own (paths, size limits) and keep their defaults unless overridden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from darknet_detector.contract import (
    ASYNC_IMAGE_LIMIT_BYTES,
    DEFAULT_EVENT_SOURCE,
    EVENT_BUS_ENV,
    EVENT_SOURCE_ENV,
    MAX_IMAGE_PIXELS,
    S3_IMAGE_LIMIT_BYTES,
    SYNC_BODY_LIMIT_BYTES,
    ContractError,
    DetectorConfig,
    event_source_problem,
)


class SettingsError(ValueError):
    """An environment variable has a value the function cannot work with."""


@dataclass(frozen=True)
class Settings:
    engine: str = DetectorConfig.engine
    model: str = DetectorConfig.model
    threshold: float = DetectorConfig.threshold
    tiles: str = DetectorConfig.tiles
    max_tiles: int = DetectorConfig.max_tiles
    input_prefix: str = DetectorConfig.input_prefix
    output_prefix: str = DetectorConfig.output_prefix
    output_bucket: str | None = None
    model_dir: Path = Path("/opt/model")
    darknet_bin: Path = Path("/opt/darknet/bin/darknet")
    # The HTTP path carries the image base64-encoded inside Lambda's 6 MB synchronous payload.
    max_http_image_bytes: int = SYNC_BODY_LIMIT_BYTES
    # The asynchronous HTTP path re-invokes the function with the image in an Event payload.
    max_async_image_bytes: int = ASYNC_IMAGE_LIMIT_BYTES
    # An S3 object is read into memory whole.
    max_s3_image_bytes: int = S3_IMAGE_LIMIT_BYTES
    # The largest photo taken; the contract's maximum, which the deployment sizes memory for, caps it.
    max_pixels: int = MAX_IMAGE_PIXELS
    work_root: Path = Path("/tmp")
    # The bus completion events go to (its ARN; None: none are published) and their source.
    event_bus: str | None = None
    event_source: str = DEFAULT_EVENT_SOURCE

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

        try:
            config = DetectorConfig.from_environment(env)
        except ContractError as error:
            raise SettingsError(f"{error.variable}={env.get(error.variable)!r}: {error.reason}") from None
        event_source = text(EVENT_SOURCE_ENV, defaults.event_source)
        problem = event_source_problem(event_source)
        if problem:
            raise SettingsError(f"{EVENT_SOURCE_ENV}: {problem}")
        return cls(
            engine=config.engine,
            model=config.model,
            threshold=config.threshold,
            tiles=config.tiles,
            max_tiles=config.max_tiles,
            input_prefix=config.input_prefix,
            output_prefix=config.output_prefix,
            output_bucket=config.output_bucket,
            model_dir=Path(text("DETECTOR_MODEL_DIR", str(defaults.model_dir))),
            darknet_bin=Path(text("DARKNET_BIN", str(defaults.darknet_bin))),
            max_http_image_bytes=int(number("MAX_HTTP_IMAGE_BYTES", defaults.max_http_image_bytes, int)),
            max_async_image_bytes=int(number("MAX_ASYNC_IMAGE_BYTES", defaults.max_async_image_bytes, int)),
            max_s3_image_bytes=int(number("MAX_S3_IMAGE_BYTES", defaults.max_s3_image_bytes, int)),
            max_pixels=min(int(number("MAX_PIXELS", defaults.max_pixels, int)), MAX_IMAGE_PIXELS),
            work_root=Path(text("DETECTOR_WORK_ROOT", str(defaults.work_root))),
            event_bus=text(EVENT_BUS_ENV, "") or None,
            event_source=event_source,
        )
