"""Who sees what: draft productions and their splits; private records behind public works.

A draft production (and one cancelled before it was ever proposed) is seen by
its producer, the owners of the works it cites, and admins; nobody else finds
it anywhere. A private record cited by a public work stays private: the public
work shows it as "a private work", never its title.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Work
from hitrack.services import ai_models, revenue
from hitrack.services import graph as graph_service
from hitrack.services import productions as prod
from hitrack.services.graph import PRIVATE_TITLE
from tests.conftest import BACKENDS
from tests.factories import PASSWORD, make_creator, make_record, usd
from tests.web.conftest import bearer, csrf_token, log_in

SECRET = "Secret demo"
DRAFT = "Night Swim draft"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The visibility rule is SQL too: these run on both backends."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def cast(app_db: Session, app_storage) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_creator(app_db, "Admin", admin=True)
    ana, bo, dana, eve = (make_creator(app_db, n) for n in ("Ana", "Bo", "Dana", "Eve"))
    shoreline = make_record(app_db, app_storage, ana, "Shoreline", ai_training=True)
    # Bo's private record builds on Ana's; his public remix builds on it.
    secret = make_record(
        app_db,
        app_storage,
        bo,
        SECRET,
        visibility="private",
        ai_training=True,
        sources={shoreline.public_id: "0.4"},
    )
    tide = make_record(app_db, app_storage, bo, "Tide", sources={secret.public_id: "0.5"})
    draft = prod.create_production(
        app_db,
        dana,
        title=DRAFT,
        contributions=prod.parse_contributions(
            {shoreline.public_id: "0.25", tide.public_id: "0.25"}
        ),
    )
    return {
        "admin": admin,
        "ana": ana,
        "bo": bo,
        "dana": dana,
        "eve": eve,
        "shoreline": shoreline,
        "secret": secret,
        "tide": tide,
        "draft": draft,
    }


def as_viewer(client: FlaskClient, creator) -> None:  # type: ignore[no-untyped-def]
    if creator is not None:
        log_in(client, creator.email, PASSWORD)


def text(client: FlaskClient, url: str, **kwargs: Any) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- drafts ----------------------------------------------------------------------


def draft_urls(draft: Work) -> list[str]:
    pid = draft.public_id
    return [
        f"/productions/{pid}",
        f"/works/{pid}",
        f"/works/{pid}/graph",
        f"/works/{pid}/graph.json",
        f"/api/v1/productions/{pid}",
        f"/api/v1/productions/{pid}/preview",
        f"/api/v1/works/{pid}",
        f"/api/v1/works/{pid}/graph",
    ]


@pytest.mark.parametrize("viewer", [None, "eve"])
def test_a_draft_is_not_found_by_anyone_it_does_not_concern(client, cast, viewer):
    draft = cast["draft"]
    as_viewer(client, cast.get(viewer) if viewer else None)
    for url in draft_urls(draft):
        assert client.get(url).status_code == 404, url
    shoreline = cast["shoreline"].public_id
    lists = [
        "/",
        "/works",
        "/works?kind=production",
        "/productions",
        f"/works/{shoreline}",
        f"/works/{shoreline}/graph.json",
        f"/api/v1/works/{shoreline}",
    ]
    for url in lists:
        page = text(client, url)
        assert DRAFT not in page and draft.public_id not in page, url
    if viewer:  # the remix form echoes the id it was given, but names no draft
        assert DRAFT not in text(client, f"/upload?source={draft.public_id}")


@pytest.mark.parametrize("viewer", ["dana", "ana", "bo", "admin"])
def test_the_producer_the_contributors_and_admins_see_the_draft(client, cast, viewer):
    as_viewer(client, cast[viewer])
    pid = cast["draft"].public_id
    for url in draft_urls(cast["draft"]):
        assert client.get(url).status_code == 200, url
    assert DRAFT in text(client, f"/works/{cast['shoreline'].public_id}")
    assert DRAFT in text(client, "/productions")
    split = client.get(f"/api/v1/productions/{pid}").get_json()["sources"]
    assert {s["work"] for s in split} == {cast["shoreline"].public_id, cast["tide"].public_id}


def test_a_contributor_removed_from_the_split_no_longer_sees_the_draft(client, app_db, cast):
    prod.set_contributions(
        app_db,
        cast["dana"],
        cast["draft"].public_id,
        prod.parse_contributions({cast["shoreline"].public_id: "0.5"}),
    )
    as_viewer(client, cast["bo"])
    assert client.get(f"/productions/{cast['draft'].public_id}").status_code == 404
    as_viewer(client, cast["ana"])
    assert client.get(f"/productions/{cast['draft'].public_id}").status_code == 200


def test_a_published_proposal_is_public_and_a_never_published_cancelled_one_is_not(
    client, app_db, cast
):
    from datetime import timedelta

    pid = cast["draft"].public_id
    other = prod.create_production(
        app_db,
        cast["dana"],
        title="Abandoned idea",
        contributions=prod.parse_contributions({cast["shoreline"].public_id: "0.5"}),
    )
    prod.cancel(app_db, cast["dana"], other.public_id)
    prod.publish_proposal(app_db, cast["dana"], pid, window=timedelta(days=1), retained="0.5")
    as_viewer(client, cast["eve"])
    assert client.get(f"/productions/{pid}").status_code == 200
    assert DRAFT in text(client, "/productions")
    assert client.get(f"/productions/{other.public_id}").status_code == 404
    assert "Abandoned idea" not in text(client, "/productions")


def test_nobody_is_notified_of_a_draft_and_outsiders_never_see_it_in_notifications(
    client, app_db, cast
):
    prod.set_contributions(
        app_db,
        cast["dana"],
        cast["draft"].public_id,
        prod.parse_contributions({cast["shoreline"].public_id: "0.3"}),
    )
    for viewer in ("ana", "bo", "eve"):
        auth = bearer(client, cast[viewer].email, PASSWORD)
        found = client.get("/api/v1/me/notifications", headers=auth).get_json()
        assert found["notifications"] == [] and found["unread"] == 0


def test_an_outsider_cannot_cite_or_comment_on_a_draft(client, app_db, app_storage, cast):
    eve_record = make_record(app_db, app_storage, cast["eve"], "Eve's")
    auth = bearer(client, cast["eve"].email, PASSWORD)
    pid = cast["draft"].public_id
    cite = client.post(
        f"/api/v1/works/{eve_record.public_id}/sources",
        headers=auth,
        json={"source": pid, "share": "0.1"},
    )
    assert cite.status_code == 404
    comment = client.post(f"/api/v1/productions/{pid}/comments", headers=auth, json={"body": "hi"})
    assert comment.status_code == 404


def test_the_sql_rule_and_the_object_rule_agree(app_db, cast):
    """Lists filter in SQL, pages check loaded works: both must say the same for everyone."""
    cancelled = prod.create_production(
        app_db,
        cast["dana"],
        title="Cancelled",
        contributions=prod.parse_contributions({cast["tide"].public_id: "0.5"}),
    )
    prod.cancel(app_db, cast["dana"], cancelled.public_id)
    works = list(app_db.scalars(select(Work)))
    for viewer in [None, *(cast[n] for n in ("admin", "ana", "bo", "dana", "eve"))]:
        by_object = {w.id for w in works if graph_service.can_see(viewer, w)}
        by_sql = set(app_db.scalars(select(Work.id).where(graph_service.visible_condition(viewer))))
        assert by_object == by_sql, viewer
        names = {c.id: n for n, c in cast.items() if n in ("admin", "ana", "bo", "dana", "eve")}
        name = names[viewer.id] if viewer else None
        assert (cast["draft"].id in by_sql) == (name in ("admin", "ana", "bo", "dana"))
        assert (cancelled.id in by_sql) == (name in ("admin", "bo", "dana"))
        assert (cast["secret"].id in by_sql) == (name in ("admin", "bo"))


# --- private records behind public works -----------------------------------------


def test_a_public_work_shows_its_private_source_as_a_private_work(client, cast):
    tide = cast["tide"].public_id
    for viewer in [None, cast["eve"]]:
        as_viewer(client, viewer)
        page = text(client, f"/works/{tide}")
        assert SECRET not in page and PRIVATE_TITLE in page
        assert f'/works/{cast["secret"].public_id}"' not in page  # no link to a page that 404s
        api = client.get(f"/api/v1/works/{tide}").get_json()
        assert [s["title"] for s in api["sources"]] == [PRIVATE_TITLE]
        for url in (
            f"/works/{tide}/graph.json",
            f"/api/v1/works/{tide}/graph",
            f"/works/{tide}/graph",
        ):
            assert SECRET not in text(client, url), url
        shoreline = text(client, f"/works/{cast['shoreline'].public_id}")
        assert SECRET not in shoreline
    as_viewer(client, cast["bo"])
    assert SECRET in text(client, f"/works/{tide}")


def test_a_production_and_a_model_never_show_a_private_sources_title(client, app_db, cast):
    from datetime import timedelta

    cut = prod.create_production(
        app_db,
        cast["bo"],
        title="Bo's cut",
        contributions=prod.parse_contributions({cast["secret"].public_id: "0.5"}),
    )
    prod.publish_proposal(
        app_db, cast["bo"], cut.public_id, window=timedelta(days=1), retained="0.5"
    )
    model = ai_models.register_model(
        app_db, cast["bo"], name="Bo's model", manifest={cast["secret"].public_id: "1"}
    ).model
    as_viewer(client, cast["eve"])
    for url in [
        f"/productions/{cut.public_id}",
        f"/api/v1/productions/{cut.public_id}",
        f"/api/v1/productions/{cut.public_id}/preview",
        f"/models/{model.public_id}",
        f"/api/v1/models/{model.public_id}",
    ]:
        page = text(client, url)
        assert SECRET not in page and PRIVATE_TITLE in page, url


def test_earnings_explain_a_path_through_a_private_work_without_its_title(client, app_db, cast):
    revenue.record_revenue(
        app_db,
        cast["admin"],
        {
            "work": cast["tide"].public_id,
            "amount": usd(100),
            "currency": "USD",
            "external_id": "tide-sale-1",
        },
        default_fee_rate=Fraction(0),
    )
    as_viewer(client, cast["ana"])
    for url in ["/me/earnings", "/api/v1/me/earnings", "/me/statement", "/api/v1/me/statement"]:
        headers = {"X-CSRFToken": csrf_token(client, "/")} if url.startswith("/api/") else {}
        page = text(client, url, headers=headers)
        assert SECRET not in page and PRIVATE_TITLE in page, url
    # Bo, who owns the private record, reads its title in his own explanation.
    as_viewer(client, cast["bo"])
    assert SECRET in text(client, "/me/earnings")
