"""The command's known failures and how each ends: one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import os

import click

EXIT_OK = 0
EXIT_NOT_ALL_SUCCEEDED = 1
"""Some image or result did not succeed (rejected, failed, or not there within --timeout)."""
EXIT_SETUP = 2
"""A usage or setup problem: no stack, no credentials, endpoint unreachable, refused by the API."""
DEBUG_ENV = "DARKNET_LAMBDA_DEBUG"
"""Set to 1 to see the traceback of an unexpected error instead of its one line."""


class CliError(click.ClickException):
    """A failure the command explains in one line; `exit_code` 2 unless the images themselves failed."""

    def __init__(self, message: str, exit_code: int = EXIT_SETUP) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # Click's default, per instance

    def show(self, file=None) -> None:
        click.echo(f"darknet-lambda: {self.format_message()}", err=True)


def api_message(response) -> str:
    """The API's own words from an error answer: the function's {"error": {"message"}} or API Gateway's
    {"message"}; the start of the body otherwise."""
    try:
        document = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if document.get("message"):
            return str(document["message"])
    return response.text.strip()[:300]


def translate(error: BaseException) -> CliError | None:
    """The one line a known library error deserves, or None for an unexpected one."""
    import botocore.exceptions as aws
    import requests

    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return CliError(
            "no AWS credentials found: set a profile (AWS_PROFILE) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or use an outputs file with a localstack block"
        )
    if isinstance(error, aws.NoRegionError):
        return CliError("no AWS region set: set AWS_REGION or a profile's region")
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        where = str(error.kwargs.get("endpoint_url", "?")).split("?")[0]
        return CliError(f"cannot reach AWS at {where}: is the network up?")
    if isinstance(error, aws.ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "a call")
        return CliError(f"AWS refused {operation}: {details.get('Code')}: {details.get('Message')}")
    if isinstance(error, aws.BotoCoreError):
        return CliError(f"AWS SDK: {error}")
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        url = getattr(error.request, "url", None) or "the API"
        return CliError(f"cannot reach {url.split('?')[0]}: is the network up and the stack running?")
    if isinstance(error, FileNotFoundError | IsADirectoryError | PermissionError):
        return CliError(f"{error.strerror}: {error.filename}")
    return None


def wrap_unexpected(error: Exception) -> CliError:
    """An error nobody planned for still ends in one line (the traceback with DARKNET_LAMBDA_DEBUG=1)."""
    if os.environ.get(DEBUG_ENV):
        raise error
    return CliError(
        f"unexpected error: {type(error).__name__}: {error} (set {DEBUG_ENV}=1 for the traceback)"
    )
