"""ContainerFunction: the block both functions share (log group, role, access policy, function), made of
children of the component that owns it, so that the resources keep the names and parents they had."""

import pulumi

from darknet_lambda.container_function import ContainerFunction, ContainerFunctionArgs

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/darknet@sha256:" + "cd" * 32
OWNER = "darknet:index:Owner"
READ = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}


class Owner(pulumi.ComponentResource):
    def __init__(self, name: str, args: ContainerFunctionArgs) -> None:
        super().__init__(OWNER, name, None, None)
        self.container = ContainerFunction(name, args, parent=self)
        self.register_outputs({})


def deploy(mocked, **overrides):
    partitions: list[str] = []

    def access(partition: str) -> list[dict]:
        partitions.append(partition)
        return [READ]

    settings = {
        "image_uri": IMAGE,
        "architecture": "arm64",
        "memory_size": 256,
        "timeout": 10,
        "environment": {"A": "1"},
        "access": access,
        "log_retention_days": 7,
        "tags": {"team": "vision"},
        **overrides,
    }
    deployment = mocked.run(lambda: Owner("fn", ContainerFunctionArgs(**settings)))
    return deployment, partitions


def test_every_resource_is_a_child_of_the_owner_under_its_name(mocked):
    deployment, partitions = deploy(mocked)
    children = sorted((r.type, r.name) for r in deployment.resources if r.type != OWNER)
    assert children == [
        ("aws:cloudwatch/logGroup:LogGroup", "fn"),
        ("aws:iam/role:Role", "fn"),
        ("aws:iam/rolePolicy:RolePolicy", "fn-access"),
        ("aws:lambda/function:Function", "fn"),
    ]
    assert all(r.parent_type == OWNER for r in deployment.resources if r.type != OWNER)
    assert partitions == ["aws"], "the partition comes from the log group's ARN"


def test_the_function_runs_the_image_with_its_role_and_logs_once_the_role_may(mocked):
    deployment, _ = deploy(mocked, command="darknet_detector.serving.uploads_handler.handler")
    function = deployment.one("aws:lambda/function:Function")
    log_group = deployment.one("aws:cloudwatch/logGroup:LogGroup")
    assert function.inputs["imageUri"] == IMAGE
    assert function.inputs["imageConfig"] == {
        "commands": ["darknet_detector.serving.uploads_handler.handler"]
    }
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["role"] == deployment.one("aws:iam/role:Role").state["arn"]
    assert function.inputs["loggingConfig"]["logGroup"] == log_group.state["name"]
    assert function.inputs["environment"] == {"variables": {"A": "1"}}
    assert deployment.one("aws:iam/rolePolicy:RolePolicy").urn in function.dependencies
    assert log_group.inputs["retentionInDays"] == 7
    tagged = [r for r in deployment.resources if r.type not in (OWNER, "aws:iam/rolePolicy:RolePolicy")]
    assert [r.inputs["tags"] for r in tagged] == [{"team": "vision"}] * 3


def test_the_policy_is_own_logs_then_the_owner_s_statements_then_traces_and_the_bucket_key(mocked):
    key = "arn:aws:kms:us-east-1:123456789012:key/1"
    deployment, _ = deploy(mocked, tracing=True, bucket_kms_key_arn=key)
    policy = deployment.one("aws:iam/rolePolicy:RolePolicy").policy()
    assert [s["Sid"] for s in policy["Statement"]] == ["WriteOwnLogs", "Read", "SendTraces", "UseBucketKey"]
    function = deployment.one("aws:lambda/function:Function").inputs
    assert function["tracingConfig"] == {"mode": "Active"}


def test_without_tracing_or_a_key_the_policy_has_neither(mocked):
    deployment, _ = deploy(mocked)
    policy = deployment.one("aws:iam/rolePolicy:RolePolicy").policy()
    assert [s["Sid"] for s in policy["Statement"]] == ["WriteOwnLogs", "Read"]
    function = deployment.one("aws:lambda/function:Function").inputs
    assert "tracingConfig" not in function and "imageConfig" not in function
