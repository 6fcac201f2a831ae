"""DarknetBucket: the private, encrypted, TLS-only bucket holding input images and results."""

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from darknet_detector.contract import CORS_MAX_AGE_SECONDS, DetectorConfig, prefix_problem

from .checks import InvalidArgument, args_from, check_cors_origins, check_range
from .policies import policy_document


@dataclass(kw_only=True)
class DarknetBucketArgs:
    """Safe defaults: private, SSE-S3, TLS only, no versioning, results kept until deleted."""

    versioning: bool = False
    """Keep old versions of objects."""
    output_prefix: str | None = None
    """Key prefix of the results that expire (default output/; in DarknetServiceArgs leave it unset:
    the service uses the function's output prefix)."""
    output_expiration_days: int | None = None
    """Delete results under `output_prefix` after this many days (and old versions, when versioned)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Encrypt with this KMS key instead of S3-managed keys (AES256)."""
    cors_allowed_origins: list[str] | None = None
    """Origins whose pages may POST an upload form (POST /uploads) to the bucket from a browser (CORS);
    none by default (in DarknetServiceArgs leave it unset: the API's cors_allowed_origins is used)."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete the bucket while it still holds objects."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource."""

    def __post_init__(self) -> None:
        if self.output_prefix is not None and prefix_problem(self.output_prefix):
            raise InvalidArgument("output_prefix", prefix_problem(self.output_prefix) or "")
        check_cors_origins("cors_allowed_origins", self.cors_allowed_origins)
        if self.output_expiration_days is not None:
            check_range("output_expiration_days", self.output_expiration_days, 1, 3650, "days")


class DarknetBucket(pulumi.ComponentResource):
    """The bucket for input images and results; `bucket` is the S3 bucket resource."""

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    bucket_arn: pulumi.Output[str]
    """The bucket's ARN."""
    bucket: aws.s3.Bucket
    """The S3 bucket."""

    def __init__(
        self, name: str, args: DarknetBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("darknet:index:DarknetBucket", name, None, opts)
        args = args_from(DarknetBucketArgs, args)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = bucket = aws.s3.Bucket(
            name, force_destroy=args.force_destroy, tags=args.tags, opts=child
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        if args.kms_key_arn is None:
            default_encryption = (
                aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        else:
            default_encryption = (
                aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                )
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default_encryption,
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=bucket.arn.apply(_tls_only_policy),
            # S3 rejects policy changes while the public access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        if args.versioning:
            aws.s3.BucketVersioning(
                name,
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=child,
            )
        if args.output_expiration_days is not None:
            rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-outputs",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                    prefix=args.output_prefix or DetectorConfig.output_prefix
                ),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    days=args.output_expiration_days
                ),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.output_expiration_days
                )
                if args.versioning
                else None,
            )
            aws.s3.BucketLifecycleConfiguration(name, bucket=bucket.id, rules=[rule], opts=child)

        if args.cors_allowed_origins:
            aws.s3.BucketCorsConfiguration(
                name,
                bucket=bucket.id,
                cors_rules=[upload_form_cors_rule(args.cors_allowed_origins)],
                opts=child,
            )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs(
            {"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "bucket": bucket}
        )


def upload_form_cors_rule(origins: list[str]) -> aws.s3.BucketCorsConfigurationCorsRuleArgsDict:
    """The CORS rule a browser page needs to POST a presigned upload form to the bucket, from these
    origins: the form's fields and the file in one multipart POST; the page reads S3's answer (ETag,
    Location) at most. Nothing else (no GET, no PUT): results are read through the API."""
    return {
        "allowed_methods": ["POST"],
        "allowed_origins": list(origins),
        "allowed_headers": ["*"],
        "expose_headers": ["ETag", "Location"],
        "max_age_seconds": CORS_MAX_AGE_SECONDS,
    }


def _tls_only_policy(bucket_arn: str) -> str:
    return policy_document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
