"""``hitrack settle``: settle an interchange document and print the result as JSON.

Registered on the ``hitrack`` command group by :mod:`hitrack.cli`. Bad input
exits with status 1 and one line on standard error naming the offending id;
standard output then stays empty, so the command can sit in a pipeline.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hitrack.domain import fast
from hitrack.domain.errors import HitrackError
from hitrack.domain.interchange import loads_document, settlement_document
from hitrack.settings import Settings

__all__ = ["settle", "FAST_ENGINE_FROM"]

# Below this many works the exact engine is quick enough and needs no compaction.
FAST_ENGINE_FROM = 5_000
# Progress is worth printing from this many events on.
PROGRESS_FROM = 1_000


def _spark_engine(doc: Any, batch: bool, each: bool, master: str) -> dict[str, Any]:
    """Settle every event of ``doc`` in one Spark job; the engine options for the document."""
    from hitrack.spark.settle import settle_on_spark

    result = settle_on_spark(
        doc.graph, doc.events, batch=batch, each=each, master=master, currency=doc.currency
    )
    return {
        "settle": lambda event: result.events[event.id],
        "settle_many": lambda events: result.batch,
    }


def _fail(message: str) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(1)


@click.command("settle")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--batch", is_flag=True, help="Settle all events as one batch and print totals.")
@click.option("--explain", "creator", metavar="CREATOR", help="Add this creator's explanations.")
@click.option(
    "--engine",
    type=click.Choice(["exact", "fast", "spark", "auto"]),
    default="auto",
    show_default=True,
    help=f"auto: HITRACK_SETTLEMENT_ENGINE if spark, else the fast engine from {FAST_ENGINE_FROM} works on.",
)
@click.option("--master", metavar="URL", help="Spark master (default: HITRACK_SPARK_MASTER).")
def settle(file: str, batch: bool, creator: str | None, engine: str, master: str | None) -> None:
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
        doc = loads_document(text)
        options: dict[str, Any] = {"batch": batch, "explain": creator}
        settings = Settings.from_env()
        if engine == "auto" and settings.settlement_engine == "spark":
            engine = "spark"
        if engine == "spark":
            each = not batch or creator is not None  # explanations are per event
            options.update(_spark_engine(doc, batch, each, master or settings.spark_master))
        elif engine == "fast" or (engine == "auto" and len(doc.works) >= FAST_ENGINE_FROM):
            compact = fast.CompactGraph.from_graph(doc.graph)
            options["settle"] = lambda event: fast.settle_event(compact, event)
            options["settle_many"] = lambda events: fast.settle_batch(compact, events)
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
