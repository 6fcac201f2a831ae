"""DarknetApi: a REST API with POST /detect proxied to the function, the upload and result routes and
the viewer page (GET /) proxied to the uploads function, and API Gateway's own answers (CORS preflight,
unknown routes and methods, refusals) in the function's JSON error shape.

Wrong paths, wrong methods and CORS preflights are answered by MOCK integrations: API Gateway answers
them itself, with no Lambda invocation and without authorization (browsers send no credentials on a
preflight, and a caller who got the path wrong needs the list of routes, not a demand for a key). By
default API Gateway answers all three with 403 "Missing Authentication Token", which sends users
chasing credentials."""

import json
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import (
    AUTHORIZATIONS,
    BINARY_MEDIA_TYPES,
    CORS_ALLOW_HEADERS,
    CORS_MAX_AGE_SECONDS,
    DEFAULT_LOG_RETENTION_DAYS,
    DETECT_ROUTE,
    RESULT_ROUTE,
    SYNC_BODY_LIMIT_BYTES,
    UPLOADS_ROUTE,
    VIEWER_ROUTE,
    error_document,
    result_route,
    routes_text,
)

from .checks import (
    LOG_RETENTION_DAYS,
    InvalidArgument,
    args_from,
    check_choice,
    check_cors_origins,
    check_range,
)
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
    return json.dumps(error_document(code, message, "$context.requestId"))


def size_gateway_responses(input_uri: str) -> dict[str, tuple]:
    """API Gateway's answers when a body or an answer does not fit Lambda's payloads, with advice that
    fits each cause. input_uri names where large images go (the stack's bucket and input prefix).

    A body over Lambda's 6 MB request payload never reaches the function: REQUEST_TOO_LARGE on AWS
    above API Gateway's 10 MB, INTEGRATION_FAILURE between the two (the invocation is refused). An
    answer over Lambda's 6 MB response limit fails the invocation (Function.ResponseSizeTooLarge):
    INTEGRATION_FAILURE too."""
    larger = (
        f"for larger images POST /uploads for an upload form (the image goes straight to S3), or upload "
        f"to {input_uri}"
    )
    return {
        "REQUEST_TOO_LARGE": (
            "413",
            gateway_error(
                "too_large",
                f"the body is over what Lambda's 6 MB request payload carries: POST /detect takes up to "
                f"{SYNC_BODY_LIMIT_BYTES} bytes; {larger}",
            ),
        ),
        "INTEGRATION_FAILURE": (
            "502",
            gateway_error(
                "integration_failure",
                "the function could not be invoked or its answer not delivered; either the request body "
                f"is over Lambda's 6 MB request payload (POST /detect takes up to {SYNC_BODY_LIMIT_BYTES} "
                f"bytes; {larger}), or the answer is over Lambda's 6 MB response limit (ask for "
                "Accept: application/json or image/png, which are smaller than the tar.gz, or send "
                "X-Amz-Invocation-Type: Event to have the results written to S3)",
            ),
        ),
    }


QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")


def auth_gateway_responses(
    authorization: str, quota_limit: int, quota_period: str, routes: str
) -> dict[str, tuple]:
    """API Gateway's own refusals under an authorization mode, saying what the client must send.

    AWS answers them 403 {"message": "Forbidden"} (or "Missing Authentication Token") by default, which
    leaves the client guessing. A missing or unknown x-api-key is INVALID_API_KEY; an unsigned request to
    an AWS_IAM method is MISSING_AUTHENTICATION_TOKEN, which is also the answer for a path outside the
    API's methods (a wrong stage: the catch-all methods answer wrong paths inside the stage)."""
    no_such_route = f"no such route: the API serves {routes} under its stage (the URL's first segment)"
    if authorization != "iam":
        missing = {"MISSING_AUTHENTICATION_TOKEN": ("404", gateway_error("not_found", no_such_route))}
    if authorization == "api_key":
        return {
            **missing,
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
                    "missing_authentication", f"the request is not signed: {sign}; or {no_such_route}"
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
                    "access_denied", "the signing principal is not allowed execute-api:Invoke on this route"
                ),
            ),
        }
    return missing


# Every other refusal of API Gateway's (throttling, a body no template takes, ...), in the same shape;
# $context.error.messageString is API Gateway's message, already a quoted JSON string.
DEFAULT_RESPONSES = {
    response_type: (
        None,
        gateway_error("gateway_error", "$context.error.messageString").replace(
            '"$context.error.messageString"', "$context.error.messageString"
        ),
    )
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX")
}


def cors_headers(origins: list[str]) -> dict[str, str]:
    """The CORS headers of API Gateway's own answers, as response parameter values: a quoted static
    value or a request header. "*" answers `*`; one origin is answered as itself. Several origins cannot
    be one static value: the preflight and the catch-alls echo a listed origin through their mapping
    template (cors_override), and API Gateway's refusals echo the caller's Origin, whatever it is:
    they carry nothing but the refusal's own message, and the function's answers, which carry data,
    check the list themselves."""
    if not origins:
        return {}
    if origins == ["*"]:
        return {"Access-Control-Allow-Origin": "'*'"}
    if len(origins) == 1:
        return {"Access-Control-Allow-Origin": f"'{origins[0]}'", "Vary": "'Origin'"}
    return {"Access-Control-Allow-Origin": "method.request.header.Origin", "Vary": "'Origin'"}


def cors_override(origins: list[str]) -> str:
    """VTL that sets Access-Control-Allow-Origin to the request's Origin when it is one of several
    listed origins (a MOCK integration's answer), for the cases a static value cannot express. A loop
    over the list, not `.contains()` on a list literal, which LocalStack's template engine cannot call."""
    if len(origins) < 2:
        return ""
    listed = ", ".join(json.dumps(origin) for origin in origins)
    return (
        '#set($origin = $input.params().header.get("Origin"))'
        '#if("$!origin" == "")#set($origin = $input.params().header.get("origin"))#end'
        f'#foreach($listed in [{listed}])#if("$!origin" == $listed)'
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $listed)#end#end\n"
    )


@dataclass(kw_only=True)
class DarknetApiArgs:
    """REST API (v1: binary media types, and it runs on LocalStack Community).

    Inside DarknetServiceArgs (as `api`) the service hands down the functions and input_uri
    (service.HANDED) and refuses them here."""

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
    cors_allowed_origins: list[str] = field(default_factory=list)
    """Origins whose pages may call the API from a browser (CORS): ["*"] for any, exact origins
    (["https://app.example.com"]), or none (the default): only the viewer page the API serves itself at
    GET /, which is the API's own origin. API Gateway's own answers (preflight, wrong routes, refusals)
    follow it; the functions' answers follow their CORS_ALLOWED_ORIGINS, which DarknetService sets from
    this, as it sets the bucket's CORS rule for the upload form."""
    input_uri: pulumi.Input[str] | None = None
    """Where large images go (s3://BUCKET/INPUT_PREFIX), named by the answers to bodies too large for
    POST /detect (DarknetService sets it; alone, the answers say "the bucket's input prefix")."""
    authorization: str = "none"
    """Who may call the API's routes (GET /, the viewer page, loads without: under api_key the page
    asks for the key): none (anyone with the URL), iam (SigV4-signed requests of principals
    allowed execute-api:Invoke) or api_key (an x-api-key header; a usage plan bounds each key)."""
    quota_limit: int = 10000
    """With api_key: requests each key may make per quota_period, 1..10000000."""
    quota_period: str = "DAY"
    """With api_key: DAY, WEEK or MONTH."""
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
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
        check_cors_origins("cors_allowed_origins", self.cors_allowed_origins)


class DarknetApi(pulumi.ComponentResource):
    """POST /detect proxied to the function; GET / (the viewer page, unauthorized under every mode: it
    asks for the key itself), POST /uploads and GET /results/{request_id} proxied to the uploads function
    (without it, GET / to the detector). Every route also answers OPTIONS (the CORS preflight) and any
    other method (405), and any other path answers 404, from API Gateway itself (MOCK integrations).
    `rest_api` and `stage` are the API Gateway resources, `gateway_responses` API Gateway's own answers
    in the function's JSON error shape, `routes_text` the routes as the answers name them.

    Used alone, set the functions' CORS_ALLOWED_ORIGINS as cors_allowed_origins (DarknetService does)."""

    url: pulumi.Output[str]
    """The full invoke URL of POST /detect."""
    viewer_url: pulumi.Output[str]
    """The stage's root, GET /: the viewer page."""
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
    authorization: str
    """How clients call the API: none, api_key (the x-api-key header) or iam (SigV4, execute-api)."""
    api_key_id: pulumi.Output[str]
    """With authorization api_key: the key's id (its value: `aws apigateway get-api-key --api-key ID
    --include-value`); empty otherwise."""
    rest_api: aws.apigateway.RestApi
    """The REST API."""
    stage: aws.apigateway.Stage
    """The deployed stage."""
    api_key: aws.apigateway.ApiKey | None
    """With authorization api_key: the API key."""

    def __init__(self, name: str, args: DarknetApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("darknet:index:DarknetApi", name, None, opts)
        args = args_from(DarknetApiArgs, args)
        for required in ("function_name", "function_invoke_arn"):
            if getattr(args, required) is None:
                raise InvalidArgument(required, "is required")
        if (args.uploads_function_name is None) != (args.uploads_function_invoke_arn is None):
            raise InvalidArgument("uploads_function_invoke_arn", "goes with uploads_function_name")
        uploads_on = args.uploads_function_name is not None

        self.rest_api = aws.apigateway.RestApi(
            name,
            description="Darknet/YOLO object detection",
            binary_media_types=list(args.binary_media_types),
            endpoint_configuration={"types": "REGIONAL"},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        routes, no_route_paths, api_resources = self._routes(name, args)
        self.routes_text = routes_text([(route.http_method, route.path) for route in routes])
        for route in routes:
            api_resources += self._proxy(name, args, route)
        api_resources += self._preflights_and_wrong_routes(name, args, routes, no_route_paths)
        answers, answer_headers = self._gateway_responses(name, args)
        # A new deployment whenever a route, its integration, a gateway response or a setting of the
        # API's answers changes.
        changes = [
            [api_resource.urn for api_resource in api_resources],
            *[route.invoke_arn for route in routes],
            list(args.binary_media_types),
            answers,
            answer_headers,
            args.authorization,
        ]
        self.stage = stage = self._stage(name, args, changes, [*api_resources, *self.gateway_responses])
        self.api_key = self._api_key(name, args, stage) if args.authorization == "api_key" else None
        self._permissions(name, routes)

        self.url = stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}{DETECT_ROUTE}")
        self.viewer_url = stage.invoke_url.apply(lambda url: f"{url.rstrip('/')}{VIEWER_ROUTE}")
        self.uploads_url = stage.invoke_url.apply(
            lambda url: f"{url.rstrip('/')}{UPLOADS_ROUTE}" if uploads_on else ""
        )
        self.results_url = stage.invoke_url.apply(
            lambda url: f"{url.rstrip('/')}{result_route('')}" if uploads_on else ""
        )
        self.rest_api_id = self.rest_api.id
        self.authorization = args.authorization
        self.execution_arn = self.rest_api.execution_arn
        self.stage_name = stage.stage_name
        self.api_key_id = self.api_key.id if self.api_key else pulumi.Output.from_input("")
        self.register_outputs(
            {
                "url": self.url,
                "viewer_url": self.viewer_url,
                "rest_api_id": self.rest_api_id,
                "execution_arn": self.execution_arn,
                "stage_name": self.stage_name,
                "api_key_id": self.api_key_id,
                "uploads_url": self.uploads_url,
                "results_url": self.results_url,
                "rest_api": self.rest_api,
                "stage": self.stage,
                "api_key": self.api_key,
            }
        )

    def _routes(
        self, name: str, args: DarknetApiArgs
    ) -> tuple[list["Route"], list[tuple[str, pulumi.Output[str]]], list[pulumi.Resource]]:
        """The routes and their API Gateway resources (paths), and the paths that serve no route
        (`results` above `results/{request_id}`, and the catch-all `{proxy+}`), by key. GET / (the viewer
        page) is never authorized: the page must load to ask for the key or credentials it then sends
        with each request. Without the uploads function, GET / goes to the detector."""
        rest_api = self.rest_api

        def resource(key: str, parent: pulumi.Input[str], path_part: str) -> aws.apigateway.Resource:
            return aws.apigateway.Resource(
                f"{name}-{key}",
                rest_api=rest_api.id,
                parent_id=parent,
                path_part=path_part,
                opts=pulumi.ResourceOptions(parent=self),
            )

        detector = (args.function_name, args.function_invoke_arn)
        uploads_function = (args.uploads_function_name, args.uploads_function_invoke_arn)
        uploads_on = args.uploads_function_name is not None
        detect = resource("detect", rest_api.root_resource_id, "detect")
        root_function = uploads_function if uploads_on else detector
        routes = [
            Route("root-get", rest_api.root_resource_id, VIEWER_ROUTE, "GET", *root_function, None, False),
            Route("detect-post", detect.id, DETECT_ROUTE, "POST", *detector, None, True),
        ]
        no_route_paths: list[tuple[str, pulumi.Output[str]]] = []
        api_resources: list[pulumi.Resource] = [detect]
        if uploads_on:
            uploads = resource("uploads", rest_api.root_resource_id, "uploads")
            results = resource("results", rest_api.root_resource_id, "results")
            result = resource("result", results.id, "{request_id}")
            request_id = {"method.request.path.request_id": True}
            routes += [
                Route("uploads-post", uploads.id, UPLOADS_ROUTE, "POST", *uploads_function, None, True),
                Route("result-get", result.id, RESULT_ROUTE, "GET", *uploads_function, request_id, True),
            ]
            no_route_paths.append(("results", results.id))
            api_resources += [uploads, results, result]
        proxy = resource("proxy", rest_api.root_resource_id, "{proxy+}")
        no_route_paths.append(("proxy", proxy.id))
        api_resources.append(proxy)
        return routes, no_route_paths, api_resources

    def _preflights_and_wrong_routes(
        self,
        name: str,
        args: DarknetApiArgs,
        routes: list["Route"],
        no_route_paths: list[tuple[str, pulumi.Output[str]]],
    ) -> list[pulumi.CustomResource]:
        """What API Gateway answers itself on the routes' paths: each path answers a preflight (OPTIONS)
        and any other method (ANY: API Gateway prefers the method defined for the request's own verb)
        with a 405 naming its methods; any other path, and a path above a route (/results), answers 404
        naming the routes."""
        origins, served = list(args.cors_allowed_origins), self.routes_text
        answers: list[pulumi.CustomResource] = []
        for route in routes:
            allowed, path_key = f"{route.http_method}, OPTIONS", route.key.rsplit("-", 1)[0]
            answers += self._mock(
                f"{name}-{path_key}-options", route.resource_id, "OPTIONS", "204", origins, "",
                {
                    **cors_headers(origins),
                    "Allow": f"'{allowed}'",
                    "Access-Control-Allow-Methods": f"'{allowed}'",
                    "Access-Control-Allow-Headers": f"'{','.join(CORS_ALLOW_HEADERS)}'",
                    "Access-Control-Max-Age": f"'{CORS_MAX_AGE_SECONDS}'",
                },
            )  # fmt: skip
            answers += self._mock(
                f"{name}-{path_key}-any", route.resource_id, "ANY", "405", origins,
                gateway_error(
                    "method_not_allowed",
                    f"{route.path} takes {route.http_method} (and OPTIONS, a CORS preflight), not "
                    f"$context.httpMethod; the API serves {served}",
                ),
                {**cors_headers(origins), "Allow": f"'{allowed}'"},
            )  # fmt: skip
        for key, resource_id in no_route_paths:
            answers += self._mock(
                f"{name}-{key}-any", resource_id, "ANY", "404", origins,
                gateway_error("not_found", f"no such route; the API serves {served}"),
                cors_headers(origins),
            )  # fmt: skip
        return answers

    def _gateway_responses(
        self, name: str, args: DarknetApiArgs
    ) -> tuple[pulumi.Output[dict[str, tuple]], dict[str, str]]:
        """API Gateway's own answers (refusals, bodies too large, integration failures) in the function's
        JSON error shape, named by where large images go once the bucket is known; sets
        `gateway_responses` and returns the answers and their CORS headers, which the deployment
        follows."""

        def own_answers(input_uri: str) -> dict[str, tuple]:
            return {
                **size_gateway_responses(input_uri),
                **auth_gateway_responses(
                    args.authorization, args.quota_limit, args.quota_period, self.routes_text
                ),
                **DEFAULT_RESPONSES,
            }

        input_uri = args.input_uri if args.input_uri is not None else "the bucket's input prefix"
        answers = pulumi.Output.from_input(input_uri).apply(own_answers)
        headers = {
            f"gatewayresponse.header.{header}": value
            for header, value in cors_headers(list(args.cors_allowed_origins)).items()
        }
        self.gateway_responses = [
            aws.apigateway.Response(
                f"{name}-{response_type.lower().replace('_', '-')}",
                rest_api_id=self.rest_api.id,
                response_type=response_type,
                status_code=own_answers("")[response_type][0],
                response_templates=answers.apply(partial(_template, response_type)),
                response_parameters=headers or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for response_type in own_answers("")
        ]
        return answers, headers

    def _stage(
        self, name: str, args: DarknetApiArgs, changes: list, parts: list[pulumi.Resource]
    ) -> aws.apigateway.Stage:
        """The deployment of the API's `parts`, redeployed when anything in `changes` changes, and the
        stage serving it, with its access logs and its throttle."""
        child = pulumi.ResourceOptions(parent=self)
        deployment = aws.apigateway.Deployment(
            name,
            rest_api=self.rest_api.id,
            triggers={"route": pulumi.Output.json_dumps(changes)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=parts),
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access",
            name_prefix=f"/aws/apigateway/{name}-",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        stage_dependencies = [self._account_logs_role(name, args)] if args.manage_account_logs_role else []
        stage = aws.apigateway.Stage(
            name,
            rest_api=self.rest_api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=stage_dependencies),
        )
        aws.apigateway.MethodSettings(
            name,
            rest_api=self.rest_api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "metrics_enabled": True,
            },
            opts=child,
        )
        return stage

    def _permissions(self, name: str, routes: list["Route"]) -> None:
        """Each route's function may be invoked by API Gateway on that route's ARN only: a function
        answers nothing else of this API."""
        for route in routes:
            aws.lambda_.Permission(
                name if route.key == "detect-post" else f"{name}-{route.key}",
                action="lambda:InvokeFunction",
                function=route.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    self.rest_api.execution_arn,
                    f"/*/{route.http_method}{route.path.replace('{request_id}', '*')}",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _proxy(self, name: str, args: DarknetApiArgs, route: "Route") -> list[pulumi.CustomResource]:
        """One route: its method, authorized as every route of the API (unless the route is not
        `authorized`), proxied to its function."""
        child = pulumi.ResourceOptions(parent=self)
        key = f"{name}-{route.key}"
        method = aws.apigateway.Method(
            key,
            rest_api=self.rest_api.id,
            resource_id=route.resource_id,
            http_method=route.http_method,
            request_parameters=route.parameters,
            **(_authorization(args) if route.authorized else UNAUTHORIZED),
            opts=child,
        )
        integration = aws.apigateway.Integration(
            key,
            rest_api=self.rest_api.id,
            resource_id=route.resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=route.invoke_arn,
            opts=child,
        )
        return [method, integration]

    def _mock(
        self,
        route: str,
        resource_id: pulumi.Input[str],
        http_method: str,
        status: str,
        origins: list[str],
        body: str,
        headers: dict[str, str],
    ) -> list[pulumi.CustomResource]:
        """A method API Gateway answers itself (a MOCK integration): never authorized, no Lambda
        invocation; `status` with `body` (JSON, may use $context) and `headers` (response parameter
        values) on every request, whatever its Content-Type (the default integration response)."""
        child = pulumi.ResourceOptions(parent=self)
        method = aws.apigateway.Method(
            route,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=http_method,
            **UNAUTHORIZED,
            opts=child,
        )
        method_response = aws.apigateway.MethodResponse(
            route,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            status_code=status,
            response_parameters={f"method.response.header.{header}": False for header in headers},
            opts=child,
        )
        integration = aws.apigateway.Integration(
            route,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="MOCK",
            request_templates={"application/json": json.dumps({"statusCode": int(status)})},
            opts=child,
        )
        integration_response = aws.apigateway.IntegrationResponse(
            route,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            status_code=method_response.status_code,
            response_parameters={
                f"method.response.header.{header}": value for header, value in headers.items()
            },
            response_templates={"application/json": cors_override(origins) + body},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
        )
        return [method, method_response, integration, integration_response]

    def _api_key(self, name: str, args: DarknetApiArgs, stage: aws.apigateway.Stage) -> aws.apigateway.ApiKey:
        """One key in a usage plan that bounds it: steady rate, burst and a quota per period."""
        child = pulumi.ResourceOptions(parent=self)
        key = aws.apigateway.ApiKey(name, description="Calls POST /detect", tags=args.tags, opts=child)
        plan = aws.apigateway.UsagePlan(
            name,
            description="Bounds each key's calls of POST /detect",
            api_stages=[{"api_id": self.rest_api.id, "stage": stage.stage_name}],
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
        """The account-wide role API Gateway writes access logs with (manage_account_logs_role)."""
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


class Route(NamedTuple):
    """A route the API serves, proxied to a function."""

    key: str
    """Names its method, integration and permission (`root-get`); its path's key is the part before the
    last dash (`root`)."""
    resource_id: pulumi.Input[str]
    """The API Gateway resource of its path."""
    path: str
    """The path as the answers name it (`/results/{request_id}`)."""
    http_method: str
    function_name: pulumi.Input[str] | None
    invoke_arn: pulumi.Input[str] | None
    parameters: dict[str, bool] | None
    """The method's request parameters (a path parameter's name)."""
    authorized: bool
    """Whether callers authorize as the API's authorization says (False: anyone may call it)."""


def _template(response_type: str, answers: dict[str, tuple]) -> dict[str, str]:
    return {"application/json": answers[response_type][1]}


UNAUTHORIZED: dict = {"authorization": "NONE", "api_key_required": False}
"""A method anyone may call: the viewer page, preflights and the gateway's own 404 and 405 answers."""


def _authorization(args: DarknetApiArgs) -> dict:
    """A method's authorization: every route of the API is called the same way."""
    return {
        "authorization": "AWS_IAM" if args.authorization == "iam" else "NONE",
        "api_key_required": args.authorization == "api_key",
    }
