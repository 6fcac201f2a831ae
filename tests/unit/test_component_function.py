"""DarknetFunction: least-privilege role, the function's settings, logs and the failure queue."""

import pulumi_aws as aws
import pytest

from darknet_detector.contract import DEFAULT_MODEL
from darknet_lambda import DarknetFunction, DarknetFunctionArgs, InvalidArgument, __version__

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:" + "cd" * 32
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def deploy(mocked, **overrides):
    args = DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", **overrides)
    return mocked.run(lambda: DarknetFunction("detector", args))


def statements(policy):
    return {s["Sid"]: (s["Effect"], s["Action"], s["Resource"]) for s in policy["Statement"]}


def test_role_may_only_log_read_input_write_output_and_report_failures(mocked):
    deployment = deploy(mocked)
    log_group = deployment.one("aws:cloudwatch/logGroup:LogGroup").state["arn"]
    queue = deployment.one("aws:sqs/queue:Queue").state["arn"]

    assert statements(deployment.one(ROLE_POLICY, "detector-access").policy()) == {
        "WriteOwnLogs": ("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:*"]),
        "ReadInput": ("Allow", ["s3:GetObject"], ["arn:aws:s3:::images/input/*"]),
        "WriteOutput": ("Allow", ["s3:PutObject"], ["arn:aws:s3:::images/output/*"]),
        "ReportFailedEvents": ("Allow", ["sqs:SendMessage"], [queue]),
    }
    assert len(deployment.of_type(ROLE_POLICY)) == 1, "no self-invoke statement unless asked"
    assert deployment.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    trust = deployment.one("aws:iam/role:Role").policy("assumeRolePolicy")["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_self_invoke_adds_exactly_invoke_on_its_own_arn_and_reading_outputs_after_the_function(mocked):
    deployment = deploy(mocked, allow_self_invoke=True)
    function = deployment.one(FUNCTION)
    self_invoke = deployment.one(ROLE_POLICY, "detector-self-invoke")

    assert statements(self_invoke.policy()) == {
        "InvokeSelfAsynchronously": ("Allow", ["lambda:InvokeFunction"], [function.state["arn"]]),
        "LinkLargeAnswers": ("Allow", ["s3:GetObject"], ["arn:aws:s3:::images/output/*"]),
    }
    assert function.urn in self_invoke.dependencies
    role = deployment.one("aws:iam/role:Role")
    assert function.inputs["role"] == role.state["arn"]
    assert self_invoke.inputs["role"] == role.state["name"]


def test_kms_bucket_key_adds_only_that_key(mocked):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234"
    policy = deploy(mocked, bucket_kms_key_arn=key).one(ROLE_POLICY).policy()
    assert statements(policy)["UseBucketKey"] == ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], [key])


def test_settings_and_environment_reach_the_function(mocked):
    deployment = deploy(
        mocked,
        memory_size=3008,
        timeout=90,
        ephemeral_storage=2048,
        architecture="arm64",
        reserved_concurrency=5,
        engine="darknet",
        threshold=0.3,
        max_tiles=16,
        log_level="DEBUG",
        environment={"EXTRA": "1"},
        cors_allowed_origins=["https://a.example.com", "http://localhost:8080"],
    )
    function = deployment.one(FUNCTION).inputs
    assert function["packageType"] == "Image"
    assert function["imageUri"] == IMAGE
    assert (function["memorySize"], function["timeout"]) == (3008, 90)
    assert function["ephemeralStorage"] == {"size": 2048}
    assert function["architectures"] == ["arm64"]
    assert function["reservedConcurrentExecutions"] == 5
    assert function["environment"]["variables"] == {
        "DETECTOR_ENGINE": "darknet",
        "DETECTOR_MODEL": DEFAULT_MODEL,
        "DETECTOR_THRESHOLD": "0.3",
        "DETECTOR_TILES": "off",
        "DETECTOR_MAX_TILES": "16",
        "INPUT_PREFIX": "input/",
        "OUTPUT_PREFIX": "output/",
        "OUTPUT_BUCKET": "images",
        "POWERTOOLS_SERVICE_NAME": "darknet-lambda",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "LOG_LEVEL": "DEBUG",
        "DARKNET_LAMBDA_VERSION": __version__,
        "CORS_ALLOWED_ORIGINS": "https://a.example.com,http://localhost:8080",
        "EXTRA": "1",
    }


def test_defaults(mocked):
    deployment = deploy(mocked)
    function = deployment.one(FUNCTION).inputs
    assert (function["memorySize"], function["timeout"], function["architectures"]) == (1769, 60, ["x86_64"])
    assert "reservedConcurrentExecutions" not in function
    assert function["environment"]["variables"]["DETECTOR_ENGINE"] == "onnx"
    assert function["environment"]["variables"]["DETECTOR_THRESHOLD"] == "0.5"


def test_logs_go_to_its_own_group_with_retention(mocked):
    deployment = deploy(mocked, log_retention_days=30)
    log_group = deployment.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["retentionInDays"] == 30
    assert log_group.state["name"].startswith("/aws/lambda/detector-")
    assert deployment.one(FUNCTION).inputs["loggingConfig"]["logGroup"] == log_group.state["name"]


def test_failed_async_events_go_to_the_failure_queue(mocked):
    deployment = deploy(mocked, max_retry_attempts=1, max_event_age_seconds=600)
    queue = deployment.one("aws:sqs/queue:Queue")
    config = deployment.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs["functionName"] == deployment.one(FUNCTION).state["name"]
    assert config.inputs["destinationConfig"] == {"onFailure": {"destination": queue.state["arn"]}}
    assert (config.inputs["maximumRetryAttempts"], config.inputs["maximumEventAgeInSeconds"]) == (1, 600)
    assert queue.inputs["sqsManagedSseEnabled"] is True
    access = deployment.one(ROLE_POLICY, "detector-access")
    assert access.urn in config.dependencies, "AWS checks the role may send to the queue"


def test_function_waits_for_its_permissions(mocked):
    deployment = deploy(mocked)
    assert deployment.one(ROLE_POLICY).urn in deployment.one(FUNCTION).dependencies


def test_memory_under_1024_is_refused_with_the_reason():
    with pytest.raises(
        InvalidArgument, match=r"memory_size: 512 MB is too little: Lambda sizes the CPU share"
    ):
        DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", memory_size=512)


def test_a_memory_size_too_small_for_the_engine_s_whole_decode_is_refused_with_the_reason():
    """The darknet engine's CLI keeps the whole photo as floats: 1024 MB cannot hold the largest."""
    with pytest.raises(
        InvalidArgument, match=r"memory_size: 1024 MB is too little for the darknet engine"
    ) as raised:
        DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", engine="darknet", memory_size=1024)
    assert "decoded whole" in raised.value.reason and "at least 1536 MB" in raised.value.reason
    DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", engine="darknet", memory_size=1536)
    DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", engine="onnx", memory_size=1024)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timeout", 901, "outside 1..900"),
        ("engine", "tensorrt", "not one of onnx, darknet"),
        ("architecture", "riscv", "not one of"),
        ("log_retention_days", 10, "not one of"),
        ("max_retry_attempts", 3, "outside 0..2"),
        ("output_prefix", "input/results/", "overlaps the input prefix"),
        ("input_prefix", "", "must be a key prefix"),
        ("threshold", 1.0, "must be above 0 and below 1"),
        ("threshold", 0.0, "must be above 0 and below 1"),
        ("model", "../yolo", "is not a model name"),
        ("environment", {"DETECTOR_THRESHOLD": "0.9"}, "set them through their arguments"),
    ],
)
def test_invalid_settings_are_refused(field, value, message):
    with pytest.raises(InvalidArgument, match=message) as error:
        DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", **{field: value})
    assert error.value.argument == field


def test_exposed_role_takes_a_policy_attachment(mocked):
    """Users extend the function through its children: here, one more managed policy on its role."""
    policy = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"

    def program():
        detector = DarknetFunction("detector", DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images"))
        aws.iam.RolePolicyAttachment("xray", role=detector.role.name, policy_arn=policy)
        assert isinstance(detector.function, aws.lambda_.Function)
        assert isinstance(detector.log_group, aws.cloudwatch.LogGroup)
        assert isinstance(detector.failure_queue, aws.sqs.Queue)

    deployment = mocked.run(program)
    attachment = deployment.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs == {
        "role": deployment.one("aws:iam/role:Role").state["name"],
        "policyArn": policy,
    }
    assert attachment.parent_type == "pulumi:pulumi:Stack"


def test_extra_environment_may_come_from_other_resources(mocked):
    def program():
        queue = aws.sqs.Queue("jobs")
        args = DarknetFunctionArgs(image_uri=IMAGE, bucket_name="images", environment={"JOBS_URL": queue.url})
        DarknetFunction("detector", args)

    deployment = mocked.run(program)
    variables = deployment.one(FUNCTION).inputs["environment"]["variables"]
    assert variables["JOBS_URL"] == deployment.one("aws:sqs/queue:Queue", "jobs").state["url"]
    assert variables["OUTPUT_BUCKET"] == "images"
