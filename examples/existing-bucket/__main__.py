"""Adds detection to a bucket that already exists: S3 path only, an image that is already pushed."""

import pulumi

from darknet_lambda import DarknetFunctionArgs, DarknetImageArgs, DarknetService, DarknetServiceArgs

config = pulumi.Config()

detector = DarknetService(
    "detector",
    DarknetServiceArgs(
        bucket_name=config.require("bucketName"),
        image=DarknetImageArgs(image_uri=config.require("imageUri")),
        function=DarknetFunctionArgs(memory_size=3008, timeout=120, threshold=0.4),
        enable_http_api=False,
        tags={"project": pulumi.get_project()},
    ),
)
# Its parts stay reachable: for example an alarm on detector.function.function, or another policy on
# detector.function.role.

pulumi.export("functionName", detector.function_name)
pulumi.export("inputUri", detector.input_uri)
pulumi.export("outputUri", detector.output_uri)
