"""DarknetUploads and its routes: a least-privilege role of its own, the detector's image under another
command, and POST /uploads and GET /results/{request_id} on the API, authorized and scoped as /detect."""

import json

import pytest

from darknet_detector.contract import UPLOAD_URL_SECONDS, UPLOADS_HANDLER
from darknet_lambda import (
    DarknetApi,
    DarknetApiArgs,
    DarknetFunctionArgs,
    DarknetQueueArgs,
    DarknetService,
    DarknetServiceArgs,
    DarknetUploads,
    DarknetUploadsArgs,
    InvalidArgument,
)

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:" + "cd" * 32
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PERMISSION = "aws:lambda/permission:Permission"
DETECT_ARN = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/detector/invocations"
UPLOADS_ARN = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/uploads/invocations"


def deploy(mocked, **overrides):
    args = DarknetUploadsArgs(image_uri=IMAGE, bucket_name="images", result_window_seconds=5000, **overrides)
    return mocked.run(lambda: DarknetUploads("uploads", args))


def statements(policy):
    return {s["Sid"]: (s["Effect"], s["Action"], s["Resource"]) for s in policy["Statement"]}


def test_the_role_may_only_sign_uploads_read_results_and_log(mocked):
    deployment = deploy(mocked)
    log_group = deployment.one("aws:cloudwatch/logGroup:LogGroup").state["arn"]
    (policy,) = deployment.of_type(ROLE_POLICY)
    assert statements(policy.policy()) == {
        "WriteOwnLogs": ("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:*"]),
        "SignUploads": ("Allow", ["s3:PutObject"], ["arn:aws:s3:::images/input/uploads/*"]),
        "ReadResults": ("Allow", ["s3:GetObject"], ["arn:aws:s3:::images/output/*/result.json"]),
    }
    assert deployment.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    role = deployment.one("aws:iam/role:Role")
    assert policy.inputs["role"] == role.state["name"]
    assert role.policy("assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_prefixes_and_a_kms_key_follow_the_detector_s(mocked):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234"
    deployment = deploy(mocked, input_prefix="in/", output_prefix="out/", bucket_kms_key_arn=key)
    found = statements(deployment.one(ROLE_POLICY).policy())
    assert found["SignUploads"][2] == ["arn:aws:s3:::images/in/uploads/*"]
    assert found["ReadResults"][2] == ["arn:aws:s3:::images/out/*/result.json"]
    assert found["UseBucketKey"] == ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], [key])


def test_the_function_runs_the_detector_s_image_with_the_uploads_handler(mocked):
    deployment = deploy(mocked)
    function = deployment.one(FUNCTION).inputs
    assert (function["packageType"], function["imageUri"]) == ("Image", IMAGE)
    assert function["imageConfig"] == {"commands": [UPLOADS_HANDLER]}
    assert (function["memorySize"], function["timeout"]) == (256, 10)
    assert (
        function["loggingConfig"]["logGroup"]
        == deployment.one("aws:cloudwatch/logGroup:LogGroup").state["name"]
    )
    variables = function["environment"]["variables"]
    assert {
        k: variables[k] for k in ("OUTPUT_BUCKET", "INPUT_PREFIX", "OUTPUT_PREFIX", "RESULT_WINDOW_SECONDS")
    } == {
        "OUTPUT_BUCKET": "images",
        "INPUT_PREFIX": "input/",
        "OUTPUT_PREFIX": "output/",
        "RESULT_WINDOW_SECONDS": "5000",
    }
    assert deployment.one(ROLE_POLICY).urn in deployment.one(FUNCTION).dependencies


def test_the_handler_command_names_a_real_handler():
    import importlib

    module, _, function = UPLOADS_HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"timeout": 30}, "timeout"),
        ({"memory_size": 64}, "memory_size"),
        ({"input_prefix": "output/", "output_prefix": "output/"}, "output_prefix"),
        ({"result_window_seconds": 10}, "result_window_seconds"),
        ({"architecture": "sparc"}, "architecture"),
    ],
)
def test_bad_arguments_are_refused(overrides, argument):
    with pytest.raises(InvalidArgument) as refused:
        DarknetUploadsArgs(
            **{"image_uri": IMAGE, "bucket_name": "b", "result_window_seconds": 5000, **overrides}
        )
    assert refused.value.argument == argument


def deploy_api(mocked, **overrides):
    args = DarknetApiArgs(
        function_name="detector",
        function_invoke_arn=DETECT_ARN,
        uploads_function_name="uploads",
        uploads_function_invoke_arn=UPLOADS_ARN,
        **overrides,
    )
    outputs = {}

    def program():
        api = DarknetApi("http", args)
        pulumi_outputs = {"uploads": api.uploads_url, "results": api.results_url}
        for name, output in pulumi_outputs.items():
            output.apply(lambda value, name=name: outputs.update({name: value}))

    deployment = mocked.run(program)
    deployment.exports.update(outputs)
    return deployment


def test_the_routes_are_proxied_to_the_uploads_function(mocked):
    deployment = deploy_api(mocked)
    paths = {r.name: r.inputs["pathPart"] for r in deployment.of_type("aws:apigateway/resource:Resource")}
    assert paths == {
        "http-detect": "detect",
        "http-uploads": "uploads",
        "http-results": "results",
        "http-result": "{request_id}",
        "http-proxy": "{proxy+}",
    }
    result = deployment.one("aws:apigateway/resource:Resource", "http-result")
    assert result.inputs["parentId"] == "http-results-id"
    integrations = {r.name: r.inputs for r in deployment.of_type("aws:apigateway/integration:Integration")}
    proxied = {
        name: (i["httpMethod"], i["type"], i["uri"])
        for name, i in integrations.items()
        if i["type"] != "MOCK"
    }
    assert proxied == {
        "http-root-get": ("GET", "AWS_PROXY", UPLOADS_ARN),
        "http-detect-post": ("POST", "AWS_PROXY", DETECT_ARN),
        "http-uploads-post": ("POST", "AWS_PROXY", UPLOADS_ARN),
        "http-result-get": ("GET", "AWS_PROXY", UPLOADS_ARN),
    }
    get = deployment.one("aws:apigateway/method:Method", "http-result-get").inputs
    assert get["requestParameters"] == {"method.request.path.request_id": True}
    assert deployment.exports == {
        "uploads": "https://api0a1b2c3.execute-api.us-east-1.amazonaws.com/v1/uploads",
        "results": "https://api0a1b2c3.execute-api.us-east-1.amazonaws.com/v1/results/",
    }


def test_the_uploads_function_may_answer_its_routes_only(mocked):
    deployment = deploy_api(mocked)
    execution_arn = deployment.one("aws:apigateway/restApi:RestApi").state["executionArn"]
    permissions = {(p.inputs["function"], p.inputs["sourceArn"]) for p in deployment.of_type(PERMISSION)}
    assert permissions == {
        ("detector", f"{execution_arn}/*/POST/detect"),
        ("uploads", f"{execution_arn}/*/GET/"),
        ("uploads", f"{execution_arn}/*/POST/uploads"),
        ("uploads", f"{execution_arn}/*/GET/results/*"),
    }


def test_a_change_of_the_routes_redeploys_the_api(mocked):
    deployment = deploy_api(mocked)
    api_deployment = deployment.one("aws:apigateway/deployment:Deployment")
    route = json.loads(api_deployment.inputs["triggers"]["route"])
    assert UPLOADS_ARN in route
    for name in ("http-uploads-post", "http-result-get"):
        for kind in ("method:Method", "integration:Integration"):
            assert deployment.one(f"aws:apigateway/{kind}", name).urn in api_deployment.dependencies


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [("none", ("NONE", False)), ("iam", ("AWS_IAM", False)), ("api_key", ("NONE", True))],
)
def test_every_route_is_authorized_as_post_detect_but_the_viewer_page(mocked, authorization, expected):
    deployment = deploy_api(mocked, authorization=authorization)
    methods = {
        m.name: (m.inputs["authorization"], m.inputs.get("apiKeyRequired", False))
        for m in deployment.of_type("aws:apigateway/method:Method")
    }
    assert {methods[name] for name in ("http-detect-post", "http-uploads-post", "http-result-get")} == {
        expected
    }
    # The page loads without credentials (it asks for the key); API Gateway answers the rest itself.
    others = set(methods) - {"http-detect-post", "http-uploads-post", "http-result-get"}
    assert {methods[name] for name in others} == {("NONE", False)}


def test_uploads_function_name_and_invoke_arn_go_together():
    with pytest.raises(InvalidArgument):
        DarknetApi(
            "http",
            DarknetApiArgs(function_name="d", function_invoke_arn=DETECT_ARN, uploads_function_name="u"),
        )


def test_the_service_adds_the_uploads_function_with_the_http_api_and_leaves_the_detector_s_role_alone(mocked):
    deployment = mocked.run(
        lambda: DarknetService("detector", DarknetServiceArgs(image={"image_uri": IMAGE}))
    )
    uploads = deployment.one(FUNCTION, "detector-uploads")
    detector = deployment.one(FUNCTION, "detector")
    assert uploads.inputs["imageUri"] == detector.inputs["imageUri"] == IMAGE
    assert uploads.inputs["role"] != detector.inputs["role"]
    assert uploads.parent_type == "darknet:index:DarknetUploads"
    detector_access = deployment.one(ROLE_POLICY, "detector-access").policy()
    assert "SignUploads" not in statements(detector_access) and "ReadResults" not in statements(
        detector_access
    )
    integration = deployment.one("aws:apigateway/integration:Integration", "detector-uploads-post")
    assert integration.inputs["uri"] == uploads.state["invokeArn"]

    without_api = mocked.run(
        lambda: DarknetService(
            "detector", DarknetServiceArgs(image={"image_uri": IMAGE}, enable_http_api=False)
        )
    )
    assert [f.name for f in without_api.of_type(FUNCTION)] == ["detector"]


def test_the_result_window_covers_the_form_s_life_and_the_slowest_delivery():
    queued = DarknetServiceArgs(
        function=DarknetFunctionArgs(timeout=60), queue=DarknetQueueArgs(max_receive_count=3)
    )
    # The queue redelivers up to 3 times, a visibility timeout (6 x 60 s) each; an async event waits
    # up to an hour, then runs up to a minute.
    assert queued.result_window_seconds() == UPLOAD_URL_SECONDS + max(3 * 360, 3600 + 60)
    slow_queue = DarknetServiceArgs(
        function=DarknetFunctionArgs(timeout=600, max_event_age_seconds=60),
        queue=DarknetQueueArgs(max_receive_count=5),
    )
    assert slow_queue.result_window_seconds() == UPLOAD_URL_SECONDS + 5 * 3600
    direct = DarknetServiceArgs(ingestion="direct", function=DarknetFunctionArgs(max_event_age_seconds=60))
    assert direct.result_window_seconds() == UPLOAD_URL_SECONDS + 60 + 60


def test_the_policy_under_moto_s_iam_engine_lets_the_signer_put_uploads_and_read_results_only():
    """The policy as AWS would evaluate it (moto enforces IAM after its set-up calls): a form signed with
    these rights can only put under input/uploads/, and only result.json files are readable."""
    import boto3
    from moto import mock_aws
    from moto.core import set_initial_no_auth_action_count

    from darknet_lambda.policies import policy_document
    from darknet_lambda.uploads import uploads_statements

    outcomes = {}

    @set_initial_no_auth_action_count(6)  # the set-up below, as the account's administrator
    @mock_aws
    def exercise():
        admin, iam = boto3.client("s3", region_name="us-east-1"), boto3.client("iam", region_name="us-east-1")
        admin.create_bucket(Bucket="images")
        admin.put_object(Bucket="images", Key="output/x/image-result.png", Body=b"png")
        iam.create_user(UserName="signer")
        policy = policy_document(*uploads_statements("aws", "images", "input/", "output/"))
        iam.put_user_policy(UserName="signer", PolicyName="uploads", PolicyDocument=policy)
        key = iam.create_access_key(UserName="signer")["AccessKey"]
        signer = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        attempts = {
            "put input/uploads/ID/a.jpg": lambda: signer.put_object(
                Bucket="images", Key="input/uploads/ID/a.jpg", Body=b"x"
            ),
            "put input/a.jpg": lambda: signer.put_object(Bucket="images", Key="input/a.jpg", Body=b"x"),
            "put output/x/result.json": lambda: signer.put_object(
                Bucket="images", Key="output/x/result.json", Body=b"{}"
            ),
            "get output/x/image-result.png": lambda: signer.get_object(
                Bucket="images", Key="output/x/image-result.png"
            ),
            "get output/y/result.json": lambda: signer.get_object(
                Bucket="images", Key="output/y/result.json"
            ),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
                outcomes[name] = "allowed"
            except signer.exceptions.ClientError as error:
                outcomes[name] = error.response["Error"]["Code"]

    exercise()
    assert outcomes == {
        "put input/uploads/ID/a.jpg": "allowed",
        "put input/a.jpg": "AccessDenied",
        "put output/x/result.json": "AccessDenied",
        "get output/x/image-result.png": "AccessDenied",
        "get output/y/result.json": "NoSuchKey",  # allowed; moto does not hide missing keys as AWS does
    }
