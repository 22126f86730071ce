"""Items that break naive backup tools: every DynamoDB type, precision limits, awkward names, size limits.

Key attribute `pk` (S). Each item says in its key what it exercises.
"""

from typing import Any

NEAR_LIMIT_BYTES = 399 * 1024  # DynamoDB's item limit is 400 KB including attribute names


def edge_items() -> list[dict[str, Any]]:
    """Low-level DynamoDB JSON items; B/BS as bytes, as botocore returns them."""
    return [
        {
            "pk": {"S": "all-scalar-types"},
            "s": {"S": "text"},
            "n": {"N": "42"},
            "b": {"B": b"\x00\x01\x02\xff binary"},
            "bool_true": {"BOOL": True},
            "bool_false": {"BOOL": False},
            "null": {"NULL": True},
        },
        {
            "pk": {"S": "set-types"},
            "ss": {"SS": ["a", "b", "ünïcödé"]},
            "ns": {"NS": ["1", "-2.5", "99999999999999999999999999999999999999"]},
            "bs": {"BS": [b"\x00", b"\x01\x02", b"\xff" * 16]},
        },
        {
            "pk": {"S": "number-precision"},
            "big": {"N": "99999999999999999999999999999999999999"},
            "small": {"N": "-0.00000000000000000000000000000000000001"},
            "digits38": {"N": "1.2345678901234567890123456789012345678"},
            "exp_large": {"N": "9.9999999999999999999999999999999999999E+125"},
            "exp_small": {"N": "1E-130"},
            "negative": {"N": "-99999999999999999999999999999999999999"},
        },
        {
            "pk": {"S": "nested"},
            "deep": {
                "M": {
                    "list": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x10\x20"}, {"L": [{"NULL": True}]}]},
                    "map": {
                        "M": {"inner": {"M": {"bs": {"BS": [b"nested-binary"]}, "bool": {"BOOL": False}}}}
                    },
                    "ns": {"NS": ["3.14"]},
                }
            },
        },
        {
            "pk": {"S": "empty-values"},
            "empty_string": {"S": ""},
            "empty_binary": {"B": b""},
            "empty_list": {"L": []},
            "empty_map": {"M": {}},
        },
        {
            "pk": {"S": "type-named-attributes"},
            "S": {"S": "an attribute named S"},
            "N": {"N": "1"},
            "M": {"M": {"S": {"S": "nested S"}, "B": {"S": "attribute named B holding a string"}}},
            "B": {"B": b"attribute named B"},
            "BS": {"M": {"BS": {"BS": [b"\x01"]}}},
            "L": {"L": [{"M": {"N": {"N": "7"}}}]},
            "Items": {"L": [{"S": "not a scan document"}]},
            "Item": {"M": {"Item": {"S": "not an export line"}}},
            "Count": {"N": "3"},
        },
        {
            "pk": {"S": "ünïcödé-key-✓-日本語"},
            "名前": {"S": "値 with emoji 🎵 and \u2028 line separator"},
            'quote"and\\backslash': {"S": '"{}[]\\n not json\n real newline\ttab'},
            "control": {"S": "\x00\x01\x1f"},
        },
        {
            "pk": {"S": "near-400kb"},
            "blob": {"B": bytes(range(256)) * (NEAR_LIMIT_BYTES // 256 // 2)},
            "text": {"S": "x" * (NEAR_LIMIT_BYTES // 2 - 1024)},
        },
    ]
