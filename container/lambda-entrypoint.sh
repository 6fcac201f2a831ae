#!/bin/sh
# On Lambda, AWS_LAMBDA_RUNTIME_API is set: talk to the Runtime API directly. Anywhere else
# (docker run, tests, benchmarks) run the same runtime under AWS's Runtime Interface Emulator,
# which serves POST /2015-03-31/functions/function/invocations on port 8080. The image does not
# carry the emulator (Lambda never runs it): local runs mount it at $emulator.
emulator=/usr/local/bin/aws-lambda-rie
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  if [ ! -x "$emulator" ]; then
    echo "not on Lambda (AWS_LAMBDA_RUNTIME_API is unset) and no emulator at $emulator: mount AWS's" \
      "Runtime Interface Emulator there, e.g. docker run -v PATH/aws-lambda-rie:$emulator:ro ..." >&2
    exit 1
  fi
  # The emulator would take the function's LOG_LEVEL (DEBUG on the localstack stack) for its own lines,
  # which Lambda never prints: its level is its own.
  exec "$emulator" --log-level info /usr/bin/python3 -m awslambdaric "$@"
fi
exec /usr/bin/python3 -m awslambdaric "$@"
