"""An in-repo fake of Stripe Connect for tests, driven by the real ``stripe`` library.

Start one per test (see :mod:`tests.fake_stripe.fixtures` for ready fixtures)::

    with FakeStripe.running() as fake:
        provider = StripeConnectProvider(
            fake.secret_key, fake.webhook_secret, api_base=fake.api_base, timeout_seconds=1
        )

What a test can do with ``fake``:

- API served: accounts (``POST /v1/accounts``, ``GET``/``POST /v1/accounts/{id}``),
  ``POST /v1/account_links``, ``GET /v1/balance``, transfers (create, retrieve,
  list with ``transfer_group``/``destination`` and pagination, reversals),
  checkout sessions (create, retrieve) and events (list, retrieve).
- Browser pages: ``GET``/``POST /onboarding/<link>`` ("Complete onboarding",
  then 303 to ``return_url``; used or expired links go to ``refresh_url``) and
  ``GET``/``POST /checkout/<session>`` ("Pay", then 303 to ``success_url``).
- Clock: ``fake.now``, ``fake.advance(hours=25)`` (idempotency keys live 24 h,
  account links 5 min).
- Faults: ``fake.fail_next(kind, endpoint="POST /v1/transfers", times=1,
  seconds=3.0)`` with ``transfer_500_after_create``,
  ``transfer_500_before_create``, ``timeout``, ``connection_drop``,
  ``insufficient_balance``, ``rate_limit``.
- State: ``set_balance``, ``available_balance``, ``account``, ``transfers``,
  ``complete_onboarding``, ``disable_payouts``, ``deauthorize``,
  ``reverse_transfer``, ``fail_payout``, ``complete_checkout``, ``emit``,
  ``request_log``.
- Webhooks: ``events()``, ``pending_events()``, ``signed(event, secret=,
  timestamp=) -> (payload, header)``, ``deliver(to=url_or_callable,
  order="created"|"reversed", duplicate=False)``; ``fake.webhook_url`` is the
  default target. Undelivered (non-2xx) events stay pending.
"""

from tests.fake_stripe.server import Delivery, FakeStripe, sign_payload

__all__ = ["Delivery", "FakeStripe", "sign_payload"]
