#!/bin/sh
# Same switch as the product image: AWS's RIE around the runtime unless a Runtime API is given.
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie /usr/bin/python3 /var/task/runtime.py "$@"
fi
exec /usr/bin/python3 /var/task/runtime.py "$@"
