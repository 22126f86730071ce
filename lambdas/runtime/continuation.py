"""Carrying work past Lambda's 15-minute wall: notice the wall coming, hand the rest to a new invocation."""

import json
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext


def pause_condition(context: LambdaContext, margin_seconds: float) -> Callable[[], bool]:
    """True once less than `margin_seconds` remain: time enough to close files and save a checkpoint."""
    margin_ms = margin_seconds * 1000

    def should_pause() -> bool:
        return context.get_remaining_time_in_millis() < margin_ms

    return should_pause


def invoke_self_async(context: LambdaContext, payload: dict[str, Any]) -> None:
    """Start the next invocation of this same function (version or alias included), asynchronously.

    Lambda delivers async events at least once; the checkpoints are built so a replay does no harm.
    """
    boto3.client("lambda").invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(payload).encode("utf-8"),
    )
