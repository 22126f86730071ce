"""Which requests get which fault (FaultPolicy), and the running proxy's decisions and counters."""

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from devtools.fault_proxy.faults import DYNAMODB_DATA_PLANE, OPT_IN_FAULTS, Fault
from devtools.fault_proxy.requests import ProxiedRequest, batch_write_requests


@dataclass(frozen=True)
class FaultPolicy:
    """Which faults to inject, how often, and where.

    `rate` is the chance that a request gets a fault, spread evenly over the fault kinds that
    apply to it (UnprocessedItems only to BatchWriteItem, throughput errors only to the data
    plane, ...); `rates` instead gives each kind its own chance, and is the only way to ask for
    the opt-in kinds. `operations` confines faults to those operations (e.g. {"Scan"}), `after`
    lets the first that many of them through unharmed, `limit` stops after that many faults,
    `unsafe_drops` also loses the answers of writes that are not safe to repeat, and requests
    for which `stall` returns True are held unanswered until the proxy stops, like a hung server.
    """

    rate: float = 0.0
    seed: int = 0
    rates: Mapping[Fault, float] | None = None
    operations: frozenset[str] | None = None
    after: int = 0
    limit: int | None = None
    unsafe_drops: bool = False
    stall: Callable[[ProxiedRequest], bool] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.rates is not None and (
            any(r < 0 for r in self.rates.values()) or sum(self.rates.values()) > 1.0
        ):
            raise ValueError("rates must be non-negative and add up to at most 1")

    def applicable(self, request: ProxiedRequest) -> list[Fault]:
        """The fault kinds that make sense for this request."""
        if request.service == "s3":
            kinds = [Fault.S3_INTERNAL_ERROR, Fault.SLOW_DOWN, Fault.DROP]
            if request.operation == "GetObject":
                kinds.append(Fault.TRUNCATED_BODY)
        else:
            kinds = [Fault.THROTTLING, Fault.INTERNAL_SERVER_ERROR, Fault.DROP]
            if request.operation in DYNAMODB_DATA_PLANE:
                kinds += [Fault.PROVISIONED_THROUGHPUT_EXCEEDED, Fault.REQUEST_LIMIT_EXCEEDED]
            if request.operation == "BatchWriteItem" and len(batch_write_requests(request)) >= 2:
                kinds.append(Fault.UNPROCESSED_ITEMS)
        if request.idempotent or self.unsafe_drops:
            kinds.append(Fault.DROP_AFTER_FORWARD)
        return kinds

    def choose(self, request: ProxiedRequest, rng: random.Random, chosen: Counter[Fault]) -> Fault | None:
        """The fault for this request, or None to pass it through.

        With `rate`, the kind is the applicable one chosen least often so far (ties drawn at
        random): the kinds stay evenly spread, so even one that fits few requests (e.g.
        UnprocessedItems, BatchWriteItem only) is sure to occur in a run of a few dozen.
        """
        kinds = self.applicable(request)
        draw = rng.random()
        if self.rates is None:
            if draw >= self.rate:
                return None
            spread = [kind for kind in kinds if kind not in OPT_IN_FAULTS]
            fewest = min(chosen[kind] for kind in spread)
            return rng.choice([kind for kind in spread if chosen[kind] == fewest])
        for kind in kinds:
            rate = self.rates.get(kind, 0.0)
            if draw < rate:
                return kind
            draw -= rate
        return None


@dataclass
class FaultProxy:
    """A running proxy: its URL, and what it saw and injected so far (thread-safe counters)."""

    upstream: str
    policy: FaultPolicy
    url: str = ""
    injected: Counter[Fault] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # by operation, faulted or not
    stalled: int = 0  # requests held unanswered
    stopping: threading.Event = field(default_factory=threading.Event)
    _chosen: Counter[Fault] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=random.Random)
    _matched: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng.seed(self.policy.seed)

    def set_policy(self, policy: FaultPolicy) -> None:
        """Change the faults from now on (e.g. none, to read back what a faulty run wrote)."""
        with self._lock:
            self.policy = policy
            self._rng.seed(policy.seed)
            self._matched = 0
            self._chosen.clear()

    def decide(self, request: ProxiedRequest) -> Fault | None:
        with self._lock:
            self.requests[request.operation] += 1
            policy = self.policy
            if policy.operations is not None and request.operation not in policy.operations:
                return None
            self._matched += 1
            if self._matched <= policy.after or (
                policy.limit is not None and self._chosen.total() >= policy.limit
            ):
                return None
            fault = policy.choose(request, self._rng, self._chosen)
            if fault is not None:
                self._chosen[fault] += 1
            return fault

    def withhold(self, count: int) -> set[int]:
        """Which of `count` batch writes to hold back: at least one, never all."""
        with self._lock:
            return set(self._rng.sample(range(count), self._rng.randint(1, count - 1)))

    def count(self, fault: Fault) -> None:
        with self._lock:
            self.injected[fault] += 1

    def count_stall(self, request: ProxiedRequest) -> None:
        with self._lock:
            self.requests[request.operation] += 1
            self.stalled += 1

    def summary(self) -> dict[str, int]:
        """Injected faults by kind and the number of requests seen, for test reports."""
        with self._lock:
            counts = {str(kind): n for kind, n in sorted(self.injected.items())}
            return {**counts, "requests": self.requests.total()}
