"""The payout provider contract, over every provider, plus Stripe's failure cases.

The first part runs over :class:`ManualProvider` and
:class:`StripeConnectProvider` (on the in-repo fake Stripe); where the two
answer differently by design the kit names the expected answer. The second
part drives the fake's hosted onboarding, idempotency, injected faults and
webhooks; the last class repeats what it can against real Stripe test mode
when ``HITRACK_STRIPE_TEST_KEY`` is set.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import stripe

from hitrack.domain.errors import HitrackError, InvalidInput, InvalidSignature, NotFound
from hitrack.payments import (
    ManualPayout,
    ManualProvider,
    PayoutAccount,
    PayoutProvider,
    StripeConnectProvider,
    TransferOutcome,
    TransferRequest,
    TransferResult,
    export_csv,
    make_payout_provider,
)
from tests.fake_stripe import FakeStripe, sign_payload
from tests.fake_stripe.fixtures import make_stripe_provider

# Shared fixtures, bound at module level so pytest collects them here.


# -- small factories ----------------------------------------------------------


def make_transfer(
    destination: str,
    *,
    amount_cents: int = 1250,
    payout_id: str | None = None,
    run_id: str = "run_1",
    key: str | None = None,
    currency: str = "usd",
) -> TransferRequest:
    payout_id = payout_id or "payout_" + uuid.uuid4().hex[:8]
    return TransferRequest(
        idempotency_key=key or f"hitrack-payout-{payout_id}",
        amount_minor=amount_cents,
        currency=currency,
        destination=destination,
        transfer_group=run_id,
        metadata={"payout_id": payout_id, "creator_id": "creator_1"},
    )


def payable_account(fake: FakeStripe, provider: StripeConnectProvider) -> str:
    account = provider.create_account(creator_id="creator_1", email="ada@example.org")
    fake.complete_onboarding(account.provider_account_id)
    return account.provider_account_id


# -- the contract over every provider ----------------------------------------


@dataclass
class ProviderKit:
    """A provider and how to make one of its accounts payable, with its documented answers."""

    provider: PayoutProvider
    make_payable: Callable[[str], None]
    sent_outcome: TransferOutcome  # what send_transfer answers for a good request
    found_for_unsent: TransferOutcome | None  # find_transfer for a payout never sent
    has_hosted_onboarding: bool


@pytest.fixture(params=["manual", "stripe"])
def kit(request: pytest.FixtureRequest) -> Iterator[ProviderKit]:
    if request.param == "manual":
        verified: set[str] = set()
        provider = ManualProvider(is_verified=lambda creator_id: creator_id in verified)
        yield ProviderKit(
            provider,
            make_payable=lambda account_id: verified.add(account_id.removeprefix("manual:")),
            sent_outcome=TransferOutcome.UNKNOWN,
            found_for_unsent=TransferOutcome.UNKNOWN,
            has_hosted_onboarding=False,
        )
    else:
        with FakeStripe.running() as fake:

            def onboard(account_id: str) -> None:
                fake.complete_onboarding(account_id)

            yield ProviderKit(
                make_stripe_provider(fake),
                make_payable=onboard,
                sent_outcome=TransferOutcome.SENT,
                found_for_unsent=None,
                has_hosted_onboarding=True,
            )


def test_provider_satisfies_the_protocol(kit: ProviderKit) -> None:
    assert isinstance(kit.provider, PayoutProvider)
    assert kit.provider.name in ("manual", "stripe")


def test_new_account_is_not_payable_until_verified(kit: ProviderKit) -> None:
    account = kit.provider.create_account(creator_id="creator_1", email="ada@example.org")
    assert isinstance(account, PayoutAccount)
    assert account.provider_account_id
    assert not account.payable
    assert account.details

    kit.make_payable(account.provider_account_id)

    status = kit.provider.account_status(account.provider_account_id)
    assert status.provider_account_id == account.provider_account_id
    assert status.payable


def test_onboarding_link_is_a_url_or_none_by_design(kit: ProviderKit) -> None:
    account = kit.provider.create_account(creator_id="creator_1", email="ada@example.org")
    link = kit.provider.onboarding_link(
        account.provider_account_id,
        refresh_url="https://hitrack.test/payouts/refresh",
        return_url="https://hitrack.test/payouts/done",
    )
    if kit.has_hosted_onboarding:
        assert isinstance(link, str) and link.startswith("http")
    else:
        assert link is None


def test_transfer_answers_with_a_typed_result(kit: ProviderKit) -> None:
    account = kit.provider.create_account(creator_id="creator_1", email="ada@example.org")
    kit.make_payable(account.provider_account_id)

    result = kit.provider.send_transfer(make_transfer(account.provider_account_id))

    assert isinstance(result, TransferResult)
    assert result.outcome is kit.sent_outcome
    assert (result.transfer_id is not None) == (result.outcome is TransferOutcome.SENT)
    assert result.message


def test_find_transfer_after_send_agrees_with_send(kit: ProviderKit) -> None:
    account = kit.provider.create_account(creator_id="creator_1", email="ada@example.org")
    kit.make_payable(account.provider_account_id)
    request = make_transfer(account.provider_account_id, payout_id="payout_7")
    sent = kit.provider.send_transfer(request)

    found = kit.provider.find_transfer(transfer_group=request.transfer_group, payout_id="payout_7")

    assert found is not None
    assert found.outcome is sent.outcome
    assert found.transfer_id == sent.transfer_id


def test_find_transfer_for_a_payout_never_sent(kit: ProviderKit) -> None:
    found = kit.provider.find_transfer(transfer_group="run_unknown", payout_id="payout_unknown")
    if kit.found_for_unsent is None:
        assert found is None
    else:
        assert found is not None and found.outcome is kit.found_for_unsent


def test_unauthentic_webhook_is_rejected(kit: ProviderKit) -> None:
    body = json.dumps({"id": "evt_1", "object": "event", "type": "transfer.created"}).encode()
    with pytest.raises(InvalidSignature):
        kit.provider.parse_webhook(body, f"t={int(time.time())},v1={'0' * 64}")


def test_status_of_an_unknown_account_raises_a_hitrack_error(kit: ProviderKit) -> None:
    with pytest.raises(HitrackError):
        kit.provider.account_status("acct_does_not_exist")


# -- manual provider specifics ------------------------------------------------


def test_manual_transfer_awaits_an_admin() -> None:
    result = ManualProvider().send_transfer(make_transfer("manual:creator_1"))
    assert result == TransferResult(TransferOutcome.UNKNOWN, None, "awaiting manual payment")


def test_manual_provider_receives_no_webhooks() -> None:
    with pytest.raises(InvalidSignature):
        ManualProvider().parse_webhook(b"{}", "t=1,v1=00")


def test_manual_csv_lists_payee_method_amount_currency_reference() -> None:
    csv_text = export_csv(
        [
            ManualPayout("Ada Lovelace", "IBAN GB33BUKB20201555555555", 123456, "usd", "payout_1"),
            ManualPayout("=cmd()", "PayPal ada@example.org", 5, "eur", "payout_2"),
            ManualPayout("Kenji", "bank 1234", 1500, "jpy", "payout_3"),
        ]
    )
    assert csv_text.splitlines() == [
        "payee,method,amount,currency,reference",
        "Ada Lovelace,IBAN GB33BUKB20201555555555,1234.56,USD,payout_1",
        "'=cmd(),PayPal ada@example.org,0.05,EUR,payout_2",
        "Kenji,bank 1234,1500,JPY,payout_3",
    ]


def test_transfer_request_rejects_programming_errors() -> None:
    with pytest.raises(ValueError):
        make_transfer("acct_1", amount_cents=0)
    with pytest.raises(ValueError):
        make_transfer("acct_1", currency="USD")
    with pytest.raises(TypeError):
        make_transfer("acct_1", amount_cents=12.5)  # type: ignore[arg-type]


def test_factory_builds_each_kind_and_names_what_is_missing(fake_stripe: FakeStripe) -> None:
    assert isinstance(make_payout_provider("manual"), ManualProvider)
    stripe_kind = make_payout_provider(
        "stripe",
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_api_base=fake_stripe.api_base,
    )
    assert isinstance(stripe_kind, StripeConnectProvider)
    assert not stripe_kind.create_account(creator_id="c", email="c@example.org").payable
    with pytest.raises(InvalidInput, match="stripe_webhook_secret"):
        make_payout_provider("stripe", stripe_secret_key="sk_test_x")
    with pytest.raises(InvalidInput, match="unknown payout provider"):
        make_payout_provider("paypal")


# -- Stripe: onboarding through the hosted page ------------------------------


def test_hosted_onboarding_makes_the_account_payable(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account = stripe_provider.create_account(creator_id="creator_1", email="ada@example.org")
    link = stripe_provider.onboarding_link(
        account.provider_account_id,
        refresh_url="https://hitrack.test/payouts/refresh",
        return_url="https://hitrack.test/payouts/done",
    )
    assert link is not None

    page = requests.get(link, timeout=5)
    assert page.status_code == 200
    assert "Complete onboarding" in page.text
    submitted = requests.post(link, allow_redirects=False, timeout=5)

    assert submitted.status_code == 303
    assert submitted.headers["Location"] == "https://hitrack.test/payouts/done"
    assert stripe_provider.account_status(account.provider_account_id).payable
    updated = [e for e in fake_stripe.pending_events() if e["type"] == "account.updated"]
    assert updated[-1]["data"]["object"]["payouts_enabled"] is True
    assert updated[-1]["account"] == account.provider_account_id


def test_hosted_onboarding_follows_redirect_to_return_url(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account = stripe_provider.create_account(creator_id="creator_1", email="ada@example.org")
    # The fake's own balance endpoint stands in for hitrack's return page:
    # what matters is that the browser lands where return_url says.
    return_url = f"{fake_stripe.api_base}/v1/balance"
    link = stripe_provider.onboarding_link(
        account.provider_account_id, refresh_url=f"{fake_stripe.api_base}/r", return_url=return_url
    )
    assert link is not None
    with requests.Session() as browser:
        landed = browser.post(link, timeout=5)
    assert landed.url == return_url
    assert [r.status_code for r in landed.history] == [303]


def test_used_or_expired_onboarding_link_sends_the_creator_to_refresh_url(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = stripe_provider.create_account(
        creator_id="creator_1", email="ada@example.org"
    ).provider_account_id
    urls = {"refresh_url": "https://hitrack.test/refresh", "return_url": "https://hitrack.test/ok"}
    used = stripe_provider.onboarding_link(account_id, **urls)
    expired = stripe_provider.onboarding_link(account_id, **urls)
    assert used is not None and expired is not None
    requests.post(used, allow_redirects=False, timeout=5)
    fake_stripe.advance(minutes=6)

    for link in (used, expired):
        answer = requests.get(link, allow_redirects=False, timeout=5)
        assert answer.status_code == 303
        assert answer.headers["Location"] == "https://hitrack.test/refresh"


def test_account_status_explains_what_stripe_still_needs(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.disable_payouts(account_id, currently_due=("individual.verification.document",))

    status = stripe_provider.account_status(account_id)

    assert not status.payable
    assert "individual.verification.document" in status.details


def test_deauthorized_account_is_not_payable(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.deauthorize(account_id)

    assert not stripe_provider.account_status(account_id).payable


def test_unknown_stripe_account_is_not_found(stripe_provider: StripeConnectProvider) -> None:
    with pytest.raises(NotFound):
        stripe_provider.account_status("acct_missing")


def test_signup_retry_returns_the_same_account(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    first = stripe_provider.create_account(creator_id="creator_1", email="ada@example.org")
    again = stripe_provider.create_account(creator_id="creator_1", email="ada@example.org")
    other = stripe_provider.create_account(creator_id="creator_1", email="ada@new.example.org")
    assert first.provider_account_id == again.provider_account_id
    assert other.provider_account_id != first.provider_account_id


# -- Stripe: transfers, idempotency and faults --------------------------------


def test_replayed_transfer_returns_the_same_transfer_and_moves_money_once(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    before = fake_stripe.available_balance()
    request = make_transfer(account_id, amount_cents=1250)

    first = stripe_provider.send_transfer(request)
    second = stripe_provider.send_transfer(request)

    assert first.outcome is second.outcome is TransferOutcome.SENT
    assert first.transfer_id == second.transfer_id
    assert len(fake_stripe.transfers()) == 1
    assert fake_stripe.available_balance() == before - 1250
    assert fake_stripe.request_log[-1]["replayed"] is True


def test_same_key_with_different_parameters_fails_definitely(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    stripe_provider.send_transfer(make_transfer(account_id, amount_cents=1250, key="k-1"))

    result = stripe_provider.send_transfer(make_transfer(account_id, amount_cents=999, key="k-1"))

    assert result.outcome is TransferOutcome.FAILED
    assert result.transfer_id is None
    assert "idempotency key already used with different parameters" in result.message
    assert len(fake_stripe.transfers()) == 1


def test_500_after_create_is_unknown_and_reconciles_to_one_sent_transfer(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    request = make_transfer(account_id, payout_id="payout_1", run_id="run_9")
    fake_stripe.fail_next("transfer_500_after_create")

    result = stripe_provider.send_transfer(request)
    # Stripe replays the stored 500 for the same key: retrying cannot tell.
    retried = stripe_provider.send_transfer(request)
    found = stripe_provider.find_transfer(transfer_group="run_9", payout_id="payout_1")

    assert result.outcome is retried.outcome is TransferOutcome.UNKNOWN
    [held] = fake_stripe.transfers()
    assert found == TransferResult(TransferOutcome.SENT, held["id"], "transfer found")


def test_reconcile_after_the_key_expired_uses_find_transfer_not_a_resend(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    request = make_transfer(account_id, payout_id="payout_1", run_id="run_9")
    fake_stripe.fail_next("transfer_500_after_create")
    assert stripe_provider.send_transfer(request).outcome is TransferOutcome.UNKNOWN

    fake_stripe.advance(hours=25)
    found = stripe_provider.find_transfer(transfer_group="run_9", payout_id="payout_1")

    [held] = fake_stripe.transfers(transfer_group="run_9")
    assert found is not None
    assert (found.outcome, found.transfer_id) == (TransferOutcome.SENT, held["id"])
    # Why reconciliation must not resend: the forgotten key creates a second
    # transfer, and find_transfer then reports the duplicate.
    resent = stripe_provider.send_transfer(request)
    assert resent.outcome is TransferOutcome.SENT and resent.transfer_id != held["id"]
    assert len(fake_stripe.transfers(transfer_group="run_9")) == 2
    again = stripe_provider.find_transfer(transfer_group="run_9", payout_id="payout_1")
    assert again is not None and again.transfer_id == held["id"]
    assert "2 transfers carry this payout" in again.message


def test_timeout_is_unknown_and_the_transfer_is_found_later(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.fail_next("timeout", seconds=3)

    started = time.monotonic()
    result = stripe_provider.send_transfer(make_transfer(account_id, payout_id="payout_1"))

    assert result.outcome is TransferOutcome.UNKNOWN
    assert time.monotonic() - started < 2.5
    found = stripe_provider.find_transfer(transfer_group="run_1", payout_id="payout_1")
    assert found is not None and found.outcome is TransferOutcome.SENT


def test_library_retries_reuse_the_key_and_get_the_stored_answer(
    fake_stripe: FakeStripe,
) -> None:
    provider = make_stripe_provider(fake_stripe, max_network_retries=1)
    account_id = payable_account(fake_stripe, provider)
    fake_stripe.fail_next("connection_drop")

    result = provider.send_transfer(make_transfer(account_id))

    assert result.outcome is TransferOutcome.SENT
    [held] = fake_stripe.transfers()
    assert result.transfer_id == held["id"]
    posts = [r for r in fake_stripe.request_log if r["path"] == "/v1/transfers"]
    assert [r["replayed"] for r in posts] == [False, True]
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]


@pytest.mark.parametrize("fault", ["connection_drop", "transfer_500_before_create", "rate_limit"])
def test_no_answer_is_unknown(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider, fault: str
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.fail_next(fault)

    result = stripe_provider.send_transfer(make_transfer(account_id))

    assert result.outcome is TransferOutcome.UNKNOWN
    assert result.transfer_id is None


def test_500_before_create_reconciles_to_nothing_sent(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.fail_next("transfer_500_before_create")
    stripe_provider.send_transfer(make_transfer(account_id, payout_id="payout_1"))

    assert stripe_provider.find_transfer(transfer_group="run_1", payout_id="payout_1") is None
    assert fake_stripe.transfers() == []


def test_insufficient_platform_balance_fails_definitely(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.set_balance(1000)

    result = stripe_provider.send_transfer(make_transfer(account_id, amount_cents=1001))

    assert result.outcome is TransferOutcome.FAILED
    assert "balance_insufficient" in result.message
    assert fake_stripe.transfers() == [] and fake_stripe.available_balance() == 1000


def test_insufficient_balance_fault_fails_definitely(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.fail_next("insufficient_balance")

    result = stripe_provider.send_transfer(make_transfer(account_id))

    assert result.outcome is TransferOutcome.FAILED
    assert "balance_insufficient" in result.message


def test_transfer_to_an_account_without_onboarding_fails_definitely(
    stripe_provider: StripeConnectProvider,
) -> None:
    account = stripe_provider.create_account(creator_id="creator_1", email="ada@example.org")

    result = stripe_provider.send_transfer(make_transfer(account.provider_account_id))

    assert result.outcome is TransferOutcome.FAILED
    assert "insufficient_capabilities_for_transfer" in result.message


def test_transfer_to_an_unknown_destination_fails_definitely(
    stripe_provider: StripeConnectProvider,
) -> None:
    result = stripe_provider.send_transfer(make_transfer("acct_missing"))
    assert result.outcome is TransferOutcome.FAILED
    assert "No such destination" in result.message


def test_wrong_api_key_fails_definitely(fake_stripe: FakeStripe) -> None:
    provider = StripeConnectProvider(
        "sk_test_wrong", fake_stripe.webhook_secret, api_base=fake_stripe.api_base
    )
    result = provider.send_transfer(make_transfer("acct_any"))
    assert result.outcome is TransferOutcome.FAILED
    assert "Invalid API Key" in result.message


def test_reversed_transfer_reconciles_as_failed(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    before = fake_stripe.available_balance()
    sent = stripe_provider.send_transfer(make_transfer(account_id, payout_id="payout_1"))
    assert sent.transfer_id is not None

    fake_stripe.reverse_transfer(sent.transfer_id, 250)
    partly = stripe_provider.find_transfer(transfer_group="run_1", payout_id="payout_1")
    fake_stripe.reverse_transfer(sent.transfer_id)
    fully = stripe_provider.find_transfer(transfer_group="run_1", payout_id="payout_1")

    assert partly is not None and partly.outcome is TransferOutcome.SENT
    assert "250 of 1250 reversed" in partly.message
    assert fully is not None and fully.outcome is TransferOutcome.FAILED
    assert fake_stripe.available_balance() == before
    assert [e["type"] for e in fake_stripe.pending_events()][-2:] == ["transfer.reversed"] * 2


def test_find_transfer_pages_through_a_large_run(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    for n in range(105):
        stripe_provider.send_transfer(
            make_transfer(account_id, amount_cents=100, payout_id=f"p{n}")
        )

    oldest = stripe_provider.find_transfer(transfer_group="run_1", payout_id="p0")

    assert oldest is not None and oldest.outcome is TransferOutcome.SENT
    lists = [r for r in fake_stripe.request_log if r["method"] == "GET"]
    assert len(lists) == 2


def test_fake_lists_in_stripe_pagination_shape(fake_stripe: FakeStripe) -> None:
    client = stripe.StripeClient(
        fake_stripe.secret_key, base_addresses={"api": fake_stripe.api_base}
    )
    account_id = payable_account(fake_stripe, make_stripe_provider(fake_stripe))
    for n in range(25):
        client.v1.transfers.create(
            {"amount": 100 + n, "currency": "usd", "destination": account_id, "transfer_group": "g"}
        )

    first = client.v1.transfers.list({"transfer_group": "g", "limit": 10})
    everything = list(first.auto_paging_iter())

    assert first.has_more and len(first.data) == 10
    assert first.to_dict()["object"] == "list"
    assert [t.amount for t in everything] == list(range(124, 99, -1))


def test_fake_answers_balance_reversals_and_events_through_the_library(
    fake_stripe: FakeStripe,
) -> None:
    client = stripe.StripeClient(
        fake_stripe.secret_key, base_addresses={"api": fake_stripe.api_base}
    )
    account_id = payable_account(fake_stripe, make_stripe_provider(fake_stripe))
    fake_stripe.set_balance(5000)
    transfer = client.v1.transfers.create(
        {"amount": 2000, "currency": "usd", "destination": account_id}
    )

    reversal = client.v1.transfers.reversals.create(transfer.id, {"amount": 500})
    balance = client.v1.balance.retrieve()
    events = client.v1.events.list({"type": "transfer.reversed"})

    assert reversal.transfer == transfer.id and reversal.amount == 500
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 500
    assert [(b.amount, b.currency) for b in balance.available] == [(3500, "usd")]
    assert [e.data.object["id"] for e in events.data] == [transfer.id]


def test_fake_requires_the_secret_key_and_answers_in_stripe_error_shape(
    fake_stripe: FakeStripe,
) -> None:
    missing = requests.get(f"{fake_stripe.api_base}/v1/balance", timeout=5)
    wrong = requests.get(
        f"{fake_stripe.api_base}/v1/balance",
        headers={"Authorization": "Bearer sk_test_wrong"},
        timeout=5,
    )
    unknown = requests.get(
        f"{fake_stripe.api_base}/v1/transfers/tr_missing",
        headers={"Authorization": f"Bearer {fake_stripe.secret_key}"},
        timeout=5,
    )

    assert missing.status_code == wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "resource_missing"


# -- Stripe: checkout -----------------------------------------------------------


def test_completed_checkout_session_emits_the_event_and_funds_the_balance(
    fake_stripe: FakeStripe,
) -> None:
    client = stripe.StripeClient(
        fake_stripe.secret_key, base_addresses={"api": fake_stripe.api_base}
    )
    before = fake_stripe.available_balance()
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://hitrack.test/thanks?session={CHECKOUT_SESSION_ID}",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1500,
                        "product_data": {"name": "Album"},
                    },
                    "quantity": 2,
                }
            ],
            "metadata": {"work_id": "p1"},
        }
    )
    assert session.status == "open" and session.amount_total == 3000

    fake_stripe.complete_checkout(session.id)

    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    assert fake_stripe.available_balance() == before + 3000
    [event] = [e for e in fake_stripe.pending_events() if e["type"] == "checkout.session.completed"]
    assert event["data"]["object"]["metadata"] == {"work_id": "p1"}


def test_hosted_checkout_page_pays_and_redirects(fake_stripe: FakeStripe) -> None:
    client = stripe.StripeClient(
        fake_stripe.secret_key, base_addresses={"api": fake_stripe.api_base}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://hitrack.test/thanks?session={CHECKOUT_SESSION_ID}",
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 700}, "quantity": 1}],
        }
    )
    assert session.url is not None
    assert "Pay" in requests.get(session.url, timeout=5).text

    paid = requests.post(session.url, allow_redirects=False, timeout=5)

    assert paid.headers["Location"] == f"https://hitrack.test/thanks?session={session.id}"
    assert fake_stripe.state.checkout_sessions[session.id]["status"] == "complete"


# -- Stripe: webhooks -----------------------------------------------------------


def test_signed_webhook_parses_into_a_provider_event(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    sent = stripe_provider.send_transfer(make_transfer(account_id, payout_id="payout_1"))
    [created] = [e for e in fake_stripe.pending_events() if e["type"] == "transfer.created"]

    event = stripe_provider.parse_webhook(*fake_stripe.signed(created))

    assert (event.id, event.type, event.object_id) == (
        created["id"],
        "transfer.created",
        sent.transfer_id,
    )
    assert event.data["metadata"]["payout_id"] == "payout_1"
    assert event.created == created["created"]


def test_connect_events_name_the_account(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    fake_stripe.fail_payout(account_id, 1250)
    fake_stripe.disable_payouts(account_id)
    fake_stripe.deauthorize(account_id)

    events = [stripe_provider.parse_webhook(*fake_stripe.signed(e)) for e in fake_stripe.events()]

    tail = [(e.type, e.account_id) for e in events][-3:]
    assert tail == [
        ("payout.failed", account_id),
        ("account.updated", account_id),
        ("account.application.deauthorized", account_id),
    ]
    assert events[-2].data["payouts_enabled"] is False
    assert events[-3].data["failure_code"] == "account_closed"


def test_tampered_body_is_rejected(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    event = fake_stripe.emit("transfer.created", {"id": "tr_1", "amount": 100})
    payload, signature = fake_stripe.signed(event)
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(payload.replace(b"100", b"900"), signature)


def test_wrong_secret_is_rejected(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    event = fake_stripe.emit("transfer.created", {"id": "tr_1"})
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(*fake_stripe.signed(event, secret="whsec_someone_else"))


def test_stale_timestamp_is_rejected(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    event = fake_stripe.emit("transfer.created", {"id": "tr_1"})
    stale = int(time.time()) - 301
    with pytest.raises(InvalidSignature, match="tolerance"):
        stripe_provider.parse_webhook(*fake_stripe.signed(event, timestamp=stale))
    recent = int(time.time()) - 290
    assert stripe_provider.parse_webhook(*fake_stripe.signed(event, timestamp=recent)).id


def test_missing_signature_and_non_json_are_rejected(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    event = fake_stripe.emit("transfer.created", {"id": "tr_1"})
    payload, _ = fake_stripe.signed(event)
    with pytest.raises(InvalidSignature):
        stripe_provider.parse_webhook(payload, "")
    garbage = b"not json"
    signature = sign_payload(garbage, fake_stripe.webhook_secret, int(time.time()))
    with pytest.raises(InvalidInput):
        stripe_provider.parse_webhook(garbage, signature)


class _Receiver:
    """A webhook endpoint on loopback that verifies with the provider and records events."""

    def __init__(self, provider: StripeConnectProvider, *, reject_first: int = 0) -> None:
        self.events: list[tuple[str, str]] = []
        self.rejected = reject_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 200
                if receiver.rejected > 0:
                    receiver.rejected -= 1
                    status = 503
                else:
                    try:
                        event = provider.parse_webhook(body, self.headers["Stripe-Signature"])
                        receiver.events.append((event.id, event.type))
                    except InvalidSignature:
                        status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/stripe"

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_webhooks_are_delivered_over_http_signed(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    stripe_provider.send_transfer(make_transfer(account_id))
    with _Receiver(stripe_provider) as receiver:
        fake_stripe.webhook_url = receiver.url
        deliveries = fake_stripe.deliver()

    assert all(d.ok for d in deliveries)
    assert [t for _, t in receiver.events] == ["account.updated", "transfer.created"]
    assert fake_stripe.pending_events() == []


def test_webhooks_can_arrive_twice_and_out_of_order(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    account_id = payable_account(fake_stripe, stripe_provider)
    stripe_provider.send_transfer(make_transfer(account_id))
    with _Receiver(stripe_provider) as receiver:
        fake_stripe.deliver(to=receiver.url, order="reversed", duplicate=True)

    assert [t for _, t in receiver.events] == [
        "transfer.created",
        "transfer.created",
        "account.updated",
        "account.updated",
    ]


def test_rejected_webhooks_stay_pending_for_redelivery(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    payable_account(fake_stripe, stripe_provider)
    with _Receiver(stripe_provider, reject_first=1) as receiver:
        first = fake_stripe.deliver(to=receiver.url)
        assert [d.status for d in first] == [503]
        assert len(fake_stripe.pending_events()) == 1
        second = fake_stripe.deliver(to=receiver.url)
    assert [d.status for d in second] == [200]
    assert fake_stripe.pending_events() == []


def test_webhooks_can_be_delivered_to_a_callable(
    fake_stripe: FakeStripe, stripe_provider: StripeConnectProvider
) -> None:
    payable_account(fake_stripe, stripe_provider)
    seen: list[str] = []

    def endpoint(payload: bytes, signature: str) -> int:
        seen.append(stripe_provider.parse_webhook(payload, signature).type)
        return 204

    fake_stripe.deliver(to=endpoint)

    assert seen == ["account.updated"]


# -- real Stripe test mode (optional) ------------------------------------------

STRIPE_TEST_KEY = os.environ.get("HITRACK_STRIPE_TEST_KEY", "")


@pytest.mark.skipif(
    not STRIPE_TEST_KEY.startswith("sk_test_"),
    reason="set HITRACK_STRIPE_TEST_KEY=sk_test_... to run against real Stripe test mode",
)
class TestRealStripeTestMode:
    """The Stripe-specific checks that work without a browser, on real test mode."""

    webhook_secret = "whsec_hitrack_local_only"

    @pytest.fixture
    def real(self) -> StripeConnectProvider:
        return StripeConnectProvider(
            STRIPE_TEST_KEY, self.webhook_secret, timeout_seconds=30, max_network_retries=2
        )

    def test_new_express_account_needs_onboarding(self, real: StripeConnectProvider) -> None:
        account = real.create_account(
            creator_id="hitrack-test-" + uuid.uuid4().hex[:8], email="test@example.org"
        )
        link = real.onboarding_link(
            account.provider_account_id,
            refresh_url="https://example.org/refresh",
            return_url="https://example.org/return",
        )
        assert not account.payable
        assert link is not None and link.startswith("https://")

    def test_transfer_to_an_unfinished_account_fails_and_key_reuse_fails(
        self, real: StripeConnectProvider
    ) -> None:
        account = real.create_account(
            creator_id="hitrack-test-" + uuid.uuid4().hex[:8], email="test@example.org"
        )
        key = "hitrack-test-" + uuid.uuid4().hex
        first = real.send_transfer(make_transfer(account.provider_account_id, key=key))
        other = real.send_transfer(
            make_transfer(account.provider_account_id, amount_cents=7, key=key)
        )
        assert first.outcome is TransferOutcome.FAILED
        assert other.outcome is TransferOutcome.FAILED

    def test_unknown_payout_is_not_found(self, real: StripeConnectProvider) -> None:
        group = "hitrack-test-" + uuid.uuid4().hex
        assert real.find_transfer(transfer_group=group, payout_id="none") is None

    def test_locally_signed_webhook_is_verified(self, real: StripeConnectProvider) -> None:
        body = json.dumps(
            {
                "id": "evt_local",
                "object": "event",
                "type": "account.updated",
                "created": 1,
                "data": {"object": {"id": "acct_local", "object": "account"}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(body, self.webhook_secret)
        assert real.parse_webhook(body.encode(), header).object_id == "acct_local"
