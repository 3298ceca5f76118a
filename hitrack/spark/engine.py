"""The Spark settlement job: layout in, allocations out (see :mod:`hitrack.spark`).

:class:`SparkSettlement` runs one job over a layout (:mod:`hitrack.spark.layout`)
and writes two Parquet datasets under its output folder:

``settlements/``
    ``settlement STRING, events BIGINT, event STRING, work STRING, amount,
    fee, distributable BIGINT``: one row per settlement (``event`` and
    ``work`` name the event when the settlement holds exactly one).
``allocations/``
    ``settlement, payee STRING, kind STRING`` (``recouped`` or
    ``distributed``), ``micros BIGINT``, ``entitlement DECIMAL(38, s)`` and
    ``entitlement_err BIGINT`` (the exact entitlement lies in
    ``[entitlement, entitlement + err * 10**-s]`` micros), ``exact STRING``
    (``num/den`` where it was computed exactly). Distributed rows are written
    for every creator with a non-zero exact entitlement, zero micros included.

The platform posts a settlement's rows to its ledger in one transaction keyed
by the settlement id, so a job run twice settles nothing twice; the job
itself is deterministic (the same layout gives byte-for-byte the same rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pandas as pd

from hitrack.domain.errors import CycleError, InvalidEvent, InvalidInput, UnknownWork
from hitrack.spark import kernels
from hitrack.spark.layout import MAX_MICROS, ddl

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkSettlement", "JobReport", "DEFAULT_SCALE", "DEFAULT_BLOCK_WORKS"]

# Digits of a micro kept by the fixed-point propagation (DECIMAL(38, 18)).
DEFAULT_SCALE = 18
# Target works per block: a block is a range of heights with about this many works.
DEFAULT_BLOCK_WORKS = 1_000_000

_STRUCT = (
    "block INT, task INT, kind STRING, work STRING, height INT, other STRING, "
    "num DECIMAL(38,0), den DECIMAL(38,0), to_block INT, to_task INT"
)


def _flow_schema(scale: int) -> str:
    return (
        "block INT, task INT, settlement STRING, kind STRING, work STRING, other STRING, "
        f"num DECIMAL(38,0), den DECIMAL(38,0), value DECIMAL(38,{scale}), err BIGINT, "
        "text STRING"
    )


@dataclass
class JobReport:
    """What one job did: its shape and where the time went."""

    blocks: int = 0
    tasks: int = 0
    works: int = 0
    heights: int = 0
    critical_works: int = 0
    exact_rounds: int = 0
    exact_creators: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    job_group: str = ""


@dataclass
class SparkSettlement:
    """One settlement job over the layout at ``layout``, writing under ``output``.

    ``scale`` is the number of decimals of a micro carried by the fixed-point
    propagation (``DECIMAL(38, scale)``, at most 18); smaller scales only make
    more creators go to the exact recomputation, never change a micro.
    ``block_works`` is the target number of works per block and ``tasks`` the
    number of tasks each block is split into (by default Spark's default
    parallelism). ``validate`` checks the layout first (skip it only for a
    layout written by :func:`~hitrack.spark.layout.export_layout` from a
    validated document).
    """

    spark: SparkSession
    layout: str
    output: str
    scale: int = DEFAULT_SCALE
    block_works: int = DEFAULT_BLOCK_WORKS
    tasks: int | None = None
    validate: bool = True
    report: JobReport = field(default_factory=JobReport)

    def __post_init__(self) -> None:
        if not 0 <= self.scale <= 18:
            raise InvalidInput(f"scale must lie in [0, 18], not {self.scale}")
        if self.block_works < 1:
            raise InvalidInput("block_works must be at least 1")
        self._work = f"{self.output.rstrip('/')}/_work"

    # -- helpers -----------------------------------------------------------------

    def _read(self, table: str) -> DataFrame:
        return self.spark.read.schema(ddl(table)).parquet(f"{self.layout.rstrip('/')}/{table}")

    def _path(self, name: str) -> str:
        return f"{self._work}/{name}"

    def _timed(self, name: str, start: float) -> None:
        import time

        self.report.seconds[name] = round(time.perf_counter() - start, 3)

    # -- the job -------------------------------------------------------------------

    def run(self) -> JobReport:
        """Run the whole job; returns its report. Raises the domain's errors on bad input."""
        import time

        group = f"hitrack-settle-{uuid.uuid4().hex[:12]}"
        self.report.job_group = group
        self.spark.sparkContext.setJobGroup(group, "hitrack settlement", interruptOnCancel=True)
        try:
            start = time.perf_counter()
            if self.validate:
                self._validate()
                self._timed("validate", start)
            start = time.perf_counter()
            blocks = self._plan()
            self._timed("plan", start)
            start = time.perf_counter()
            self._events()
            self._timed("events", start)
            start = time.perf_counter()
            self._forward(blocks)
            self._timed("propagate", start)
            start = time.perf_counter()
            self._round(blocks)
            self._timed("round", start)
        finally:
            self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        return self.report

    # -- validation ----------------------------------------------------------------

    def _validate(self) -> None:
        """The layout's rules, each checked by one query naming the first offender."""
        from pyspark.sql import functions as F

        works = self._read("works")
        citations = self._read("citations")
        events = self._read("events")
        first = works.groupBy("work").count().where("count > 1").limit(1).collect()
        if first:
            raise InvalidInput(f"duplicate work id {first[0]['work']}", ids=(first[0]["work"],))
        heights = works.select("work", "height")
        edges = (
            citations.join(heights.withColumnRenamed("height", "wh"), "work", "left")
            .join(
                heights.withColumnRenamed("work", "source").withColumnRenamed("height", "sh"),
                "source",
                "left",
            )
            .where("wh IS NULL OR sh IS NULL OR wh <= sh OR num <= 0 OR num > den")
            .orderBy("work", "source")
            .limit(1)
            .collect()
        )
        if edges:
            row = edges[0]
            ids = (row["work"], row["source"])
            if row["wh"] is None:
                raise UnknownWork(f"citation of unknown work {row['work']}", ids=ids)
            if row["sh"] is None:
                raise UnknownWork(f"work {row['work']} cites unknown work {row['source']}", ids=ids)
            if row["num"] <= 0 or row["num"] > row["den"]:
                raise InvalidInput(
                    f"citation {row['work']} -> {row['source']}: share {row['num']}/{row['den']} "
                    "is outside (0, 1]",
                    ids=ids,
                )
            raise CycleError(
                f"citation {row['work']} -> {row['source']}: height {row['wh']} is not above "
                f"the source's {row['sh']} (heights must fall along citations)",
                ids=ids,
            )
        for table, who in (("payees", "payee"), ("owners", "owner")):
            parts = self._read(table)
            bad = (
                works.select("work")
                .join(parts, "work", "left")
                .groupBy("work")
                .agg(F.count(who).alias("n"), F.min(F.col("num") / F.col("den")).alias("least"))
                .where("n = 0 OR least <= 0")
                .orderBy("work")
                .limit(1)
                .collect()
            )
            if bad:
                raise InvalidInput(f"work {bad[0]['work']} has no {who}s", ids=(bad[0]["work"],))
        bad_events = (
            events.join(heights, "work", "left")
            .where(
                "height IS NULL OR amount IS NULL OR amount < 0 OR costs < 0 OR fee_den <= 0 "
                "OR fee_num < 0 OR fee_num > fee_den OR settlement IS NULL"
            )
            .orderBy("event")
            .limit(1)
            .collect()
        )
        if bad_events:
            row = bad_events[0]
            event_ids = (row["event"],)
            if row["height"] is None:
                raise UnknownWork(
                    f"event {row['event']}: unknown work {row['work']}",
                    ids=(row["event"], row["work"]),
                )
            for name in ("amount", "costs"):
                if row[name] is None or row[name] < 0:
                    raise InvalidEvent(
                        f"event {row['event']}: {name} {row[name]} is negative", ids=event_ids
                    )
            if row["settlement"] is None:
                raise InvalidEvent(f"event {row['event']}: no settlement", ids=event_ids)
            raise InvalidEvent(
                f"event {row['event']}: fee_rate {row['fee_num']}/{row['fee_den']} is outside [0, 1]",
                ids=event_ids,
            )
        dup = events.groupBy("event").count().where("count > 1").orderBy("event").limit(1).collect()
        if dup:
            raise InvalidEvent(f"duplicate event id {dup[0]['event']}", ids=(dup[0]["event"],))
        stray = (
            self._read("event_shares")
            .join(events.select("event", "work"), "event", "left")
            .join(
                citations.select(F.col("work"), F.col("source"), F.lit(1).alias("cited")),
                ["work", "source"],
                "left",
            )
            .where("work IS NULL OR cited IS NULL OR num < 0")
            .orderBy("event", "source")
            .limit(1)
            .collect()
        )
        if stray:
            row = stray[0]
            raise InvalidEvent(
                f"event {row['event']}: its share of {row['source']} is not one of its "
                "work's citations",
                ids=(row["event"], row["source"]),
            )

    # -- plan: blocks, tasks and the block structure -------------------------------

    def _plan(self) -> int:
        from pyspark.sql import functions as F

        spark = self.spark
        works = self._read("works")
        counts = sorted(
            (
                (int(r["height"]), int(r["count"]))
                for r in works.groupBy("height").count().collect()
            ),
            reverse=True,
        )
        # Blocks are ranges of heights, highest first: value only flows from a
        # block to later ones, and a block holds about ``block_works`` works.
        mapping = []
        block = filled = 0
        for height, count in counts:
            if filled and filled + count > self.block_works:
                block += 1
                filled = 0
            mapping.append((height, block))
            filled += count
        blocks = block + 1 if counts else 0
        tasks = self.tasks or max(spark.sparkContext.defaultParallelism, 1)
        self.report.blocks, self.report.tasks = blocks, tasks
        self.report.works = sum(c for _, c in counts)
        self.report.heights = len(counts)
        if not counts:
            mapping = [(0, 0)]
        of_height = F.broadcast(spark.createDataFrame(mapping, "height INT, block INT"))
        placed = works.join(of_height, "height").select("work", "height", "block")
        citations = self._read("citations")
        inner = (
            citations.join(placed.select("work", "block"), "work")
            .join(
                placed.select(F.col("work").alias("source"), F.col("block").alias("sblock")),
                "source",
            )
            .where("block = sblock")
            .select("block", "work", F.col("source").alias("other"))
        )
        rows = placed.select(
            "block", "work", F.lit(None).cast("string").alias("other")
        ).unionByName(inner)

        def split(frame: pd.DataFrame) -> pd.DataFrame:
            return kernels.pieces(frame, tasks)

        rows.groupBy("block").applyInPandas(split, "block INT, work STRING, task INT").write.mode(
            "overwrite"
        ).parquet(self._path("tasks"))
        tasks_of = spark.read.schema("block INT, work STRING, task INT").parquet(
            self._path("tasks")
        )
        index = tasks_of.join(placed.select("work", "height"), "work")
        citing = index.select("work", "block", "task", "height")
        cited = index.select(
            F.col("work").alias("source"),
            F.col("block").alias("to_block"),
            F.col("task").alias("to_task"),
            F.col("height").alias("source_height"),
        )
        edges = citations.join(citing, "work").join(cited, "source")
        edge_rows = edges.select(
            "block",
            "task",
            F.lit(kernels.EDGE).alias("kind"),
            "work",
            "height",
            F.col("source").alias("other"),
            "num",
            "den",
            "to_block",
            "to_task",
        )
        exports = (
            edges.where("block <> to_block")
            .select(
                F.col("to_block").alias("block"),
                F.col("to_task").alias("task"),
                F.lit(kernels.EXPORT).alias("kind"),
                F.col("source").alias("work"),
                F.col("source_height").alias("height"),
                F.lit(None).cast("string").alias("other"),
                F.lit(None).cast("decimal(38,0)").alias("num"),
                F.lit(None).cast("decimal(38,0)").alias("den"),
                F.col("block").alias("to_block"),
                F.col("task").alias("to_task"),
            )
            .distinct()
        )
        payee_rows = (
            self._read("payees")
            .join(citing, "work")
            .select(
                "block",
                "task",
                F.lit(kernels.PAYEE).alias("kind"),
                "work",
                "height",
                F.col("payee").alias("other"),
                "num",
                "den",
                F.lit(None).cast("int").alias("to_block"),
                F.lit(None).cast("int").alias("to_task"),
            )
        )
        edge_rows.unionByName(payee_rows).unionByName(exports).write.mode("overwrite").partitionBy(
            "block"
        ).parquet(self._path("struct"))
        return blocks

    def critical_works(self) -> int:
        """Works on the critical path of the propagation: each block's largest task, summed.

        Ask after :meth:`run` (the job's scratch data is kept under ``output``).
        """
        counts = (
            self.spark.read.schema("block INT, work STRING, task INT")
            .parquet(self._path("tasks"))
            .groupBy("block", "task")
            .count()
            .collect()
        )
        largest: dict[int, int] = {}
        for row in counts:
            largest[row["block"]] = max(largest.get(row["block"], 0), int(row["count"]))
        self.report.critical_works = sum(largest.values())
        return self.report.critical_works

    # -- events: fees, recoups and what enters the graph ---------------------------

    def _events(self) -> None:
        from pyspark.sql import functions as F

        scale = self.scale
        events = self._read("events")
        owners = (
            self._read("owners")
            .groupBy("work")
            .agg(F.sort_array(F.collect_list(F.struct("owner", "num", "den"))).alias("owners"))
        )

        def split(batches: Any) -> Any:
            from hitrack.domain.credit import RevenueEvent, split_event
            from hitrack.domain.money import allocate

            for frame in batches:
                out: list[tuple[Any, ...]] = []
                for row in frame.itertuples(index=False):
                    fee_rate = Fraction(int(row.fee_num), int(row.fee_den))
                    event = RevenueEvent(
                        row.event, row.work, int(row.amount), int(row.costs), fee_rate
                    )
                    recouped, fee, distributable = split_event(event)
                    out.append(
                        (
                            row.event,
                            row.settlement,
                            row.work,
                            event.amount,
                            fee,
                            distributable,
                            None,
                            0,
                        )
                    )
                    if recouped:
                        shares = {
                            str(o["owner"]): recouped * Fraction(int(o["num"]), int(o["den"]))
                            for o in row.owners
                        }
                        for owner, micros in sorted(allocate(recouped, shares).items()):
                            if micros:
                                out.append(
                                    (row.event, row.settlement, row.work, 0, 0, 0, owner, micros)
                                )
                yield pd.DataFrame(
                    out,
                    columns=[
                        "event",
                        "settlement",
                        "work",
                        "amount",
                        "fee",
                        "distributable",
                        "owner",
                        "recouped",
                    ],
                )

        split_schema = (
            "event STRING, settlement STRING, work STRING, amount BIGINT, fee BIGINT, "
            "distributable BIGINT, owner STRING, recouped BIGINT"
        )
        events.join(owners, "work").mapInPandas(split, split_schema).write.mode(
            "overwrite"
        ).parquet(self._path("splits"))
        splits = self.spark.read.schema(split_schema).parquet(self._path("splits"))
        too_big = self.validate and (
            splits.where("owner IS NULL")
            .groupBy("settlement")
            .agg(F.sum(F.col("amount").cast("decimal(38,0)")).alias("total"))
            .where(F.col("total") > MAX_MICROS)
            .orderBy("settlement")
            .limit(1)
            .collect()
        )
        if too_big:
            name = too_big[0]["settlement"]
            raise InvalidInput(
                f"settlement {name}: the total amount exceeds the Spark layout's limit of "
                "2**63 - 1 micros",
                ids=(name,),
            )
        paying = splits.where("owner IS NULL AND distributable > 0")
        blended = self._read("event_shares")
        with_blend = blended.select("event").distinct()
        plain = (
            paying.join(with_blend, "event", "left_anti")
            .groupBy("settlement", "work")
            .agg(F.sum("distributable").alias("amount"))
            .select(
                "settlement",
                F.lit(kernels.VALUE).alias("kind"),
                "work",
                F.lit(None).cast("string").alias("other"),
                F.lit(None).cast("decimal(38,0)").alias("num"),
                F.lit(None).cast("decimal(38,0)").alias("den"),
                "amount",
            )
        )
        model = paying.join(with_blend, "event")
        kept = model.select(
            "settlement",
            F.lit(kernels.KEPT).alias("kind"),
            "work",
            F.lit(None).cast("string").alias("other"),
            F.lit(None).cast("decimal(38,0)").alias("num"),
            F.lit(None).cast("decimal(38,0)").alias("den"),
            F.col("distributable").alias("amount"),
        )
        parts = model.join(blended, "event").select(
            "settlement",
            F.lit(kernels.BLEND).alias("kind"),
            "work",
            F.col("source").alias("other"),
            "num",
            "den",
            F.col("distributable").alias("amount"),
        )
        index = self.spark.read.schema("block INT, work STRING, task INT").parquet(
            self._path("tasks")
        )
        plain.unionByName(kept).unionByName(parts).join(index, "work").select(
            "block",
            "task",
            "settlement",
            "kind",
            "work",
            "other",
            "num",
            "den",
            F.col("amount").cast(f"decimal(38,{scale})").alias("value"),
            F.lit(0).cast("bigint").alias("err"),
            F.lit(None).cast("string").alias("text"),
        ).write.mode("overwrite").partitionBy("block").parquet(self._path("inputs"))

    # -- propagation -----------------------------------------------------------------

    def _flows(self, name: str) -> DataFrame:
        return self.spark.read.schema(_flow_schema(self.scale)).parquet(self._path(name))

    def _empty(self, name: str) -> None:
        self.spark.createDataFrame([], _flow_schema(self.scale)).write.mode(
            "overwrite"
        ).partitionBy("block").parquet(self._path(name))

    def _forward(self, blocks: int) -> None:
        scale = self.scale
        struct = self.spark.read.schema(_STRUCT).parquet(self._path("struct"))
        inputs = self._flows("inputs")
        self._empty("forward")

        def step(values: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
            from pyspark import TaskContext

            _maybe_fail(TaskContext.get())
            if rows.empty:
                return kernels._rows(kernels.FLOW_COLUMNS, [])
            return kernels.forward(rows, values, scale)

        for block in range(blocks):
            arriving = inputs.where(f"block = {block}").unionByName(
                self._flows("forward").where(f"block = {block}")
            )
            arriving.groupBy("task").cogroup(
                struct.where(f"block = {block}").groupBy("task")
            ).applyInPandas(step, _flow_schema(scale)).write.mode("append").partitionBy(
                "block"
            ).parquet(self._path("forward"))

    def _exact(
        self, blocks: int, needs: list[tuple[str, str]], round_: int
    ) -> dict[tuple[str, str], Fraction]:
        """Exact entitlements of ``(settlement, creator)`` pairs by the backward pass."""
        from pyspark.sql import functions as F

        scale = self.scale
        creators = sorted({c for _, c in needs})
        struct = self.spark.read.schema(_STRUCT).parquet(self._path("struct"))
        inputs = self._flows("inputs")
        name = f"backward{round_}"
        self._empty(name)

        def step(values: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
            if rows.empty:
                return kernels._rows(kernels.FLOW_COLUMNS, [])
            return kernels.backward(rows, values, scale, creators)

        for block in reversed(range(blocks)):
            arriving = inputs.where(f"block = {block}").unionByName(
                self._flows(name).where(f"block = {block}")
            )
            arriving.groupBy("task").cogroup(
                struct.where(f"block = {block}").groupBy("task")
            ).applyInPandas(step, _flow_schema(scale)).write.mode("append").partitionBy(
                "block"
            ).parquet(self._path(name))
        wanted = self.spark.createDataFrame(needs, "settlement STRING, other STRING")
        rows = (
            self._flows(name)
            .where(f"block = -1 AND kind = '{kernels.TOTAL}'")
            .join(F.broadcast(wanted), ["settlement", "other"])
            .select("settlement", "other", "text")
            .collect()
        )
        totals = {key: Fraction(0) for key in needs}
        for row in rows:
            totals[(row["settlement"], row["other"])] += kernels.parse_fraction(row["text"])
        return totals

    # -- rounding and the output ---------------------------------------------------------

    def _round(self, blocks: int) -> None:
        from pyspark.sql import functions as F

        scale = self.scale
        spark = self.spark
        creators = (
            self._flows("forward")
            .where(f"block = -1 AND kind = '{kernels.OWED}'")
            .groupBy("settlement", F.col("other").alias("creator"))
            .agg(F.sum("value").alias("value"), F.sum("err").alias("err"))
        )
        split_schema = (
            "event STRING, settlement STRING, work STRING, amount BIGINT, fee BIGINT, "
            "distributable BIGINT, owner STRING, recouped BIGINT"
        )
        splits = spark.read.schema(split_schema).parquet(self._path("splits"))
        totals = (
            splits.where("owner IS NULL")
            .groupBy("settlement")
            .agg(
                F.count("event").alias("events"),
                F.min("event").alias("event"),
                F.min("work").alias("work"),
                F.sum("amount").alias("amount"),
                F.sum("fee").alias("fee"),
                F.sum("distributable").alias("distributable"),
            )
        )
        exact: dict[tuple[str, str], Fraction] = {}
        columns = [
            "settlement",
            "payee",
            "kind",
            "micros",
            "entitlement",
            "entitlement_err",
            "exact",
        ]

        def choose(frame: pd.DataFrame) -> pd.DataFrame:
            settlement = frame["settlement"].iloc[0]
            total = int(frame["distributable"].iloc[0])
            candidates = [
                kernels.Candidate(
                    creator,
                    kernels.to_ulps(value, scale),
                    int(err),
                    None if text is None else kernels.parse_fraction(text),
                )
                for creator, value, err, text in zip(
                    frame["creator"], frame["value"], frame["err"], frame["exact"], strict=True
                )
            ]
            micros, needed = kernels.decide(total, candidates, scale)
            if micros is None:
                # Only the creators whose exact value is needed, marked by a null kind.
                return pd.DataFrame(
                    [(settlement, c, None, 0, None, None, None) for c in needed], columns=columns
                )
            names = frame["creator"].tolist()
            return pd.DataFrame(
                {
                    "settlement": settlement,
                    "payee": names,
                    "kind": "distributed",
                    "micros": [micros[n] for n in names],
                    "entitlement": frame["value"].tolist(),
                    "entitlement_err": frame["err"].astype("int64").tolist(),
                    "exact": frame["exact"].tolist(),
                },
                columns=columns,
            ).sort_values("payee", kind="stable")

        schema = (
            "settlement STRING, payee STRING, kind STRING, micros BIGINT, "
            f"entitlement DECIMAL(38,{scale}), entitlement_err BIGINT, exact STRING"
        )
        round_ = 0
        while True:
            known = spark.createDataFrame(
                [(s, c, f"{v.numerator}/{v.denominator}") for (s, c), v in sorted(exact.items())],
                "settlement STRING, creator STRING, exact STRING",
            )
            decided = (
                creators.join(F.broadcast(known), ["settlement", "creator"], "left")
                .join(totals.select("settlement", "distributable"), "settlement")
                .groupBy("settlement")
                .applyInPandas(choose, schema)
            )
            needs = sorted(
                (r["settlement"], r["payee"])
                for r in decided.where("kind IS NULL").select("settlement", "payee").collect()
            )
            if not needs:
                break
            round_ += 1
            self.report.exact_rounds = round_
            self.report.exact_creators += len(needs)
            exact.update(self._exact(blocks, needs, round_))
        recouped = (
            splits.where("owner IS NOT NULL")
            .groupBy("settlement", "owner")
            .agg(F.sum("recouped").alias("micros"))
            .select(
                "settlement",
                F.col("owner").alias("payee"),
                F.lit("recouped").alias("kind"),
                "micros",
                F.lit(None).cast(f"decimal(38,{scale})").alias("entitlement"),
                F.lit(None).cast("bigint").alias("entitlement_err"),
                F.lit(None).cast("string").alias("exact"),
            )
        )
        out = self.output.rstrip("/")
        decided.unionByName(recouped).orderBy("settlement", "kind", "payee").write.mode(
            "overwrite"
        ).parquet(f"{out}/allocations")
        totals.select(
            "settlement",
            "events",
            F.when(F.col("events") == 1, F.col("event")).alias("event"),
            F.when(F.col("events") == 1, F.col("work")).alias("work"),
            "amount",
            "fee",
            "distributable",
        ).orderBy("settlement").write.mode("overwrite").parquet(f"{out}/settlements")


# -- fault injection for the tests: an executor lost mid-job -----------------------------

FAIL_FIRST_ATTEMPT = "hitrack.test.failFirstAttempt"


def _maybe_fail(context: Any) -> None:
    """Fail a task's first attempt when the job asks for it (tests of Spark's retries)."""
    if context is None or context.getLocalProperty(FAIL_FIRST_ATTEMPT) != "1":
        return
    if context.attemptNumber() == 0:
        raise RuntimeError("injected failure: this task's first attempt is lost")
