"""The fault kinds, and the errors the real services send for them, in their wire format."""

from enum import StrEnum


class Fault(StrEnum):
    """What the proxy can do to a request instead of passing it through."""

    PROVISIONED_THROUGHPUT_EXCEEDED = "ProvisionedThroughputExceededException"
    THROTTLING = "ThrottlingException"
    REQUEST_LIMIT_EXCEEDED = "RequestLimitExceeded"
    INTERNAL_SERVER_ERROR = "InternalServerError"
    UNPROCESSED_ITEMS = "UnprocessedItems"
    S3_INTERNAL_ERROR = "InternalError"
    SLOW_DOWN = "SlowDown"
    DROP = "DropBeforeForward"
    DROP_AFTER_FORWARD = "DropAfterForward"
    TRUNCATED_BODY = "TruncatedBody"


DYNAMODB_FAULTS = (
    Fault.PROVISIONED_THROUGHPUT_EXCEEDED,
    Fault.THROTTLING,
    Fault.REQUEST_LIMIT_EXCEEDED,
    Fault.INTERNAL_SERVER_ERROR,
    Fault.UNPROCESSED_ITEMS,
    Fault.DROP,
    Fault.DROP_AFTER_FORWARD,
)
S3_FAULTS = (Fault.S3_INTERNAL_ERROR, Fault.SLOW_DOWN, Fault.DROP, Fault.DROP_AFTER_FORWARD)
# Only injected when `FaultPolicy.rates` names it: botocore cannot retry a body that breaks off
# after the headers arrived, so surviving it is the caller's job.
OPT_IN_FAULTS = (Fault.TRUNCATED_BODY,)

# (HTTP status, `__type`, message) as DynamoDB sends them.
DYNAMODB_ERRORS: dict[Fault, tuple[int, str, str]] = {
    Fault.PROVISIONED_THROUGHPUT_EXCEEDED: (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    Fault.THROTTLING: (400, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded"),
    Fault.REQUEST_LIMIT_EXCEEDED: (
        400,
        "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded",
        "Throughput exceeds the current throughput limit for your account. "
        "Please contact AWS Support at https://aws.amazon.com/support request a limit increase",
    ),
    Fault.INTERNAL_SERVER_ERROR: (
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
}
# (HTTP status, reason phrase, Code, Message) as S3 sends them.
S3_ERRORS: dict[Fault, tuple[int, str, str, str]] = {
    Fault.S3_INTERNAL_ERROR: (
        500,
        "Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    Fault.SLOW_DOWN: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}
# Operations where throughput errors exist (the data plane); the control plane throttles with
# ThrottlingException only.
DYNAMODB_DATA_PLANE = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)
