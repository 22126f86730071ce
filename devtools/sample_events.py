"""Events as AWS sends them, for invoking the handlers locally."""

from datetime import UTC, datetime
from typing import Any


def scheduled_event(
    rule_name: str = "ledger-backup-dev-daily", when: datetime | None = None
) -> dict[str, Any]:
    """An EventBridge "Scheduled Event", byte for byte the shape a schedule rule delivers."""
    moment = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment,
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule_name}"],
        "detail": {},
    }
