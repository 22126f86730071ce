"""Property tests of the codec: any DynamoDB item, however odd, survives a backup line exactly.

The strategies generate what DynamoDB accepts: every type; numbers of up to 38 significant
digits anywhere in DynamoDB's range (1E-130 to 9.99...E+125), in plain and scientific
notation; unicode text (no lone surrogates, which UTF-8 cannot carry); sets that are
non-empty with distinct members (numerically distinct for NS: DynamoDB rejects 1 and 1.0
together); maps and lists nested a few levels; attribute names that are themselves type
names or export keywords.
"""

import base64
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.aws.wire_pages import split_items
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.codec import decode_line, encode_line, loads_items_json
from ledger_backup.restore.run import run_restore
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

Item = dict[str, Any]

TYPE_LIKE_NAMES = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "BOOL", "NULL", "Item", "Items", "Count"]
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # of the leading digit: 1E-130 .. 9.99...E+125

unicode = st.characters(exclude_categories=["Cs"])  # any code point UTF-8 can carry
text = st.text(unicode, max_size=30)
names = st.one_of(st.sampled_from(TYPE_LIKE_NAMES), st.text(unicode, min_size=1, max_size=12))


@st.composite
def numbers(draw: st.DrawFn) -> str:
    """A DynamoDB number as a client might write it: sign, 1-38 digits, any exponent in range."""
    digits = draw(st.integers(1, MAX_DIGITS))
    mantissa = draw(st.integers(10 ** (digits - 1), 10**digits - 1))
    exponent = draw(st.integers(MIN_EXPONENT - (digits - 1), MAX_EXPONENT - (digits - 1)))
    value = Decimal(f"{draw(st.sampled_from(['', '-']))}{mantissa}E{exponent}")
    if draw(st.booleans()) and -MAX_DIGITS < exponent <= 0:
        return format(value, "f")  # plain: 0.000123, -12.5, 42
    return str(value)  # scientific where Decimal uses it: 1.23E+45, 1E-130


def numeric(number: str) -> Decimal:
    return Decimal(number).normalize()


scalars = st.one_of(
    text.map(lambda s: {"S": s}),
    numbers().map(lambda n: {"N": n}),
    st.binary(max_size=30).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(text.filter(bool), min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
    st.lists(numbers(), min_size=1, max_size=4, unique_by=numeric).map(lambda v: {"NS": v}),
    st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=4, unique=True).map(
        lambda v: {"BS": v}
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(names, inner, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=10,
)


@st.composite
def items(draw: st.DrawFn) -> Item:
    """An item with a non-empty string hash key `pk` and any other attributes."""
    attributes = draw(st.dictionaries(names.filter(lambda n: n != "pk"), values, max_size=5))
    return {"pk": {"S": draw(text.filter(bool))}, **attributes}


@settings(max_examples=150)
@given(items())
def test_any_item_round_trips_through_a_backup_line(item: Item) -> None:
    line = encode_line(item)
    assert decode_line(line) == item
    assert decode_line(line.encode("utf-8")) == item  # as read back from a gzip stream
    assert "\n" not in line  # one item per line, whatever the strings hold
    document = json.loads(line)
    assert isinstance(document, dict)
    assert list(document) == ["Item"]
    assert isinstance(document["Item"], dict)
    assert encode_line(decode_line(line)) == line  # and it re-encodes to the same bytes


@settings(max_examples=100)
@given(st.lists(items(), max_size=5), st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]))
def test_scan_page_items_are_cut_out_as_text_exactly(
    page_items: list[Item], separators: tuple[str, str]
) -> None:
    page = {"Count": len(page_items), "Items": page_items, "LastEvaluatedKey": {"pk": {"S": "k"}}}
    text = json.dumps(page, separators=separators, ensure_ascii=False, default=_base64)
    texts, rest = split_items(text)
    assert [loads_items_json(item_text) for item_text in texts] == page_items
    assert rest == {"Count": len(page_items), "LastEvaluatedKey": {"pk": {"S": "k"}}}


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _binary_values(value: Any) -> Iterator[Any]:
    """Every B/BS payload in a decoded JSON document (base64 text as written to a file)."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind in ("B", "BS") and isinstance(inner, str | list):
                yield inner
            else:
                yield from _binary_values(inner)
    elif isinstance(value, list):
        for member in value:
            yield from _binary_values(member)


@settings(max_examples=100)
@given(st.binary(min_size=1, max_size=40), names)
def test_binary_is_base64_text_in_the_file(payload: bytes, name: str) -> None:
    document = json.loads(encode_line({"pk": {"S": "k"}, name: {"M": {name: {"B": payload}}}}))
    assert list(_binary_values(document)) == [base64.b64encode(payload).decode("ascii")]


# --- Through DynamoDB Local and the S3 server -------------------------------------------------------------

_tables = iter(range(1_000_000))


@pytest.mark.integration
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(items(), min_size=1, max_size=8, unique_by=lambda item: item["pk"]["S"]))
def test_generated_items_survive_backup_and_restore_exactly(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, generated: list[Item]
) -> None:
    """DynamoDB normalizes numbers (1.50 -> 1.5), so the reference is what a Scan of the source returns."""
    source = f"prop-{os.getpid()}-{next(_tables)}"
    create_table(dynamodb, source)
    load_items(dynamodb, source, generated)
    store = S3Store(s3, bucket)
    # Our client, as the Lambda uses it: items are copied as the text DynamoDB sent, never decoded.
    backup = run_backup(dynamodb_client(), store, source, options=BackupOptions(total_segments=2))
    result = run_restore(dynamodb, store, backup.manifest_key, f"{source}-restored")

    expected = scan_all(dynamodb, source)
    assert len(expected) == len(generated) == backup.item_count == result.items_restored
    assert scan_all(dynamodb, f"{source}-restored") == expected
