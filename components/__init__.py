"""Pulumi components for Darknet/YOLO object detection on AWS Lambda.

Installed as `darknet_lambda`: `from darknet_lambda import DarknetService, DarknetServiceArgs`.

The components are imported on first use (PEP 562), so that the `darknet-lambda` command and the
backfill, which live in this package but need no Pulumi, start without importing Pulumi's SDKs.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from darknet_detector.contract import VERSION

if TYPE_CHECKING:
    from .api import DarknetApi, DarknetApiArgs
    from .bucket import DarknetBucket, DarknetBucketArgs
    from .checks import InvalidArgument
    from .events import DarknetEvents, DarknetEventsArgs
    from .function import DarknetFunction, DarknetFunctionArgs
    from .image import DEFAULT_BUILD_CONTEXT, DarknetImage, DarknetImageArgs
    from .monitoring import DarknetMonitoring, DarknetMonitoringArgs
    from .queue import DarknetQueue, DarknetQueueArgs
    from .s3_trigger import DarknetS3Trigger, DarknetS3TriggerArgs
    from .service import DarknetService, DarknetServiceArgs
    from .stack_config import StackConfigError, service_args_from_config
    from .uploads import DarknetUploads, DarknetUploadsArgs

    COMPONENTS: list[type]

__version__ = VERSION

_MODULES = {
    "api": ("DarknetApi", "DarknetApiArgs"),
    "bucket": ("DarknetBucket", "DarknetBucketArgs"),
    "checks": ("InvalidArgument",),
    "events": ("DarknetEvents", "DarknetEventsArgs"),
    "function": ("DarknetFunction", "DarknetFunctionArgs"),
    "image": ("DEFAULT_BUILD_CONTEXT", "DarknetImage", "DarknetImageArgs"),
    "monitoring": ("DarknetMonitoring", "DarknetMonitoringArgs"),
    "queue": ("DarknetQueue", "DarknetQueueArgs"),
    "s3_trigger": ("DarknetS3Trigger", "DarknetS3TriggerArgs"),
    "service": ("DarknetService", "DarknetServiceArgs"),
    "stack_config": ("StackConfigError", "service_args_from_config"),
    "uploads": ("DarknetUploads", "DarknetUploadsArgs"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}
_COMPONENT_NAMES = (
    "DarknetService",
    "DarknetImage",
    "DarknetBucket",
    "DarknetFunction",
    "DarknetS3Trigger",
    "DarknetApi",
    "DarknetQueue",
    "DarknetMonitoring",
    "DarknetUploads",
    "DarknetEvents",
)


def __getattr__(name: str) -> object:
    if name == "COMPONENTS":
        # The components Pulumi's provider host serves to other languages.
        return [__getattr__(component) for component in _COMPONENT_NAMES]
    if name in _HOME:
        value = getattr(import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPONENTS",
    "DEFAULT_BUILD_CONTEXT",
    "DarknetApi",
    "DarknetApiArgs",
    "DarknetBucket",
    "DarknetBucketArgs",
    "DarknetEvents",
    "DarknetEventsArgs",
    "DarknetFunction",
    "DarknetFunctionArgs",
    "DarknetImage",
    "DarknetImageArgs",
    "DarknetMonitoring",
    "DarknetMonitoringArgs",
    "DarknetQueue",
    "DarknetQueueArgs",
    "DarknetS3Trigger",
    "DarknetS3TriggerArgs",
    "DarknetService",
    "DarknetServiceArgs",
    "DarknetUploads",
    "DarknetUploadsArgs",
    "InvalidArgument",
    "StackConfigError",
    "__version__",
    "service_args_from_config",
]
