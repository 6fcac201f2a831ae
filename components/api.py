"""DarknetApi: a REST API with POST /detect proxied to the function, and the upload and result routes
proxied to the uploads function."""

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .checks import LOG_RETENTION_DAYS, InvalidArgument, args_from, check_choice, check_range
from .contract import BINARY_MEDIA_TYPES, SYNC_BODY_LIMIT_BYTES
from .policies import assume_role_policy

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
    }
)


def gateway_error(code: str, message: str) -> str:
    """A mapping template for API Gateway's own answers, in the function's JSON error shape."""
    document = {"error": {"code": code, "message": message}, "request_id": "$context.requestId"}
    return json.dumps(document)


# API Gateway answers these itself, before or instead of the function: with the same JSON error shape
# and a message that says what to do. A body over Lambda's 6 MB request payload never reaches the
# function: API Gateway answers REQUEST_TOO_LARGE (413, "Request Too Long" by default). An answer over
# Lambda's 6 MB response limit fails the invocation (Function.ResponseSizeTooLarge): INTEGRATION_FAILURE.
GATEWAY_RESPONSES = {
    "REQUEST_TOO_LARGE": (
        "413",
        gateway_error(
            "too_large",
            f"the body is over what Lambda's 6 MB request payload carries: POST /detect takes up to "
            f"{SYNC_BODY_LIMIT_BYTES} bytes; for larger images POST /uploads for an upload form, or "
            "upload to the bucket's input/ prefix (the S3 path)",
        ),
    ),
    "INTEGRATION_FAILURE": (
        "502",
        gateway_error(
            "integration_failure",
            "the detector could not answer (its answer may exceed Lambda's 6 MB response limit); "
            "send X-Amz-Invocation-Type: Event to have the results written to S3",
        ),
    ),
}


AUTHORIZATIONS = ("none", "iam", "api_key")
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")


def auth_gateway_responses(authorization: str, quota_limit: int, quota_period: str) -> dict[str, tuple]:
    """API Gateway's own refusals under an authorization mode, saying what the client must send.

    AWS answers them 403 {"message": "Forbidden"} (or "Missing Authentication Token") by default, which
    leaves the client guessing. A missing or unknown x-api-key is INVALID_API_KEY; an unsigned request to
    an AWS_IAM method is MISSING_AUTHENTICATION_TOKEN (also the answer for a route that does not exist)."""
    if authorization == "api_key":
        return {
            "INVALID_API_KEY": (
                "403",
                gateway_error(
                    "invalid_api_key",
                    "this API needs an API key in the x-api-key header (curl -H 'x-api-key: KEY' ...); "
                    "the stack's key: aws apigateway get-api-key --api-key ID --include-value",
                ),
            ),
            "QUOTA_EXCEEDED": (
                "429",
                gateway_error(
                    "quota_exceeded", f"this API key has used its {quota_limit} requests per {quota_period}"
                ),
            ),
        }
    if authorization == "iam":
        sign = (
            "this API takes SigV4-signed requests of principals allowed execute-api:Invoke "
            "(curl --aws-sigv4 'aws:amz:REGION:execute-api' --user ACCESS_KEY:SECRET_KEY ...)"
        )
        return {
            "MISSING_AUTHENTICATION_TOKEN": (
                "403",
                gateway_error(
                    "missing_authentication", f"{sign}; or no such route: the API serves POST /detect"
                ),
            ),
            "INVALID_SIGNATURE": (
                "403",
                gateway_error("invalid_signature", f"the signature does not match: {sign}"),
            ),
            "EXPIRED_TOKEN": ("403", gateway_error("expired_token", f"the credentials have expired: {sign}")),
            "ACCESS_DENIED": (
                "403",
                gateway_error(
                    "access_denied", "the signing principal is not allowed execute-api:Invoke on POST /detect"
                ),
            ),
        }
    return {}


@dataclass(kw_only=True)
class DarknetApiArgs:
    """REST API (v1: binary media types, and it runs on LocalStack Community).

    Inside DarknetServiceArgs (as `api`) leave function_name, function_invoke_arn,
    uploads_function_name and uploads_function_invoke_arn unset."""

    function_name: pulumi.Input[str] | None = None
    """The function behind POST /detect (required when used alone)."""
    function_invoke_arn: pulumi.Input[str] | None = None
    """The function's invoke ARN (required when used alone)."""
    uploads_function_name: pulumi.Input[str] | None = None
    """The function behind POST /uploads and GET /results/{request_id} (DarknetUploads); without it
    the API serves POST /detect alone."""
    uploads_function_invoke_arn: pulumi.Input[str] | None = None
    """The uploads function's invoke ARN (with uploads_function_name)."""
    stage_name: str = "v1"
    """The stage, the first path segment of the URL."""
    throttle_rate_limit: float = 10.0
    """Steady requests per second, 1..10000."""
    throttle_burst_limit: int = 20
    """Burst of requests, 1..5000."""
    binary_media_types: list[str] = field(default_factory=lambda: list(BINARY_MEDIA_TYPES))
    """Content types API Gateway passes as binary: image bodies in, the tar.gz out (see the contract's
    BINARY_MEDIA_TYPES for why each one is there; the function expects all of them)."""
    authorization: str = "none"
    """Who may call the API's routes: none (anyone with the URL), iam (SigV4-signed requests of principals
    allowed execute-api:Invoke) or api_key (an x-api-key header; a usage plan bounds each key)."""
    quota_limit: int = 10000
    """With api_key: requests each key may make per quota_period, 1..10000000."""
    quota_period: str = "DAY"
    """With api_key: DAY, WEEK or MONTH."""
    log_retention_days: int = 14
    """Days the access logs are kept (a value CloudWatch Logs accepts)."""
    manage_account_logs_role: bool = False
    """Set the account-wide role API Gateway needs to write access logs. It is one setting per account
    and region: enable it in one stack only, and only if nothing else manages it."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        check_range("throttle_rate_limit", self.throttle_rate_limit, 1, 10000, "requests per second")
        check_range("throttle_burst_limit", self.throttle_burst_limit, 1, 5000, "requests")
        check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        check_choice("authorization", self.authorization, AUTHORIZATIONS)
        check_range("quota_limit", self.quota_limit, 1, 10_000_000, "requests")
        check_choice("quota_period", self.quota_period, QUOTA_PERIODS)


class DarknetApi(pulumi.ComponentResource):
    """POST /detect proxied to the function; `rest_api` and `stage` are the API Gateway resources,
    `gateway_responses` API Gateway's own answers in the function's JSON error shape."""

    url: pulumi.Output[str]
    """The full invoke URL of POST /detect."""
    rest_api_id: pulumi.Output[str]
    """The REST API's id."""
    execution_arn: pulumi.Output[str]
    """The REST API's execution ARN (for further Lambda permissions)."""
    stage_name: pulumi.Output[str]
    """The deployed stage."""
    uploads_url: pulumi.Output[str]
    """The full URL of POST /uploads (empty without the uploads function)."""
    results_url: pulumi.Output[str]
    """The URL GET /results/{request_id} extends with a request id (empty without the uploads function)."""
    api_key_id: pulumi.Output[str]
    """With authorization api_key: the key's id (its value: `aws apigateway get-api-key --api-key ID
    --include-value`); empty otherwise."""

    def __init__(self, name: str, args: DarknetApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("darknet:index:DarknetApi", name, None, opts)
        args = args_from(DarknetApiArgs, args)
        for required in ("function_name", "function_invoke_arn"):
            if getattr(args, required) is None:
                raise InvalidArgument(required, "is required")
        if (args.uploads_function_name is None) != (args.uploads_function_invoke_arn is None):
            raise InvalidArgument("uploads_function_invoke_arn", "goes with uploads_function_name")
        child = pulumi.ResourceOptions(parent=self)

        self.rest_api = rest_api = aws.apigateway.RestApi(
            name,
            description="Darknet/YOLO object detection",
            binary_media_types=list(args.binary_media_types),
            endpoint_configuration={"types": "REGIONAL"},
            tags=args.tags,
            opts=child,
        )
        detect = aws.apigateway.Resource(
            f"{name}-detect",
            rest_api=rest_api.id,
            parent_id=rest_api.root_resource_id,
            path_part="detect",
            opts=child,
        )
        method, integration = self._proxy(
            f"{name}-detect-post", args, rest_api, detect, "POST", args.function_invoke_arn
        )
        gateway_responses = {
            **GATEWAY_RESPONSES,
            **auth_gateway_responses(args.authorization, args.quota_limit, args.quota_period),
        }
        self.gateway_responses = [
            aws.apigateway.Response(
                f"{name}-{response_type.lower().replace('_', '-')}",
                rest_api_id=rest_api.id,
                response_type=response_type,
                status_code=status,
                response_templates={"application/json": template},
                opts=child,
            )
            for response_type, (status, template) in gateway_responses.items()
        ]
        # POST /uploads and GET /results/{request_id}, proxied to the uploads function, authorized alike.
        upload_routes: list[pulumi.CustomResource] = []
        if args.uploads_function_name is not None:
            uploads = aws.apigateway.Resource(
                f"{name}-uploads",
                rest_api=rest_api.id,
                parent_id=rest_api.root_resource_id,
                path_part="uploads",
                opts=child,
            )
            results = aws.apigateway.Resource(
                f"{name}-results",
                rest_api=rest_api.id,
                parent_id=rest_api.root_resource_id,
                path_part="results",
                opts=child,
            )
            result = aws.apigateway.Resource(
                f"{name}-result",
                rest_api=rest_api.id,
                parent_id=results.id,
                path_part="{request_id}",
                opts=child,
            )
            for route, resource, http_method, parameters in (
                ("uploads-post", uploads, "POST", None),
                ("result-get", result, "GET", {"method.request.path.request_id": True}),
            ):
                upload_routes += self._proxy(
                    f"{name}-{route}",
                    args,
                    rest_api,
                    resource,
                    http_method,
                    args.uploads_function_invoke_arn,
                    parameters,
                )
            # GET /: the viewer page. Open under every authorization mode: the page holds no data, and it
            # must load to ask for the API key or to show what a signed request would need.
            viewer_method = aws.apigateway.Method(
                f"{name}-viewer-get",
                rest_api=rest_api.id,
                resource_id=rest_api.root_resource_id,
                http_method="GET",
                authorization="NONE",
                opts=child,
            )
            upload_routes += [
                viewer_method,
                aws.apigateway.Integration(
                    f"{name}-viewer-get",
                    rest_api=rest_api.id,
                    resource_id=rest_api.root_resource_id,
                    http_method=viewer_method.http_method,
                    type="AWS_PROXY",
                    integration_http_method="POST",
                    uri=args.uploads_function_invoke_arn,
                    opts=child,
                ),
            ]
        deployment = aws.apigateway.Deployment(
            name,
            rest_api=rest_api.id,
            # A new deployment whenever the route, its integration or a gateway response changes.
            triggers={
                "route": pulumi.Output.json_dumps(
                    [
                        detect.id,
                        method.id,
                        integration.id,
                        integration.uri,
                        list(args.binary_media_types),
                        gateway_responses,
                        args.authorization,
                        [route.id for route in upload_routes],
                        args.uploads_function_invoke_arn,
                    ]
                )
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[method, integration, *upload_routes, *self.gateway_responses]
            ),
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access",
            name_prefix=f"/aws/apigateway/{name}-",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        stage_dependencies = [self._account_logs_role(name, args)] if args.manage_account_logs_role else []
        self.stage = stage = aws.apigateway.Stage(
            name,
            rest_api=rest_api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=stage_dependencies),
        )
        aws.apigateway.MethodSettings(
            name,
            rest_api=rest_api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "metrics_enabled": True,
            },
            opts=child,
        )
        self.api_key: aws.apigateway.ApiKey | None = None
        if args.authorization == "api_key":
            self.api_key = self._api_key(name, args, rest_api, stage)
        aws.lambda_.Permission(
            name,
            action="lambda:InvokeFunction",
            function=args.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=rest_api.execution_arn.apply(lambda arn: f"{arn}/*/POST/detect"),
            opts=child,
        )

        if args.uploads_function_name is not None:
            # Each route's own ARN: the uploads function answers nothing else of this API.
            for route, path in (
                ("uploads", "POST/uploads"),
                ("results", "GET/results/*"),
                ("viewer", "GET/"),
            ):
                aws.lambda_.Permission(
                    f"{name}-{route}",
                    action="lambda:InvokeFunction",
                    function=args.uploads_function_name,
                    principal="apigateway.amazonaws.com",
                    source_arn=pulumi.Output.concat(rest_api.execution_arn, f"/*/{path}"),
                    opts=child,
                )

        uploads_on = args.uploads_function_name is not None
        self.url = stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}/detect")
        self.uploads_url = stage.invoke_url.apply(
            lambda url: f"{url.rstrip('/')}/uploads" if uploads_on else ""
        )
        self.results_url = stage.invoke_url.apply(
            lambda url: f"{url.rstrip('/')}/results/" if uploads_on else ""
        )
        self.rest_api_id = rest_api.id
        self.execution_arn = rest_api.execution_arn
        self.stage_name = stage.stage_name
        self.api_key_id = self.api_key.id if self.api_key else pulumi.Output.from_input("")
        self.register_outputs(
            {
                "url": self.url,
                "rest_api_id": self.rest_api_id,
                "execution_arn": self.execution_arn,
                "stage_name": self.stage_name,
                "api_key_id": self.api_key_id,
                "uploads_url": self.uploads_url,
                "results_url": self.results_url,
            }
        )

    def _proxy(
        self,
        route: str,
        args: DarknetApiArgs,
        rest_api: aws.apigateway.RestApi,
        resource: aws.apigateway.Resource,
        http_method: str,
        invoke_arn: pulumi.Input[str] | None,
        request_parameters: dict[str, bool] | None = None,
    ) -> tuple[aws.apigateway.Method, aws.apigateway.Integration]:
        """One route: its method, authorized as every route of the API, proxied to a function."""
        child = pulumi.ResourceOptions(parent=self)
        method = aws.apigateway.Method(
            route,
            rest_api=rest_api.id,
            resource_id=resource.id,
            http_method=http_method,
            request_parameters=request_parameters,
            **_authorization(args),
            opts=child,
        )
        integration = aws.apigateway.Integration(
            route,
            rest_api=rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=invoke_arn,
            opts=child,
        )
        return method, integration

    def _api_key(
        self, name: str, args: DarknetApiArgs, rest_api: aws.apigateway.RestApi, stage: aws.apigateway.Stage
    ) -> aws.apigateway.ApiKey:
        """One key in a usage plan that bounds it: steady rate, burst and a quota per period."""
        child = pulumi.ResourceOptions(parent=self)
        key = aws.apigateway.ApiKey(name, description="Calls POST /detect", tags=args.tags, opts=child)
        plan = aws.apigateway.UsagePlan(
            name,
            description="Bounds each key's calls of POST /detect",
            api_stages=[{"api_id": rest_api.id, "stage": stage.stage_name}],
            throttle_settings={
                "rate_limit": args.throttle_rate_limit,
                "burst_limit": args.throttle_burst_limit,
            },
            quota_settings={"limit": args.quota_limit, "period": args.quota_period},
            tags=args.tags,
            opts=child,
        )
        aws.apigateway.UsagePlanKey(
            name, key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child
        )
        return key

    def _account_logs_role(self, name: str, args: DarknetApiArgs) -> aws.apigateway.Account:
        role = aws.iam.Role(
            f"{name}-account-logs",
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-account-logs",
            role=role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_API_GATEWAY_PUSH_TO_CLOUD_WATCH_LOGS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.apigateway.Account(
            name,
            cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )


def _authorization(args: DarknetApiArgs) -> dict:
    """A method's authorization: every route of the API is called the same way."""
    return {
        "authorization": "AWS_IAM" if args.authorization == "iam" else "NONE",
        "api_key_required": args.authorization == "api_key",
    }
