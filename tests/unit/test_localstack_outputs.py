"""The outputs file `make up` writes for the command, and what it prints about the running stack."""

from __future__ import annotations

import json
import stat

from e2e_harness import applier, local_stack

OUTPUTS = {
    "bucketName": "darknet-abc",
    "apiUrl": "http://127.0.0.1:4566/_aws/execute-api/x1/v1/detect",
    "viewerUrl": "http://127.0.0.1:4566/_aws/execute-api/x1/v1/",
    "functionName": "darknet-fn",
    "logGroupName": "/aws/lambda/darknet-group",
}


def deployment(tmp_path):
    outputs, state = tmp_path / "outputs.json", tmp_path / "deployed.json"
    outputs.write_text(json.dumps(OUTPUTS))
    applier.save(applier.Applier(region="eu-west-1"), str(state))
    return str(outputs), str(state)


def test_the_file_is_where_the_command_looks_and_carries_the_sdk_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    local_stack.publish(*deployment(tmp_path))
    path = tmp_path / "state" / "darknet-lambda" / "localstack-outputs.json"
    document = json.loads(path.read_text())
    assert document == {
        **OUTPUTS,
        "localstack": {
            "endpointUrl": "http://127.0.0.1:4566",
            "region": "eu-west-1",
            "accessKeyId": "012345678912",
            "secretAccessKey": "test",
        },
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_what_make_up_prints_names_the_stack_and_the_aws_cli_exports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    outputs, state = deployment(tmp_path)
    command = ["publish", "--outputs", outputs, "--state", state, "--function-image", "img:tag"]
    assert local_stack.main(command) == 0
    printed = capsys.readouterr().out
    assert "API      http://127.0.0.1:4566/_aws/execute-api/x1/v1/detect" in printed
    assert "viewer   http://127.0.0.1:4566/_aws/execute-api/x1/v1/ " in printed
    assert "bucket   darknet-abc" in printed
    assert (
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_DEFAULT_REGION=eu-west-1"
        " AWS_ACCESS_KEY_ID=012345678912 AWS_SECRET_ACCESS_KEY=test"
    ) in printed
    assert "darknet-lambda put" in printed and "(function image img:tag)" in printed
    local_stack.main(["show", "--function-image", "img:tag"])
    assert capsys.readouterr().out == printed
    local_stack.main(["remove"])
    assert not (tmp_path / "state" / "darknet-lambda" / "localstack-outputs.json").exists()
    local_stack.main(["remove"])  # nothing to remove is fine
