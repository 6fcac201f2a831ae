"""Entry point of the uploads function (the detector's image, another command): it signs upload forms
and reads results, and imports nothing of the detector's numerical stack, so it starts in milliseconds."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from darknet_detector.contract import SERVICE_NAME
from darknet_detector.core.presigned import UploadsSettings
from darknet_detector.serving import uploads_api

logger = Logger(service=SERVICE_NAME)


@cache
def settings() -> UploadsSettings:
    return UploadsSettings.from_env()


@cache
def s3_client():
    import boto3
    from botocore.config import Config

    # SigV4: the POST policy S3 checks for KMS-encrypted buckets, and the signature every region takes.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    response = uploads_api.resolve(event, context, uploads_api.Uploads(settings(), s3_client))
    logger.info(
        "http request answered",
        extra={
            "status": response["statusCode"],
            "path": event.get("path"),
            "method": event.get("httpMethod"),
        },
    )
    return response
