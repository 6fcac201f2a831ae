"""`python -m darknet_lambda.cli`: the command without its console script."""

from . import main

main()
