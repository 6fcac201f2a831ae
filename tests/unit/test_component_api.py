"""DarknetApi: REST API with POST /detect as a Lambda proxy, binary media, throttling and access logs."""

import json

import pytest
import yaml
from support import ROOT

from darknet_detector.contract import BINARY_MEDIA_TYPES, SYNC_BODY_LIMIT_BYTES
from darknet_lambda import DarknetApi, DarknetApiArgs, DarknetService, DarknetServiceArgs
from darknet_lambda.checks import InvalidArgument

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:detector"
INVOKE_ARN = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def deploy(mocked, **overrides):
    args = DarknetApiArgs(function_name="detector", function_invoke_arn=INVOKE_ARN, **overrides)
    outputs = {}

    def program():
        api = DarknetApi("http", args)
        api.url.apply(lambda url: outputs.update(url=url))
        api.viewer_url.apply(lambda url: outputs.update(viewer_url=url))

    deployment = mocked.run(program)
    deployment.exports.update(outputs)
    return deployment


def test_binary_media_types_are_the_ones_the_function_reads_and_answers(mocked):
    rest_api = deploy(mocked).one("aws:apigateway/restApi:RestApi").inputs
    assert rest_api["binaryMediaTypes"] == list(BINARY_MEDIA_TYPES)
    assert {"image/*", "application/gzip", "application/x-gzip", "multipart/form-data"} <= set(
        rest_api["binaryMediaTypes"]
    )


def test_gateway_answers_for_size_are_json_naming_each_cause_and_redeploy_the_api(mocked):
    deployment = deploy(mocked, input_uri="s3://images/incoming/")
    responses = {r.inputs["responseType"]: r for r in deployment.of_type("aws:apigateway/response:Response")}
    too_large = responses["REQUEST_TOO_LARGE"].inputs
    assert too_large["statusCode"] == "413"
    template = too_large["responseTemplates"]["application/json"]
    assert json.loads(template)["error"]["code"] == "too_large"
    assert str(SYNC_BODY_LIMIT_BYTES) in template and "POST /uploads" in template
    assert "s3://images/incoming/" in template, "the stack's own input prefix, not a hard-coded input/"
    failure = responses["INTEGRATION_FAILURE"].inputs
    assert failure["statusCode"] == "502"
    message = json.loads(failure["responseTemplates"]["application/json"])["error"]["message"]
    # Both causes, each with the advice that fits it.
    assert "request body" in message and "POST /uploads" in message and "s3://images/incoming/" in message
    assert "answer is over" in message and "application/json" in message and "image/png" in message
    api_deployment = deployment.one("aws:apigateway/deployment:Deployment")
    assert {r.urn for r in responses.values()} <= set(api_deployment.dependencies)


def gateway_answers(deployment) -> dict[str, dict]:
    """Each gateway response's status and error; API Gateway's own message (a quoted JSON string
    in DEFAULT_4XX/5XX's template) stands in as "message"."""
    answers = {}
    for response in deployment.of_type("aws:apigateway/response:Response"):
        template = response.inputs["responseTemplates"]["application/json"]
        document = json.loads(template.replace("$context.error.messageString", '"message"'))
        assert document["request_id"] == "$context.requestId"
        answers[response.inputs["responseType"]] = {
            "status": response.inputs.get("statusCode"),
            "error": document["error"],
            "parameters": response.inputs.get("responseParameters", {}),
        }
    return answers


def test_with_an_api_key_the_gateway_s_refusals_say_to_send_x_api_key(mocked):
    answers = gateway_answers(deploy(mocked, authorization="api_key", quota_limit=500, quota_period="WEEK"))
    assert answers["INVALID_API_KEY"]["status"] == "403"
    assert answers["INVALID_API_KEY"]["error"]["code"] == "invalid_api_key"
    assert "x-api-key" in answers["INVALID_API_KEY"]["error"]["message"]
    assert answers["QUOTA_EXCEEDED"]["status"] == "429"
    assert "500 requests per WEEK" in answers["QUOTA_EXCEEDED"]["error"]["message"]
    # Outside the stage (no method at all): a 404 naming the routes, not a demand for a key.
    assert answers["MISSING_AUTHENTICATION_TOKEN"]["status"] == "404"
    assert answers["MISSING_AUTHENTICATION_TOKEN"]["error"]["code"] == "not_found"


def test_with_iam_the_gateway_s_refusals_say_to_sign_with_sigv4(mocked):
    answers = gateway_answers(deploy(mocked, authorization="iam"))
    for response_type in (
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_SIGNATURE",
        "EXPIRED_TOKEN",
        "ACCESS_DENIED",
    ):
        assert answers[response_type]["status"] == "403", response_type
    assert answers["MISSING_AUTHENTICATION_TOKEN"]["error"]["code"] == "missing_authentication"
    # An unsigned request to a route and a path outside the stage get the same answer: it names both.
    missing = answers["MISSING_AUTHENTICATION_TOKEN"]["error"]["message"]
    assert "--aws-sigv4" in missing and "no such route" in missing and "POST /detect" in missing
    assert "execute-api:Invoke" in answers["ACCESS_DENIED"]["error"]["message"]
    assert "INVALID_API_KEY" not in answers


def test_without_authorization_there_are_no_auth_refusals(mocked):
    answers = gateway_answers(deploy(mocked))
    assert set(answers) == {
        "REQUEST_TOO_LARGE",
        "INTEGRATION_FAILURE",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    assert answers["MISSING_AUTHENTICATION_TOKEN"]["status"] == "404"
    assert "GET /, POST /detect" in answers["MISSING_AUTHENTICATION_TOKEN"]["error"]["message"]
    assert answers["DEFAULT_4XX"]["error"] == {"code": "gateway_error", "message": "message"}


def test_post_detect_is_a_lambda_proxy_integration(mocked):
    deployment = deploy(mocked)
    rest_api = deployment.one("aws:apigateway/restApi:RestApi")
    resource = deployment.one("aws:apigateway/resource:Resource", "http-detect")
    assert resource.inputs["pathPart"] == "detect"
    assert resource.inputs["parentId"] == rest_api.state["rootResourceId"]
    method = deployment.one("aws:apigateway/method:Method", "http-detect-post").inputs
    assert (method["httpMethod"], method["resourceId"]) == ("POST", "http-detect-id")
    integration = deployment.one("aws:apigateway/integration:Integration", "http-detect-post").inputs
    assert integration["type"] == "AWS_PROXY"
    assert integration["integrationHttpMethod"] == "POST"
    assert integration["uri"] == INVOKE_ARN
    assert integration["httpMethod"] == "POST"


def test_deployment_follows_the_route_and_stage_has_throttling_and_access_logs(mocked):
    deployment = deploy(mocked, throttle_rate_limit=5, throttle_burst_limit=7, stage_name="prod")
    api_deployment = deployment.one("aws:apigateway/deployment:Deployment")
    for integration in deployment.of_type("aws:apigateway/integration:Integration"):
        assert integration.urn in api_deployment.dependencies
    for response in deployment.of_type("aws:apigateway/integrationResponse:IntegrationResponse"):
        assert response.urn in api_deployment.dependencies
    assert INVOKE_ARN in json.loads(api_deployment.inputs["triggers"]["route"])

    stage = deployment.one("aws:apigateway/stage:Stage").inputs
    access_logs = deployment.one("aws:cloudwatch/logGroup:LogGroup", "http-access")
    assert stage["stageName"] == "prod"
    assert stage["accessLogSettings"]["destinationArn"] == access_logs.state["arn"]
    assert "$context.requestId" in stage["accessLogSettings"]["format"]
    settings = deployment.one("aws:apigateway/methodSettings:MethodSettings").inputs
    assert settings["methodPath"] == "*/*"
    assert settings["stageName"] == "prod"
    assert (settings["settings"]["throttlingRateLimit"], settings["settings"]["throttlingBurstLimit"]) == (
        5,
        7,
    )
    assert deployment.of_type("aws:apigateway/account:Account") == [], "account-wide setting only when asked"


def test_permission_is_scoped_to_this_api_and_route(mocked):
    deployment = deploy(mocked)
    execution_arn = deployment.one("aws:apigateway/restApi:RestApi").state["executionArn"]
    permission = deployment.one("aws:lambda/permission:Permission", "http").inputs
    assert permission == {
        "action": "lambda:InvokeFunction",
        "function": "detector",
        "principal": "apigateway.amazonaws.com",
        "sourceArn": f"{execution_arn}/*/POST/detect",
    }
    # Without an uploads function the detector serves the viewer page too, at the root only.
    root = deployment.one("aws:lambda/permission:Permission", "http-root-get").inputs
    assert (root["function"], root["sourceArn"]) == ("detector", f"{execution_arn}/*/GET/")


def test_url_is_the_detect_route_of_the_stage_and_the_viewer_its_root(mocked):
    exports = deploy(mocked).exports
    assert exports["url"] == "https://api0a1b2c3.execute-api.us-east-1.amazonaws.com/v1/detect"
    assert exports["viewer_url"] == "https://api0a1b2c3.execute-api.us-east-1.amazonaws.com/v1/"


def test_account_logs_role_when_asked(mocked):
    deployment = deploy(mocked, manage_account_logs_role=True)
    account = deployment.one("aws:apigateway/account:Account")
    role = deployment.one("aws:iam/role:Role")
    assert account.inputs["cloudwatchRoleArn"] == role.state["arn"]
    assert account.urn in deployment.one("aws:apigateway/stage:Stage").dependencies


def test_without_authorization_anyone_with_the_url_may_call(mocked):
    deployment = deploy(mocked)
    method = deployment.one("aws:apigateway/method:Method", "http-detect-post").inputs
    assert (method["authorization"], method.get("apiKeyRequired", False)) == ("NONE", False)
    assert not deployment.of_type("aws:apigateway/apiKey:ApiKey")


def test_iam_authorization_asks_for_sigv4(mocked):
    deployment = deploy(mocked, authorization="iam")
    method = deployment.one("aws:apigateway/method:Method", "http-detect-post").inputs
    assert (method["authorization"], method.get("apiKeyRequired", False)) == ("AWS_IAM", False)
    assert not deployment.of_type("aws:apigateway/usagePlan:UsagePlan")


def test_api_key_authorization_bounds_the_key_by_a_usage_plan_on_the_stage(mocked):
    deployment = deploy(
        mocked,
        authorization="api_key",
        throttle_rate_limit=5,
        throttle_burst_limit=7,
        quota_limit=1000,
        quota_period="WEEK",
    )
    method = deployment.one("aws:apigateway/method:Method", "http-detect-post").inputs
    assert (method["authorization"], method["apiKeyRequired"]) == ("NONE", True)
    assert deployment.one("aws:apigateway/apiKey:ApiKey").name == "http"
    plan = deployment.one("aws:apigateway/usagePlan:UsagePlan")
    stage = deployment.one("aws:apigateway/stage:Stage").inputs
    assert plan.inputs["apiStages"] == [{"apiId": "api0a1b2c3", "stage": stage["stageName"]}]
    assert plan.inputs["throttleSettings"] == {"rateLimit": 5, "burstLimit": 7}
    assert plan.inputs["quotaSettings"] == {"limit": 1000, "period": "WEEK"}
    plan_key = deployment.one("aws:apigateway/usagePlanKey:UsagePlanKey").inputs
    assert (plan_key["keyId"], plan_key["usagePlanId"], plan_key["keyType"]) == (
        "http-id",
        "http-id",
        "API_KEY",
    )
    assert deployment.exports.get("url")


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"authorization": "cognito"}, "authorization"),
        ({"quota_period": "YEAR"}, "quota_period"),
        ({"quota_limit": 0}, "quota_limit"),
        ({"cors_allowed_origins": ["*", "https://a.example"]}, "cors_allowed_origins"),
        ({"cors_allowed_origins": ["https://a.example/"]}, "cors_allowed_origins"),
        ({"cors_allowed_origins": ["a.example"]}, "cors_allowed_origins"),
        ({"cors_allowed_origins": "*"}, "cors_allowed_origins"),
    ],
)
def test_unknown_authorization_or_quota_is_refused(overrides, argument):
    with pytest.raises(InvalidArgument) as raised:
        DarknetApiArgs(function_name="f", function_invoke_arn=INVOKE_ARN, **overrides)
    assert raised.value.argument == argument


def test_the_prod_stack_does_not_leave_the_api_open():
    prod = yaml.safe_load(ROOT.joinpath("Pulumi.prod.yaml").read_text())
    assert prod["config"]["darknet-lambda:api"]["authorization"] in ("iam", "api_key")


def mock_answers(deployment) -> dict[str, dict]:
    """What API Gateway answers itself, by method name: status, headers and body template."""
    methods = {m.name: m.inputs for m in deployment.of_type("aws:apigateway/method:Method")}
    integrations = {i.name: i.inputs for i in deployment.of_type("aws:apigateway/integration:Integration")}
    answers = {}
    for response in deployment.of_type("aws:apigateway/integrationResponse:IntegrationResponse"):
        name, inputs = response.name, response.inputs
        assert integrations[name]["type"] == "MOCK"
        declared = deployment.one("aws:apigateway/methodResponse:MethodResponse", name).inputs
        assert declared["statusCode"] == inputs["statusCode"]
        assert set(declared.get("responseParameters", {})) == set(inputs.get("responseParameters", {}))
        answers[name] = {
            "method": methods[name]["httpMethod"],
            "auth": (methods[name]["authorization"], methods[name].get("apiKeyRequired", False)),
            "status": inputs["statusCode"],
            "headers": {
                key.removeprefix("method.response.header."): value
                for key, value in inputs.get("responseParameters", {}).items()
            },
            "template": inputs["responseTemplates"]["application/json"],
        }
    return answers


@pytest.mark.parametrize("authorization", ["none", "iam", "api_key"])
def test_wrong_paths_methods_and_preflights_are_answered_by_the_gateway_without_authorization(
    mocked, authorization
):
    answers = mock_answers(deploy(mocked, authorization=authorization, cors_allowed_origins=["*"]))
    assert set(answers) == {
        "http-root-options",
        "http-root-any",
        "http-detect-options",
        "http-detect-any",
        "http-proxy-any",
    }
    assert {answer["auth"] for answer in answers.values()} == {("NONE", False)}
    preflight = answers["http-detect-options"]
    assert (preflight["method"], preflight["status"]) == ("OPTIONS", "204")
    assert preflight["headers"]["Access-Control-Allow-Origin"] == "'*'"
    assert preflight["headers"]["Access-Control-Allow-Methods"] == "'POST, OPTIONS'"
    for header in ("Content-Type", "X-Api-Key", "Authorization", "X-Amz-Invocation-Type"):
        assert header in preflight["headers"]["Access-Control-Allow-Headers"]
    wrong_method = answers["http-detect-any"]
    assert (wrong_method["method"], wrong_method["status"]) == ("ANY", "405")
    assert wrong_method["headers"]["Allow"] == "'POST, OPTIONS'"
    error = json.loads(wrong_method["template"])["error"]
    assert error["code"] == "method_not_allowed"
    assert "/detect takes POST" in error["message"] and "$context.httpMethod" in error["message"]
    root = answers["http-root-any"]
    assert root["headers"]["Allow"] == "'GET, OPTIONS'"
    unknown = answers["http-proxy-any"]
    assert unknown["status"] == "404"
    not_found = json.loads(unknown["template"])
    assert not_found["error"]["code"] == "not_found" and not_found["request_id"] == "$context.requestId"
    assert "GET /, POST /detect" in not_found["error"]["message"]


def test_the_viewer_page_loads_without_credentials_under_every_mode(mocked):
    for authorization in ("iam", "api_key"):
        deployment = deploy(mocked, authorization=authorization)
        root = deployment.one("aws:apigateway/method:Method", "http-root-get").inputs
        assert (root["httpMethod"], root["authorization"], root.get("apiKeyRequired", False)) == (
            "GET",
            "NONE",
            False,
        )
        assert root["resourceId"] == deployment.one("aws:apigateway/restApi:RestApi").state["rootResourceId"]
        integration = deployment.one("aws:apigateway/integration:Integration", "http-root-get").inputs
        assert (integration["type"], integration["uri"]) == ("AWS_PROXY", INVOKE_ARN)


def test_without_cors_origins_no_answer_carries_cors_headers(mocked):
    deployment = deploy(mocked)
    for answer in mock_answers(deployment).values():
        assert "Access-Control-Allow-Origin" not in answer["headers"]
        assert "#set" not in answer["template"]
    assert {tuple(a["parameters"]) for a in gateway_answers(deployment).values()} == {()}
    # The preflight still answers (204, the methods), so the browser reports CORS, not a 403.
    assert mock_answers(deployment)["http-detect-options"]["status"] == "204"


def test_any_origin_is_a_static_star_on_every_gateway_answer(mocked):
    deployment = deploy(mocked, cors_allowed_origins=["*"])
    for answer in gateway_answers(deployment).values():
        assert answer["parameters"] == {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"}
    for answer in mock_answers(deployment).values():
        assert answer["headers"]["Access-Control-Allow-Origin"] == "'*'"


def test_one_origin_is_answered_as_itself_with_vary(mocked):
    deployment = deploy(mocked, cors_allowed_origins=["https://app.example.com"])
    for answer in gateway_answers(deployment).values():
        assert answer["parameters"] == {
            "gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example.com'",
            "gatewayresponse.header.Vary": "'Origin'",
        }
    for answer in mock_answers(deployment).values():
        assert answer["headers"]["Access-Control-Allow-Origin"] == "'https://app.example.com'"
        assert answer["headers"]["Vary"] == "'Origin'"


def test_several_origins_are_echoed_when_listed(mocked):
    origins = ["https://a.example.com", "http://localhost:8080"]
    deployment = deploy(mocked, cors_allowed_origins=origins)
    for answer in gateway_answers(deployment).values():
        assert answer["parameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            "method.request.header.Origin"
        )
    for name, answer in mock_answers(deployment).items():
        template = answer["template"]
        assert '#foreach($listed in ["https://a.example.com", "http://localhost:8080"])' in template, name
        assert "$context.responseOverride.header.Access-Control-Allow-Origin = $listed" in template
        assert answer["headers"]["Vary"] == "'Origin'"
        body = template.split("\n", 1)[1]
        assert body == "" or json.loads(body)["error"]["code"] in ("not_found", "method_not_allowed")


def test_a_service_with_its_own_prefixes_has_the_gateway_name_its_input_prefix(mocked):
    """The size answers come from API Gateway, not the function: DarknetService must hand the API the
    stack's own input prefix, or they would send clients to an input/ the stack does not watch."""
    args = DarknetServiceArgs(
        image={"image_uri": "repo/detector:1"},
        function={"input_prefix": "inbox/", "output_prefix": "results/"},
    )
    deployment = mocked.run(lambda: DarknetService("detector", args))
    bucket = deployment.one("aws:s3/bucket:Bucket").state["bucket"]
    templates = {
        response.inputs["responseType"]: response.inputs["responseTemplates"]["application/json"]
        for response in deployment.of_type("aws:apigateway/response:Response")
    }
    for response_type in ("REQUEST_TOO_LARGE", "INTEGRATION_FAILURE"):
        message = json.loads(templates[response_type])["error"]["message"]
        assert f"s3://{bucket}/inbox/" in message, message
        assert "input/" not in message and "output/" not in message, message
