"""A token bucket shared by worker threads, so a backup or restore leaves capacity to the live pipeline."""

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `per_second` units on average, in bursts of at most one second's worth."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = per_second
        self._updated = clock()

    def acquire(self, units: int) -> None:
        """Block until `units` may proceed; a request larger than the bucket waits for its whole cost."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.per_second, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now
            self._tokens -= units  # may go negative: the debt is what this caller sleeps off
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


class Unlimited:
    """The no-op limiter used when no rate is configured."""

    def acquire(self, units: int) -> None:
        """Never waits."""


def limiter_for(per_second: float | None) -> RateLimiter | Unlimited:
    return RateLimiter(per_second) if per_second else Unlimited()
