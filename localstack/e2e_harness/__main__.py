"""Command line of the harness: deploy and destroy the program on LocalStack.

python -m e2e_harness deploy --state FILE --outputs FILE [--function-image TAG] [--auth-apis]
python -m e2e_harness destroy --state FILE
"""

from __future__ import annotations

import argparse
import json
import sys

from . import applier, program

STACK = "localstack"


def deploy(state_path: str, outputs_path: str, function_image: str | None, auth_apis: bool) -> int:
    config = program.stack_config(STACK)
    if function_image:
        key = f"{program.PROJECT}:image"
        config[key] = json.dumps({**json.loads(config.get(key, "{}")), "imageUri": function_image})
    target = applier.Applier(region=config.get("aws:region", "us-east-1"))
    try:
        run = program.run_program_with_auth_apis if auth_apis else program.run_program
        outputs = run(STACK, config, target.create)
    finally:
        applier.save(target, state_path)  # what was created is destroyed even if the program failed
    with open(outputs_path, "w") as file:
        json.dump(outputs, file, indent=1)
    print(f"deployed {len(target.applied)} resources: {', '.join(sorted({a.type for a in target.applied}))}")
    return 0


def destroy(state_path: str) -> int:
    target = applier.load(state_path)
    count = len(target.applied)
    failures = target.destroy()
    applier.save(target, state_path)
    for failure in failures:
        print(f"destroy failed: {failure}", file=sys.stderr)
    print(f"destroyed {count - len(failures)} of {count} resources")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e_harness")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy")
    deploy_parser.add_argument("--state", required=True)
    deploy_parser.add_argument("--outputs", required=True)
    deploy_parser.add_argument("--function-image", help="overrides the stack's darknet-lambda:image.imageUri")
    deploy_parser.add_argument(
        "--auth-apis", action="store_true", help="the tests' extra API per authorization mode (the e2e run's)"
    )
    destroy_parser = commands.add_parser("destroy")
    destroy_parser.add_argument("--state", required=True)
    args = parser.parse_args(argv)
    if args.command == "deploy":
        return deploy(args.state, args.outputs, args.function_image, args.auth_apis)
    return destroy(args.state)


if __name__ == "__main__":
    sys.exit(main())
