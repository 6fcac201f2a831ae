#!/bin/sh
# On Lambda, AWS_LAMBDA_RUNTIME_API is set: talk to the Runtime API directly. Anywhere else
# (docker run, tests, benchmarks) run the same runtime under AWS's Runtime Interface Emulator,
# which serves POST /2015-03-31/functions/function/invocations on port 8080.
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie /usr/bin/python3 -m awslambdaric "$@"
fi
exec /usr/bin/python3 -m awslambdaric "$@"
