"""A small demo data set, so a fresh ``make run`` has something to look at."""

from __future__ import annotations

import io
import math
import struct
import zlib
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator
from hitrack.services import accounts, ai_models, productions, records
from hitrack.services.productions import ContributionInput
from hitrack.storage import MediaStorage

__all__ = ["seed_demo", "DEMO_PASSWORD", "tone_wav", "solid_png"]

DEMO_PASSWORD = "demo-password"


def tone_wav(frequency: float = 440.0, seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A mono 8-bit WAV of a sine tone."""
    frames = bytes(
        int(128 + 100 * math.sin(2 * math.pi * frequency * i / rate))
        for i in range(int(rate * seconds))
    )
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
    return header + fmt + b"data" + struct.pack("<I", len(frames)) + frames


def solid_png(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """A square PNG of one colour."""
    row = b"\x00" + bytes(rgb) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def seed_demo(db: Session, storage: MediaStorage, *, only_if_empty: bool = True) -> str:
    """Create demo creators, records and remixes; returns a one-line summary."""
    if only_if_empty and db.scalar(select(func.count()).select_from(Creator)):
        return "demo: the database already has creators; nothing seeded"
    people = {}
    for name in ("Ana", "Bo", "Cy", "Dee"):
        people[name] = accounts.register(
            db, email=f"{name.lower()}@demo.hitrack", password=DEMO_PASSWORD, display_name=name
        )

    def upload(
        who: str,
        title: str,
        data: bytes,
        filename: str,
        *,
        sources: dict[str, object] | None = None,
        ai: bool = False,
        description: str = "",
    ) -> str:
        work = records.upload_record(
            db,
            storage,
            people[who],
            stream=io.BytesIO(data),
            filename=filename,
            title=title,
            description=description,
            consent_ai_training=ai,
            sources=sources,
            max_bytes=10**8,
        )
        return work.public_id

    shoreline = upload(
        "Ana",
        "Shoreline",
        tone_wav(392.0),
        "shoreline.wav",
        ai=True,
        description="Field recording of waves, slowed down.",
    )
    sketch = upload(
        "Cy",
        "Night Swim (sketch)",
        solid_png((20, 40, 90)),
        "sketch.png",
        description="Colour study for the cover.",
    )
    lyrics = upload(
        "Dee", "Salt Lyrics", b"we swim at night\nthe salt keeps time\n", "lyrics.txt", ai=True
    )
    tide = upload(
        "Bo",
        "Tide",
        tone_wav(440.0),
        "tide.wav",
        sources={shoreline: "0.4"},
        description="A remix of Shoreline with a bass line.",
    )
    night_swim = upload(
        "Ana",
        "Night Swim",
        tone_wav(523.25),
        "night-swim.wav",
        sources={tide: "0.6", sketch: "0.1", lyrics: "1/10"},
        description="The full song: Tide, with lyrics and the cover sketch.",
    )
    _seed_production_and_model(
        db, people, tide=tide, sketch=sketch, shoreline=shoreline, lyrics=lyrics
    )
    _seed_revenue(db, night_swim=night_swim, shoreline=shoreline, lyrics=lyrics)
    return (
        f"demo: seeded {len(people)} creators, 5 records, a production, a model and 3 sales; "
        f"log in as ana@demo.hitrack with password {DEMO_PASSWORD!r}"
    )


def _seed_production_and_model(
    db: Session, people: dict[str, Creator], *, tide: str, sketch: str, shoreline: str, lyrics: str
) -> None:
    """A production with its split open for comments, and a model trained on opted-in records."""
    video = productions.create_production(
        db,
        people["Dee"],
        title="Night Swim (video)",
        description="The music video: Tide over the cover art.",
        contributions=[
            ContributionInput(tide, "0.5", "composer"),
            ContributionInput(sketch, "0.3", "illustrator"),
        ],
    )
    productions.publish_proposal(
        db,
        people["Dee"],
        video.public_id,
        retained="0.2",
        window=timedelta(days=14),
        note="Half to the music, 30% to the art; I keep 20% for the edit.",
    )
    ai_models.register_model(
        db,
        people["Cy"],
        name="Tidal",
        version="1",
        retained="1/2",
        attribution_weight="1/2",
        manifest={shoreline: 2, lyrics: 1},
        description="A small sound model trained on opted-in records.",
    )


def _seed_revenue(db: Session, *, night_swim: str, shoreline: str, lyrics: str) -> None:
    """A few sales, settled into the ledger, so the earnings pages have something to explain."""
    from fractions import Fraction

    from hitrack.db.models import Work
    from hitrack.services import revenue

    events: list[dict[str, object]] = [
        {
            "external_id": "demo:night-swim:stream-1",
            "work": night_swim,
            "amount": 100_000_000,
            "currency": "USD",
            "costs": 10_000_000,
            "fee_rate": "0.1",
        },
        {
            "external_id": "demo:night-swim:stream-2",
            "work": night_swim,
            "amount": 42_503_333,
            "currency": "USD",
            "fee_rate": "0.1",
        },
    ]
    model = db.scalar(
        select(Work).where(Work.kind == "model", Work.status == "active").order_by(Work.id.desc())
    )
    if model is not None:
        events.append(
            {
                "external_id": "demo:model:output-1",
                "work": model.public_id,
                "amount": 12_000_000,
                "currency": "USD",
                "fee_rate": "0.2",
                "attribution": {shoreline: "3", lyrics: "1"},
            }
        )
    for event in events:
        revenue.record_revenue(db, None, event, default_fee_rate=Fraction(0))
