"""Pytest fixtures for the fake Stripe, registered once for the whole suite.

``tests/conftest.py`` lists this module in ``pytest_plugins``, so every test
may ask for ``fake_stripe`` or ``stripe_provider``; no test module or
directory registers them again.

Each test gets its own server (starting one takes a few milliseconds), so
state, faults and the clock never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hitrack.payments.stripe_connect import StripeConnectProvider
from tests.fake_stripe.server import FakeStripe

__all__ = ["TEST_TIMEOUT_SECONDS", "fake_stripe", "make_stripe_provider", "stripe_provider"]

# Short enough that the "timeout" fault (which stalls 3 s by default) costs a
# test about a second; long enough for any loopback answer on a loaded CI box.
TEST_TIMEOUT_SECONDS = 1.0


def make_stripe_provider(fake: FakeStripe, **options: object) -> StripeConnectProvider:
    """A provider talking to ``fake``; ``options`` override the constructor's keywords."""
    settings: dict[str, object] = {
        "timeout_seconds": TEST_TIMEOUT_SECONDS,
        "max_network_retries": 0,
    }
    settings.update(options)
    return StripeConnectProvider(
        fake.secret_key,
        fake.webhook_secret,
        api_base=fake.api_base,
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A running fake Stripe Connect server on a free loopback port."""
    with FakeStripe.running() as fake:
        yield fake


@pytest.fixture
def stripe_provider(fake_stripe: FakeStripe) -> StripeConnectProvider:
    """A :class:`StripeConnectProvider` pointed at :func:`fake_stripe`, without retries."""
    return make_stripe_provider(fake_stripe)
