"""The import path of ``platform_bench.py``: CLI import, waitress on loopback, HTTP, ledger check.

Run through ``benchmarks/platform_bench.py --path import`` (see its docstring).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import select, text
from waitress.server import create_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from catalogue import write_catalogue  # noqa: E402

from hitrack.db.migrate import upgrade  # noqa: E402
from hitrack.db.models import Creator  # noqa: E402
from hitrack.db.session import make_engine, make_session_factory  # noqa: E402
from hitrack.services import accounts, compact_graph, explanations, revenue  # noqa: E402
from hitrack.settings import Settings  # noqa: E402

PASSWORD = "a long benchmark password"


def cli(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Run ``hitrack ARGS`` from this checkout; returns (seconds, peak MB of the child, stderr)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from hitrack.cli import main; main()", *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        raise SystemExit(f"hitrack {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, peak, done.stderr


def run_import_path(works: int, chain: int, manifest: int) -> None:
    base = os.environ.get("HITRACK_TEST_DATABASE_URL")
    if not base:
        sys.exit("set HITRACK_TEST_DATABASE_URL to a PostgreSQL database")
    schema = f"bench_{secrets.token_hex(4)}"
    admin_engine = make_engine(base)
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    tmp = Path(tempfile.mkdtemp(prefix="hitrack-bench-"))
    env = {
        "HITRACK_DATABASE_URL": url,
        "HITRACK_DATA_DIR": str(tmp / "instance"),
        "HITRACK_JOBS": "inline",
        "HITRACK_ENV": "test",
        "HITRACK_SECRET_KEY": secrets.token_hex(16),
    }
    os.environ.update(env)
    results: list[tuple[str, str]] = []

    def report(label: str, value: str) -> None:
        results.append((label, value))
        print(f"{label}: {value}", flush=True)

    engine = make_engine(url)
    server = None
    try:
        upgrade(engine)
        path = tmp / "catalogue.json"
        records: list[str] = []
        start = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            counts = write_catalogue(out, works, chain, records)
        report("catalogue written", f"{counts} in {time.perf_counter() - start:.1f} s")
        seconds, peak, _ = cli(env, "graph", "import", str(path))
        report(
            f"graph import, {counts['works']} works / {counts['citations']} citations (CLI)",
            f"{seconds:.1f} s, peak {peak:.0f} MB",
        )
        sessions = make_session_factory(engine)
        with sessions() as db:
            accounts.create_admin(db, email="admin@bench.test", password=PASSWORD)
        settings = Settings.from_env()
        from hitrack.web import create_app

        server = create_server(create_app(settings), host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        http = f"http://127.0.0.1:{server.effective_port}"
        token = requests.post(
            f"{http}/api/v1/auth/token",
            json={"email": "admin@bench.test", "password": PASSWORD},
            timeout=60,
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        registered = requests.post(
            f"{http}/api/v1/models",
            headers=auth,
            json={"name": "Bench model", "version": "1", "manifest": {"w0": "1"}},
            timeout=600,
        )
        assert registered.status_code == 201, registered.text[:500]
        model_id = registered.json()["model"]["id"]
        # The records all consent to AI training (the catalogue's productions cannot be
        # trained on, and the job would refuse them, each by row): the chain's, then the rest.
        lines = "record,weight\n" + "".join(
            f"{record},{1 + j % 3}\n" for j, record in enumerate(records[:manifest])
        )
        start = time.perf_counter()
        upload = requests.post(
            f"{http}/api/v1/models/{model_id}/manifest",
            headers=auth,
            data={"version": "2", "retained": "1/2"},
            files={"file": ("manifest.csv", lines.encode(), "text/csv")},
            timeout=3600,
        )
        assert upload.status_code == 202, upload.text[:500]
        job = requests.get(
            f"{http}/api/v1/jobs/{upload.json()['id']}", headers=auth, timeout=60
        ).json()
        assert job["status"] == "succeeded", job
        report(
            f"manifest of {job['result']['records']} works registered (upload + job, HTTP)",
            f"{time.perf_counter() - start:.1f} s, peak of the process running the job "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        )
        with sessions() as db:
            start = time.perf_counter()
            compact_graph.rebuild(db)
            report("compact graph rebuild (the job's work)", f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        posted = requests.post(
            f"{http}/api/v1/revenue",
            headers=auth,
            json={
                "work": f"chain{chain - 1}",
                "amount": 1_000_000_007,
                "currency": "USD",
                "external_id": "bench-chain-1",
                "fee_rate": "0.1",
            },
            timeout=3600,
        )
        assert posted.status_code == 201, posted.text[:500]
        report(
            f"one event, immediate, ancestry of {chain} works, HTTP to committed ledger",
            f"{time.perf_counter() - start:.2f} s",
        )
        with sessions() as db:
            event = revenue.get_event(db, "bench-chain-1")
            from platform_bench import check_sample

            check_sample(db, event)
            report("settled micros equal the exact engine on a sample", "yes")
        seconds, peak, said = cli(env, "ledger", "check")
        report("ledger check (CLI)", f"{seconds:.1f} s, peak {peak:.0f} MB: {said.strip()[-120:]}")
        with sessions() as db:
            event = revenue.get_event(db, "bench-chain-1")
            creator = db.scalar(select(Creator).where(Creator.handle == "c0"))
            assert creator is not None
            start = time.perf_counter()
            explanations.explain_event(db, event, creator, kind="earning")
            report(
                "one creator's explanation on demand (service)",
                f"{(time.perf_counter() - start) * 1000:.0f} ms",
            )
    finally:
        if server is not None:
            server.close()
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()
    print("| what | measured |\n|---|---|")
    for label, value in results:
        print(f"| {label} | {value} |")
    print(json.dumps(dict(results)))
