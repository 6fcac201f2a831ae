"""The darknet-lambda stack: the stack's configuration wired into one DarknetService."""

import pulumi

from darknet_lambda import DarknetService, service_args_from_config

service = DarknetService("darknet", service_args_from_config(pulumi.Config()))

pulumi.export("bucketName", service.bucket_name)
pulumi.export("inputUri", service.input_uri)
pulumi.export("outputUri", service.output_uri)
pulumi.export("inputPrefix", service.input_prefix)
pulumi.export("outputPrefix", service.output_prefix)
pulumi.export("apiUrl", service.api_url)
pulumi.export("uploadsUrl", service.uploads_url)
pulumi.export("resultsUrl", service.results_url)
pulumi.export("viewerUrl", service.viewer_url)
if service.api_authorization:
    pulumi.export("apiAuthorization", service.api_authorization)  # how darknet-lambda calls the API
if service.api and service.api.api_key:
    pulumi.export("apiKeyId", service.api.api_key.id)  # the value: aws apigateway get-api-key --include-value
pulumi.export("functionName", service.function_name)
pulumi.export("logGroupName", service.log_group_name)
pulumi.export("imageUri", service.image_uri)
pulumi.export("queueUrl", service.queue_url)
pulumi.export("deadLetterQueueUrl", service.dead_letter_queue_url)
pulumi.export("dashboardName", service.dashboard_name)
pulumi.export("eventBusName", service.event_bus_name)
