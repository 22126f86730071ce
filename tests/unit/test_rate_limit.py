"""The token bucket holds a backup or restore to the configured items per second."""

import threading

import pytest

from ledger_backup.rate_limit import RateLimiter, Unlimited, limiter_for


class FakeClock:
    """Time that moves only when someone sleeps, so rates are exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_average_rate_is_respected_after_the_first_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock.time, sleep=clock.sleep)
    for _ in range(40):
        limiter.acquire(25)  # 1000 items
    # The first second's worth (100) is free; the other 900 take 9 s at 100/s.
    assert clock.now == pytest.approx(9.0)


def test_idle_time_refills_at_most_one_second_of_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, clock=clock.time, sleep=clock.sleep)
    limiter.acquire(50)
    clock.now += 3600  # an hour idle earns one second of burst, not an hour's
    start = clock.now
    limiter.acquire(150)
    assert clock.now - start == pytest.approx(2.0)


def test_threads_share_one_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(200, clock=clock.time, sleep=clock.sleep)

    def worker() -> None:
        for _ in range(20):
            limiter.acquire(25)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now == pytest.approx((2000 - 200) / 200)


def test_no_rate_means_no_limiter() -> None:
    assert isinstance(limiter_for(None), Unlimited)
    assert isinstance(limiter_for(10), RateLimiter)
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
