"""Drive a function's self-continuations the way Lambda would, including a duplicate delivery."""

import json
import re
from collections.abc import Callable
from typing import Any

from devtools.lambda_context import ExpiringLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def deliver_twice_interleaved(
    handler: Handler, event: dict[str, Any], sent: list[dict[str, Any]], paces: tuple[int, int]
) -> list[dict[str, Any]]:
    """Run two deliveries of `event` step by step, each with its own successors and pace, to the end.

    `sent` is where the handler's self-invocations land; `paces` are how many looks at the clock
    each chain's invocations get before their time runs out. Returns both final results.
    """
    forks: list[dict[str, Any]] = [{"next": event, "calls": pace} for pace in paces]
    finals: list[dict[str, Any]] = []
    while forks:
        for fork in list(forks):
            result = handler(fork["next"], ExpiringLambdaContext(calls=fork["calls"]))
            if result["status"] == "complete":
                finals.append(result)
                forks.remove(fork)
            else:
                fork["next"] = sent.pop()
    return finals


def emitted_metrics(stdout: str) -> dict[str, float]:
    """The metrics the handlers flushed (Powertools prints an EMF document per invocation), summed by name.

    Log lines share stdout with them; only documents with EMF's `_aws` metadata are metrics.
    """
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return totals


def by_hand_event(message: str) -> dict[str, Any]:
    """The event a chain stopped at its cap tells a person to send (InvocationLimitReached's message)."""
    found = re.search(r"invoke the function with (\{.*\}) \(a new chain", message)
    assert found, f"no event to send by hand in: {message}"
    event: dict[str, Any] = json.loads(found[1])
    return event
