"""Pulumi components for Darknet/YOLO object detection on AWS Lambda.

Installed as `darknet_lambda`: `from darknet_lambda import DarknetService, DarknetServiceArgs`.
"""

from .api import DarknetApi, DarknetApiArgs
from .bucket import DarknetBucket, DarknetBucketArgs
from .checks import InvalidArgument
from .function import DarknetFunction, DarknetFunctionArgs, FunctionSettings
from .image import DarknetImage, DarknetImageArgs
from .s3_trigger import DarknetS3Trigger, DarknetS3TriggerArgs
from .service import DarknetService, DarknetServiceArgs
from .stack_config import StackConfigError, service_args_from_config

__all__ = [
    "DarknetApi",
    "DarknetApiArgs",
    "DarknetBucket",
    "DarknetBucketArgs",
    "DarknetFunction",
    "DarknetFunctionArgs",
    "DarknetImage",
    "DarknetImageArgs",
    "DarknetS3Trigger",
    "DarknetS3TriggerArgs",
    "DarknetService",
    "DarknetServiceArgs",
    "FunctionSettings",
    "InvalidArgument",
    "StackConfigError",
    "service_args_from_config",
]
