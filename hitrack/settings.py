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
from hitrack.domain.shares import parse_share

__all__ = ["SETTLEMENT_ENGINES", "Settings", "parse_minimums"]

_TRUE = {"1", "true", "yes", "on"}
# Settlement engines (DESIGN section 6): the in-process fast engine, the exact
# reference, and Apache Spark for graphs beyond one machine.
SETTLEMENT_ENGINES = ("fast", "exact", "spark")


def parse_minimums(text: str) -> dict[str, int]:
    """Parse ``"USD:10.00,EUR:10"`` into ``{"USD": 10_000_000, "EUR": 10_000_000}`` micros."""
    result: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        currency, _, amount = part.partition(":")
        if not currency or not amount:
            raise InvalidInput(f"HITRACK_PAYOUT_MINIMUM: expected CURRENCY:AMOUNT, got {part!r}")
        value = parse_share(amount.strip(), what=f"payout minimum for {currency}")
        result[currency.strip().upper()] = int(value * 1_000_000)
    return result


@dataclass(frozen=True)
class Settings:
    """Everything hitrack can be told, with embedded defaults."""

    data_dir: Path = Path("instance")
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
        if self.settlement_engine not in SETTLEMENT_ENGINES:
            raise InvalidInput(
                "HITRACK_SETTLEMENT_ENGINE must be one of "
                f"{', '.join(SETTLEMENT_ENGINES)}, not {self.settlement_engine!r}"
            )
        if not 0 <= self.default_fee_rate <= 1:
            raise InvalidInput("HITRACK_DEFAULT_FEE_RATE must lie in [0, 1]")

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

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
            ("SETTLEMENT_ENGINE", "settlement_engine"),
            ("SPARK_MASTER", "spark_master"),
        ]:
            if (value := get(name)) is not None:
                kwargs[attr] = value
        kwargs["max_upload_bytes"] = get_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes)
        kwargs["proposal_window_days"] = get_int("PROPOSAL_WINDOW_DAYS", cls.proposal_window_days)
        if (value := get("DEFAULT_FEE_RATE")) is not None:
            kwargs["default_fee_rate"] = parse_share(value, what="HITRACK_DEFAULT_FEE_RATE")
        if (value := get("PAYOUT_MINIMUM")) is not None:
            kwargs["payout_minimum"] = parse_minimums(value)
        if (value := get("DEMO_DATA")) is not None:
            kwargs["demo_data"] = value.lower() in _TRUE
        return cls(**kwargs)  # type: ignore[arg-type]
