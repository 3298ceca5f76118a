"""Settings: one frozen object, read from ``HITRACK_*`` environment variables.

Every setting has an embedded default so that ``make run`` needs no account,
key or server: SQLite and a media folder under the data directory, manual
payouts, background work inline. Tests build ``Settings`` from plain values
(``Settings.from_env({...})`` or ``dataclasses.replace``) instead of patching
globals. The README's configuration table lists the same variables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import parse_currency, parse_major_units
from hitrack.domain.shares import parse_share
from hitrack.mail.smtp import parse_smtp_url

#: The longest lifetime an operator may allow for an API token (ten years).
MAX_TOKEN_LIFETIME_DAYS = 3650
__all__ = [
    "MAX_TOKEN_LIFETIME_DAYS",
    "PROJECT_ROOT",
    "SETTLEMENT_ENGINES",
    "Settings",
    "default_data_dir",
    "parse_minimums",
]

_TRUE = {"1", "true", "yes", "on"}
# Settlement engines (DESIGN section 6): the in-process fast engine, the exact
# reference, and Apache Spark for graphs beyond one machine.
SETTLEMENT_ENGINES = ("fast", "exact", "spark")


def parse_minimums(text: str) -> dict[str, int]:
    """Parse ``"USD:10.00,JPY:1000"`` into micros per currency (each in its own major units).

    Each currency must be in the ISO 4217 table and its amount a whole number
    of the currency's minor units (``JPY:10.5`` is refused: there is no half yen).
    """
    result: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, amount = part.partition(":")
        if not code or not amount:
            raise InvalidInput(f"HITRACK_PAYOUT_MINIMUM: expected CURRENCY:AMOUNT, got {part!r}")
        currency = parse_currency(code, "HITRACK_PAYOUT_MINIMUM")
        result[currency] = parse_major_units(
            amount, currency, f"HITRACK_PAYOUT_MINIMUM for {currency}"
        )
    return result


#: The checkout hitrack runs from, when it runs from one (``make run``, an editable install).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """Where the data lives without ``HITRACK_DATA_DIR``: never the current directory.

    In a checkout it is ``instance/`` at the project's root, so ``hitrack``
    finds the same database from any folder; an installed copy uses the
    user's data folder (``$XDG_DATA_HOME/hitrack``, else ``~/.local/share/hitrack``).
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "instance"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hitrack"


@dataclass(frozen=True)
class Settings:
    """Everything hitrack can be told, with embedded defaults."""

    data_dir: Path = field(default_factory=default_data_dir)
    environment: str = "development"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    storage: str = "local"
    media_dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    max_upload_bytes: int = 2 * 1024**3
    max_body_bytes: int = 1024**2
    login_rate_limit: str = "5 per minute"
    ratelimit_storage_url: str = "memory://"
    proposal_window_days: int = 14
    default_fee_rate: Fraction = Fraction(0)
    payout_provider: str = "manual"
    payout_minimum: Mapping[str, int] = field(default_factory=lambda: {"USD": 10_000_000})
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    demo_data: bool = True
    c2pa_cert_file: Path | None = None
    c2pa_key_file: Path | None = None
    c2pa_trust_anchors_file: Path | None = None
    jobs: str = "inline"
    redis_url: str | None = None
    rq_queue: str = "hitrack"
    # Accounts and credentials: token lifetimes, password resets, log-in throttles, proxies.
    token_lifetime_days: int = 90
    token_max_lifetime_days: int = 365
    password_reset_minutes: int = 60
    account_login_rate_limit: str = "20 per hour"
    trusted_proxies: int = 0
    # Mail: "console" (log + dev mailbox folder) or "smtp"; empty: smtp when a URL is given.
    mailer: str = ""
    smtp_url: str | None = None
    mail_from: str = "hitrack <no-reply@localhost>"
    # A model with at least this many works in its manifest settles per period.
    period_settlement_min_sources: int = 10_000
    # PostgreSQL sessions: a statement or a lock wait longer than this fails
    # (0: no limit). Workers use the job limits (long batches are their work).
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 5_000
    job_statement_timeout_ms: int = 0
    # Credits: the least credit pool of a work with credits (a work without
    # credits keeps 0), and how long a work's owners may dispute a claim of one
    # of its credits (0: a claim is final at once).
    min_credit_pool: Fraction = Fraction(1, 10)
    claim_dispute_days: int = 7
    settlement_engine: str = "fast"
    spark_master: str = "local[*]"

    def __post_init__(self) -> None:
        data_dir = Path(self.data_dir)
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite:///{(data_dir / 'hitrack.sqlite3').resolve()}"
            )
        if self.media_dir is None:
            object.__setattr__(self, "media_dir", data_dir / "media")
        if self.environment not in {"development", "test", "production"}:
            raise InvalidInput(
                f"HITRACK_ENV must be development, test or production, not {self.environment!r}"
            )
        if self.storage not in {"local", "s3"}:
            raise InvalidInput(f"HITRACK_STORAGE must be local or s3, not {self.storage!r}")
        if self.payout_provider not in {"manual", "stripe"}:
            raise InvalidInput(
                f"HITRACK_PAYOUT_PROVIDER must be manual or stripe, not {self.payout_provider!r}"
            )
        if (self.c2pa_cert_file is None) != (self.c2pa_key_file is None):
            raise InvalidInput("HITRACK_C2PA_CERT_FILE and HITRACK_C2PA_KEY_FILE go together")
        if self.jobs not in {"inline", "database", "rq"}:
            raise InvalidInput(f"HITRACK_JOBS must be inline, database or rq, not {self.jobs!r}")
        if self.jobs == "rq" and not self.redis_url:
            raise InvalidInput("HITRACK_JOBS=rq needs HITRACK_REDIS_URL")
        if self.max_body_bytes < 1 or self.max_upload_bytes < 1:
            raise InvalidInput(
                "HITRACK_MAX_BODY_BYTES and HITRACK_MAX_UPLOAD_BYTES must be positive"
            )
        if self.settlement_engine not in SETTLEMENT_ENGINES:
            raise InvalidInput(
                "HITRACK_SETTLEMENT_ENGINE must be one of "
                f"{', '.join(SETTLEMENT_ENGINES)}, not {self.settlement_engine!r}"
            )
        if not 0 <= self.default_fee_rate <= 1:
            raise InvalidInput("HITRACK_DEFAULT_FEE_RATE must lie in [0, 1]")
        if not 0 <= self.min_credit_pool <= 1:
            raise InvalidInput("HITRACK_MIN_CREDIT_POOL must lie in [0, 1]")
        if not 0 <= self.claim_dispute_days <= 365:
            raise InvalidInput("HITRACK_CLAIM_DISPUTE_DAYS must lie in [0, 365]")
        self._check_credentials()
        self._check_mail()

    def _check_credentials(self) -> None:
        if not 1 <= self.token_max_lifetime_days <= MAX_TOKEN_LIFETIME_DAYS:
            raise InvalidInput(
                f"HITRACK_TOKEN_MAX_LIFETIME_DAYS must lie in [1, {MAX_TOKEN_LIFETIME_DAYS}]"
            )
        if not 1 <= self.token_lifetime_days <= self.token_max_lifetime_days:
            raise InvalidInput(
                "HITRACK_TOKEN_LIFETIME_DAYS must lie in [1, HITRACK_TOKEN_MAX_LIFETIME_DAYS]"
            )
        if not 1 <= self.password_reset_minutes <= 24 * 60:
            raise InvalidInput("HITRACK_PASSWORD_RESET_MINUTES must lie in [1, 1440]")
        if not 0 <= self.trusted_proxies <= 10:
            raise InvalidInput("HITRACK_TRUSTED_PROXIES must lie in [0, 10]")

    def _check_mail(self) -> None:
        if self.mailer not in {"", "console", "smtp"}:
            raise InvalidInput(f"HITRACK_MAILER must be console or smtp, not {self.mailer!r}")
        if self.mail_transport == "smtp":
            if not self.smtp_url:
                raise InvalidInput("HITRACK_MAILER=smtp needs HITRACK_SMTP_URL")
            try:
                parse_smtp_url(self.smtp_url)
            except InvalidInput as error:
                raise InvalidInput(f"HITRACK_SMTP_URL: {error.message}") from None

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def mail_transport(self) -> str:
        """``HITRACK_MAILER``, or when it is unset: ``smtp`` given an SMTP URL, else ``console``."""
        return self.mailer or ("smtp" if self.smtp_url else "console")

    @property
    def mailbox_dir(self) -> Path:
        """Where the console mailer keeps e-mails for the development mailbox page."""
        return self.data_dir / "mailbox"

    @property
    def media_root(self) -> Path:
        assert self.media_dir is not None
        return self.media_dir

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        if self.environment == "production":
            raise InvalidInput("HITRACK_SECRET_KEY must be set in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``HITRACK_*`` variables from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"HITRACK_{name}")
            return value if value not in (None, "") else None

        def get_int(name: str, default: int) -> int:
            value = get(name)
            if value is None:
                return default
            try:
                return int(value)
            except ValueError:
                raise InvalidInput(f"HITRACK_{name} must be an integer, not {value!r}") from None

        kwargs: dict[str, object] = {}
        for name, attr in [
            ("DATA_DIR", "data_dir"),
            ("MEDIA_DIR", "media_dir"),
            ("C2PA_CERT_FILE", "c2pa_cert_file"),
            ("C2PA_KEY_FILE", "c2pa_key_file"),
            ("C2PA_TRUST_ANCHORS_FILE", "c2pa_trust_anchors_file"),
        ]:
            if (value := get(name)) is not None:
                kwargs[attr] = Path(value)
        for name, attr in [
            ("ENV", "environment"),
            ("DATABASE_URL", "database_url"),
            ("SECRET_KEY", "secret_key"),
            ("BASE_URL", "base_url"),
            ("STORAGE", "storage"),
            ("S3_BUCKET", "s3_bucket"),
            ("S3_PREFIX", "s3_prefix"),
            ("S3_ENDPOINT_URL", "s3_endpoint_url"),
            ("S3_REGION", "s3_region"),
            ("S3_ACCESS_KEY_ID", "s3_access_key_id"),
            ("S3_SECRET_ACCESS_KEY", "s3_secret_access_key"),
            ("LOGIN_RATE_LIMIT", "login_rate_limit"),
            ("RATELIMIT_STORAGE_URL", "ratelimit_storage_url"),
            ("PAYOUT_PROVIDER", "payout_provider"),
            ("STRIPE_SECRET_KEY", "stripe_secret_key"),
            ("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret"),
            ("STRIPE_API_BASE", "stripe_api_base"),
            ("JOBS", "jobs"),
            ("REDIS_URL", "redis_url"),
            ("RQ_QUEUE", "rq_queue"),
            ("ACCOUNT_LOGIN_RATE_LIMIT", "account_login_rate_limit"),
            ("MAILER", "mailer"),
            ("SMTP_URL", "smtp_url"),
            ("MAIL_FROM", "mail_from"),
            ("SETTLEMENT_ENGINE", "settlement_engine"),
            ("SPARK_MASTER", "spark_master"),
        ]:
            if (value := get(name)) is not None:
                kwargs[attr] = value
        kwargs["max_upload_bytes"] = get_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes)
        kwargs["max_body_bytes"] = get_int("MAX_BODY_BYTES", cls.max_body_bytes)
        kwargs["proposal_window_days"] = get_int("PROPOSAL_WINDOW_DAYS", cls.proposal_window_days)
        for name, attr in [
            ("TOKEN_LIFETIME_DAYS", "token_lifetime_days"),
            ("TOKEN_MAX_LIFETIME_DAYS", "token_max_lifetime_days"),
            ("PASSWORD_RESET_MINUTES", "password_reset_minutes"),
            ("TRUSTED_PROXIES", "trusted_proxies"),
            ("CLAIM_DISPUTE_DAYS", "claim_dispute_days"),
        ]:
            kwargs[attr] = get_int(name, getattr(cls, attr))
        kwargs["period_settlement_min_sources"] = get_int(
            "PERIOD_SETTLEMENT_MIN_SOURCES", cls.period_settlement_min_sources
        )
        kwargs["statement_timeout_ms"] = get_int(
            "DB_STATEMENT_TIMEOUT_MS", cls.statement_timeout_ms
        )
        kwargs["lock_timeout_ms"] = get_int("DB_LOCK_TIMEOUT_MS", cls.lock_timeout_ms)
        kwargs["job_statement_timeout_ms"] = get_int(
            "JOB_STATEMENT_TIMEOUT_MS", cls.job_statement_timeout_ms
        )
        if (value := get("DEFAULT_FEE_RATE")) is not None:
            kwargs["default_fee_rate"] = parse_share(value, what="HITRACK_DEFAULT_FEE_RATE")
        if (value := get("MIN_CREDIT_POOL")) is not None:
            kwargs["min_credit_pool"] = parse_share(value, what="HITRACK_MIN_CREDIT_POOL")
        if (value := get("PAYOUT_MINIMUM")) is not None:
            kwargs["payout_minimum"] = parse_minimums(value)
        if (value := get("DEMO_DATA")) is not None:
            kwargs["demo_data"] = value.lower() in _TRUE
        return cls(**kwargs)  # type: ignore[arg-type]
