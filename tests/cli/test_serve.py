"""The WSGI server is told the app's upload limit (waitress's own default stops at 1 GiB)."""

from __future__ import annotations

from hitrack.cli import waitress_options
from hitrack.settings import Settings


def test_the_server_accepts_an_upload_of_the_largest_allowed_size():
    settings = Settings(environment="test", secret_key="x", max_upload_bytes=2 * 1024**3)
    options = waitress_options(settings, host="127.0.0.1", port=5000, threads=4)
    assert options["max_request_body_size"] > settings.max_upload_bytes
    assert options["max_request_body_size"] - settings.max_upload_bytes <= 1024**2
