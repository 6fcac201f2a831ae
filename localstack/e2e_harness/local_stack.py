"""The outputs file of the stack `make up` leaves running, and what `make up` prints about it.

python -m e2e_harness.local_stack publish --outputs FILE --state FILE --function-image TAG
python -m e2e_harness.local_stack show --function-image TAG
python -m e2e_harness.local_stack remove

The file is the stack's outputs (as `pulumi stack output --json` writes them) plus a `localstack`
block with the SDK settings that reach it, so that the `darknet-lambda` command, which looks for it
by itself, talks to LocalStack without any AWS_* variable set.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from darknet_lambda.cli.stack import LOCALSTACK_BLOCK, outputs_file_of_make_up

from .applier import ACCOUNT, ENDPOINT, load

SECRET_ACCESS_KEY = "test"


def publish(outputs_path: str, state_path: str) -> dict:
    """Write the outputs file from a deployment's outputs and state; returns its content."""
    with open(outputs_path) as file:
        document = json.load(file)
    document[LOCALSTACK_BLOCK] = {
        "endpointUrl": ENDPOINT,
        "region": load(state_path).region,
        "accessKeyId": ACCOUNT,
        "secretAccessKey": SECRET_ACCESS_KEY,
    }
    target = outputs_file_of_make_up()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n")
    temporary.chmod(0o600)  # it may carry an API key
    temporary.replace(target)
    return document


def usage(document: dict, path: Path, function_image: str) -> str:
    """What a person needs to use the running stack: its addresses and a first command of each client."""
    local = document[LOCALSTACK_BLOCK]
    api, bucket = document["apiUrl"], document["bucketName"]
    viewer = document["viewerUrl"]
    exports = {
        "AWS_ENDPOINT_URL": local["endpointUrl"],
        "AWS_DEFAULT_REGION": local["region"],
        "AWS_ACCESS_KEY_ID": local["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": local["secretAccessKey"],
    }
    export_line = " ".join(f"{name}={shlex.quote(value)}" for name, value in exports.items())
    return f"""
darknet-lambda is up on LocalStack (function image {function_image})

  API      {api}
  viewer   {viewer}   (open it in a browser)
  bucket   {bucket}
  outputs  {path}

The command finds the stack through that file (in this checkout: .venv/bin/darknet-lambda):
  darknet-lambda put photos/ --wait        # a file or folder, waits for every result
  darknet-lambda invoke dog.jpg            # POST /detect; -o result.tar.gz, -a --wait
  darknet-lambda ls                        # results, newest first; get REQUEST_ID downloads one
  darknet-lambda logs --since 10m          # --follow, --errors
  darknet-lambda status

curl:
  curl -s --data-binary @dog.jpg -H 'Content-Type: image/jpeg' {api}
  curl -s -F image=@dog.jpg -F threshold=0.25 {api}

The aws CLI and any AWS SDK (the functions and logs belong to account {local["accessKeyId"]}):
  export {export_line}
  aws s3 cp dog.jpg s3://{bucket}/input/dog.jpg
  aws s3 ls s3://{bucket}/output/ --recursive
  aws logs filter-log-events --log-group-name {document["logGroupName"]} --max-items 20

It stays up until `make down`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e_harness.local_stack")
    commands = parser.add_subparsers(dest="command", required=True)
    publish_parser = commands.add_parser("publish", help="write the outputs file, print how to use the stack")
    publish_parser.add_argument("--outputs", required=True, help="the deployment's outputs")
    publish_parser.add_argument("--state", required=True, help="the deployment's state (deployed.json)")
    publish_parser.add_argument("--function-image", required=True)
    show_parser = commands.add_parser("show", help="print how to use the stack the outputs file describes")
    show_parser.add_argument("--function-image", required=True)
    commands.add_parser("remove", help="remove the outputs file")
    args = parser.parse_args(argv)
    path = outputs_file_of_make_up()
    if args.command == "publish":
        print(usage(publish(args.outputs, args.state), path, args.function_image))
    elif args.command == "show":
        print(usage(json.loads(path.read_text()), path, args.function_image))
    else:
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
