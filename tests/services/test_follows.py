"""Following, the feed, and the notifications of what happens to your work."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hitrack.db.models import Notification
from hitrack.domain.errors import Conflict, InvalidInput, NotFound
from hitrack.services import follows, notifications
from tests.factories import make_creator, make_record, make_remix


def _kinds(db, creator):  # type: ignore[no-untyped-def]
    return [
        n.kind
        for n in db.scalars(
            select(Notification)
            .where(Notification.creator_id == creator.id)
            .order_by(Notification.id)
        )
    ]


def test_the_feed_shows_what_followed_creators_publish_and_remixes_of_followed_works(db, storage):
    ada, bob, fan = (make_creator(db, n) for n in ("Ada", "Bob", "Fan"))
    follows.follow(db, fan, creator=ada.handle)
    tide = make_record(db, storage, bob, "Tide")
    follows.follow(db, fan, work=tide.public_id)
    song = make_record(db, storage, ada, "Song")
    remix = make_remix(db, storage, ada, (tide, "1/4"), title="Tide remix")
    items = follows.feed(db, fan)
    kinds = {(item.kind, item.work.public_id) for item in items}
    assert ("published", song.public_id) in kinds
    assert ("remixed", remix.public_id) in kinds
    assert ("published", tide.public_id) not in kinds  # Bob is not followed
    assert "followed" in _kinds(db, ada)


def test_following_twice_yourself_or_nobody_is_refused(db, storage):
    ada, fan = make_creator(db, "Ada"), make_creator(db, "Fan")
    follows.follow(db, fan, creator=ada.handle)
    with pytest.raises(Conflict):
        follows.follow(db, fan, creator=ada.handle)
    with pytest.raises(InvalidInput):
        follows.follow(db, fan, creator=fan.handle)
    with pytest.raises(NotFound):
        follows.follow(db, fan, creator="nobody-here")
    follows.unfollow(db, fan, creator=ada.handle)
    with pytest.raises(NotFound):
        follows.unfollow(db, fan, creator=ada.handle)


def test_owners_are_told_when_their_work_is_remixed_unless_they_turned_it_off(db, storage):
    ada, bob = make_creator(db, "Ada"), make_creator(db, "Bob")
    tide = make_record(db, storage, ada, "Tide")
    make_remix(db, storage, bob, (tide, "1/4"))
    assert _kinds(db, ada).count("remixed") == 1
    notifications.set_preferences(db, ada, {"remixed": (False, False)})
    make_remix(db, storage, bob, (tide, "1/4"), title="Second remix")
    assert _kinds(db, ada).count("remixed") == 1
    prefs = {p.kind: p for p in notifications.preferences_for(db, ada)}
    assert not prefs["remixed"].in_app and prefs["earned"].in_app
    with pytest.raises(InvalidInput):
        notifications.set_preferences(db, ada, {"gossip": (True, True)})


def test_opening_a_notification_marks_it_read(db, storage):
    ada, bob = make_creator(db, "Ada"), make_creator(db, "Bob")
    tide = make_record(db, storage, ada, "Tide")
    remix = make_remix(db, storage, bob, (tide, "1/4"))
    [row] = notifications.notifications_for(db, ada)
    assert notifications.unread_count(db, ada) == 1
    assert notifications.open_notification(db, ada, row.id) == f"/works/{remix.public_id}"
    assert notifications.unread_count(db, ada) == 0
    with pytest.raises(NotFound):
        notifications.open_notification(db, bob, row.id)


def test_a_private_remix_tells_nobody(db, storage):
    ada, bob = make_creator(db, "Ada"), make_creator(db, "Bob")
    tide = make_record(db, storage, ada, "Tide")
    make_record(
        db, storage, bob, "Secret remix", sources={tide.public_id: "1/4"}, visibility="private"
    )
    assert _kinds(db, ada) == []
