"""Admins record revenue and import CSVs in the browser, in currency units, seeing every bad line."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from hitrack.db.models import RevenueEvent
from hitrack.services import ledger
from tests.factories import PASSWORD, make_creator, make_record
from tests.web.conftest import csrf_token, log_in

PAGE = "/admin/revenue"


@pytest.fixture
def shop(app_db, app_storage, client):  # type: ignore[no-untyped-def]
    admin, ana = make_creator(app_db, "Admin", admin=True), make_creator(app_db, "Ana")
    song = make_record(app_db, app_storage, ana, "Shoreline")
    log_in(client, admin.email, PASSWORD)
    return {"admin": admin, "ana": ana, "song": song}


def events(app_db) -> int:  # type: ignore[no-untyped-def]
    return app_db.scalar(select(func.count()).select_from(RevenueEvent)) or 0


def record(client, **fields):  # type: ignore[no-untyped-def]
    return client.post(f"{PAGE}/record", data={"csrf_token": csrf_token(client, PAGE), **fields})


def test_an_admin_records_an_event_in_currency_units(client, app_db, shop):
    page = client.get(PAGE).get_data(as_text=True)
    assert "Record a revenue event" in page and "Import a CSV" in page
    response = record(
        client,
        external_id="sale-1",
        work=shop["song"].public_id,
        amount="12.34",
        currency="usd",
        costs="2.00",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    event = app_db.scalars(select(RevenueEvent)).one()
    assert (event.amount, event.costs, event.currency) == (12_340_000, 2_000_000, "USD")
    # Ana owns the record: she recoups the costs and earns the rest.
    assert ledger.creator_balances(app_db, shop["ana"].id) == {"USD": 12_340_000}
    assert "Revenue event sale-1 recorded: 12.34 USD on Shoreline" in client.get(PAGE).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "12.345"}, "amount: 12.345 has more decimals than USD has (2)"),
        ({"amount": "12340000 micros"}, "amount: expected a decimal amount like 10.00"),
        ({"currency": "XXX"}, "XXX"),
        ({"work": "r0000000000"}, "r0000000000"),
        ({"amount": ""}, "This field is required"),
    ],
)
def test_bad_events_are_refused_on_the_page_and_record_nothing(
    client, app_db, shop, fields, message
):
    data = {
        "external_id": "sale-2",
        "work": shop["song"].public_id,
        "amount": "5",
        "currency": "USD",
    }
    response = record(client, **{**data, **fields})
    assert response.status_code in (404, 422), response.status_code
    assert message in response.get_data(as_text=True)
    assert events(app_db) == 0


def test_the_page_is_for_admins(client, app_db, shop):
    client.post("/logout", data={"csrf_token": csrf_token(client, PAGE)})
    log_in(client, shop["ana"].email, PASSWORD)
    assert client.get(PAGE).status_code == 403
    response = client.post(
        f"{PAGE}/record",
        data={
            "csrf_token": csrf_token(client, "/"),
            "external_id": "mine",
            "work": shop["song"].public_id,
            "amount": "100",
            "currency": "USD",
        },
    )
    assert response.status_code == 403 and events(app_db) == 0


def upload(client, text: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"{PAGE}/import",
        data={
            "csrf_token": csrf_token(client, PAGE),
            "file": (io.BytesIO(text.encode()), "sales.csv"),
        },
        content_type="multipart/form-data",
    )


def test_a_csv_in_currency_units_is_imported(client, app_db, shop):
    song = shop["song"].public_id
    text = f"external_id,work,amount,currency\ncsv-1,{song},10.00,USD\ncsv-2,{song},1000,JPY\n"
    response = upload(client, text)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    amounts = {e.external_id: e.amount for e in app_db.scalars(select(RevenueEvent))}
    assert amounts == {"csv-1": 10_000_000, "csv-2": 1_000_000_000}
    assert "Imported 2 rows: 2 new events" in client.get(PAGE).get_data(as_text=True)


def test_a_csv_with_bad_lines_lists_each_and_imports_nothing(client, app_db, shop):
    song = shop["song"].public_id
    text = (
        "external_id,work,amount,currency\n"
        f"ok-1,{song},10.00,USD\n"
        f"bad-1,{song},10.001,USD\n"
        f"bad-2,r0000000000,5,USD\n"
    )
    response = upload(client, text)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="import-errors"' in page
    assert "2 bad lines; nothing was imported." in page
    assert '<td data-label="Line">3</td>' in page and "more decimals than USD" in page
    assert '<td data-label="Line">4</td>' in page and "r0000000000" in page
    assert events(app_db) == 0
    bad = client.post(
        f"{PAGE}/import",
        data={"csrf_token": csrf_token(client, PAGE), "file": (io.BytesIO(b"\xff\xfe"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "not UTF-8" in bad.get_data(as_text=True)
    empty = client.post(f"{PAGE}/import", data={"csrf_token": csrf_token(client, PAGE)})
    assert empty.status_code == 422 and "Choose a CSV file" in empty.get_data(as_text=True)
