"""``hitrack payouts run`` and ``hitrack payouts reconcile`` on a real SQLite file and the fake Stripe."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hitrack.cli import main
from hitrack.db.models import Payout
from hitrack.db.session import make_engine, make_session_factory
from hitrack.services import ledger, payouts
from tests.factories import fund, make_person, usd
from tests.fake_stripe import FakeStripe


@pytest.fixture
def env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HITRACK_DATA_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("HITRACK_ENV", "test")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{(tmp_path / 'instance' / 'hitrack.sqlite3').resolve()}")
    yield runner, make_session_factory(engine), monkeypatch
    engine.dispose()


def test_a_manual_run_shows_progress_and_a_summary(env) -> None:  # type: ignore[no-untyped-def]
    runner, sessions, _ = env
    with sessions() as db:
        admin, ana = make_person(db, "Admin", admin=True), make_person(db, "Ana")
        payouts.record_manual_method(db, admin, ana.handle, "IBAN DE89")
        fund(db, ana, usd("12.349"))
        email = admin.email
    result = runner.invoke(main, ["payouts", "run", "--as", email])
    assert result.exit_code == 0, result.output
    assert "paying" in result.output
    assert result.output.strip().splitlines()[-1].endswith(": 1 payouts (1 pending)")
    with sessions() as db:
        payout = db.scalars(select(Payout)).one()
        assert (payout.amount, payout.status) == (usd("12.34"), "pending")
        assert payout.run.started_by_id is not None

    refused = runner.invoke(main, ["payouts", "run", "--as", "nobody@example.test"])
    assert refused.exit_code == 1 and "no admin" in refused.output


def test_stripe_run_then_reconcile(env, fake_stripe: FakeStripe, stripe_provider) -> None:  # type: ignore[no-untyped-def]
    runner, sessions, monkeypatch = env
    for name, value in {
        "PAYOUT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": fake_stripe.secret_key,
        "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret,
        "STRIPE_API_BASE": fake_stripe.api_base,
    }.items():
        monkeypatch.setenv(f"HITRACK_{name}", value)
    with sessions() as db:
        ana = make_person(db, "Ana")
        row = payouts.connect_account(db, stripe_provider, ana)
        fake_stripe.complete_onboarding(row.provider_account_id)
        payouts.refresh_account(db, stripe_provider, ana)
        fund(db, ana, usd(30))
        ana_id = ana.id
    fake_stripe.fail_next("transfer_500_after_create")
    result = runner.invoke(main, ["payouts", "run"])
    assert result.exit_code == 0, result.output
    assert "(1 pending)" in result.output

    result = runner.invoke(main, ["payouts", "reconcile", "--min-age-minutes", "0"])
    assert result.exit_code == 0, result.output
    assert "reconciled 1 pending payouts: 1 paid, 0 failed, 0 still pending" in result.output
    with sessions() as db:
        assert db.scalars(select(Payout)).one().status == "paid"
        assert ledger.held_balances(db, ana_id) == {}
    assert len(fake_stripe.transfers()) == 1
