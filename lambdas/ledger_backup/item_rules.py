"""DynamoDB's rules for one item, checked before a restore writes anything.

A restore that sends an item DynamoDB rejects fails halfway, with part of the backup written.
Every rule here is DynamoDB's own, from its documentation, and each was tried against DynamoDB
Local (tests/integration/test_item_rules_dynamodb.py keeps both in agreement):

- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
  (data types, the number range and precision, sets, attribute names)
- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (formerly
  Constraints.html: 400 KB items, 32 nesting levels, key lengths, no empty sets)
- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  ("DynamoDB item sizes and formats": how an item's size is counted)

Items are the low-level client's wire shape (`{"S": "..."}`, B/BS already bytes), as the codec
decodes them. The walk is iterative (no RecursionError at any depth) and goes level by level, so
the common values (S, N, M, L) cost a few operations each; the path of a problem is found only
once there is one.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from ledger_backup.codec import Item
from ledger_backup.errors import CorruptBackup
from ledger_backup.schema import TableSchema

# ServiceQuotas.html, "Items": "The maximum item size in DynamoDB is 400 KB" (1 KB = 1024 bytes),
# names and values counted. DynamoDB Local accepts an item of exactly 409,600 bytes, not one more.
MAX_ITEM_BYTES = 400 * 1024
# ServiceQuotas.html, "Attributes": nested attributes up to 32 levels deep. Measured on DynamoDB Local
# (and it matches what real DynamoDB is reported to do): the item is level 1, so an attribute can hold
# 31 nested maps/lists (scalars and sets inside the 31st are fine) and the 32nd is refused, empty or not.
MAX_CONTAINER_DEPTH = 31
# ServiceQuotas.html, "Partition keys and sort keys": partition key 1..2048 bytes, sort key 1..1024.
# DynamoDB Local applies the same limits to GSI/LSI keys ("Size limit exceeded"). Number keys are never
# that long (38 digits take at most 21 bytes), so only S (UTF-8 bytes) and B (raw bytes) are measured.
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
# NamingRulesDataTypes.html: "Attribute names must be at least one character long and less than 64 KB".
# DynamoDB Local: "Attribute name is too large, must be less than 65536 bytes" (UTF-8), at any depth.
MAX_NAME_BYTES = 65535

_INNER_TYPES: dict[str, Any] = {  # Any: mypy must not narrow `inner` by it
    "S": str,
    "N": str,
    "B": bytes,
    "BOOL": bool,
    "NULL": bool,
    "M": dict,
    "L": list,
    "SS": list,
    "NS": list,
    "BS": list,
}
_INNER_NAMES = {"S": "a string", "N": "a string", "B": "bytes", "BOOL": "true or false", "NULL": "true"}
_SET_MEMBER_TYPES = {"SS": str, "NS": str, "BS": bytes}

# Numbers (NamingRulesDataTypes.html, "Number"): up to 38 digits of precision, positive 1E-130 to
# 9.9999999999999999999999999999999999999E+125, negative likewise, or zero; leading and trailing
# zeroes are trimmed. The spellings were tried on DynamoDB Local (PutItem): accepted are "+1", "1e5",
# "1E+5", ".5", "5.", "-.5", "007", "00", "-0", "0.0", "1E-0", "0e999999", 38 nines then "e88"
# (trailing zeroes are not significant: 40 digits ending in 00 pass) and digits of other scripts
# ("\uff11", "\u0663": Java's BigDecimal reads any Unicode decimal digit, as Python's \d and Decimal do);
# refused are " 1", "1 ", "\t1", "0x10", "1_000", "1,5", "NaN", "Infinity", "inf", "", "-", "e5", "1e",
# "1.2.3", "--1", "+-1", "1e5.5", 39 significant digits, "1e-131", "1e126", "0.1e127". A zero is
# accepted with any exponent that Java's BigDecimal can hold (exponent and scale within 32-bit ints):
# "0e2147483647" passes, "0e2147483648" and "0e-2147483648" do not.
_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]{1,38}|(?=[0-9.]{3,39}\Z)[0-9]+\.[0-9]+)")  # <= 38 digits: in range
_NUMBER_SYNTAX = re.compile(r"[+-]?(?=\.?\d)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CANONICAL_NUMBER = re.compile(r"(?!-0\Z)-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")  # one spelling per value
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_MAX_DIGITS = 38
_MIN_ADJUSTED_EXPONENT, _MAX_ADJUSTED_EXPONENT = -130, 125


class ItemRejected(ValueError):
    """An item DynamoDB would refuse; the message names the attribute path and the rule."""


class _Bad(Exception):
    """A problem found in the walk: the value it is in (or the item), and what is wrong."""

    def __init__(self, value: object, problem: str) -> None:
        super().__init__(problem)
        self.value = value
        self.problem = problem


class _Key(NamedTuple):
    name: str
    attribute_type: str
    max_bytes: int
    label: str  # e.g. "the table's partition key", "index by-status (GSI)"


def _short(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 48 else shown[:45] + "..."


def number_problem(text: str) -> str | None:
    """Why DynamoDB refuses this N value, or None when it accepts it."""
    if _PLAIN_NUMBER.fullmatch(text):
        return None
    syntax = _NUMBER_SYNTAX.fullmatch(text)
    if syntax is None:
        return f"{_short(text)} is not a number"
    _, fraction, exponent_text = syntax.groups()
    try:
        exponent = int(exponent_text) if exponent_text else 0
    except ValueError:  # more digits than Python converts: far outside any range anyway
        exponent = _INT32_MAX + 1
    scale = len(fraction or "") - exponent
    if not (_INT32_MIN <= exponent <= _INT32_MAX and _INT32_MIN <= scale <= _INT32_MAX):
        return f"{_short(text)} is not a number DynamoDB can read (exponent out of range)"
    return _range_problem(text)


def _range_problem(text: str) -> str | None:
    number = Decimal(text)
    significant = len(_strip_zeros(number.as_tuple().digits))
    if not significant:
        return None  # zero, whatever its spelling
    if significant > _MAX_DIGITS:
        return f"{_short(text)} has {significant} significant digits; DynamoDB keeps at most {_MAX_DIGITS}"
    if not _MIN_ADJUSTED_EXPONENT <= number.adjusted() <= _MAX_ADJUSTED_EXPONENT:
        return (
            f"{_short(text)} is outside DynamoDB's number range "
            "(magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125, or 0)"
        )
    return None


def _strip_zeros(digits: tuple[int, ...]) -> tuple[int, ...]:
    end = len(digits)
    while end and digits[end - 1] == 0:
        end -= 1
    return digits[:end]


def _number_set_problem(members: list[str]) -> str | None:
    for member in members:
        problem = number_problem(member)
        if problem is not None:
            return f"member {problem}"
    if len(set(members)) == len(members) and all(_CANONICAL_NUMBER.fullmatch(m) for m in members):
        return None  # distinct canonical spellings are distinct numbers
    # DynamoDB Local compares numerically: ["1", "1.0"], ["1", "01"], ["100", "1e2"], ["0", "-0"]
    # are duplicates ("Input collection contains duplicates").
    if len({Decimal(m) for m in members}) != len(members):
        return "NS has duplicate members (numerically equal, as DynamoDB compares them)"
    return None


def _set_problem(tag: str, members: list[Any]) -> str | None:
    # ServiceQuotas.html / NamingRulesDataTypes.html "Sets": not empty, each value unique, empty strings
    # and binaries allowed as members. DynamoDB Local compares SS and BS members exactly (no normalisation).
    if not members:
        return f"{tag} is empty; DynamoDB does not store empty sets"
    member_type = _SET_MEMBER_TYPES[tag]
    if set(map(type, members)) != {member_type}:
        return f"{tag} members must all be {'bytes' if member_type is bytes else 'strings'}"
    if tag == "NS":
        return _number_set_problem(members)
    if len(set(members)) != len(members):
        return f"{tag} has duplicate members"
    return None


def _value_problem(value: Any, tag: str, inner: Any) -> str | None:
    """What is wrong with a value the walk's fast paths did not accept, or None."""
    if type(inner) is not _INNER_TYPES.get(tag):
        return _shape_problem(value)
    if tag == "M" and "" in inner:
        return "a map member has an empty name; DynamoDB refuses empty attribute names"
    if tag == "N":
        return number_problem(inner)
    if tag == "NULL" and inner is not True:
        return "NULL must be true"
    if tag in _SET_MEMBER_TYPES:
        return _set_problem(tag, inner)
    return None


def _shape_problem(value: Any) -> str:
    if not isinstance(value, dict) or len(value) != 1:
        return 'not a DynamoDB attribute value (expected one type, such as {"S": "text"})'
    ((tag, inner),) = value.items()
    if tag not in _INNER_TYPES:
        return f"unknown DynamoDB type {_short(tag)}"
    wanted = _INNER_NAMES.get(tag, "an object" if tag == "M" else "an array")
    return f"{tag} must be {wanted}, not {type(inner).__name__}"


def _check_level(level: list[Any], below: list[Any]) -> None:
    """Check the values of one nesting level and queue the next level's (the members of its M and L)."""
    extend = below.extend
    for value in level:
        try:
            # A dict's one key, then its value: what a non-dict or a dict of 0 or 2+ members cannot give.
            (tag,) = value
            inner = value[tag]
        except (TypeError, ValueError, LookupError):
            raise _Bad(value, _shape_problem(value)) from None
        # Fast paths for the common values, by the inner value's type first; the rest and every
        # problem go to _value_problem.
        kind = type(inner)
        if kind is str:
            if tag == "S":
                continue
            # Decimal digits, or ASCII digits with one point, within 38 characters: a number always in
            # range. (DynamoDB reads digits of other scripts too, as the note on numbers below says.)
            if (
                tag == "N"
                and len(inner) <= _MAX_DIGITS
                and (inner.isdecimal() or (inner.isascii() and inner.replace(".", "", 1).isdigit()))
            ):
                continue
        elif kind is dict:
            if tag == "M" and "" not in inner:
                extend(inner.values())
                continue
        elif kind is list and tag == "L":
            extend(inner)
            continue
        problem = _value_problem(value, tag, inner)
        if problem is not None:
            raise _Bad(value, problem)


def _check_values(item: Item) -> None:
    """Every value's shape and rules, and the nesting depth; raises _Bad with the value at fault."""
    if "" in item:
        raise _Bad(item, "the item has an attribute with an empty name; DynamoDB refuses empty names")
    level = list(item.values())
    depth = 1
    while level:
        below: list[Any] = []
        _check_level(level, below)
        if depth > MAX_CONTAINER_DEPTH:
            for value in level:
                if "M" in value or "L" in value:
                    raise _Bad(value, "nested deeper than DynamoDB's 32 levels (the item itself is level 1)")
        level = below
        depth += 1


def _path_to(item: Item, target: object) -> str:
    """The attribute path of `target` (found by identity), e.g. `steps.toc[3].pages`."""
    stack: list[tuple[str, Any]] = [(name, value) for name, value in reversed(item.items())]
    while stack:
        path, value = stack.pop()
        if value is target:
            return path
        if not isinstance(value, dict) or len(value) != 1:
            continue
        ((tag, inner),) = value.items()
        if tag == "M" and isinstance(inner, dict):
            stack.extend((f"{path}.{name}", member) for name, member in reversed(inner.items()))
        elif tag == "L" and isinstance(inner, list):
            stack.extend((f"{path}[{index}]", member) for index, member in reversed(list(enumerate(inner))))
    return "?"


def utf8_length(text: str) -> int:
    """Bytes of `text` in UTF-8 (a lone surrogate, which JSON escapes can carry, counted as 3)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a valid N value.

    CapacityUnitCalculations.html says "approximately 1 byte per two significant digits, plus 1 byte".
    Measured on DynamoDB Local (the largest item it accepts): digits are paired from the decimal
    point (as base-100 digits), leading and trailing zero pairs dropped, plus 1 byte, plus 1 more for
    a negative number; zero is 1 byte. "1" and "12" take 2, "123" and "1.5" take 3, "-1" takes 3.
    """
    if _PLAIN_DECIMAL.fullmatch(text):
        return _plain_number_size(text)
    _, digits, exponent = Decimal(text).as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a valid N value: {_short(text)}")  # NaN or Infinity: checked away before
    significant = _strip_zeros(digits)
    if not significant:
        return 1
    lowest = exponent + (len(digits) - len(significant))
    highest = exponent + len(digits) - 1
    negative = text[:1] == "-"
    return 2 + highest // 2 - lowest // 2 + negative


def _plain_number_size(text: str) -> int:
    """`number_size` of `-?digits[.digits]` from the text alone (the common spelling; Decimal is slower)."""
    negative = text[:1] == "-"
    integer, _, fraction = text.lstrip("-").partition(".")
    integer = integer.lstrip("0")
    fraction = fraction.rstrip("0")
    if not integer and not fraction:
        return 1
    # Powers of ten of the highest and lowest significant digits.
    highest = len(integer) - 1 if integer else len(fraction.lstrip("0")) - len(fraction) - 1
    lowest = -len(fraction) if fraction else len(integer) - len(integer.rstrip("0"))
    return 2 + highest // 2 - lowest // 2 + negative


_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": utf8_length,
    "N": number_size,
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    "SS": lambda members: sum(map(utf8_length, members)),
    "NS": lambda members: sum(map(number_size, members)),
    "BS": lambda members: sum(map(len, members)),
}


def _names_size(container: object, names: dict[str, Any]) -> int:
    """UTF-8 bytes of a map's (or the item's) attribute names; raises _Bad on a name over 64 KB."""
    size = utf8_length("".join(names))
    if size > MAX_NAME_BYTES:  # only then can a single name be too long
        longest = max(map(utf8_length, names))
        if longest > MAX_NAME_BYTES:
            raise _Bad(
                container,
                f"an attribute name of {longest:,} bytes; DynamoDB allows at most {MAX_NAME_BYTES:,}",
            )
    return size


def item_size(item: Item) -> int:
    """The item's size as DynamoDB counts it (CapacityUnitCalculations.html), for a checked item.

    Names and values in UTF-8 (binary raw), numbers as `number_size`, BOOL and NULL 1 byte, a map
    or list 3 bytes plus 1 byte per member, sets the sum of their members. DynamoDB Local agrees to
    the byte (tests/integration/test_item_rules_dynamodb.py). Raises _Bad on an over-long name.
    """
    total = _names_size(item, item)
    pending = list(item.values())
    while pending:
        value = pending.pop()
        (tag,) = value
        inner = value[tag]
        if tag == "S":
            total += utf8_length(inner)
        elif tag == "M":
            total += 3 + len(inner) + _names_size(value, inner)
            pending.extend(inner.values())
        elif tag == "L":
            total += 3 + len(inner)
            pending.extend(inner)
        else:
            total += _SCALAR_SIZES[tag](inner)
    return total


def _table_key(name: str, key_type: str, attribute_type: str) -> _Key:
    if key_type == "HASH":
        return _Key(name, attribute_type, MAX_PARTITION_KEY_BYTES, "the table's partition key")
    return _Key(name, attribute_type, MAX_SORT_KEY_BYTES, "the table's sort key")


def _index_keys(schema: TableSchema, table_keys: set[str], types: dict[str, str]) -> tuple[_Key, ...]:
    keys = []
    for kind, indexes in (("GSI", schema.global_secondary_indexes), ("LSI", schema.local_secondary_indexes)):
        for index in indexes:
            for key in index["KeySchema"]:
                name = key["AttributeName"]
                if name in table_keys:
                    continue  # checked as the table's key
                limit = MAX_PARTITION_KEY_BYTES if key["KeyType"] == "HASH" else MAX_SORT_KEY_BYTES
                keys.append(_Key(name, types.get(name, "?"), limit, f"index {index['IndexName']} ({kind})"))
    return tuple(keys)


def _key_value_problem(key: _Key, value: dict[str, Any]) -> str | None:
    """Type, emptiness and length of one key value (already a well-formed attribute value)."""
    (tag,) = value
    if tag != key.attribute_type:
        return f"{key.label} needs type {key.attribute_type}, the item has {tag}"
    if tag == "N":
        return None
    inner = value[tag]
    # ServiceQuotas.html: key values are at least 1 byte; DynamoDB Local refuses empty S and B values
    # for table keys and for GSI/LSI keys alike ("A value specified for a secondary index key is not
    # supported").
    if not inner:
        return f"{key.label} must not be empty"
    size = len(inner) if tag == "B" else utf8_length(inner)
    if size > key.max_bytes:
        return f"{key.label} is {size:,} bytes; DynamoDB allows at most {key.max_bytes:,}"
    return None


class ItemRules:
    """Checks one low-level client item (botocore wire shape, B/BS already bytes) against DynamoDB's rules."""

    def __init__(self, schema: TableSchema | None) -> None:
        """`schema`: keys and indexes of the table the items go to; None checks the values only."""
        self._table_keys: tuple[_Key, ...] = ()
        self._index_keys: tuple[_Key, ...] = ()
        if schema is not None:
            types = {d["AttributeName"]: d["AttributeType"] for d in schema.attribute_definitions}
            self._table_keys = tuple(_table_key(*signature) for signature in schema.key_signature())
            self._index_keys = _index_keys(schema, {k.name for k in self._table_keys}, types)

    def check(self, item: Item, text_bytes: int | None = None) -> None:
        """Raise ItemRejected on the first rule the item breaks.

        `text_bytes`: the length of the item's JSON text when known (a backup line). JSON text is never
        smaller than the size DynamoDB counts (quotes, braces and type tags only add), so an item whose
        text is under 64 KB can hold neither an item over 400 KB nor an over-long name, and is not measured.
        """
        if type(item) is not dict:
            raise ItemRejected(f"not a DynamoDB item (a JSON object), but {type(item).__name__}")
        try:
            _check_values(item)
            self._check_keys(item)
            if text_bytes is None or text_bytes > MAX_NAME_BYTES:
                size = item_size(item)
                if size > MAX_ITEM_BYTES:
                    raise ItemRejected(
                        f"the item is {size:,} bytes as DynamoDB counts them; the limit is 400 KB "
                        f"({MAX_ITEM_BYTES:,} bytes)"
                    )
        except _Bad as bad:
            if bad.value is item:
                raise ItemRejected(bad.problem) from None
            raise ItemRejected(f"attribute {_path_to(item, bad.value)}: {bad.problem}") from None

    def check_at(self, item: Item, where: str, text_bytes: int | None = None) -> None:
        """`check`, reporting a problem as CorruptBackup naming `where` (e.g. a file and line)."""
        try:
            self.check(item, text_bytes)
        except ItemRejected as rejected:
            raise CorruptBackup(f"{where}: {rejected}") from None

    def _check_keys(self, item: Item) -> None:
        for key in self._table_keys:
            value = item.get(key.name)
            if value is None:
                raise ItemRejected(f"attribute {key.name}: missing; it is {key.label} ({key.attribute_type})")
            problem = _key_value_problem(key, value)
            if problem is not None:
                raise ItemRejected(f"attribute {key.name}: {problem}")
        for key in self._index_keys:
            value = item.get(key.name)
            if value is not None:
                problem = _key_value_problem(key, value)
                if problem is not None:
                    raise ItemRejected(f"attribute {key.name}: {problem}")
