"""The ``hitrack`` command: serve, migrate, seed, administer, settle.

Every command reads the same ``HITRACK_*`` settings as the web app. Errors a
user can cause print one line on standard error and exit with status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hitrack.db.session import make_engine, make_session_factory
from hitrack.domain.errors import HitrackError
from hitrack.settings import Settings
from hitrack.settle_cli import settle


class Context:
    """Lazily built settings, engine and sessions for one command run."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(
                self.settings.database_url,
                statement_timeout_ms=self.settings.job_statement_timeout_ms,
                lock_timeout_ms=self.settings.lock_timeout_ms,
            )
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = make_session_factory(self.engine)()
        try:
            yield session
        finally:
            session.close()  # rolls back whatever no unit of work committed


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def fail(error: HitrackError | str) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


class HitrackGroup(click.Group):
    """Turns hitrack's own errors into one line on standard error and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HitrackError as error:
            fail(error)


@click.group(cls=HitrackGroup)
@click.version_option(package_name="hitrack")
def main() -> None:
    """hitrack: collaborative credit, settled exactly along the contribution graph."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the platform with a production WSGI server (waitress)."""
    from waitress import serve as waitress_serve

    from hitrack.web import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    click.echo(f"hitrack on http://{host}:{port}/  (data in {app.instance_path})", err=True)
    waitress_serve(app, **waitress_options(settings, host=host, port=port, threads=threads))


def waitress_options(settings: Settings, *, host: str, port: int, threads: int) -> dict[str, Any]:
    """The server accepts every upload the app accepts (multipart framing on top of the file)."""
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "ident": "hitrack",
        "max_request_body_size": settings.max_upload_bytes + 1024**2,
    }


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply the migrations (creates the database if it does not exist)."""
    from hitrack.db.migrate import upgrade

    ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(ctx.engine, revision)
    click.echo(
        f"database at {revision}: {ctx.engine.url.render_as_string(hide_password=True)}", err=True
    )


@main.command()
@click.option(
    "--if-empty/--always",
    default=True,
    show_default=True,
    help="Only seed when the database holds no creators yet.",
)
@pass_ctx
def demo(ctx: Context, if_empty: bool) -> None:
    """Seed a small demo data set: creators, records, remixes."""
    from hitrack.providers import media_storage
    from hitrack.services.demo import seed_demo

    if not ctx.settings.demo_data:
        click.echo("demo: disabled by HITRACK_DEMO_DATA", err=True)
        return
    with ctx.session() as session:
        summary = seed_demo(session, media_storage(ctx.settings), only_if_empty=if_empty)
    click.echo(summary, err=True)


@main.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
def create_admin(ctx: Context, email: str, password_stdin: bool) -> None:
    """Make EMAIL an admin (creating the account if needed)."""
    from hitrack.services.accounts import create_admin as do_create_admin

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        admin = do_create_admin(session, email=email, password=password)
    click.echo(f"{admin.email} is an admin", err=True)


@main.group()
def graph() -> None:
    """The contribution graph in the interchange format."""


@graph.command("export")
@click.option("--output", "-o", type=click.File("w"), default="-")
@pass_ctx
def graph_export(ctx: Context, output: Any) -> None:
    """Write the whole graph as one JSON document."""
    from hitrack.services.graph import export_all

    with ctx.session() as session:
        document = export_all(session)
    json.dump(document, output, indent=2)
    output.write("\n")


@graph.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def graph_import(ctx: Context, file: Any) -> None:
    """Import works, citations and credits from FILE (``-``: standard input), streamed.

    Everything is checked before anything is written: each bad line is listed,
    and then nothing is imported.
    """
    from hitrack.services.graph_import import GraphImportRefused, import_graph

    with ctx.session() as session:
        try:
            summary = import_graph(
                session,
                file,
                min_credit_pool=ctx.settings.min_credit_pool,
                progress=lambda message: click.echo(f"graph import: {message}", err=True),
            )
        except GraphImportRefused as error:
            for line, message in error.problems:
                click.echo(f"line {line}: {message}" if line else message, err=True)
            if error.total > len(error.problems):
                click.echo(f"... and {error.total - len(error.problems)} more", err=True)
            fail(f"{error.total} problem(s) in the document; nothing imported")
    click.echo(summary, err=True)


main.add_command(settle)


@main.group()
def revenue() -> None:
    """Revenue events: import them from CSV."""


@revenue.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--as", "as_email", metavar="EMAIL", help="Import as this admin (default: the system)."
)
@pass_ctx
def revenue_import(ctx: Context, file: Any, as_email: str | None) -> None:
    """Import revenue events from FILE.csv; every row is checked first, nothing is written on error.

    Columns: external_id,work,amount,currency[,costs,fee_rate,attribution]; amounts in micros.
    Rows already recorded with the same payload are skipped.
    """
    from sqlalchemy import select

    from hitrack.db.models import Creator
    from hitrack.services.revenue.csv_import import ImportError_, import_csv

    # The file streams into the import; a first pass (when it can be re-read) only
    # counts its lines for the progress bar.
    rows = 0
    if file.seekable():
        rows = max(0, sum(1 for line in file if line.strip()) - 1)
        file.seek(0)
    with ctx.session() as session:
        actor = None
        if as_email:
            actor = session.scalar(select(Creator).where(Creator.email == as_email.strip().lower()))
            if actor is None:
                fail(f"no account with e-mail {as_email}")
        try:
            with click.progressbar(length=rows, label="settling", file=sys.stderr) as bar:
                result = import_csv(
                    session,
                    file,
                    actor,
                    default_fee_rate=ctx.settings.default_fee_rate,
                    progress=bar.update,
                )
        except ImportError_ as error:
            for line, message in error.errors:
                click.echo(f"line {line}: {message}", err=True)
            fail(f"{len(error.errors)} bad line(s); nothing imported")
    click.echo(result.summary(), err=True)


@main.group("ledger")
def ledger_group() -> None:
    """The double-entry ledger."""


@ledger_group.command("check")
@pass_ctx
def ledger_check(ctx: Context) -> None:
    """Verify every ledger invariant; list each breach and exit 1 if there is any."""
    from hitrack.services.reports import ledger_overview

    with ctx.session() as session:
        overview = ledger_overview(session, None)
    for breach in overview.breaches:
        click.echo(breach)
    if overview.breaches:
        fail(f"{len(overview.breaches)} ledger invariant breach(es)")
    click.echo(
        f"ledger ok: {sum(overview.transactions.values())} transactions, "
        f"{overview.events} revenue events, every invariant holds",
        err=True,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@pass_ctx
def worker(ctx: Context, burst: bool) -> None:
    """Run queued jobs (HITRACK_JOBS=database or rq) until stopped."""
    from hitrack.worker import run_worker

    ran = run_worker(ctx.settings, burst=burst)
    click.echo(f"worker: {ran} jobs run", err=True)


@main.group("payouts")
def payouts_group() -> None:
    """Pay creators their balances through the configured payout provider."""


def _admin_by_email(session: Session, email: str | None) -> Any:
    from sqlalchemy import select

    from hitrack.db.models import Creator

    if not email:
        return None
    admin = session.scalar(select(Creator).where(Creator.email == email.strip().lower()))
    if admin is None or not admin.is_admin:
        fail(f"no admin with e-mail {email}")
    return admin


@payouts_group.command("run")
@click.option("--as", "as_email", help="E-mail of the admin the run is recorded as started by.")
@pass_ctx
def payouts_run(ctx: Context, as_email: str | None) -> None:
    """Pay every creator whose payable balance reaches the minimum; ends with a summary."""
    from hitrack.providers import payout_provider
    from hitrack.services import payouts

    provider = payout_provider(ctx.settings)
    with ctx.session() as session, ExitStack() as stack:
        admin = _admin_by_email(session, as_email)
        bars: list[Any] = []

        def progress(done: int, total: int) -> None:
            if not bars:  # the payouts are held: now the total is known
                bars.append(
                    stack.enter_context(
                        click.progressbar(length=total, label="paying", file=sys.stderr)
                    )
                )
            elif done:
                bars[0].update(1)

        run = payouts.run_payouts(
            session,
            provider,
            started_by=admin,
            minimums=ctx.settings.payout_minimum,
            progress=progress,
        )
        stack.close()
        click.echo(payouts.run_summary_line(run), err=True)
        if run.status == "failed":
            fail(f"payout run {run.public_id} failed: {run.failure_reason}")


@payouts_group.command("reconcile")
@click.option(
    "--min-age-minutes",
    default=10,
    show_default=True,
    type=int,
    help="Leave younger pending payouts alone (a run may be sending them).",
)
@pass_ctx
def payouts_reconcile(ctx: Context, min_age_minutes: int) -> None:
    """Settle pending payouts by looking their transfers up at the provider (never resending)."""
    from datetime import timedelta

    from hitrack.providers import payout_provider
    from hitrack.services import payouts

    with ctx.session() as session:
        summary = payouts.reconcile(
            session,
            payout_provider(ctx.settings),
            min_age=timedelta(minutes=max(0, min_age_minutes)),
        )
    click.echo(str(summary), err=True)


if __name__ == "__main__":
    main()


@main.group("settlement")
def settlement_group() -> None:
    """Settlement periods: funded revenue of per-period works settled as one batch."""


@settlement_group.command("close")
@click.option(
    "--until", "until_text", help="Cut-off: an ISO date (its end) or date-time; default now."
)
@click.option("--as", "as_email", help="E-mail of the admin the period is recorded as closed by.")
@pass_ctx
def settlement_close(ctx: Context, until_text: str | None, as_email: str | None) -> None:
    """Close the period up to the cut-off (a job: run here with HITRACK_JOBS=inline, else queued)."""
    from hitrack.providers import job_queue, job_runner
    from hitrack.services import settlement

    sessions = make_session_factory(ctx.engine)
    queue = job_queue(ctx.settings, job_runner(ctx.settings, sessions))
    try:
        with ctx.session() as session:
            admin = _admin_by_email(session, as_email)
            until = settlement.parse_until(until_text)
            job = settlement.submit_period(session, queue, admin, until)
            job_id = job.id
        with ctx.session() as session:
            from hitrack.db.models import Job

            done = session.get(Job, job_id)
            assert done is not None
            if done.status == "succeeded":
                click.echo(str((done.result or {}).get("summary", "")), err=True)
            elif done.status == "failed":
                fail(done.error)
            else:
                click.echo(
                    f"queued job {done.public_id}: run `hitrack worker` to settle it", err=True
                )
    except HitrackError as error:
        fail(error)


@main.group("models")
def models_group() -> None:
    """AI models: manifests uploaded as files."""


@models_group.command("manifest")
@click.argument("model")
@click.argument("file", type=click.File("rb"))
@click.option("--version", "version", required=True, help="The new version's name.")
@click.option("--retained", default="0", show_default=True, help="The operator's retained share.")
@click.option("--attribution-weight", default=None, help="λ; default: the current version's.")
@click.option("--as", "as_email", required=True, help="E-mail of the model's operator.")
@pass_ctx
def models_manifest(
    ctx: Context,
    model: str,
    file: Any,
    version: str,
    retained: str,
    attribution_weight: str | None,
    as_email: str,
) -> None:
    """Register a new version of MODEL trained on the records FILE lists (CSV or JSON lines).

    A job checks every row (run here with HITRACK_JOBS=inline, else queued); each
    refused row is listed and then nothing is registered.
    """
    from sqlalchemy import select

    from hitrack.db.models import Creator, Job
    from hitrack.providers import job_queue, job_runner, media_storage
    from hitrack.services import manifests

    sessions = make_session_factory(ctx.engine)
    queue = job_queue(ctx.settings, job_runner(ctx.settings, sessions))
    with ctx.session() as session:
        operator = session.scalar(select(Creator).where(Creator.email == as_email.strip().lower()))
        if operator is None:
            return fail(f"no account with e-mail {as_email}")
        job = manifests.submit_manifest(
            session,
            queue,
            media_storage(ctx.settings),
            operator,
            model,
            file,
            version=version,
            retained=retained,
            attribution_weight=attribution_weight,
            max_bytes=ctx.settings.max_upload_bytes,
        )
        job_id = job.id
    with ctx.session() as session:
        done = session.get(Job, job_id)
        assert done is not None
        if done.status == "succeeded":
            click.echo(str((done.result or {}).get("summary", "")), err=True)
        elif done.status == "failed":
            fail(done.error)
        else:
            click.echo(f"queued job {done.public_id}: run `hitrack worker` to check it", err=True)
