"""Search over works, creators and calls, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from hitrack.domain.errors import InvalidInput
from hitrack.services import credits, productions, record_edit, search
from tests.factories import WAV, make_creator, make_record, make_remix


def _refs(page: search.SearchPage) -> list[str]:
    return [hit.ref for hit in page.hits]


def test_works_are_found_by_words_in_title_description_and_owner_names(db, storage):
    ada = make_creator(db, "Ada Lovelace")
    tide = make_record(db, storage, ada, "Tide over the harbour")
    make_record(db, storage, ada, "Unrelated sketch")
    assert _refs(search.search(db, search.parse_query("harbour"))) == [tide.public_id]
    assert tide.public_id in _refs(search.search(db, search.parse_query("lovelace", ["record"])))
    # stems: "tides" finds "Tide"; the picker also takes beginnings: "harb" finds "harbour"
    assert _refs(search.search(db, search.parse_query("tides"))) == [tide.public_id]
    assert _refs(search.search(db, search.parse_query("harb"))) == []
    assert [h.ref for h in search.suggest_works(db, "harb")] == [tide.public_id]


def test_creators_are_found_by_name_and_credits_by_their_names(db, storage):
    owner = make_creator(db, "Studio North")
    grace = make_creator(db, "Grace Hopper")
    work = make_record(db, storage, owner, "Night shift")
    credits.set_credits(
        db,
        owner,
        work.public_id,
        credits.CreditsInput(
            (credits.CreditEntry(role="sound mixer", weight="1", creator=grace.handle),), "1/4"
        ),
        min_credit_pool=Fraction(1, 10),
    )
    page = search.search(db, search.parse_query("hopper"))
    assert grace.handle in _refs(page)
    assert work.public_id in _refs(page)
    assert _refs(search.search(db, search.parse_query("mixer", ["record"]))) == [work.public_id]


def test_private_works_and_draft_productions_are_not_listed(db, storage):
    ada = make_creator(db, "Ada")
    make_record(db, storage, ada, "Secret lullaby", visibility="private")
    productions.create_production(db, ada, title="Lullaby film")
    assert _refs(search.search(db, search.parse_query("lullaby"))) == []


def test_filters_by_kind_and_media_and_sorts_by_most_remixed(db, storage):
    ada = make_creator(db, "Ada")
    bob = make_creator(db, "Bob")
    song = make_record(db, storage, ada, "Harbour song", data=WAV)
    picture = make_record(db, storage, ada, "Harbour picture")
    make_remix(db, storage, bob, (picture, "1/4"), title="Harbour remix one")
    make_remix(db, storage, bob, (picture, "1/4"), title="Harbour remix two")
    audio = search.search(db, search.parse_query("harbour", media="audio"))
    assert _refs(audio) == [song.public_id]
    remixed = search.search(db, search.parse_query("harbour", sort="remixed"))
    assert remixed.hits[0].ref == picture.public_id
    assert remixed.hits[0].remixes == 2
    assert _refs(search.search(db, search.parse_query("harbour", ["creator"]))) == []


def test_pages_are_bounded_and_say_whether_there_is_more(db, storage):
    ada = make_creator(db, "Ada")
    made = [make_record(db, storage, ada, f"Wave {i}") for i in range(5)]
    first = search.search(db, search.SearchQuery("wave", ("record",), sort="new", per_page=2))
    assert first.has_next
    assert _refs(first) == [made[4].public_id, made[3].public_id]
    last = search.search(
        db, search.SearchQuery("wave", ("record",), sort="new", page=3, per_page=2)
    )
    assert _refs(last) == [made[0].public_id]
    assert not last.has_next


def test_an_edited_title_is_found_by_its_new_words(db, storage):
    ada = make_creator(db, "Ada")
    work = make_record(db, storage, ada, "Old name")
    work.title = "Brand new name"
    db.commit()
    assert _refs(search.search(db, search.parse_query("brand"))) == [work.public_id]
    assert _refs(search.search(db, search.parse_query("old"))) == []


def test_a_record_is_found_by_its_tags_after_they_are_edited(db, storage):
    ada = make_creator(db, "Ada")
    work = make_record(db, storage, ada, "Harbour at dusk")
    make_record(db, storage, ada, "Harbour at noon")
    assert _refs(search.search(db, search.parse_query("seagull"))) == []
    record_edit.edit_record(
        db, ada, work.public_id, record_edit.RecordEdit(tags="Seagull, ambient")
    )
    assert _refs(search.search(db, search.parse_query("seagull"))) == [work.public_id]
    # stemmed like every other word; the picker finds tag beginnings too
    assert _refs(search.search(db, search.parse_query("seagulls harbour"))) == [work.public_id]
    assert [h.ref for h in search.suggest_works(db, "seag")] == [work.public_id]
    # a tag taken off is no longer found
    record_edit.edit_record(db, ada, work.public_id, record_edit.RecordEdit(tags="ambient"))
    assert _refs(search.search(db, search.parse_query("seagull"))) == []
    assert _refs(search.search(db, search.parse_query("ambient"))) == [work.public_id]


def test_typed_syntax_is_words_not_query_language(db, storage):
    ada = make_creator(db, "Ada")
    work = make_record(db, storage, ada, "Quote test")
    for words in ['"quote', "quote AND", "quote*", "NEAR(quote)", "-quote test", "quote:test"]:
        search.search(db, search.parse_query(words))
    assert _refs(search.search(db, search.parse_query('"quote" test'))) == [work.public_id]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"kinds": ["song"]}, "kind"),
        ({"media": "smell"}, "media"),
        ({"sort": "loudest"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page": str(search.MAX_PAGE + 1)}, "page"),
        ({"words": "a" * 201}, "q"),
    ],
)
def test_bad_queries_are_refused_with_the_argument_named(args, message):
    with pytest.raises(InvalidInput, match=message):
        search.parse_query(**args)


def test_the_source_picker_suggests_works_by_title_prefix(db, storage):
    ada = make_creator(db, "Ada")
    cello = make_record(db, storage, ada, "Cello line in D")
    make_record(db, storage, ada, "Piano")
    assert [hit.ref for hit in search.suggest_works(db, "cel")] == [cello.public_id]
    assert search.suggest_works(db, "   ") == []


def test_closed_calls_are_not_listed(db, storage):
    # Open calls are indexed too (hitrack.services.calls); an expired one drops out of results.
    from hitrack.services import calls

    ada = make_creator(db, "Ada")
    production = productions.create_production(db, ada, title="Harbour film")
    now = datetime.now(UTC)
    call = calls.open_call(
        db,
        ada,
        production.public_id,
        calls.CallInput(
            title="Cello line wanted",
            description="A slow cello line",
            deadline=now + timedelta(days=3),
            media_kinds=("audio",),
        ),
        now=now,
    )
    assert _refs(search.search(db, search.parse_query("cello"), now=now)) == [call.public_id]
    later = now + timedelta(days=4)
    assert _refs(search.search(db, search.parse_query("cello"), now=later)) == []
    assert (
        search.search(db, search.parse_query("", ["call"]), now=now).hits[0].ref == call.public_id
    )
