"""Pulumi components for Darknet/YOLO object detection on AWS Lambda.

Installed as `darknet_lambda`: `from darknet_lambda import DarknetService, DarknetServiceArgs`.
"""

from .api import DarknetApi, DarknetApiArgs
from .bucket import DarknetBucket, DarknetBucketArgs
from .checks import InvalidArgument
from .contract import VERSION
from .function import DarknetFunction, DarknetFunctionArgs
from .image import DEFAULT_BUILD_CONTEXT, DarknetImage, DarknetImageArgs
from .monitoring import DarknetMonitoring, DarknetMonitoringArgs
from .queue import DarknetQueue, DarknetQueueArgs
from .s3_trigger import DarknetS3Trigger, DarknetS3TriggerArgs
from .service import DarknetService, DarknetServiceArgs
from .stack_config import StackConfigError, service_args_from_config
from .uploads import DarknetUploads, DarknetUploadsArgs

__version__ = VERSION

COMPONENTS = [
    DarknetService,
    DarknetImage,
    DarknetBucket,
    DarknetFunction,
    DarknetS3Trigger,
    DarknetApi,
    DarknetQueue,
    DarknetMonitoring,
    DarknetUploads,
]
"""The components Pulumi's provider host serves to other languages."""

__all__ = [
    "COMPONENTS",
    "DEFAULT_BUILD_CONTEXT",
    "DarknetApi",
    "DarknetApiArgs",
    "DarknetBucket",
    "DarknetBucketArgs",
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
