"""Applies the resources a Pulumi program registers to LocalStack with boto3, and deletes them.

The table RESOURCE_TYPES maps each type token the components register to the API calls that
create and delete it. Every input a handler does not consume is an error, as is an unknown type,
so a component change that the harness does not apply faithfully breaks the e2e loudly instead
of deploying something else. Physical names follow Pulumi's auto-naming (logical name + random
suffix) unless the program names the resource.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

ENDPOINT = "http://127.0.0.1:4566"
# AWS's RIE reports every function as arn:aws:lambda:us-east-1:012345678912:function:NAME
# (context.invoked_function_arn). LocalStack takes a 12-digit access key id as the account, so
# deploying into that account makes the ARN the function sees its real one.
ACCOUNT = "012345678912"
# Inputs that only Pulumi itself acts on: they have no API call of their own here.
PULUMI_ONLY_INPUTS = {"tags", "forceDestroy", "triggers"}


class UnsupportedResource(RuntimeError):
    """A resource the harness cannot create on LocalStack Community."""


@dataclass
class Applied:
    type: str
    name: str
    id: str
    state: dict


@dataclass
class Applier:
    region: str = "us-east-1"
    applied: list[Applied] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=ENDPOINT,
            region_name=self.region,
            aws_access_key_id=ACCOUNT,
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def create(self, type_token: str, name: str, inputs: dict) -> tuple[str, dict]:
        if type_token not in RESOURCE_TYPES:
            raise UnsupportedResource(
                f"no LocalStack mapping for {type_token} ({name}); add one to applier.py"
            )
        create, _ = RESOURCE_TYPES[type_token]
        with self._lock:  # registrations arrive on several threads; apply one at a time, in order
            remaining = {k: v for k, v in inputs.items() if k not in PULUMI_ONLY_INPUTS}
            resource_id, state = create(self, name, _Inputs(type_token, name, remaining))
            self.applied.append(Applied(type_token, name, resource_id, state))
        return resource_id, {**inputs, **state}

    def destroy(self) -> list[str]:
        """Delete everything in reverse order; return the failures instead of stopping at the first."""
        failures = []
        while self.applied:
            resource = self.applied.pop()
            _, delete = RESOURCE_TYPES[resource.type]
            try:
                delete(self, resource)
            except Exception as error:
                failures.append(f"{resource.type} {resource.name}: {error}")
        return failures


class _Inputs:
    """A resource's inputs; `done()` fails on any input no API call consumed."""

    def __init__(self, type_token: str, name: str, values: dict):
        self.type_token, self.name, self._values, self._used = type_token, name, values, set()

    def __getitem__(self, key: str):
        self._used.add(key)
        return self._values[key]

    def get(self, key: str, default=None):
        self._used.add(key)
        return self._values.get(key, default)

    def copy_present(self, request: dict, *keys: str) -> None:
        """Copy each input that is set (not None or empty) into the API request under the same name."""
        for key in keys:
            if self.get(key):
                request[key] = self[key]

    def done(self) -> None:
        unused = set(self._values) - self._used
        if unused:
            raise UnsupportedResource(
                f"{self.type_token} {self.name}: the harness does not apply inputs {sorted(unused)}"
            )


def autoname(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)[:7]}"


# --- S3 --------------------------------------------------------------------------------------


def _bucket(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs.get("bucket") or autoname(name)
    inputs.done()
    applier.client("s3").create_bucket(Bucket=bucket)
    return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _delete_bucket(applier: Applier, resource: Applied):
    s3 = applier.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=resource.id):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=resource.id, Delete={"Objects": objects})
    s3.delete_bucket(Bucket=resource.id)


def _public_access_block(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs["bucket"]
    settings = {
        key[0].upper() + key[1:]: inputs.get(key, False)
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    }
    inputs.done()
    applier.client("s3").put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=settings)
    return bucket, {}


def _encryption(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs["bucket"]
    rules = []
    for rule in inputs["rules"]:
        default = rule["applyServerSideEncryptionByDefault"]
        by_default = {"SSEAlgorithm": default["sseAlgorithm"]}
        if default.get("kmsMasterKeyId"):
            by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        rules.append(
            {
                "ApplyServerSideEncryptionByDefault": by_default,
                "BucketKeyEnabled": rule.get("bucketKeyEnabled", False),
            }
        )
    inputs.done()
    applier.client("s3").put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return bucket, {}


def _bucket_policy(applier: Applier, name: str, inputs: _Inputs):
    bucket, policy = inputs["bucket"], inputs["policy"]
    inputs.done()
    applier.client("s3").put_bucket_policy(Bucket=bucket, Policy=policy)
    return bucket, {}


def _versioning(applier: Applier, name: str, inputs: _Inputs):
    bucket, status = inputs["bucket"], inputs["versioningConfiguration"]["status"]
    inputs.done()
    applier.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    return bucket, {}


def _lifecycle(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs["bucket"]
    rules = []
    for rule in inputs["rules"]:
        converted = {"ID": rule["id"], "Status": rule["status"], "Filter": {}}
        if rule.get("filter", {}).get("prefix") is not None:
            converted["Filter"] = {"Prefix": rule["filter"]["prefix"]}
        if rule.get("expiration"):
            converted["Expiration"] = {"Days": int(rule["expiration"]["days"])}
        if rule.get("noncurrentVersionExpiration"):
            days = rule["noncurrentVersionExpiration"]["noncurrentDays"]
            converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
        if rule.get("abortIncompleteMultipartUpload"):
            days = rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
            converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
        rules.append(converted)
    inputs.done()
    applier.client("s3").put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )
    return bucket, {}


def _bucket_cors(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs["bucket"]
    keys = {
        "allowedMethods": "AllowedMethods",
        "allowedOrigins": "AllowedOrigins",
        "allowedHeaders": "AllowedHeaders",
        "exposeHeaders": "ExposeHeaders",
        "maxAgeSeconds": "MaxAgeSeconds",
        "id": "ID",
    }
    rules = [{keys[key]: value for key, value in rule.items()} for rule in inputs["corsRules"]]
    inputs.done()
    for rule in rules:
        if "MaxAgeSeconds" in rule:
            rule["MaxAgeSeconds"] = int(rule["MaxAgeSeconds"])
    applier.client("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    return bucket, {}


def _notification(applier: Applier, name: str, inputs: _Inputs):
    bucket = inputs["bucket"]
    configurations = []
    queues = []
    eventbridge = inputs.get("eventbridge")
    for target in inputs.get("lambdaFunctions", []):
        rules = [
            {"Name": rule_name, "Value": target[key]}
            for rule_name, key in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
            if target.get(key)
        ]
        configuration = {"LambdaFunctionArn": target["lambdaFunctionArn"], "Events": target["events"]}
        if rules:
            configuration["Filter"] = {"Key": {"FilterRules": rules}}
        configurations.append(configuration)
    for target in inputs.get("queues", []):
        configuration = {"QueueArn": target["queueArn"], "Events": target["events"]}
        if target.get("filterPrefix"):
            configuration["Filter"] = {
                "Key": {"FilterRules": [{"Name": "prefix", "Value": target["filterPrefix"]}]}
            }
        queues.append(configuration)
    inputs.done()
    notification: dict = {"LambdaFunctionConfigurations": configurations, "QueueConfigurations": queues}
    if eventbridge:
        notification["EventBridgeConfiguration"] = {}
    applier.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=notification
    )
    return bucket, {}


# --- EventBridge -------------------------------------------------------------------------------


def _event_bus(applier: Applier, name: str, inputs: _Inputs):
    bus = inputs.get("name") or autoname(name)
    inputs.done()
    arn = applier.client("events").create_event_bus(Name=bus)["EventBusArn"]
    return bus, {"name": bus, "arn": arn}


def _delete_event_bus(applier: Applier, resource: Applied):
    applier.client("events").delete_event_bus(Name=resource.id)


def _event_rule(applier: Applier, name: str, inputs: _Inputs):
    rule = inputs.get("name") or autoname(name)
    request = {"Name": rule, "EventPattern": inputs["eventPattern"], "State": "ENABLED"}
    if inputs.get("description"):
        request["Description"] = inputs["description"]
    inputs.done()
    arn = applier.client("events").put_rule(**request)["RuleArn"]
    return rule, {"name": rule, "arn": arn}


def _delete_event_rule(applier: Applier, resource: Applied):
    applier.client("events").delete_rule(Name=resource.id)


def _event_target(applier: Applier, name: str, inputs: _Inputs):
    rule, target = inputs["rule"], inputs.get("targetId") or autoname(name)
    arn = inputs["arn"]
    inputs.done()
    applier.client("events").put_targets(Rule=rule, Targets=[{"Id": target, "Arn": arn}])
    return f"{rule}/{target}", {"targetId": target}


def _delete_event_target(applier: Applier, resource: Applied):
    rule, target = resource.id.rsplit("/", 1)
    applier.client("events").remove_targets(Rule=rule, Ids=[target])


def _deleted_with_parent(applier: Applier, resource: Applied):
    """Settings and sub-resources go away with the bucket, API or function they belong to."""


# --- Logs, SQS, IAM ----------------------------------------------------------------------------


def _log_group(applier: Applier, name: str, inputs: _Inputs):
    group = inputs.get("name") or inputs["namePrefix"] + secrets.token_hex(4)[:7]
    retention = inputs.get("retentionInDays")
    inputs.done()
    logs = applier.client("logs")
    logs.create_log_group(logGroupName=group)
    if retention:
        logs.put_retention_policy(logGroupName=group, retentionInDays=int(retention))
    return group, {"name": group, "arn": f"arn:aws:logs:{applier.region}:{ACCOUNT}:log-group:{group}"}


def _delete_log_group(applier: Applier, resource: Applied):
    applier.client("logs").delete_log_group(logGroupName=resource.id)


def _queue(applier: Applier, name: str, inputs: _Inputs):
    queue = inputs.get("name") or autoname(name)
    attributes = {}
    if inputs.get("messageRetentionSeconds"):
        attributes["MessageRetentionPeriod"] = str(int(inputs["messageRetentionSeconds"]))
    if inputs.get("sqsManagedSseEnabled") is not None:
        attributes["SqsManagedSseEnabled"] = str(inputs["sqsManagedSseEnabled"]).lower()
    if inputs.get("visibilityTimeoutSeconds") is not None:
        attributes["VisibilityTimeout"] = str(int(inputs["visibilityTimeoutSeconds"]))
    if inputs.get("redrivePolicy"):
        attributes["RedrivePolicy"] = inputs["redrivePolicy"]
    inputs.done()
    sqs = applier.client("sqs")
    url = sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"name": queue, "arn": arn, "url": url}


def _delete_queue(applier: Applier, resource: Applied):
    applier.client("sqs").delete_queue(QueueUrl=resource.id)


def _queue_policy(applier: Applier, name: str, inputs: _Inputs):
    url, policy = inputs["queueUrl"], inputs["policy"]
    inputs.done()
    applier.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return url, {}


# --- CloudWatch alarms and dashboards, SNS ----------------------------------------------------


_ALARM_INPUTS = {
    "alarmDescription": "AlarmDescription",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
}
_ALARM_NUMBERS = {"period": "Period", "evaluationPeriods": "EvaluationPeriods", "threshold": "Threshold"}


def _metric_alarm(applier: Applier, name: str, inputs: _Inputs):
    alarm = inputs.get("name") or autoname(name)
    request: dict = {"AlarmName": alarm}
    for key, api_key in _ALARM_INPUTS.items():
        if inputs.get(key) is not None:
            request[api_key] = inputs[key]
    for key, api_key in _ALARM_NUMBERS.items():
        if inputs.get(key) is not None:
            request[api_key] = float(inputs[key]) if key == "threshold" else int(inputs[key])
    request["Dimensions"] = [{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()]
    inputs.done()
    applier.client("cloudwatch").put_metric_alarm(**request)
    arn = f"arn:aws:cloudwatch:{applier.region}:{ACCOUNT}:alarm:{alarm}"
    return alarm, {"name": alarm, "arn": arn}


def _delete_metric_alarm(applier: Applier, resource: Applied):
    applier.client("cloudwatch").delete_alarms(AlarmNames=[resource.id])


def _dashboard(applier: Applier, name: str, inputs: _Inputs):
    dashboard, body = inputs["dashboardName"], inputs["dashboardBody"]
    inputs.done()
    applier.client("cloudwatch").put_dashboard(DashboardName=dashboard, DashboardBody=body)
    return dashboard, {"dashboardName": dashboard}


def _delete_dashboard(applier: Applier, resource: Applied):
    applier.client("cloudwatch").delete_dashboards(DashboardNames=[resource.id])


def _topic(applier: Applier, name: str, inputs: _Inputs):
    topic = inputs.get("name") or autoname(name)
    attributes = {}
    if inputs.get("kmsMasterKeyId"):
        attributes["KmsMasterKeyId"] = inputs["kmsMasterKeyId"]
    inputs.done()
    arn = applier.client("sns").create_topic(Name=topic, Attributes=attributes)["TopicArn"]
    return arn, {"name": topic, "arn": arn}


def _delete_topic(applier: Applier, resource: Applied):
    applier.client("sns").delete_topic(TopicArn=resource.id)


def _role(applier: Applier, name: str, inputs: _Inputs):
    role = inputs.get("name") or autoname(name)
    policy = inputs["assumeRolePolicy"]
    inputs.done()
    arn = applier.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=policy)["Role"]["Arn"]
    return role, {"name": role, "arn": arn}


def _delete_role(applier: Applier, resource: Applied):
    applier.client("iam").delete_role(RoleName=resource.id)


def _role_policy(applier: Applier, name: str, inputs: _Inputs):
    role, document = inputs["role"], inputs["policy"]
    policy = inputs.get("name") or autoname(name)
    inputs.done()
    applier.client("iam").put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=document)
    return f"{role}:{policy}", {"name": policy}


def _delete_role_policy(applier: Applier, resource: Applied):
    role, policy = resource.id.split(":", 1)
    applier.client("iam").delete_role_policy(RoleName=role, PolicyName=policy)


def _role_policy_attachment(applier: Applier, name: str, inputs: _Inputs):
    role, policy_arn = inputs["role"], inputs["policyArn"]
    inputs.done()
    applier.client("iam").attach_role_policy(RoleName=role, PolicyArn=policy_arn)
    return f"{role}|{policy_arn}", {}


def _detach_role_policy(applier: Applier, resource: Applied):
    role, policy_arn = resource.id.split("|", 1)
    applier.client("iam").detach_role_policy(RoleName=role, PolicyArn=policy_arn)


# --- Lambda ------------------------------------------------------------------------------------


def _function(applier: Applier, name: str, inputs: _Inputs):
    function = inputs.get("name") or autoname(name)
    if inputs["packageType"] != "Image":
        raise UnsupportedResource(f"{name}: only image functions are deployed by this harness")
    request = {
        "FunctionName": function,
        "PackageType": "Image",
        "Code": {"ImageUri": inputs["imageUri"]},
        "Role": inputs["role"],
        "MemorySize": int(inputs.get("memorySize", 128)),
        "Timeout": int(inputs.get("timeout", 3)),
        "Architectures": inputs.get("architectures", ["x86_64"]),
        "Environment": {"Variables": inputs.get("environment", {}).get("variables", {})},
    }
    if inputs.get("ephemeralStorage"):
        request["EphemeralStorage"] = {"Size": int(inputs["ephemeralStorage"]["size"])}
    if inputs.get("loggingConfig"):
        logging = inputs["loggingConfig"]
        request["LoggingConfig"] = {"LogFormat": logging["logFormat"], "LogGroup": logging["logGroup"]}
    if inputs.get("imageConfig"):
        image = inputs["imageConfig"]
        request["ImageConfig"] = {
            api_key: image[key]
            for key, api_key in (
                ("commands", "Command"),
                ("entryPoints", "EntryPoint"),
                ("workingDirectory", "WorkingDirectory"),
            )
            if image.get(key)
        }
    if inputs.get("tracingConfig"):
        request["TracingConfig"] = {"Mode": inputs["tracingConfig"]["mode"]}
    reserved = inputs.get("reservedConcurrentExecutions")
    inputs.done()
    lambda_ = applier.client("lambda")
    arn = lambda_.create_function(**request)["FunctionArn"]
    lambda_.get_waiter("function_active_v2").wait(
        FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    if reserved is not None and reserved >= 0:
        lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=int(reserved))
    invoke_arn = f"arn:aws:apigateway:{applier.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return function, {"name": function, "arn": arn, "invokeArn": invoke_arn, "qualifiedArn": f"{arn}:$LATEST"}


def _delete_function(applier: Applier, resource: Applied):
    applier.client("lambda").delete_function(FunctionName=resource.id)


def _permission(applier: Applier, name: str, inputs: _Inputs):
    function = inputs["function"]
    statement = inputs.get("statementId") or autoname(name)
    request = {
        "FunctionName": function,
        "StatementId": statement,
        "Action": inputs["action"],
        "Principal": inputs["principal"],
    }
    for key, api_key in (("sourceArn", "SourceArn"), ("sourceAccount", "SourceAccount")):
        if inputs.get(key):
            request[api_key] = inputs[key]
    inputs.done()
    applier.client("lambda").add_permission(**request)
    return f"{function}/{statement}", {"statementId": statement}


def _delete_permission(applier: Applier, resource: Applied):
    function, statement = resource.id.rsplit("/", 1)
    applier.client("lambda").remove_permission(FunctionName=function, StatementId=statement)


def _event_source_mapping(applier: Applier, name: str, inputs: _Inputs):
    request = {"EventSourceArn": inputs["eventSourceArn"], "FunctionName": inputs["functionName"]}
    if inputs.get("batchSize") is not None:
        request["BatchSize"] = int(inputs["batchSize"])
    if inputs.get("maximumBatchingWindowInSeconds") is not None:
        request["MaximumBatchingWindowInSeconds"] = int(inputs["maximumBatchingWindowInSeconds"])
    if inputs.get("functionResponseTypes"):
        request["FunctionResponseTypes"] = inputs["functionResponseTypes"]
    scaling = inputs.get("scalingConfig") or {}
    if scaling.get("maximumConcurrency") is not None:
        request["ScalingConfig"] = {"MaximumConcurrency": int(scaling["maximumConcurrency"])}
    inputs.done()
    lambda_ = applier.client("lambda")
    mapping = lambda_.create_event_source_mapping(**request)["UUID"]
    for _ in range(120):
        if lambda_.get_event_source_mapping(UUID=mapping)["State"] == "Enabled":
            break
        time.sleep(0.5)
    else:
        raise UnsupportedResource(f"{name}: the event source mapping did not become Enabled")
    return mapping, {"uuid": mapping, "functionArn": inputs["functionName"]}


def _delete_event_source_mapping(applier: Applier, resource: Applied):
    applier.client("lambda").delete_event_source_mapping(UUID=resource.id)


def _event_invoke_config(applier: Applier, name: str, inputs: _Inputs):
    function = inputs["functionName"]
    request = {"FunctionName": function}
    if inputs.get("maximumRetryAttempts") is not None:
        request["MaximumRetryAttempts"] = int(inputs["maximumRetryAttempts"])
    if inputs.get("maximumEventAgeInSeconds") is not None:
        request["MaximumEventAgeInSeconds"] = int(inputs["maximumEventAgeInSeconds"])
    destinations = inputs.get("destinationConfig") or {}
    if destinations:
        request["DestinationConfig"] = {
            api_key: {"Destination": destinations[key]["destination"]}
            for key, api_key in (("onFailure", "OnFailure"), ("onSuccess", "OnSuccess"))
            if destinations.get(key)
        }
    inputs.done()
    applier.client("lambda").put_function_event_invoke_config(**request)
    return function, {}


def _delete_event_invoke_config(applier: Applier, resource: Applied):
    applier.client("lambda").delete_function_event_invoke_config(FunctionName=resource.id)


# --- API Gateway (REST) ------------------------------------------------------------------------


def _rest_api(applier: Applier, name: str, inputs: _Inputs):
    request = {"name": inputs.get("name") or autoname(name)}
    inputs.copy_present(request, "description", "binaryMediaTypes")
    if inputs.get("endpointConfiguration"):
        types = inputs["endpointConfiguration"]["types"]
        request["endpointConfiguration"] = {"types": [types] if isinstance(types, str) else types}
    inputs.done()
    api = applier.client("apigateway").create_rest_api(**request)
    return api["id"], {
        "rootResourceId": api["rootResourceId"],
        "executionArn": f"arn:aws:execute-api:{applier.region}:{ACCOUNT}:{api['id']}",
        "name": request["name"],
    }


def _delete_rest_api(applier: Applier, resource: Applied):
    applier.client("apigateway").delete_rest_api(restApiId=resource.id)


def _api_resource(applier: Applier, name: str, inputs: _Inputs):
    request = {"restApiId": inputs["restApi"], "parentId": inputs["parentId"], "pathPart": inputs["pathPart"]}
    inputs.done()
    created = applier.client("apigateway").create_resource(**request)
    return created["id"], {"path": created["path"]}


def _on_method(inputs: _Inputs) -> dict[str, Any]:
    """What names a method of a REST API, for the method and what hangs on it."""
    return {
        "restApiId": inputs["restApi"],
        "resourceId": inputs["resourceId"],
        "httpMethod": inputs["httpMethod"],
    }


def _method(applier: Applier, name: str, inputs: _Inputs):
    request = {
        **_on_method(inputs),
        "authorizationType": inputs["authorization"],
    }
    if inputs.get("apiKeyRequired") is not None:
        request["apiKeyRequired"] = inputs["apiKeyRequired"]
    inputs.copy_present(request, "requestParameters")
    inputs.done()
    applier.client("apigateway").put_method(**request)
    return f"{request['resourceId']}-{request['httpMethod']}", {}


def _integration(applier: Applier, name: str, inputs: _Inputs):
    request = {
        **_on_method(inputs),
        "type": inputs["type"],
    }
    if request["type"] != "MOCK":  # a MOCK integration has no backend to call
        request.update(integrationHttpMethod=inputs["integrationHttpMethod"], uri=inputs["uri"])
    if inputs.get("timeoutMilliseconds"):
        request["timeoutInMillis"] = int(inputs["timeoutMilliseconds"])
    inputs.copy_present(request, "contentHandling", "requestTemplates", "passthroughBehavior")
    inputs.done()
    applier.client("apigateway").put_integration(**request)
    return f"{request['resourceId']}-{request['httpMethod']}-integration", {}


def _method_response(applier: Applier, name: str, inputs: _Inputs):
    request = {
        **_on_method(inputs),
        "statusCode": inputs["statusCode"],
    }
    inputs.copy_present(request, "responseParameters", "responseModels")
    inputs.done()
    applier.client("apigateway").put_method_response(**request)
    return f"{request['resourceId']}-{request['httpMethod']}-{request['statusCode']}", {}


def _integration_response(applier: Applier, name: str, inputs: _Inputs):
    request = {
        **_on_method(inputs),
        "statusCode": inputs["statusCode"],
    }
    inputs.copy_present(
        request, "selectionPattern", "responseParameters", "responseTemplates", "contentHandling"
    )
    inputs.done()
    applier.client("apigateway").put_integration_response(**request)
    return f"{request['resourceId']}-{request['httpMethod']}-{request['statusCode']}-integration", {}


def _gateway_response(applier: Applier, name: str, inputs: _Inputs):
    request = {"restApiId": inputs["restApiId"], "responseType": inputs["responseType"]}
    inputs.copy_present(request, "statusCode", "responseTemplates", "responseParameters")
    inputs.done()
    applier.client("apigateway").put_gateway_response(**request)
    return f"{request['restApiId']}-{request['responseType']}", {}


def _api_key(applier: Applier, name: str, inputs: _Inputs):
    request = {"name": inputs.get("name") or autoname(name), "enabled": inputs.get("enabled", True)}
    inputs.copy_present(request, "description", "value", "tags")
    inputs.done()
    created = applier.client("apigateway").create_api_key(**request)
    return created["id"], {"name": request["name"], "value": created["value"]}


def _delete_api_key(applier: Applier, resource: Applied):
    applier.client("apigateway").delete_api_key(apiKey=resource.id)


def _usage_plan(applier: Applier, name: str, inputs: _Inputs):
    request: dict = {"name": inputs.get("name") or autoname(name)}
    inputs.copy_present(request, "description")
    request["apiStages"] = [{"apiId": s["apiId"], "stage": s["stage"]} for s in inputs.get("apiStages") or []]
    throttle = inputs.get("throttleSettings")
    if throttle:
        request["throttle"] = {
            "rateLimit": float(throttle["rateLimit"]),
            "burstLimit": int(throttle["burstLimit"]),
        }
    quota = inputs.get("quotaSettings")
    if quota:
        request["quota"] = {"limit": int(quota["limit"]), "period": quota["period"]}
    inputs.copy_present(request, "tags")
    inputs.done()
    created = applier.client("apigateway").create_usage_plan(**request)
    return created["id"], {"name": request["name"]}


def _delete_usage_plan(applier: Applier, resource: Applied):
    applier.client("apigateway").delete_usage_plan(usagePlanId=resource.id)


def _usage_plan_key(applier: Applier, name: str, inputs: _Inputs):
    request = {"usagePlanId": inputs["usagePlanId"], "keyId": inputs["keyId"], "keyType": inputs["keyType"]}
    inputs.done()
    applier.client("apigateway").create_usage_plan_key(**request)
    return f"{request['usagePlanId']}-{request['keyId']}", {}


def _delete_usage_plan_key(applier: Applier, resource: Applied):
    plan, _, key = resource.id.partition("-")
    applier.client("apigateway").delete_usage_plan_key(usagePlanId=plan, keyId=key)


def _deployment(applier: Applier, name: str, inputs: _Inputs):
    api = inputs["restApi"]
    request = {"restApiId": api}
    inputs.copy_present(request, "description")
    inputs.done()
    deployment = applier.client("apigateway").create_deployment(**request)
    return deployment["id"], {}


def _stage(applier: Applier, name: str, inputs: _Inputs):
    api, stage, deployment = inputs["restApi"], inputs["stageName"], inputs["deployment"]
    access_log = inputs.get("accessLogSettings")
    inputs.done()
    apigateway = applier.client("apigateway")
    apigateway.create_stage(restApiId=api, stageName=stage, deploymentId=deployment)
    if access_log:
        apigateway.update_stage(
            restApiId=api,
            stageName=stage,
            patchOperations=[
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": access_log["destinationArn"],
                },
                {"op": "replace", "path": "/accessLogSettings/format", "value": access_log["format"]},
            ],
        )
    # LocalStack serves every stage at this path, with no DNS needed.
    invoke_url = f"{ENDPOINT}/_aws/execute-api/{api}/{stage}"
    return f"{api}/{stage}", {"invokeUrl": invoke_url, "stageName": stage}


def _delete_stage(applier: Applier, resource: Applied):
    api, stage = resource.id.split("/", 1)
    applier.client("apigateway").delete_stage(restApiId=api, stageName=stage)


def _method_settings(applier: Applier, name: str, inputs: _Inputs):
    api, stage, method_path = inputs["restApi"], inputs["stageName"], inputs["methodPath"]
    settings = inputs["settings"]
    inputs.done()
    paths = {
        "metricsEnabled": "metrics/enabled",
        "loggingLevel": "logging/loglevel",
        "dataTraceEnabled": "logging/dataTrace",
        "throttlingBurstLimit": "throttling/burstLimit",
        "throttlingRateLimit": "throttling/rateLimit",
    }
    unknown = set(settings) - set(paths)
    if unknown:
        raise UnsupportedResource(f"{name}: the harness does not apply method settings {sorted(unknown)}")
    operations = [
        {"op": "replace", "path": f"/{method_path}/{paths[key]}", "value": _patch_value(value)}
        for key, value in settings.items()
    ]
    applier.client("apigateway").update_stage(restApiId=api, stageName=stage, patchOperations=operations)
    return f"{api}/{stage}/{method_path}", {}


def _patch_value(value) -> str:
    """Patch operations take strings; Pulumi hands numbers over as floats (20.0 means 20)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _api_account(applier: Applier, name: str, inputs: _Inputs):
    role_arn = inputs["cloudwatchRoleArn"]
    inputs.done()
    applier.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
    )
    return "api-gateway-account", {}


def _cannot_apply(reason: str) -> Callable:
    def create(applier: Applier, name: str, inputs: _Inputs):
        raise UnsupportedResource(f"{inputs.type_token} {name}: {reason}")

    return create


_NOT_IN_COMMUNITY = (
    "ECR is not in LocalStack Community; deploy the localstack stack with pushToEcr: false and the "
    "locally built image, or run against a licensed LocalStack with `pulumi up`"
)

RESOURCE_TYPES: dict[str, tuple[Callable, Callable]] = {
    "aws:s3/bucket:Bucket": (_bucket, _delete_bucket),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (_public_access_block, _deleted_with_parent),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _encryption,
        _deleted_with_parent,
    ),
    "aws:s3/bucketPolicy:BucketPolicy": (_bucket_policy, _deleted_with_parent),
    "aws:s3/bucketVersioning:BucketVersioning": (_versioning, _deleted_with_parent),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (_lifecycle, _deleted_with_parent),
    "aws:s3/bucketNotification:BucketNotification": (_notification, _deleted_with_parent),
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": (_bucket_cors, _deleted_with_parent),
    "aws:cloudwatch/logGroup:LogGroup": (_log_group, _delete_log_group),
    "aws:cloudwatch/eventBus:EventBus": (_event_bus, _delete_event_bus),
    "aws:cloudwatch/eventRule:EventRule": (_event_rule, _delete_event_rule),
    "aws:cloudwatch/eventTarget:EventTarget": (_event_target, _delete_event_target),
    "aws:sqs/queue:Queue": (_queue, _delete_queue),
    "aws:sqs/queuePolicy:QueuePolicy": (_queue_policy, _deleted_with_parent),
    "aws:lambda/eventSourceMapping:EventSourceMapping": (_event_source_mapping, _delete_event_source_mapping),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (_metric_alarm, _delete_metric_alarm),
    "aws:cloudwatch/dashboard:Dashboard": (_dashboard, _delete_dashboard),
    "aws:sns/topic:Topic": (_topic, _delete_topic),
    "aws:iam/role:Role": (_role, _delete_role),
    "aws:iam/rolePolicy:RolePolicy": (_role_policy, _delete_role_policy),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (_role_policy_attachment, _detach_role_policy),
    "aws:lambda/function:Function": (_function, _delete_function),
    "aws:lambda/permission:Permission": (_permission, _delete_permission),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        _event_invoke_config,
        _delete_event_invoke_config,
    ),
    "aws:apigateway/restApi:RestApi": (_rest_api, _delete_rest_api),
    "aws:apigateway/resource:Resource": (_api_resource, _deleted_with_parent),
    "aws:apigateway/method:Method": (_method, _deleted_with_parent),
    "aws:apigateway/integration:Integration": (_integration, _deleted_with_parent),
    "aws:apigateway/methodResponse:MethodResponse": (_method_response, _deleted_with_parent),
    "aws:apigateway/integrationResponse:IntegrationResponse": (_integration_response, _deleted_with_parent),
    "aws:apigateway/deployment:Deployment": (_deployment, _deleted_with_parent),
    "aws:apigateway/response:Response": (_gateway_response, _deleted_with_parent),
    "aws:apigateway/apiKey:ApiKey": (_api_key, _delete_api_key),
    "aws:apigateway/usagePlan:UsagePlan": (_usage_plan, _delete_usage_plan),
    "aws:apigateway/usagePlanKey:UsagePlanKey": (_usage_plan_key, _delete_usage_plan_key),
    "aws:apigateway/stage:Stage": (_stage, _delete_stage),
    "aws:apigateway/methodSettings:MethodSettings": (_method_settings, _deleted_with_parent),
    "aws:apigateway/account:Account": (_api_account, _deleted_with_parent),
    "aws:ecr/repository:Repository": (_cannot_apply(_NOT_IN_COMMUNITY), _deleted_with_parent),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": (_cannot_apply(_NOT_IN_COMMUNITY), _deleted_with_parent),
    "docker:index/image:Image": (
        _cannot_apply("the harness runs the image `make image` built; set image.imageUri instead of a build"),
        _deleted_with_parent,
    ),
}


def save(applier: Applier, path: str) -> None:
    """Record what was applied, so that another process can destroy it."""
    with open(path, "w") as file:
        json.dump({"region": applier.region, "applied": [vars(a) for a in applier.applied]}, file, indent=1)


def load(path: str) -> Applier:
    with open(path) as file:
        document = json.load(file)
    return Applier(region=document["region"], applied=[Applied(**a) for a in document["applied"]])
