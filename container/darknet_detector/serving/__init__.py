"""What the function serves: the Lambda handler, the HTTP layer, event parsing, metrics, the uploads API.

The one part that knows AWS event shapes and HTTP; it calls core's plain functions.
"""
