"""DarknetApi: REST API with POST /detect as a Lambda proxy, binary media, throttling and access logs."""

import json
from pathlib import Path

import pytest
import yaml

from components import DarknetApi, DarknetApiArgs
from components.checks import InvalidArgument
from components.contract import BINARY_MEDIA_TYPES, SYNC_BODY_LIMIT_BYTES

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:detector"
INVOKE_ARN = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def deploy(mocked, **overrides):
    args = DarknetApiArgs(function_name="detector", function_invoke_arn=INVOKE_ARN, **overrides)
    outputs = {}

    def program():
        api = DarknetApi("http", args)
        api.url.apply(lambda url: outputs.update(url=url))

    deployment = mocked.run(program)
    deployment.exports.update(outputs)
    return deployment


def test_binary_media_types_are_the_ones_the_function_reads_and_answers(mocked):
    rest_api = deploy(mocked).one("aws:apigateway/restApi:RestApi").inputs
    assert rest_api["binaryMediaTypes"] == list(BINARY_MEDIA_TYPES)
    assert {"image/*", "application/gzip", "application/x-gzip", "multipart/form-data"} <= set(
        rest_api["binaryMediaTypes"]
    )


def test_gateway_answers_for_size_are_json_naming_the_limit_and_redeploy_the_api(mocked):
    deployment = deploy(mocked)
    responses = {r.inputs["responseType"]: r for r in deployment.of_type("aws:apigateway/response:Response")}
    assert set(responses) == {"REQUEST_TOO_LARGE", "INTEGRATION_FAILURE"}
    too_large = responses["REQUEST_TOO_LARGE"].inputs
    assert too_large["statusCode"] == "413"
    template = too_large["responseTemplates"]["application/json"]
    assert json.loads(template)["error"]["code"] == "too_large"
    assert str(SYNC_BODY_LIMIT_BYTES) in template and "input/" in template and "POST /uploads" in template
    assert responses["INTEGRATION_FAILURE"].inputs["statusCode"] == "502"
    api_deployment = deployment.one("aws:apigateway/deployment:Deployment")
    assert {r.urn for r in responses.values()} <= set(api_deployment.dependencies)


def gateway_answers(deployment) -> dict[str, dict]:
    return {
        r.inputs["responseType"]: {
            "status": r.inputs["statusCode"],
            "error": json.loads(r.inputs["responseTemplates"]["application/json"])["error"],
        }
        for r in deployment.of_type("aws:apigateway/response:Response")
    }


def test_with_an_api_key_the_gateway_s_refusals_say_to_send_x_api_key(mocked):
    answers = gateway_answers(deploy(mocked, authorization="api_key", quota_limit=500, quota_period="WEEK"))
    assert answers["INVALID_API_KEY"]["status"] == "403"
    assert answers["INVALID_API_KEY"]["error"]["code"] == "invalid_api_key"
    assert "x-api-key" in answers["INVALID_API_KEY"]["error"]["message"]
    assert answers["QUOTA_EXCEEDED"]["status"] == "429"
    assert "500 requests per WEEK" in answers["QUOTA_EXCEEDED"]["error"]["message"]
    assert "MISSING_AUTHENTICATION_TOKEN" not in answers


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
    assert "--aws-sigv4" in answers["MISSING_AUTHENTICATION_TOKEN"]["error"]["message"]
    assert "execute-api:Invoke" in answers["ACCESS_DENIED"]["error"]["message"]
    assert "INVALID_API_KEY" not in answers


def test_without_authorization_there_are_no_auth_refusals(mocked):
    assert set(gateway_answers(deploy(mocked))) == {"REQUEST_TOO_LARGE", "INTEGRATION_FAILURE"}


def test_post_detect_is_a_lambda_proxy_integration(mocked):
    deployment = deploy(mocked)
    rest_api = deployment.one("aws:apigateway/restApi:RestApi")
    resource = deployment.one("aws:apigateway/resource:Resource")
    assert resource.inputs["pathPart"] == "detect"
    assert resource.inputs["parentId"] == rest_api.state["rootResourceId"]
    method = deployment.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["resourceId"]) == ("POST", "http-detect-id")
    integration = deployment.one("aws:apigateway/integration:Integration").inputs
    assert integration["type"] == "AWS_PROXY"
    assert integration["integrationHttpMethod"] == "POST"
    assert integration["uri"] == INVOKE_ARN
    assert integration["httpMethod"] == "POST"


def test_deployment_follows_the_route_and_stage_has_throttling_and_access_logs(mocked):
    deployment = deploy(mocked, throttle_rate_limit=5, throttle_burst_limit=7, stage_name="prod")
    api_deployment = deployment.one("aws:apigateway/deployment:Deployment")
    assert deployment.one("aws:apigateway/integration:Integration").urn in api_deployment.dependencies
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
    permission = deployment.one("aws:lambda/permission:Permission").inputs
    assert permission == {
        "action": "lambda:InvokeFunction",
        "function": "detector",
        "principal": "apigateway.amazonaws.com",
        "sourceArn": f"{execution_arn}/*/POST/detect",
    }


def test_url_is_the_detect_route_of_the_stage(mocked):
    assert deploy(mocked).exports["url"] == "https://api0a1b2c3.execute-api.us-east-1.amazonaws.com/v1/detect"


def test_account_logs_role_when_asked(mocked):
    deployment = deploy(mocked, manage_account_logs_role=True)
    account = deployment.one("aws:apigateway/account:Account")
    role = deployment.one("aws:iam/role:Role")
    assert account.inputs["cloudwatchRoleArn"] == role.state["arn"]
    assert account.urn in deployment.one("aws:apigateway/stage:Stage").dependencies


def test_without_authorization_anyone_with_the_url_may_call(mocked):
    deployment = deploy(mocked)
    method = deployment.one("aws:apigateway/method:Method").inputs
    assert (method["authorization"], method.get("apiKeyRequired", False)) == ("NONE", False)
    assert not deployment.of_type("aws:apigateway/apiKey:ApiKey")


def test_iam_authorization_asks_for_sigv4(mocked):
    deployment = deploy(mocked, authorization="iam")
    method = deployment.one("aws:apigateway/method:Method").inputs
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
    method = deployment.one("aws:apigateway/method:Method").inputs
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
    ],
)
def test_unknown_authorization_or_quota_is_refused(overrides, argument):
    with pytest.raises(InvalidArgument) as raised:
        DarknetApiArgs(function_name="f", function_invoke_arn=INVOKE_ARN, **overrides)
    assert raised.value.argument == argument


def test_the_prod_stack_does_not_leave_the_api_open():
    prod = yaml.safe_load(Path(__file__).resolve().parents[2].joinpath("Pulumi.prod.yaml").read_text())
    assert prod["config"]["darknet-lambda:api"]["authorization"] in ("iam", "api_key")
