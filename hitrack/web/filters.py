"""Template filters: shares as percentages, micros as money, times as UTC."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from hitrack.domain.money import format_micros
from hitrack.domain.shares import format_percent, format_share


def utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        percent=format_percent,
        share=format_share,
        money=format_micros,
        utc=utc,
    )
