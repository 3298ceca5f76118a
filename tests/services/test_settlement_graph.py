"""The platform settles with the fast engine over a stored compact graph kept in step with the database."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, CompactGraphRow, Job, RevenueEvent, Work
from hitrack.domain import credit
from hitrack.jobs.database import DatabaseQueue
from hitrack.services import compact_graph, explanations, revenue
from hitrack.services.graph import graph_version
from tests.factories import make_person, make_song, make_work, reference_micros, stored_micros, usd


def settle(
    db: Session, admin, work, amount: int, external_id: str, **extra: object
) -> RevenueEvent:  # type: ignore[no-untyped-def]
    data = {"external_id": external_id, "work": work.public_id, "amount": amount, "currency": "USD"}
    recorded = revenue.record_revenue(db, admin, {**data, **extra}, default_fee_rate=Fraction(0))
    return revenue.get_event(db, recorded.event.external_id)


def test_every_graph_write_bumps_the_version_and_stamps_its_rows(db: Session) -> None:
    before = graph_version(db)
    ana = make_person(db, "Ana")
    assert graph_version(db) == before  # a creator is not part of the graph
    shoreline = make_work(db, "record", "Shoreline", {ana: 1})
    tide = make_work(db, "record", "Tide", {ana: 1}, {shoreline: "0.4"})
    assert graph_version(db) == before + 2  # once per transaction that writes the graph
    [citation] = db.scalars(select(Citation).where(Citation.work_id == tide.id))
    assert citation.graph_version == before + 2
    tide.title = "Tide (remastered)"
    db.commit()
    assert graph_version(db) == before + 3


def test_a_stored_compact_graph_is_used_only_while_its_version_matches(db: Session) -> None:
    song = make_song(db)
    version = compact_graph.rebuild(db)
    found = compact_graph.current(db)
    assert found is not None and found.version == version and found.whole
    compact_graph.forget()  # a new process loads the stored form once
    assert compact_graph.current(db) is not None

    make_work(db, "record", "Late", {song.bo: 1}, {song.shoreline: "1/10"})
    assert compact_graph.current(db) is None  # stale: never used
    event = settle(db, song.admin, song.night_swim, usd(100), "after-citation")
    assert event.graph_version == graph_version(db)
    assert stored_micros(event) == reference_micros(db, event)


def test_a_stale_graph_queues_one_rebuild_and_a_large_ancestry_rebuilds_first(db: Session) -> None:
    song = make_song(db)
    compact_graph.rebuild(db)
    make_work(db, "record", "Late", {song.bo: 1}, {song.tide: "1/10"})
    queue = DatabaseQueue()
    graph = compact_graph.settlement_graph(db, {song.night_swim.id}, queue=queue)
    assert not graph.whole  # the small ancestry, read from the database
    db.commit()
    [job] = db.scalars(select(Job).where(Job.kind == compact_graph.KIND))
    assert job.idempotency_key == f"compact-graph:{graph_version(db)}"
    # An ancestry above the limit is not read row by row: the whole graph is compacted.
    whole = compact_graph.settlement_graph(db, {song.night_swim.id}, small_ancestry=1)
    assert whole.whole and whole.version == graph_version(db)
    assert whole.graph.work_count >= 6


def test_the_rebuild_job_stores_the_current_version(db: Session) -> None:
    make_song(db)
    version = compact_graph.rebuild(db)
    row = db.get(CompactGraphRow, version)
    assert row is not None and row.works >= 5 and row.citations >= 5
    assert compact_graph.rebuild(db) == version  # idempotent
    assert db.scalars(select(CompactGraphRow.version)).all() == [version]


def test_platform_settlement_known_answer(db: Session) -> None:
    song = make_song(db)
    compact_graph.rebuild(db)
    event = settle(
        db, song.admin, song.night_swim, usd(100), "known", costs=usd(10), fee_rate="0.1"
    )
    assert event.graph_version == graph_version(db)
    assert stored_micros(event) == reference_micros(db, event)
    assert sum(stored_micros(event).values()) + event.fee == usd(100)
    # A model event with an attribution: blended shares, the same micros.
    model_event = settle(
        db,
        song.admin,
        song.model,
        1_000_003,
        "known-model",
        attribution={song.shoreline.public_id: 3},
    )
    assert stored_micros(model_event) == reference_micros(db, model_event)


_events = itertools.count()
_share = st.fractions(min_value=Fraction(1, 50), max_value=Fraction(1, 4), max_denominator=60)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=st.lists(
        st.tuples(st.lists(st.tuples(st.integers(0, 30), _share), max_size=3), st.integers(0, 2)),
        min_size=1,
        max_size=7,
    ),
    amount=st.integers(1, 10**9),
    costs=st.integers(0, 10**6),
    fee=st.fractions(0, 1, max_denominator=20),
    rebuild=st.booleans(),
)
def test_platform_settlement_equals_the_exact_engine_on_random_graphs(
    db: Session,
    shape: list[tuple[list[tuple[int, Fraction]], int]],
    amount: int,
    costs: int,
    fee: Fraction,
    rebuild: bool,
) -> None:
    admin = make_person(db, "Admin", admin=True)
    people = [make_person(db, n) for n in ("Ana", "Bo", "Cy")]
    works = []
    for cited, owner in shape:
        sources: dict = {}
        total = Fraction(0)
        for index, share in cited:
            if works and total + share <= Fraction(9, 10):
                source = works[index % len(works)]
                if source not in sources:
                    sources[source] = str(share)
                    total += share
        owners = {people[owner]: "1/2", people[(owner + 1) % 3]: "1/2"}
        works.append(make_work(db, "record", f"w{len(works)}", owners, sources))
    if rebuild:
        compact_graph.rebuild(db)
    event = settle(
        db,
        admin,
        works[-1],
        amount,
        f"prop-{next(_events)}",
        costs=costs,
        fee_rate=str(fee),
    )
    assert stored_micros(event) == reference_micros(db, event)
    assert (
        event.recouped + event.fee + sum(a.amount for a in event.allocations if a.kind == "earning")
        == amount
    )


def test_an_explanation_replays_the_graph_the_event_settled_on(db: Session) -> None:
    song = make_song(db)
    event = settle(db, song.admin, song.night_swim, usd(100), "replayed")
    before = explanations.explain_event(db, event, song.ana, kind="earning")
    assert any("to your record Shoreline" in line for line in before)
    # A later citation into Ana's record changes nothing about the past event.
    late = make_work(db, "record", "Late", {song.bo: 1}, {song.shoreline: "1/2"})
    make_work(db, "production", "Later Swim", {song.dee: 1}, {late: "1/2"})
    assert explanations.explain_event(db, event, song.ana, kind="earning") == before


def test_explanations_list_the_strongest_paths_first_and_count_the_rest(db: Session) -> None:
    ana, bo = make_person(db, "Ana"), make_person(db, "Bo")
    admin = make_person(db, "Admin", admin=True)
    root = make_work(db, "record", "Root", {ana: 1})
    middles = [make_work(db, "record", f"M{i}", {bo: 1}, {root: "1/2"}) for i in range(25)]
    top = make_work(
        db, "record", "Top", {bo: 1}, {m: f"{i + 1}/1000" for i, m in enumerate(middles)}
    )
    event = settle(db, admin, top, usd(1000), "paths")
    lines = explanations.explain_event(db, event, ana, kind="earning")
    assert lines[0].startswith(
        "Top (remix) earned 1000.00; 2.5% of Top’s value flows to M24 (remix by Bo)"
    )
    assert lines[-1] == "... and 5 more paths"
    assert len(lines) == credit.MAX_LISTED_PATHS + 1


def test_every_walk_between_the_event_and_the_creator_explains_the_same(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    song = make_song(db)
    # A source of the event's work that leads to nobody's record of Ana's.
    side = make_work(db, "record", "Side", {song.bo: 1})
    top = make_work(db, "production", "Top", {song.dee: 1}, {song.night_swim: "1/2", side: "1/4"})
    event = settle(db, song.admin, top, usd(100), "walks")
    version = event.graph_version
    assert version is not None
    walks = {}
    # The ancestry probe (small ancestry), the walk up from Ana's works (her
    # citers are few), and the walk down and back (both sides too large).
    for probe, up in ((explanations.DOWN_PROBE_LIMIT, 0), (0, explanations.UP_WALK_LIMIT), (0, 0)):
        monkeypatch.setattr(explanations, "DOWN_PROBE_LIMIT", probe)
        monkeypatch.setattr(explanations, "UP_WALK_LIMIT", up)
        walks[probe, up] = (
            explanations.explain_event(db, event, song.ana),
            explanations.explain_event(db, event, song.bo),
            explanations._between(
                db, event.work_id, select(Work.id).where(Work.id == side.id), version
            ),
        )
    first, *others = walks.values()
    assert any("to your record Shoreline" in line for line in first[0])
    assert first[1]  # Bo is paid through Tide and through Side
    assert first[2] == {top.id, side.id}  # only the path to Side, not Night Swim's ancestry
    assert all(other == first for other in others)
