"""Drive a function's self-continuations the way Lambda would, including a duplicate delivery."""

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
