"""Did a restore give the items back? A sample, read back consistently and compared with the source."""

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bench.workloads import HASH_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SAMPLE = 25


def _normal(value: Any) -> Any:
    """What DynamoDB treats as equal compares equal: sets unordered, numbers by value (12.50 is 12.5)."""
    if isinstance(value, dict) and len(value) == 1:
        kind, inner = next(iter(value.items()))
        if kind == "N" and isinstance(inner, str):
            return {kind: Decimal(inner)}
        if kind == "NS" and isinstance(inner, list):
            return {kind: sorted(Decimal(v) for v in inner)}
        if kind in ("SS", "BS") and isinstance(inner, list):
            return {kind: sorted(inner)}
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def sampled_copies(dynamodb: "DynamoDBClient", table: str, source: Sequence[dict[str, Any]]) -> str:
    """`N/25 sampled items identical` (and the first differing attribute, if any)."""
    step = max(1, len(source) // SAMPLE)
    sample = list(source[::step])[:SAMPLE]
    same = 0
    first_difference = ""
    for original in sample:
        response = dynamodb.get_item(TableName=table, Key={HASH_KEY: original[HASH_KEY]}, ConsistentRead=True)
        copy = response.get("Item", {})
        if _normal(copy) == _normal(original):
            same += 1
        elif not first_difference:
            names = sorted(set(original) | set(copy))
            differing = next(n for n in names if _normal(original.get(n)) != _normal(copy.get(n)))
            was = next(iter(original[differing])) if differing in original else "missing"
            now = next(iter(copy[differing])) if differing in copy else "missing"
            first_difference = f"; e.g. {differing}: {was} in the source, {now} after the restore"
    return f"{same}/{len(sample)} sampled items identical to the source{first_difference}"
