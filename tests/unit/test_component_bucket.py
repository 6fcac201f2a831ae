"""DarknetBucket: private, encrypted, TLS only; versioning and expiry only when asked."""

from darknet_lambda import DarknetBucket, DarknetBucketArgs, DarknetService, DarknetServiceArgs


def deploy(mocked, **overrides):
    return mocked.run(lambda: DarknetBucket("images", DarknetBucketArgs(**overrides)))


def test_bucket_is_private_encrypted_and_tls_only(mocked):
    deployment = deploy(mocked)
    bucket = deployment.one("aws:s3/bucket:Bucket")
    assert bucket.inputs.get("forceDestroy") is False

    block = deployment.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert block["bucket"] == bucket.state["bucket"]
    assert all(
        block[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )

    encryption = deployment.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}

    policy = deployment.one("aws:s3/bucketPolicy:BucketPolicy")
    arn = bucket.state["arn"]
    assert policy.policy()["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    assert deployment.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn in policy.dependencies
    assert deployment.of_type("aws:s3/bucketVersioning:BucketVersioning") == []
    assert deployment.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration") == []


def test_kms_key_replaces_s3_managed_keys(mocked):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234"
    rule = (
        deploy(mocked, kms_key_arn=key)
        .one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        .inputs["rules"][0]
    )
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}
    assert rule["bucketKeyEnabled"] is True


def test_versioning_and_expiry_of_outputs_only(mocked):
    deployment = deploy(mocked, versioning=True, output_expiration_days=30, force_destroy=True)
    versioning = deployment.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    rules = deployment.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert rules == [
        {
            "id": "expire-old-outputs",
            "status": "Enabled",
            "filter": {"prefix": "output/"},
            "expiration": {"days": 30},
            "noncurrentVersionExpiration": {"noncurrentDays": 30},
        }
    ]
    assert deployment.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is True


def test_no_cors_rule_unless_origins_are_allowed(mocked):
    assert deploy(mocked).of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration") == []


def test_the_cors_rule_lets_the_allowed_origins_post_an_upload_form_and_nothing_else(mocked):
    deployment = deploy(mocked, cors_allowed_origins=["https://app.example.com", "http://localhost:8080"])
    cors = deployment.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration").inputs
    assert cors["bucket"] == "images-0a1b2c3"
    [rule] = cors["corsRules"]
    assert rule["allowedMethods"] == ["POST"]
    assert rule["allowedOrigins"] == ["https://app.example.com", "http://localhost:8080"]
    assert rule["allowedHeaders"] == ["*"]


def test_the_existing_bucket_s_cors_is_left_to_its_owner(mocked):
    deployment = mocked.run(
        lambda: DarknetService(
            "detector",
            DarknetServiceArgs(
                image={"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/d:1"},
                bucket_name="theirs",
                api={"cors_allowed_origins": ["*"]},
            ),
        )
    )
    assert deployment.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration") == []
