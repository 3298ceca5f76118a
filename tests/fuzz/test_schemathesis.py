"""The OpenAPI document tells the truth: schemathesis over a live server.

A real hitrack (waitress on loopback, a fresh database: SQLite always,
PostgreSQL too when ``HITRACK_TEST_DATABASE_URL`` is set) is fuzzed from its own
``/api/v1/openapi.json``, once as a creator and once as an admin, each with a
bearer token, both at once. Every phase runs (the document's examples, coverage, fuzzing
and stateful sequences along the operations' ``links``) and three promises
are checked on every answer:

- no response is a 5xx (``not_a_server_error``);
- every response has the status, content type and shape the document gives
  it (``response_schema_conformance``, ``content_type_conformance``);
- every request the document calls valid is accepted: 2xx, or a 401, 403,
  404, 409 or 429 that depends on who asks and on the data, never a 400 or
  422 (``positive_data_acceptance``).

To rerun by hand with more examples or another seed: ``HITRACK_FUZZ_EXAMPLES=50
HITRACK_FUZZ_SEED=7 pytest tests/fuzz -q``. A failure prints schemathesis'
findings, each with a ``curl`` line that reproduces it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hitrack.db.session import make_engine
from hitrack.services import accounts
from hitrack.settings import Settings
from tests.browser.conftest import start_live_server
from tests.conftest import migrated_postgres_schema

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = int(os.environ.get("HITRACK_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("HITRACK_FUZZ_SEED", "1"))
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "positive_data_acceptance",
)
PASSWORD = "fuzzing-password-1"
ROLES = ("creator", "admin")


@dataclass(frozen=True)
class LiveApi:
    url: str
    tokens: dict[str, str]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "instance"
    settings = Settings(
        data_dir=data_dir,
        environment="test",
        secret_key="fuzz-secret",
        max_upload_bytes=1_000_000,
        proposal_window_days=0,  # a proposal can be finalized at once, so sequences get there
    )
    if request.param == "postgresql":  # required, not skipped, with HITRACK_REQUIRE_POSTGRES=1
        with migrated_postgres_schema("hitrack_fuzz") as url:
            yield from _serve(replace(settings, database_url=url))
    else:
        yield from _serve(settings)


def _serve(settings: Settings) -> Iterator[LiveApi]:
    server, stop = start_live_server(settings)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as db:
            creator = accounts.register(
                db, email="creator@fuzz.test", password=PASSWORD, display_name="Fuzz Creator"
            )
            admin = accounts.create_admin(db, email="admin@fuzz.test", password=PASSWORD)
            tokens = {
                "creator": accounts.issue_token(db, creator),
                "admin": accounts.issue_token(db, admin),
            }
        yield LiveApi(server.url, tokens)
    finally:
        engine.dispose()
        stop()


def findings(output: str) -> str:
    """The failures schemathesis reported, and its summary, without the progress lines."""
    start = output.find("FAILURES")
    end = output.find("WARNINGS", start)
    summary = output.find("SUMMARY")
    shown = output[start:end] if start != -1 else output[-6000:]
    return shown + ("\n" + output[summary:] if summary != -1 else "")


def schemathesis_run(api: LiveApi, role: str, seed: int, workdir: Path) -> subprocess.Popen[str]:
    """Start schemathesis over the API as ``role`` (a process of its own; see ``findings``)."""
    workdir.mkdir()
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{api.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {api.tokens[role]}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(seed),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_the_api_keeps_the_promises_of_its_openapi_document(
    live_api: LiveApi, tmp_path: Path
) -> None:
    # The creator's and the admin's runs go at once: they share the server, as users do.
    runs = {
        role: schemathesis_run(live_api, role, SEED + n, tmp_path / role)
        for n, role in enumerate(ROLES)
    }
    try:
        outputs = {role: run.communicate(timeout=900)[0] for role, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()
    for role, output in outputs.items():
        assert "Tested:" in output, f"schemathesis as {role} tested nothing:\n{output[-3000:]}"
    failed = [role for role, run in runs.items() if run.returncode != 0]
    assert not failed, "\n\n".join(
        f"schemathesis as {role}:\n{findings(outputs[role])}" for role in failed
    )
