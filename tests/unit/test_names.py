"""Table and bucket names are checked against AWS's rules, with a message that says which rule."""

import pytest

from ledger_backup.errors import InvalidRequest
from ledger_backup.names import check_bucket_name, check_table_name


@pytest.mark.parametrize("name", ["abc", "a" * 255, "Ledger_2026-02.restored", "0-9"])
def test_table_names_dynamodb_accepts(name: str) -> None:
    assert check_table_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "'' has 0 characters"),
        ("ab", "'ab' has 2 characters"),
        ("a" * 256, "... has 256 characters"),
        ("bad name!", "contains ' ' '!'"),
        ("arn:aws:dynamodb:t", "contains ':'"),
        ("naïve", "contains 'ï'"),
        ("two\nlines", "contains '\\n'"),
    ],
)
def test_table_names_dynamodb_refuses(name: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_table_name(name, "--table")
    message = str(refused.value)
    assert message.startswith("--table ")
    assert problem in message
    assert "3-255 characters" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["abc", "jsmith-backups", "a.b-c", "a" * 63])
def test_bucket_names_s3_accepts(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Bad_Bucket", "-starts", "ends-", "has space"])
def test_bucket_names_s3_refuses(name: str) -> None:
    with pytest.raises(InvalidRequest, match="is not an S3 bucket name: bucket names are 3-63"):
        check_bucket_name(name)
