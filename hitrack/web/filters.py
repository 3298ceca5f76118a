"""Template filters: shares as percentages, micros as money, times as UTC."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from flask import Flask

from hitrack.domain.money import format_micros
from hitrack.domain.shares import format_share


def percent(value: Fraction) -> str:
    """``Fraction(2, 5)`` -> ``"40%"``; up to two decimals, exact when it can be."""
    pct = Fraction(value) * 100
    if pct.denominator == 1:
        return f"{pct.numerator}%"
    return f"{float(pct):.2f}".rstrip("0").rstrip(".") + "%"


def utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        percent=percent,
        share=format_share,
        money=format_micros,
        utc=utc,
    )
