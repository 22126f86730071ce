"""How both functions end an invocation: count and log a failure, hand unfinished work on, answer.

The answer is always the outcome's own `to_json()`, the same document the CLI prints.

A function's hand-offs to itself form a *chain*, capped at `MAX_INVOCATIONS` (cdk.json
`max_invocations`). The functions allow Lambda's recursive loops (infra/functions.py), since Lambda
would otherwise stop any chain at about 16 invocations; this cap is the guard rail AWS asks for instead.

How the chain is counted: by a number carried in the continuation event itself
(`{"continuation": {"checkpoint_key": ..., "invocation": n}}`), not by the `invocations` that the
backup's progress and the restore's journal record. Those count the whole run, by-hand resumes
included, so a run stopped at the cap would be stopped again at once when a person resumed it, and
the cap would bound a run's length rather than a runaway chain. The event's number counts, like
Lambda's own loop detection, only the invocations since the last event a person or the schedule
sent: `{"resume": id}` (or a continuation sent by hand without a number) starts a new chain at 1. A
continuation Lambda delivers twice, or retries, carries the same number, so replays never advance it.
"""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup.errors import InvocationLimitReached
from runtime import continuation
from runtime.observability import logger, metrics


class Paused(Protocol):
    """An outcome whose work goes on in the next invocation, from its checkpoint."""

    @property
    def checkpoint_key(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Chain:
    """This invocation's place in its chain of self-invocations, and how long the chain may grow."""

    invocation: int  # 1 for an event a person or the schedule sent
    max_invocations: int


@dataclass(frozen=True)
class ByHand:
    """What the work is and how a person carries it on, for the message of a chain stopped at its cap."""

    what: str  # "the backup of table 'ledger'"
    progress: str  # where its checkpoint is kept
    event: Mapping[str, Any]  # the event that resumes it


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


def continuing(
    context: LambdaContext, outcome: Paused, metric: str, chain: Chain, by_hand: ByHand
) -> dict[str, Any]:
    """Invoke this same function again to carry on from the outcome's checkpoint, count it, answer.

    At the chain's cap it raises InvocationLimitReached instead (inside `failures_counted`, so the
    failure metric and its alarm fire); the checkpoint stays for a person to resume from.
    """
    if chain.invocation >= chain.max_invocations:
        raise InvocationLimitReached(
            f"{by_hand.what} stopped after {chain.invocation} invocations in one chain: the limit is "
            f"{chain.max_invocations} (MAX_INVOCATIONS, cdk.json max_invocations), so it did not invoke "
            f"itself again. It is not finished; its progress is kept at {by_hand.progress}. To carry it "
            f"on, invoke the function with {json.dumps(by_hand.event)} (a new chain of up to "
            f"{chain.max_invocations} invocations); if runs this long are expected, raise max_invocations "
            "for this environment in cdk.json and deploy."
        )
    payload = {"continuation": {"checkpoint_key": outcome.checkpoint_key, "invocation": chain.invocation + 1}}
    continuation.invoke_self_async(context, payload)
    count(metric)
    return outcome.to_json()
