"""How both functions end an invocation: count and log a failure, hand unfinished work on, answer.

The answer is always the outcome's own `to_json()`, the same document the CLI prints.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime import continuation
from runtime.observability import logger, metrics


class Paused(Protocol):
    """An outcome whose work goes on in the next invocation, from its checkpoint."""

    @property
    def checkpoint_key(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


@contextmanager
def failures_counted(metric: str, message: str) -> Iterator[None]:
    """Any exception in the block is counted as `metric`, logged with `message`, and raised on."""
    try:
        yield
    except Exception:
        count(metric)
        logger.exception(message)
        raise


def count(metric: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=metric, unit=unit, value=value)


def continuing(context: LambdaContext, outcome: Paused, metric: str) -> dict[str, Any]:
    """Invoke this same function again to carry on from the outcome's checkpoint, count it, answer."""
    continuation.invoke_self_async(context, {"continuation": {"checkpoint_key": outcome.checkpoint_key}})
    count(metric)
    return outcome.to_json()
