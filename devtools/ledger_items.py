"""Realistic pipeline-ledger items (the runbook's schema), as low-level DynamoDB JSON.

Deterministic for a seed, about 3-5 KB each like the real ledger (1.6 MB for 399 books).
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

STEPS = ("toc_discovery", "toc_parse", "page_analysis", "page_mapping", "pdf_splitter")
_WORDS = [
    "blue",
    "moon",
    "river",
    "night",
    "song",
    "waltz",
    "autumn",
    "leaves",
    "summer",
    "time",
    "lady",
    "heart",
    "blues",
    "stardust",
    "dream",
    "midnight",
    "sun",
    "rain",
    "love",
    "street",
    "jazz",
    "swing",
    "rhythm",
    "shadow",
    "golden",
    "bridge",
    "morning",
    "star",
]


def _title(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS).capitalize() for _ in range(words))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _step(rng: random.Random, name: str, start: datetime, ok: bool) -> tuple[dict[str, Any], datetime]:
    duration = rng.uniform(0.5, 90.0)
    end = start + timedelta(seconds=duration)
    step: dict[str, Any] = {
        "status": {"S": "success" if ok else "failed"},
        "started_at": {"S": _iso(start)},
        "finished_at": {"S": _iso(end)},
        "duration_seconds": {"N": f"{duration:.3f}"},
        "attempts": {"N": str(rng.randint(1, 3))},
        "model": {"S": rng.choice(["claude-sonnet", "textract", "pymupdf"])},
    }
    if name == "toc_parse":
        step["entries"] = {
            "L": [{"M": {"title": {"S": _title(rng, 3)}, "page": {"N": str(p)}}} for p in range(1, 20)]
        }
    if name == "pdf_splitter":
        step["output_prefix"] = {"S": f"s3://jsmith-output/books/{rng.getrandbits(32):08x}/"}
    if not ok:
        step["error"] = {"S": "TimeoutError: page analysis exceeded 900 s"}
    return step, end


def ledger_item(rng: random.Random, index: int) -> dict[str, Any]:
    """One book's ledger record."""
    artist = f"{_title(rng, 2)} {index % 121}"
    book = _title(rng, 3)
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 60 * 24 * 40))
    ok = rng.random() > 0.08
    steps: dict[str, Any] = {}
    moment = created
    for name in STEPS:
        step, moment = _step(rng, name, moment, ok or name != "page_analysis")
        steps[name] = {"M": step}
    songs = rng.randint(5, 60)
    return {
        "book_id": {"S": f"{artist.lower().replace(' ', '-')}--{book.lower().replace(' ', '-')}-{index:06d}"},
        "artist": {"S": artist},
        "book_name": {"S": book},
        "status": {"S": "success" if ok else "failed"},
        "pipeline_version": {"S": "v3"},
        "songs_extracted": {"N": str(songs)},
        "total_pages": {"N": str(rng.randint(40, 400))},
        "source_pdf_uri": {"S": f"s3://jsmith-input/{artist}/{book}.pdf"},
        "created_at": {"S": _iso(created)},
        "updated_at": {"S": _iso(moment)},
        "processing_seconds": {"N": f"{(moment - created).total_seconds():.3f}"},
        "steps": {"M": steps},
        "song_titles": {"SS": sorted({_title(rng, 3) for _ in range(songs)})},
    }


def ledger_items(count: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """`count` books, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    for index in range(count):
        yield ledger_item(rng, index)
