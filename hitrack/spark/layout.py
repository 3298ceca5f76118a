"""The Parquet layout the Spark engine reads, and its exporter.

A layout is a folder (a local path or any URI Spark and pyarrow both read)
with one Parquet dataset per table. Ids are strings; exact fractions are
integer numerator/denominator pairs stored as ``DECIMAL(38, 0)`` (any integer
of up to 38 digits; a data team's ``BIGINT`` columns cast to it losslessly);
amounts are ``BIGINT`` micros.

``works/``
    ``work STRING`` (unique), ``kind STRING`` (record, production, model),
    ``height INT``: any integer with ``height(work) > height(source)`` for
    every citation. The exporter writes the longest citation path down to a
    work without sources (0 for those); creation order works too when works
    only cite older works. The engine checks the order, which also proves the
    graph acyclic.
``owners/``
    ``work, owner STRING, num, den``: ownership fractions (sum 1 per work).
    Recouped costs are split among the event work's owners only.
``payees/``
    ``work, payee STRING, num, den``: each payee's exact fraction of the work's
    *retained* value (sum 1 per work): owners and credits through the credit
    pool (DESIGN section 1). The exporter takes them from
    :func:`payee_fractions`, the one place that decides who a work pays.
``citations/``
    ``work, source STRING, num, den``: the share of ``work``'s value that
    belongs to ``source``; a work's shares sum to at most 1, the rest is its
    retained share.
``events/``
    ``event STRING`` (unique), ``settlement STRING``, ``work STRING``,
    ``amount BIGINT``, ``costs BIGINT``, ``fee_num, fee_den``. Events with the
    same ``settlement`` are settled together as one batch (DESIGN section 3,
    step 8); an event settled on its own has a settlement of its own (the CLI
    uses the event id).
``event_shares/``
    ``event, source STRING, num, den``: an event's own source shares at its
    work when they differ from the citations, i.e. a model event's blend of
    manifest shares and attribution (DESIGN section 3, step 5), computed with
    :func:`hitrack.domain.credit.blended_shares`.
``attribution/``
    ``event, work STRING, num, den``: the attribution scores the blend came
    from, kept for audit; the engine reads ``event_shares``.
``meta/``
    ``key STRING, value STRING`` rows: ``currency`` and ``format`` (1).

Limits of the layout: amounts and each settlement's total below ``2**63``
micros (the ledger's cap), fractions of up to 38 digits each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import networkx as nx

from hitrack.domain.credit import RevenueEvent, blended_shares
from hitrack.domain.errors import InvalidInput
from hitrack.domain.payees import payees_of

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMAT",
    "MAX_MICROS",
    "TABLES",
    "payee_fractions",
    "heights",
    "export_layout",
    "export_document",
]

FORMAT = "1"
# Amounts, and every settlement's total, stay below this (BIGINT micros).
MAX_MICROS = 2**63 - 1
_MAX_DIGITS = 38

_FRACTION = [("num", "decimal(38,0)"), ("den", "decimal(38,0)")]
# Spark DDL of each table, column by column (the exporter writes the same types).
TABLES: dict[str, list[tuple[str, str]]] = {
    "works": [("work", "string"), ("kind", "string"), ("height", "int")],
    "owners": [("work", "string"), ("owner", "string"), *_FRACTION],
    "payees": [("work", "string"), ("payee", "string"), *_FRACTION],
    "citations": [("work", "string"), ("source", "string"), *_FRACTION],
    "events": [
        ("event", "string"),
        ("settlement", "string"),
        ("work", "string"),
        ("amount", "bigint"),
        ("costs", "bigint"),
        ("fee_num", "decimal(38,0)"),
        ("fee_den", "decimal(38,0)"),
    ],
    "event_shares": [("event", "string"), ("source", "string"), *_FRACTION],
    "attribution": [("event", "string"), ("work", "string"), *_FRACTION],
    "meta": [("key", "string"), ("value", "string")],
}


def ddl(table: str) -> str:
    """The Spark schema of a layout table as a DDL string."""
    return ", ".join(f"{name} {kind}" for name, kind in TABLES[table])


def payee_fractions(G: nx.DiGraph, work: str) -> dict[str, Fraction]:
    """Each payee's exact fraction of ``work``'s retained value (they sum to 1).

    The one place the exporter learns who a work pays (DESIGN section 1): the
    domain's payee rule, :func:`hitrack.domain.payees.payees_of` (owners after
    the credit pool, credits by weight through it).

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1, 4), "b": Fraction(3, 4)})])
    >>> payee_fractions(G, "r1")
    {'a': Fraction(1, 4), 'b': Fraction(3, 4)}
    """
    return payees_of(G, work)


def heights(G: nx.DiGraph) -> dict[str, int]:
    """Longest citation path from each work down to a work without sources.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("r1", "record", {"a": Fraction(1)}),
    ...                  Work("r2", "record", {"a": Fraction(1)}, {"r1": Fraction(1, 2)})])
    >>> heights(G)
    {'r1': 0, 'r2': 1}
    """
    result: dict[str, int] = {}
    for work in reversed(list(nx.topological_sort(G))):
        result[work] = 1 + max((result[s] for s in G.successors(work)), default=-1)
    return dict(sorted(result.items()))


def _integer(value: int, what: str) -> Decimal:
    if abs(value) >= 10**_MAX_DIGITS:
        raise InvalidInput(
            f"{what} has more than {_MAX_DIGITS} digits, beyond the Spark layout's DECIMAL(38, 0)"
        )
    return Decimal(value)


def _micros(value: int, what: str) -> int:
    if value > MAX_MICROS:
        raise InvalidInput(f"{what} exceeds the Spark layout's limit of 2**63 - 1 micros")
    return value


def _table(name: str, rows: Iterable[Sequence[Any]]) -> pa.Table:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "decimal(38,0)": pa.decimal128(38, 0),
    }
    columns = TABLES[name]
    data: list[list[Any]] = [[] for _ in columns]
    for row in rows:
        for i, value in enumerate(row):
            data[i].append(value)
    return pa.table(
        {
            col: pa.array(values, types[kind])
            for (col, kind), values in zip(columns, data, strict=True)
        }
    )


def _write(root: str, name: str, rows: Iterable[Sequence[Any]]) -> None:
    import pyarrow.parquet as pq

    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    pq.write_table(_table(name, rows), os.path.join(folder, "part-00000.parquet"))


def _fraction(value: Fraction, what: str) -> tuple[Decimal, Decimal]:
    return _integer(value.numerator, what), _integer(value.denominator, what)


def export_layout(
    root: str,
    G: nx.DiGraph,
    events: Sequence[RevenueEvent],
    *,
    currency: str,
    settlement_of: Callable[[RevenueEvent], str] | None = None,
) -> None:
    """Write the layout of a validated graph and its events under ``root`` (a local folder).

    ``settlement_of(event)`` names the settlement each event belongs to (by
    default each event is settled alone, under its own id). The graph and
    events must already be validated (:func:`hitrack.domain.interchange.load_document`
    does it); this only refuses what the layout cannot hold.

    Raises
    ------
    InvalidInput
        An amount or a settlement's total at or above ``2**63`` micros, or a
        fraction with more than 38 digits.
    """
    settle_as = settlement_of or (lambda event: event.id)
    height = heights(G)
    _write(root, "works", ((w, G.nodes[w]["kind"], height[w]) for w in sorted(G)))
    _write(
        root,
        "owners",
        (
            (w, o, *_fraction(f, f"work {w}: ownership of {o}"))
            for w in sorted(G)
            for o, f in sorted(G.nodes[w]["owners"].items())
        ),
    )
    _write(
        root,
        "payees",
        (
            (w, p, *_fraction(f, f"work {w}: payee {p}"))
            for w in sorted(G)
            for p, f in sorted(payee_fractions(G, w).items())
        ),
    )
    _write(
        root,
        "citations",
        (
            (w, s, *_fraction(d["share"], f"citation {w} -> {s}"))
            for w, s, d in sorted(G.edges(data=True), key=lambda e: (e[0], e[1]))
        ),
    )
    event_rows = []
    share_rows = []
    score_rows = []
    totals: dict[str, int] = {}
    for event in events:
        what = f"event {event.id}"
        settlement = settle_as(event)
        totals[settlement] = totals.get(settlement, 0) + _micros(event.amount, f"{what}: amount")
        _micros(totals[settlement], f"settlement {settlement}: the total amount")
        _micros(event.costs, f"{what}: costs")
        event_rows.append(
            (
                event.id,
                settlement,
                event.work,
                event.amount,
                event.costs,
                *_fraction(event.fee_rate, f"{what}: fee_rate"),
            )
        )
        if event.attribution is not None:
            for work, score in sorted(event.attribution.items()):
                score_rows.append((event.id, work, *_fraction(score, f"{what}: attribution")))
            sources = {s: d["share"] for _, s, d in G.out_edges(event.work, data=True)}
            blend = blended_shares(
                sources, G.nodes[event.work]["attribution_weight"], event.attribution
            )
            if blend != sources:
                for source, share in sorted(blend.items()):
                    share_rows.append((event.id, source, *_fraction(share, f"{what}: share")))
    _write(root, "events", event_rows)
    _write(root, "event_shares", share_rows)
    _write(root, "attribution", score_rows)
    _write(root, "meta", [("format", FORMAT), ("currency", currency)])


def export_document(
    root: str,
    doc: Any,
    *,
    batch: bool = False,
) -> None:
    """Write a loaded interchange document (:class:`~hitrack.domain.interchange.Document`).

    ``batch=True`` puts every event in one settlement named ``batch``;
    otherwise each event is settled alone under its own id.
    """
    export_layout(
        root,
        doc.graph,
        doc.events,
        currency=doc.currency,
        settlement_of=(lambda event: "batch") if batch else None,
    )


def read_meta(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``meta`` rows as a dict."""
    return {str(row["key"]): str(row["value"]) for row in rows}
