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
from hitrack.settings import Settings

__all__ = ["settle", "FAST_ENGINE_FROM"]

# Below this many works the exact engine is quick enough and needs no compaction.
FAST_ENGINE_FROM = 5_000
# Progress is worth printing from this many events on.
PROGRESS_FROM = 1_000


class _SparkResults:
    """The engine interface over one Spark job's results (the job settles every event at once)."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def settle_event(self, event: Any) -> Any:
        return self._result.events[event.id]

    def settle_batch(self, events: Any) -> Any:
        return self._result.batch


def _spark_engine(doc: Any, batch: bool, each: bool, master: str) -> _SparkResults:
    """Settle every event of ``doc`` in one Spark job."""
    from hitrack.spark.settle import settle_on_spark

    return _SparkResults(
        settle_on_spark(
            doc.graph, doc.events, batch=batch, each=each, master=master, currency=doc.currency
        )
    )


def _fail(message: str) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(1)


@click.command("settle")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--batch", is_flag=True, help="Settle all events as one batch and print totals.")
@click.option("--explain", "creator", metavar="CREATOR", help="Add this creator's explanations.")
@click.option(
    "--engine",
    type=click.Choice([*ENGINES, "spark", "auto"]),
    default="auto",
    show_default=True,
    help="auto: HITRACK_SETTLEMENT_ENGINE if spark, else the fast engine from "
    f"{FAST_ENGINE_FROM} works on, else the exact one.",
)
@click.option(
    "--min-credit-pool",
    envvar="HITRACK_MIN_CREDIT_POOL",
    default="0",
    show_default=True,
    metavar="SHARE",
    help="Least credit pool of a work with credits (env HITRACK_MIN_CREDIT_POOL).",
)
@click.option("--master", metavar="URL", help="Spark master (default: HITRACK_SPARK_MASTER).")
def settle(
    file: str,
    batch: bool,
    creator: str | None,
    engine: str,
    min_credit_pool: str,
    master: str | None,
) -> None:
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
        settings = Settings.from_env()
        if engine == "auto" and settings.settlement_engine == "spark":
            engine = "spark"
        if engine == "auto":
            engine = "fast" if len(doc.works) >= FAST_ENGINE_FROM else "exact"
        options: dict[str, Any] = {"batch": batch, "explain": creator}
        if engine == "spark":
            each = not batch or creator is not None  # explanations are per event
            options["engine"] = _spark_engine(doc, batch, each, master or settings.spark_master)
        else:
            options["engine"] = make_engine(engine, doc.graph)
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
