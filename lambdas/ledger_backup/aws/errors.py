"""What AWS answered, read one way: the error code of a botocore ClientError."""

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str:
    """The service's error code (`ResourceNotFoundException`, `NoSuchKey`, `404`, ...), or "" if none."""
    return str(error.response.get("Error", {}).get("Code", ""))


def retried(error: ClientError) -> bool:
    """True when botocore sent the call more than once before this answer (its first answer was lost)."""
    return bool(error.response.get("ResponseMetadata", {}).get("RetryAttempts"))
