"""AWS's naming rules for tables and buckets, checked before a name reaches a request.

DynamoDB and S3 refuse a bad name only once a call is made, with a message about the
call; checking first lets the CLI and the functions say which name is wrong and why.
"""

import re
from typing import Final

from ledger_backup.errors import InvalidRequest

# DynamoDB developer guide, "Naming rules": 3-255 characters of a-z, A-Z, 0-9, _, - and .
TABLE_NAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{3,255}$"
# S3 general purpose buckets: 3-63 lowercase letters, digits, dots and hyphens, a letter or digit at each end.
BUCKET_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# A backup's label (manifest `label`): short, lowercase, safe in a log line, a metric and a shell.
LABEL_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def check_table_name(name: str, what: str = "table name") -> str:
    """`name` if DynamoDB would accept it as a table name; InvalidRequest saying what is wrong otherwise."""
    if re.fullmatch(TABLE_NAME_PATTERN, name):
        return name
    if not 3 <= len(name) <= 255:
        problem = f"has {len(name)} characters"
    else:
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9_.-]", c)})
        problem = f"contains {' '.join(repr(c) for c in bad)}"
    raise InvalidRequest(
        f"{what} {_shown(name)} {problem}: DynamoDB table names are 3-255 characters of "
        "letters, digits, '_', '-' and '.'"
    )


def check_bucket_name(name: str) -> str:
    """`name` if it is an S3 bucket name; InvalidRequest naming the rule otherwise."""
    if re.fullmatch(BUCKET_NAME_PATTERN, name):
        return name
    raise InvalidRequest(
        f"{_shown(name)} is not an S3 bucket name: bucket names are 3-63 lowercase letters, digits, "
        "'.' and '-', starting and ending with a letter or digit"
    )


def check_label(label: str) -> str:
    """`label` if it fits LABEL_PATTERN; InvalidRequest naming the rule otherwise."""
    if re.fullmatch(LABEL_PATTERN, label):
        return label
    raise InvalidRequest(
        f"label {_shown(label)} is not allowed: a label is 1-64 lowercase letters, digits, '.', '_' and "
        "'-', starting with a letter or digit (e.g. before-pipeline-v4)"
    )


def _shown(name: str) -> str:
    """The name as a user can recognise it, a long one shortened (a message stays one readable line)."""
    return repr(name) if len(name) <= 60 else f"{name[:40]!r}..."
