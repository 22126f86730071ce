"""What the Lambda runtime passes as `context`, for running the handlers locally."""

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and the handlers read, with a real remaining-time clock."""

    function_name: str = "ledger-backup-local"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 900.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass
class ExpiringLambdaContext(FakeLambdaContext):
    """Plenty of time for the first `calls` looks at the clock, then `final_seconds` left.

    Makes a handler meet "the 15-minute wall" after a few pages, deterministically.
    """

    calls: int = 3
    plenty_seconds: int = 900
    final_seconds: int = 1
    _seen: int = field(default=0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        self._seen += 1
        return (self.plenty_seconds if self._seen <= self.calls else self.final_seconds) * 1000
