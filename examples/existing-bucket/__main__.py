"""Adds detection to a bucket that already exists: S3 path only, an image that is already pushed."""

import pulumi
from darknet_lambda import DarknetService, DarknetServiceArgs

config = pulumi.Config()

detector = DarknetService(
    "detector",
    DarknetServiceArgs(
        bucket_name=config.require("bucketName"),
        image_uri=config.require("imageUri"),
        enable_http_api=False,
        memory_size=3008,
        timeout=120,
        threshold=0.4,
        tags={"project": pulumi.get_project()},
    ),
)

pulumi.export("functionName", detector.function_name)
pulumi.export("inputUri", detector.input_uri)
pulumi.export("outputUri", detector.output_uri)
