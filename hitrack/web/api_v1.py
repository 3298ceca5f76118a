"""The JSON API's one blueprint: every API module's routes, nested under ``/api/v1``.

Each ``api_*`` module keeps a child blueprint for its concept (``api.core``,
``api.productions``, ``api.revenue``, ...); this parent alone carries the
prefix, so the API has one mount point and one name to register. What every
API request passes (the bounded body, no NUL, CSRF only for a browser
session, JSON errors, ``no-store`` for a cookie session) is keyed on that
prefix once, in :mod:`hitrack.web.guards`, :mod:`hitrack.web.errors` and the
app's response headers; no child registers a hook of its own.

The nesting happens here, at import, because a blueprint takes no children
after it has been registered on an app and tests create many apps.
"""

from __future__ import annotations

from flask import Blueprint

from hitrack.web import (
    api,
    api_account,
    api_attribution,
    api_credits,
    api_jobs,
    api_payouts,
    api_productions,
    api_revenue,
    calls,
    manifests,
    profiles,
    record_edit,
    search,
    settlement_modes,
)

__all__ = ["PREFIX", "bp"]

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
for child in (
    api.bp,
    api_account.bp,
    api_attribution.api,
    api_credits.bp,
    api_jobs.bp,
    api_payouts.bp,
    api_productions.bp,
    api_revenue.bp,
    settlement_modes.api,
    record_edit.api,
    calls.api,
    profiles.api,
    search.api,
    manifests.api,
):
    bp.register_blueprint(child)
