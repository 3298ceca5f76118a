"""``hitrack settle``: settle an interchange document and print the result as JSON.

Registered on the ``hitrack`` command group by :mod:`hitrack.cli`. Works may
carry credits and a credit pool (DESIGN section 5); the output names each
payee, unclaimed credits as ``credit:<id>``. Bad input exits with status 1
and one line on standard error naming the offending id; standard output then
stays empty, so the command can sit in a pipeline.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hitrack.domain.errors import HitrackError, InvalidShare
from hitrack.domain.interchange import loads_document, settlement_document
from hitrack.domain.settlement import ENGINES, make_engine
from hitrack.domain.shares import parse_share

__all__ = ["settle", "FAST_ENGINE_FROM"]

# Below this many works the exact engine is quick enough and needs no compaction.
FAST_ENGINE_FROM = 5_000
# Progress is worth printing from this many events on.
PROGRESS_FROM = 1_000


def _fail(message: str) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(1)


@click.command("settle")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--batch", is_flag=True, help="Settle all events as one batch and print totals.")
@click.option("--explain", "creator", metavar="CREATOR", help="Add this creator's explanations.")
@click.option(
    "--engine",
    type=click.Choice([*ENGINES, "auto"]),
    default="auto",
    show_default=True,
    help=f"auto: the fast engine from {FAST_ENGINE_FROM} works on, else the exact one.",
)
@click.option(
    "--min-credit-pool",
    envvar="HITRACK_MIN_CREDIT_POOL",
    default="0",
    show_default=True,
    metavar="SHARE",
    help="Least credit pool of a work with credits (env HITRACK_MIN_CREDIT_POOL).",
)
def settle(file: str, batch: bool, creator: str | None, engine: str, min_credit_pool: str) -> None:
    """Settle the revenue events of FILE (an interchange document, or - for stdin)."""
    try:
        if file == "-":
            text = sys.stdin.read()
        else:
            with open(file, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {file}: {getattr(error, 'strerror', None) or error}")
    show_progress = sys.stderr.isatty()
    try:
        minimum = parse_share(min_credit_pool, what="HITRACK_MIN_CREDIT_POOL")
        if not 0 <= minimum <= 1:
            raise InvalidShare(f"HITRACK_MIN_CREDIT_POOL {minimum} is outside [0, 1]")
        doc = loads_document(text, min_credit_pool=minimum)
        if engine == "auto":
            engine = "fast" if len(doc.works) >= FAST_ENGINE_FROM else "exact"
        options: dict[str, Any] = {
            "batch": batch,
            "explain": creator,
            "engine": make_engine(engine, doc.graph),
        }
        if show_progress and len(doc.events) >= PROGRESS_FROM:
            step = max(len(doc.events) // 100, 1)

            def progress(done: int, total: int) -> None:
                if done % step == 0 or done == total:
                    click.echo(f"\rsettled {done}/{total} events", err=True, nl=done == total)

            options["progress"] = progress
        result = settlement_document(doc, **options)
    except HitrackError as error:
        _fail(str(error))
    click.echo(json.dumps(result, indent=2))
