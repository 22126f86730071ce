"""Cut a Scan page's items out of DynamoDB's JSON response as text, without re-encoding them.

A backup line is `{"Item": <the item as DynamoDB sent it>}`: DynamoDB's wire format is the
backup's format (B/BS as base64 text included). So the backup needs each item's text, not
its value, and decoding every item only to encode it again was most of its client CPU
(`make bench`). Each item is still parsed once by the json module's C scanner, which is how
its end is found and how malformed input is refused; its value is simply dropped.
"""

import json
import re
from typing import Any

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Page:
    """A cursor over one JSON object's text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip_space(self) -> str:
        """Move past whitespace; the character there ("" at the end)."""
        match = _WHITESPACE.match(self.text, self.at)
        self.at = match.end() if match else self.at
        return self.text[self.at : self.at + 1]

    def expect(self, character: str) -> None:
        if self.skip_space() != character:
            raise ValueError(f"expected {character!r} at offset {self.at} of the Scan page")
        self.at += 1

    def closes(self, closing: str) -> bool:
        """Step past `closing` if it comes next (an empty object or array)."""
        if self.skip_space() != closing:
            return False
        self.at += 1
        return True

    def next_entry(self, closing: str) -> bool:
        """Step past the separator after an entry: True if another entry follows, False at `closing`."""
        separator = self.skip_space()
        if separator not in (",", closing):
            raise ValueError(f"expected ',' or {closing!r} at offset {self.at} of the Scan page")
        self.at += 1
        return separator == ","

    def value(self) -> tuple[Any, int]:
        """Parse the value here; return it and where its text began."""
        self.skip_space()
        start = self.at
        value, self.at = _DECODER.raw_decode(self.text, self.at)
        return value, start


def split_items(text: str, array_name: str = "Items") -> tuple[list[str], dict[str, Any]]:
    """The texts of the objects in the page's `array_name` array, and the page's other members.

    Raises ValueError (json.JSONDecodeError among them) when the page is not a JSON object,
    the array holds anything but objects, or text follows the page.
    """
    page = _Page(text)
    texts: list[str] = []
    rest: dict[str, Any] = {}
    page.expect("{")
    more = not page.closes("}")
    while more:
        name, _ = page.value()
        if not isinstance(name, str):
            raise ValueError(f"expected a member name at offset {page.at} of the Scan page")
        page.expect(":")
        if name == array_name and page.skip_space() == "[":
            page.at += 1
            _read_objects(page, texts)
        else:
            rest[name], _ = page.value()
        more = page.next_entry("}")
    if page.skip_space():
        raise ValueError(f"unexpected text after the Scan page at offset {page.at}")
    return texts, rest


def _read_objects(page: _Page, texts: list[str]) -> None:
    """Append the text of each object of the array the cursor is in, and step past its `]`."""
    more = not page.closes("]")
    while more:
        value, start = page.value()
        if not isinstance(value, dict):
            raise ValueError(f"an entry of the Scan page's items is a {type(value).__name__}, not an item")
        texts.append(page.text[start : page.at])
        more = page.next_entry("]")
