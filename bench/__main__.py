"""`python -m bench` (`make bench`): measure our backup and restore against the engine and the runbook.

Progress goes to stderr, the report to stdout (and, with --json, the numbers to a file).
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.report import configured_memory_mb, render, write_json
from bench.run import BenchOptions, progress_printer, run

QUICK = BenchOptions(sizes=(500, 1_000), warm_up_items=200)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are comma-separated item counts, not {text!r}") from None
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError("give one or more sizes of at least 100 items")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    defaults = BenchOptions()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=os.environ.get("BENCH_SIZES"),
        help="table sizes in items, comma-separated (env BENCH_SIZES; default 20000,100000)",
    )
    parser.add_argument("--quick", action="store_true", help="500 and 1,000 items: a smoke run of every step")
    parser.add_argument("--segments", type=int, default=defaults.segments, help="scan segments (default 4)")
    parser.add_argument("--writers", type=int, default=defaults.writers, help="writer threads (default 4)")
    parser.add_argument(
        "--runbook-size", type=int, help="the size to run the runbook's way at (default: smallest)"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    return parser


def options_from(args: argparse.Namespace) -> BenchOptions:
    base = QUICK if args.quick else BenchOptions()
    sizes = _sizes(args.sizes) if isinstance(args.sizes, str) else args.sizes
    return BenchOptions(
        sizes=sizes or base.sizes,
        segments=args.segments,
        writers=args.writers,
        runbook_size=args.runbook_size,
        warm_up_items=base.warm_up_items,
        profile=not args.no_profile,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    if options.runbook_size is not None and options.runbook_size not in options.sizes:
        print(f"error: --runbook-size must be one of the sizes {options.sizes}", file=sys.stderr)
        return 2
    result = run(options, progress_printer())
    memory = configured_memory_mb()
    print(
        render(
            result.measurements, memory, [line for p in result.profiles for line in p.lines()], result.context
        )
    )
    if args.json:
        write_json(args.json, result.measurements, memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
