"""Reading a job's allocations back into the exact engine's result types.

:func:`read_output` reads ``settlements/`` and ``allocations/`` (with pyarrow:
no Spark needed) into :class:`Settled` values, which turn into
:class:`~hitrack.domain.credit.EventSettlement` or
:class:`~hitrack.domain.credit.BatchSettlement`. Their ``entitlements`` are
exact: known where the job computed them exactly (an error bound of 0, or a
recomputation), otherwise asked of an ``exact`` callback when first read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import cast

from hitrack.domain.credit import BatchSettlement, EventSettlement, Explanation
from hitrack.spark.kernels import parse_fraction

__all__ = ["Entitlement", "ExactCallback", "ExactEntitlements", "Settled", "read_output"]

ExactCallback = Callable[[str, list[str]], dict[str, Fraction]]


@dataclass(frozen=True)
class Entitlement:
    """A creator's entitlement as the job found it: ``low <= exact <= high`` (micros)."""

    low: Fraction
    high: Fraction
    exact: Fraction | None

    @property
    def known(self) -> Fraction | None:
        """The exact value if the job knows it."""
        if self.exact is not None:
            return self.exact
        return self.low if self.low == self.high else None


@dataclass
class Settled:
    """One settlement of a job's output."""

    settlement: str
    events: int
    event: str | None
    work: str | None
    amount: int
    fee: int
    distributable: int
    recouped: dict[str, int] = field(default_factory=dict)
    micros: dict[str, int] = field(default_factory=dict)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)

    @property
    def creators(self) -> dict[str, int]:
        """Creators paid a non-zero amount, by id."""
        return {c: m for c, m in sorted(self.micros.items()) if m}

    def exact_entitlements(self, exact: ExactCallback | None = None) -> ExactEntitlements:
        return ExactEntitlements(self, exact)

    def event_settlement(
        self,
        exact: ExactCallback | None = None,
        explainer: Callable[[str], list[Explanation]] | None = None,
    ) -> EventSettlement:
        """This settlement as one event's (it must hold exactly one event)."""
        if self.events != 1 or self.event is None or self.work is None:
            raise ValueError(f"settlement {self.settlement} holds {self.events} events, not one")
        return EventSettlement(
            event_id=self.event,
            work=self.work,
            amount=self.amount,
            recouped=dict(sorted(self.recouped.items())),
            fee=self.fee,
            distributable=self.distributable,
            creators=self.creators,
            entitlements=self.exact_entitlements(exact),
            _explainer=explainer,
        )

    def batch_settlement(self, exact: ExactCallback | None = None) -> BatchSettlement:
        """This settlement as a batch (DESIGN section 3, step 8)."""
        return BatchSettlement(
            events=self.events,
            amount=self.amount,
            fee=self.fee,
            recouped=dict(sorted(self.recouped.items())),
            distributable=self.distributable,
            creators=self.creators,
            entitlements=self.exact_entitlements(exact),
        )


class ExactEntitlements(Mapping[str, Fraction]):
    """Exact entitlements of one settlement: what the job knows, the rest on demand."""

    def __init__(self, settled: Settled, exact: ExactCallback | None) -> None:
        self._settled = settled
        self._exact = exact
        self._keys = sorted(settled.entitlements)
        self._cache = {c: e.known for c, e in settled.entitlements.items() if e.known is not None}

    def __getitem__(self, key: str) -> Fraction:
        if key not in self._cache:
            if key not in self._settled.entitlements:
                raise KeyError(key)
            self._fill([key])
        value = self._cache[key]
        assert value is not None
        return value

    def _fill(self, keys: list[str]) -> None:
        missing = [k for k in keys if k not in self._cache]
        if not missing:
            return
        if self._exact is None:
            raise LookupError(
                f"settlement {self._settled.settlement}: exact entitlement of {missing[0]} "
                "was not computed (pass an exact callback)"
            )
        values = self._exact(self._settled.settlement, missing)
        for key in missing:
            entitlement = self._settled.entitlements[key]
            value = values[key]
            if not entitlement.low <= value <= entitlement.high:
                raise ArithmeticError(
                    f"exact entitlement of {key} ({value}) lies outside the job's bound"
                )
            self._cache[key] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            self._fill(self._keys)
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"<exact entitlements of {len(self._keys)} creators>"


def _table(path: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    import pyarrow.dataset as ds

    table = ds.dataset(path, format="parquet").to_table()
    types = {f.name: f.type for f in table.schema}
    rows: list[dict[str, object]] = table.to_pylist()
    return rows, types


def read_output(output: str) -> dict[str, Settled]:
    """Every settlement of a job's output folder, by settlement id."""
    out = output.rstrip("/")
    result: dict[str, Settled] = {}
    for row in _table(f"{out}/settlements")[0]:
        name = str(row["settlement"])
        result[name] = Settled(
            settlement=name,
            events=int(row["events"]),  # type: ignore[call-overload]
            event=None if row["event"] is None else str(row["event"]),
            work=None if row["work"] is None else str(row["work"]),
            amount=int(row["amount"]),  # type: ignore[call-overload]
            fee=int(row["fee"]),  # type: ignore[call-overload]
            distributable=int(row["distributable"]),  # type: ignore[call-overload]
        )
    rows, types = _table(f"{out}/allocations")
    unit = 10 ** int(getattr(types["entitlement"], "scale", 0))
    for row in rows:
        settled = result[str(row["settlement"])]
        payee, micros = str(row["payee"]), int(row["micros"])  # type: ignore[call-overload]
        if row["kind"] == "recouped":
            settled.recouped[payee] = micros
            continue
        settled.micros[payee] = micros
        low = Fraction(cast(Decimal, row["entitlement"]))
        err = int(row["entitlement_err"])  # type: ignore[call-overload]
        exact = None if row["exact"] is None else parse_fraction(str(row["exact"]))
        settled.entitlements[payee] = Entitlement(low, low + Fraction(err, unit), exact)
    return result
