"""An in-repo fake of Stripe Connect for tests: see :mod:`tests.fake_stripe.server`."""

from tests.fake_stripe.server import Delivery, FakeStripe, sign_payload

__all__ = ["Delivery", "FakeStripe", "sign_payload"]
