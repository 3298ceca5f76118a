"""Productions: contributions under the graph rules, and the payment proposal's lifecycle.

Time is passed in (``now=``); nothing here sleeps.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Citation, Comment, Notification, ProductionLog, ProposalRevision, Work
from hitrack.domain.credit import RevenueEvent, settle_event
from hitrack.domain.errors import (
    Conflict,
    ConsentRequired,
    CycleError,
    InvalidCitation,
    InvalidInput,
    InvalidShare,
    NotFound,
    PermissionDenied,
)
from hitrack.services import notifications
from hitrack.services import productions as prod
from hitrack.services.graph import ancestry_ids, load_graph
from hitrack.services.productions import ContributionInput as C
from tests.factories import make_creator, make_record, make_remix

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)


@pytest.fixture
def cast(db: Session, storage):  # type: ignore[no-untyped-def]
    """Ana's record, Bo's remix of it, and Dana who produces from both."""
    ana, bo, dana, eve = (make_creator(db, n) for n in ("Ana", "Bo", "Dana", "Eve"))
    shoreline = make_record(db, storage, ana, "Shoreline")
    tide = make_remix(db, storage, bo, (shoreline, "0.4"), title="Tide")
    # The remix told Ana ("remixed"); these tests are about what the production tells her.
    db.execute(delete(Notification).where(Notification.kind == "remixed"))
    db.commit()
    return {"ana": ana, "bo": bo, "dana": dana, "eve": eve, "shoreline": shoreline, "tide": tide}


def draft(db: Session, cast, **shares: str) -> Work:  # type: ignore[no-untyped-def]
    contributions = [
        C(cast[name].public_id, share, "composer" if name == "tide" else "performer")
        for name, share in (shares or {"tide": "0.6", "shoreline": "0.4"}).items()
    ]
    return prod.create_production(
        db, cast["dana"], title="Night Swim", contributions=contributions, now=T0
    )


def proposed(db: Session, cast, *, at: datetime = T0) -> Work:  # type: ignore[no-untyped-def]
    production = draft(db, cast)
    prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=at)
    return production


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


# --- Contributions ---------------------------------------------------------------


def test_creating_a_production_makes_the_creator_its_producer_with_a_draft_split(db, cast):
    production = draft(db, cast)
    assert production.kind == "production" and production.status == "draft"
    assert production.is_owned_by(cast["dana"].id) and production.created_by_id == cast["dana"].id
    roles = {c.source.title: (c.credit_role, c.share) for c in production.sources}
    assert roles == {
        "Tide": ("composer", Fraction(3, 5)),
        "Shoreline": ("performer", Fraction(2, 5)),
    }
    [entry] = db.scalars(select(ProductionLog).where(ProductionLog.production_id == production.id))
    assert entry.action == "created" and entry.actor_id == cast["dana"].id


def test_contributions_may_be_other_productions(db, cast):
    with pytest.raises(NotFound):  # another producer's draft is not to be seen, nor cited
        prod.create_production(
            db, cast["eve"], title="Early", contributions=[C(draft(db, cast).public_id, "1/2")]
        )
    inner = proposed(db, cast)
    outer = prod.create_production(
        db,
        cast["eve"],
        title="Compilation",
        contributions=[C(inner.public_id, "1/2", "editor")],
        now=T0,
    )
    assert [c.source_id for c in outer.sources] == [inner.id]


def test_contributions_above_one_are_refused_and_nothing_is_stored(db, cast):
    before = count(db, Work)
    with pytest.raises(InvalidCitation, match="above 1"):
        draft(db, cast, tide="0.7", shoreline="0.4")
    assert count(db, Work) == before


def test_a_contribution_without_remix_consent_is_refused(db, storage, cast):
    closed = make_record(db, storage, cast["eve"], "Private diary", remix=False)
    with pytest.raises(ConsentRequired, match=closed.public_id):
        prod.create_production(
            db, cast["dana"], title="X", contributions=[C(closed.public_id, "0.5")]
        )


def test_a_contribution_that_closes_a_cycle_is_refused(db, cast):
    a = draft(db, cast, tide="0.5")
    b = prod.create_production(
        db, cast["dana"], title="B", contributions=[C(a.public_id, "0.5")], now=T0
    )
    with pytest.raises(CycleError):
        prod.set_contributions(db, cast["dana"], a.public_id, [C(b.public_id, "0.5")], now=T0)
    assert {c.source_id for c in db.scalars(select(Citation).where(Citation.work_id == a.id))} == {
        cast["tide"].id
    }


def test_unknown_contribution_is_not_found_and_bad_share_is_invalid(db, cast):
    with pytest.raises(NotFound, match="r0000000000"):
        prod.create_production(db, cast["dana"], title="X", contributions=[C("r0000000000", "0.5")])
    with pytest.raises(InvalidShare):
        prod.create_production(
            db, cast["dana"], title="X", contributions=[C(cast["tide"].public_id, "lots")]
        )
    with pytest.raises(InvalidInput, match="title"):
        prod.create_production(db, cast["dana"], title="  ")


def test_parse_contributions_reads_shares_roles_and_lists():
    assert prod.parse_contributions(
        {"r1": "0.5", "r2": {"share": "1/4", "credit_role": " writer "}}
    ) == [C("r1", "0.5", None), C("r2", "1/4", "writer")]
    assert prod.parse_contributions([{"work": "r1", "share": 1, "credit_role": "editor"}]) == [
        C("r1", 1, "editor")
    ]
    with pytest.raises(InvalidInput, match="twice"):
        prod.parse_contributions([{"work": "r1", "share": 1}, {"work": "r1", "share": 1}])
    with pytest.raises(InvalidInput, match="unknown fields"):
        prod.parse_contributions({"r1": {"share": "1", "role": "x"}})


def test_a_non_producer_cannot_change_a_split(db, cast):
    production = draft(db, cast)
    # Ana contributes, so she sees the draft; Eve does not even find it.
    for other, refusal in ((cast["ana"], PermissionDenied), (cast["eve"], NotFound)):
        with pytest.raises(refusal):
            prod.set_contributions(
                db, other, production.public_id, [C(cast["tide"].public_id, "1")]
            )
        with pytest.raises(refusal):
            prod.publish_proposal(db, other, production.public_id, window=WINDOW)
    with pytest.raises(PermissionDenied, match="only the producer"):
        prod.set_contributions(db, cast["ana"], production.public_id, [])
    db.expire_all()
    assert {c.share for c in production.sources} == {Fraction(3, 5), Fraction(2, 5)}


def test_the_producer_replaces_the_split_while_draft(db, cast):
    production = draft(db, cast)
    prod.set_contributions(
        db, cast["dana"], production.public_id, [C(cast["tide"].public_id, "0.9", "writer")]
    )
    db.expire_all()
    assert [(c.source_id, c.share, c.credit_role) for c in production.sources] == [
        (cast["tide"].id, Fraction(9, 10), "writer")
    ]


# --- Publishing, the window, revisions --------------------------------------------


def test_publishing_snapshots_the_split_and_opens_the_window(db, cast):
    production = proposed(db, cast)
    [revision] = db.scalars(
        select(ProposalRevision).where(ProposalRevision.production_id == production.id)
    )
    assert production.status == "proposed"
    assert revision.number == 1 and revision.window_closes_at == T0 + WINDOW
    assert {(line.source_id, line.share, line.credit_role) for line in revision.lines} == {
        (cast["tide"].id, Fraction(3, 5), "composer"),
        (cast["shoreline"].id, Fraction(2, 5), "performer"),
    }


def test_publishing_notifies_every_affected_creator_but_the_producer(db, cast):
    production = proposed(db, cast)
    notified = {
        n.creator_id
        for n in db.scalars(select(Notification).where(Notification.kind == "proposal_published"))
    }
    assert notified == {cast["ana"].id, cast["bo"].id}
    assert prod.affected_creator_ids(db, production) == {
        cast["ana"].id,
        cast["bo"].id,
        cast["dana"].id,
    }


def test_the_retained_share_is_stated_and_must_complete_the_split(db, cast):
    production = draft(db, cast, tide="0.5")
    with pytest.raises(Conflict, match="state a retained share of 0.5"):
        prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=T0)
    assert count(db, ProposalRevision) == 0 and production.status == "draft"
    prod.publish_proposal(
        db, cast["dana"], production.public_id, retained="1/2", window=WINDOW, now=T0
    )
    assert production.status == "proposed"


def test_a_production_without_contributions_cannot_be_published(db, cast):
    production = prod.create_production(db, cast["dana"], title="Solo", now=T0)
    with pytest.raises(Conflict, match="no contributions"):
        prod.publish_proposal(
            db, cast["dana"], production.public_id, retained="1", window=WINDOW, now=T0
        )


def test_finalize_before_the_window_closes_is_refused(db, cast):
    production = proposed(db, cast)
    with pytest.raises(Conflict, match="closes at"):
        prod.finalize(
            db, cast["dana"], production.public_id, now=T0 + WINDOW - timedelta(seconds=1)
        )
    assert production.status == "proposed"
    prod.finalize(db, cast["dana"], production.public_id, now=T0 + WINDOW)
    assert production.status == "finalized" and prod.is_earning(production)


def test_a_revision_restarts_the_window_and_is_kept_with_its_diff(db, cast):
    production = proposed(db, cast)
    later = T0 + timedelta(days=10)
    prod.set_contributions(
        db,
        cast["dana"],
        production.public_id,
        [
            C(cast["tide"].public_id, "0.7", "composer"),
            C(cast["shoreline"].public_id, "0.3", "performer"),
        ],
        now=later,
    )
    revision = prod.publish_proposal(
        db, cast["dana"], production.public_id, window=WINDOW, now=later
    )
    assert revision.number == 2 and revision.window_closes_at == later + WINDOW
    with pytest.raises(Conflict, match="closes at"):
        prod.finalize(
            db, cast["dana"], production.public_id, now=T0 + WINDOW
        )  # the first window's end
    view = prod.production_view(db, None, production.public_id, now=later)
    changes = {c.source.title: (c.before, c.after, c.change) for c in view.diffs[2]}
    assert changes == {
        "Tide": (Fraction(3, 5), Fraction(7, 10), "changed"),
        "Shoreline": (Fraction(2, 5), Fraction(3, 10), "changed"),
    }
    assert [
        n.kind
        for n in db.scalars(
            select(Notification)
            .where(Notification.creator_id == cast["ana"].id)
            .order_by(Notification.id)
        )
    ] == ["proposal_published", "proposal_revised"]
    prod.finalize(db, cast["dana"], production.public_id, now=later + WINDOW)
    assert [e.action for e in view.log] == ["created", "published", "contributions_set", "revised"]


def test_a_revision_notifies_creators_it_drops(db, cast):
    production = proposed(db, cast)
    prod.set_contributions(
        db, cast["dana"], production.public_id, [C(cast["tide"].public_id, "1")], now=T0
    )
    # Bo's Tide still cites Ana's Shoreline; a record only Dana's split named drops out entirely.
    prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=T0)
    assert {
        n.creator_id
        for n in db.scalars(select(Notification).where(Notification.kind == "proposal_revised"))
    } == {cast["ana"].id, cast["bo"].id}


def test_republishing_an_unchanged_split_is_refused(db, cast):
    production = proposed(db, cast)
    with pytest.raises(Conflict, match="already proposes"):
        prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW, now=T0)
    assert count(db, ProposalRevision) == 1


def test_unpublished_edits_block_finalizing(db, cast):
    production = proposed(db, cast)
    prod.set_contributions(
        db, cast["dana"], production.public_id, [C(cast["tide"].public_id, "1")], now=T0
    )
    with pytest.raises(Conflict, match="publish them"):
        prod.finalize(db, cast["dana"], production.public_id, now=T0 + WINDOW)
    assert production.status == "proposed"


def test_a_zero_day_window_can_be_finalized_at_once(db, cast):
    production = draft(db, cast)
    prod.publish_proposal(db, cast["dana"], production.public_id, window=timedelta(0), now=T0)
    prod.finalize(db, cast["dana"], production.public_id, now=T0)
    assert production.status == "finalized"


def test_finalizing_a_draft_or_twice_is_refused(db, cast):
    production = draft(db, cast)
    with pytest.raises(Conflict, match="publish a proposal first"):
        prod.finalize(db, cast["dana"], production.public_id, now=T0)
    prod.publish_proposal(db, cast["dana"], production.public_id, window=timedelta(0), now=T0)
    with pytest.raises(PermissionDenied):
        prod.finalize(db, cast["ana"], production.public_id, now=T0)
    prod.finalize(db, cast["dana"], production.public_id, now=T0)
    with pytest.raises(Conflict, match="already finalized"):
        prod.finalize(db, cast["dana"], production.public_id, now=T0)


def test_a_finalized_split_never_changes(db, cast):
    production = proposed(db, cast)
    prod.finalize(db, cast["dana"], production.public_id, now=T0 + WINDOW)
    with pytest.raises(Conflict, match="never changes"):
        prod.set_contributions(
            db, cast["dana"], production.public_id, [C(cast["tide"].public_id, "1")]
        )
    with pytest.raises(Conflict):
        prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW)
    with pytest.raises(Conflict):
        prod.cancel(db, cast["dana"], production.public_id)
    db.expire_all()
    assert production.status == "finalized" and len(production.sources) == 2


def test_cancel_before_finalizing_stops_earning_and_is_logged(db, cast):
    production = proposed(db, cast)
    prod.cancel(
        db, cast["dana"], production.public_id, reason="we split up", now=T0 + timedelta(days=1)
    )
    assert production.status == "cancelled" and not prod.is_earning(production)
    entry = db.scalars(select(ProductionLog).where(ProductionLog.action == "cancelled")).one()
    assert entry.actor_id == cast["dana"].id and entry.at == T0 + timedelta(days=1)
    assert entry.detail == {"reason": "we split up"}
    with pytest.raises(Conflict):
        prod.publish_proposal(db, cast["dana"], production.public_id, window=WINDOW)


def test_only_finalized_productions_earn():
    assert not prod.is_earning(Work(kind="production", status="proposed"))
    assert prod.is_earning(Work(kind="production", status="finalized"))
    assert prod.is_earning(Work(kind="record", status="active"))


# --- Comments and objections -------------------------------------------------------


def test_any_creator_comments_and_only_affected_creators_object(db, cast):
    production = proposed(db, cast)
    prod.add_comment(db, cast["eve"], production.public_id, "Lovely piece", now=T0)
    with pytest.raises(PermissionDenied, match="affected"):
        prod.add_comment(db, cast["eve"], production.public_id, "I object", objection=True, now=T0)
    objection = prod.add_comment(
        db, cast["ana"], production.public_id, "40% of 40% is too little", objection=True, now=T0
    )
    assert objection.is_objection and objection.revision_id is not None
    assert [
        (n.kind, n.creator_id)
        for n in db.scalars(
            select(Notification)
            .where(Notification.kind.in_(["comment", "objection"]))
            .order_by(Notification.id)
        )
    ] == [("comment", cast["dana"].id), ("objection", cast["dana"].id)]


def test_comments_are_refused_on_drafts_and_after_finalization(db, cast):
    production = draft(db, cast)
    with pytest.raises(Conflict, match="open when the producer publishes"):
        prod.add_comment(db, cast["ana"], production.public_id, "early")  # a contributor
    with pytest.raises(NotFound):
        prod.add_comment(db, cast["eve"], production.public_id, "early")  # nobody else sees it
    prod.publish_proposal(db, cast["dana"], production.public_id, window=timedelta(0), now=T0)
    prod.finalize(db, cast["dana"], production.public_id, now=T0)
    with pytest.raises(Conflict, match="comments are closed"):
        prod.add_comment(db, cast["eve"], production.public_id, "too late")
    assert count(db, Comment) == 0


def test_an_empty_comment_is_refused(db, cast):
    production = proposed(db, cast)
    with pytest.raises(InvalidInput, match="comment"):
        prod.add_comment(db, cast["eve"], production.public_id, "   ")


# --- The preview ------------------------------------------------------------------


def test_preview_equals_the_settlement_of_a_100_event_in_the_credit_engine(db, cast):
    production = draft(db, cast, tide="0.6", shoreline="0.3")
    G = load_graph(db, ancestry_ids(db, [production.id]))
    expected = settle_event(G, RevenueEvent("e", production.public_id, 100_000_000)).creators
    preview = prod.preview(db, None, production)
    handles = {cast[n].handle: n for n in ("ana", "bo", "dana")}
    assert {handles[h]: m for h, m in preview.micros_by_handle().items()} == {
        # Ana: 30 direct + 40% of Bo's 60 = 54; Bo keeps 60% of 60 = 36; Dana retains 10.
        "ana": 54_000_000,
        "bo": 36_000_000,
        "dana": 10_000_000,
    }
    assert preview.micros_by_handle() == expected
    ana = next(line for line in preview.lines if line.creator.id == cast["ana"].id)
    assert len(ana.paths) == 2 and any("Tide" in path for path in ana.paths)


def test_preview_hides_titles_of_works_the_viewer_cannot_see(db, storage, cast):
    hidden = make_record(db, storage, cast["dana"], "Secret stem", visibility="private")
    production = prod.create_production(
        db,
        cast["dana"],
        title="P",
        contributions=[C(hidden.public_id, "0.5"), C(cast["tide"].public_id, "0.5")],
        now=T0,
    )
    assert not any(
        "Secret stem" in p
        for line in prod.preview(db, cast["eve"], production).lines
        for p in line.paths
    )
    assert any(
        "Secret stem" in p
        for line in prod.preview(db, cast["dana"], production).lines
        for p in line.paths
    )


# --- Notifications and mail ---------------------------------------------------------


def test_mail_goes_out_after_commit_and_not_after_a_rollback(db, cast, caplog):
    production = draft(db, cast)
    mailer = notifications.LogMailer(base_url="https://hitrack.example")
    with caplog.at_level(logging.INFO, logger="hitrack.mail"):
        with pytest.raises(Conflict):
            prod.publish_proposal(
                db,
                cast["dana"],
                production.public_id,
                retained="0.5",
                window=WINDOW,
                mailer=mailer,
                now=T0,
            )
        assert caplog.records == []
        prod.publish_proposal(
            db, cast["dana"], production.public_id, window=WINDOW, mailer=mailer, now=T0
        )
    sent = [r.getMessage() for r in caplog.records]
    assert len(sent) == 2 and all(
        f"https://hitrack.example/productions/{production.public_id}" in m for m in sent
    )
    assert any(cast["ana"].email in m for m in sent) and not any(
        cast["dana"].email in m for m in sent
    )


def test_a_failing_mailer_does_not_undo_the_change(db, cast, caplog):
    class Broken:
        def send(self, email: notifications.Email) -> None:
            raise OSError("smtp down")

    production = draft(db, cast)
    with caplog.at_level(logging.ERROR, logger="hitrack.mail"):
        prod.publish_proposal(
            db, cast["dana"], production.public_id, window=WINDOW, mailer=Broken(), now=T0
        )
    assert production.status == "proposed" and "could not send mail" in caplog.text


def test_notifications_are_listed_counted_and_marked_read(db, cast):
    proposed(db, cast)
    assert notifications.unread_count(db, cast["ana"]) == 1
    [note] = notifications.notifications_for(db, cast["ana"])
    assert "Night Swim" in note.message and note.url.startswith("/productions/")
    assert notifications.mark_all_read(db, cast["ana"], now=T0) == 1
    assert notifications.unread_count(db, cast["ana"]) == 0


def test_mail_queued_in_a_transaction_that_rolls_back_is_never_sent(db, cast, caplog):
    with caplog.at_level(logging.INFO, logger="hitrack.mail"):
        notifications.notify(db, [cast["ana"].id], "test", "hello", None, notifications.LogMailer())
        db.rollback()
        db.commit()
    assert caplog.records == []
    assert notifications.unread_count(db, cast["ana"]) == 0
