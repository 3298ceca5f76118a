"""Planted-copy material for the attribution evaluation, generated here from a seed.

Texts are prose generated from a word list (topics, templates, made-up
names), images are drawn with Pillow, audio is synthesised with numpy and
written as WAV. Each generator also makes the edited outputs the evaluation
plants: light and heavy edits, paraphrases, two-source mixes.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

# --- text ----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """A word list written as one string."""
    return text.split()


TOPICS: dict[str, list[str]] = {
    "sea": words(
        "tide harbour sail gull wave salt anchor reef current lighthouse deck hull oar net fisher"
    ),
    "mountain": words(
        "summit ridge glacier pass rope climber cliff snow peak valley boulder scree cairn "
        "ice trail"
    ),
    "kitchen": words(
        "oven flour pan butter knife onion broth garlic dough spice kettle apron recipe stove bread"
    ),
    "city": words(
        "street tram alley neon tower crowd subway taxi bridge market billboard traffic lamp "
        "corner siren"
    ),
    "forest": words(
        "oak moss fern owl pine root canopy deer stream mushroom bark thicket clearing fox acorn"
    ),
    "space": words(
        "orbit rocket planet comet station crater nebula astronaut hatch gravity satellite "
        "moon star probe signal"
    ),
    "music": words(
        "chord drum melody violin stage rhythm choir tempo piano singer verse chorus string "
        "horn encore"
    ),
    "farm": words(
        "barn tractor harvest wheat cattle field fence plough hay orchard goat silo furrow "
        "seed rain"
    ),
    "school": words(
        "teacher lesson chalk desk pupil exam library notebook bell homework classroom recess "
        "pencil lecture essay"
    ),
    "hospital": words(
        "nurse ward surgeon fever bandage clinic patient pulse scalpel x-ray stretcher "
        "medicine doctor wound recovery"
    ),
    "railway": words(
        "train platform signal carriage station ticket engine track whistle conductor "
        "timetable tunnel freight junction sleeper"
    ),
    "desert": words(
        "dune camel oasis sand mirage scorpion heat caravan cactus wind nomad canyon dust well sun"
    ),
    "winter": words(
        "frost sled fireplace blizzard mitten icicle skate cocoa chimney snowman scarf hearth "
        "drift thaw lantern"
    ),
    "garden": words(
        "rose hedge tulip soil trowel bee lavender greenhouse compost vine blossom shed "
        "sprinkler pond beetle"
    ),
    "football": words(
        "goal striker referee pitch whistle keeper penalty stadium captain tackle fans league "
        "corner header trophy"
    ),
    "court": words(
        "judge jury verdict witness lawyer trial evidence bench appeal clerk defendant oath "
        "sentence gavel testimony"
    ),
    "finance": words(
        "bank loan interest ledger broker shares debt auditor vault coin invoice budget "
        "profit merger tax"
    ),
    "painting": words(
        "canvas brush easel palette portrait varnish pigment gallery sketch fresco charcoal "
        "frame studio mural ochre"
    ),
    "storm": words(
        "thunder lightning gale hail flood cloud shelter downpour barometer gust puddle "
        "umbrella roof drain warning"
    ),
    "circus": words(
        "clown acrobat tent juggler trapeze lion ringmaster tightrope popcorn elephant cannon "
        "magician unicycle drumroll spotlight"
    ),
    "library": words(
        "shelf archive manuscript index reader catalogue folio scroll binding librarian atlas "
        "ink page reference silence"
    ),
    "workshop": words(
        "hammer anvil lathe chisel sawdust bench vice solder drill plank bolt forge "
        "apprentice blueprint clamp"
    ),
    "island": words(
        "lagoon palm coconut volcano shell hammock castaway coral raft turtle shore breeze "
        "mangrove bay cove"
    ),
    "theatre": words(
        "curtain actor script rehearsal costume prompter balcony audience applause scene "
        "director mask footlights understudy encore"
    ),
}
ADJECTIVES = words(
    "old quiet bright heavy narrow restless golden pale sudden distant broken gentle "
    "hollow crowded silver tired careful furious patient crooked humble eager lonely "
    "fragile stubborn generous wary solemn clumsy nimble rusty brittle ragged polished "
    "ordinary peculiar"
)
VERBS = words(
    "carried watched followed crossed lifted dropped found missed painted guarded opened "
    "remembered pushed circled measured repaired buried counted traded hid sketched "
    "mended weighed scattered gathered borrowed polished described abandoned questioned"
)
NOUNS = words(
    "letter window coat bicycle clock mirror map blanket basket ladder kite wallet "
    "photograph umbrella compass bucket violin lantern envelope parcel ribbon button "
    "candle bottle key hat boot glove spoon cup plate chair table door gate wall roof "
    "stair cellar attic garden bench fountain statue tower bell flag drum horn whistle "
    "rope chain wheel cart wagon boat bridge road path river lake hill meadow field "
    "orchard barn mill well shop tavern inn chapel school office factory warehouse dock "
    "quay pier market square alley courtyard balcony terrace porch fence hedge gatepost "
    "signpost milestone"
)
PLACES = words("near beside beyond under behind across through along against around")
SYLLABLES = words("ka ro mi ve ta lun sor ei dra pel nov ith bar qu zen fa lo")
CONNECTORS = [
    "Later that day,",
    "At dawn,",
    "Without a word,",
    "Before long,",
    "By evening,",
    "Once again,",
    "In the end,",
    "Meanwhile,",
]

SYNONYMS: dict[str, str] = {
    "old": "ancient",
    "quiet": "silent",
    "bright": "shining",
    "heavy": "weighty",
    "narrow": "slim",
    "restless": "uneasy",
    "golden": "gilded",
    "pale": "faded",
    "sudden": "abrupt",
    "distant": "faraway",
    "broken": "shattered",
    "gentle": "soft",
    "hollow": "empty",
    "crowded": "packed",
    "silver": "grey",
    "tired": "weary",
    "carried": "bore",
    "watched": "observed",
    "followed": "trailed",
    "crossed": "traversed",
    "lifted": "raised",
    "dropped": "let fall",
    "found": "discovered",
    "missed": "overlooked",
    "painted": "coloured",
    "guarded": "protected",
    "opened": "unlocked",
    "remembered": "recalled",
    "pushed": "shoved",
    "circled": "rounded",
    "measured": "gauged",
    "near": "close to",
    "beside": "next to",
    "beyond": "past",
    "under": "beneath",
    "behind": "at the back of",
    "across": "over",
    "through": "via",
    "along": "alongside",
    "against": "upon",
    "around": "about",
    "the": "that",
    "and": "while",
}


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _sentence(
    rng: random.Random,
    words: Sequence[str],
    names: Sequence[str],
    adjectives: Sequence[str],
    verbs: Sequence[str],
) -> str:
    subject = (
        rng.choice(names)
        if rng.random() < 0.4
        else f"the {rng.choice(adjectives)} {rng.choice(words)}"
    )
    sentence = (
        f"{subject} {rng.choice(verbs)} the {rng.choice(words)} {rng.choice(PLACES)} "
        f"the {rng.choice(adjectives)} {rng.choice(words)}"
    )
    if rng.random() < 0.5:
        sentence += f" and the {rng.choice(words)} {rng.choice(verbs)} the {rng.choice(words)}"
    if rng.random() < 0.3:
        sentence = f"{rng.choice(CONNECTORS)} {sentence}"
    return sentence[0].upper() + sentence[1:] + "."


def make_text(rng: random.Random, sentences: int = 14) -> str:
    """A paragraph drawing on two topics, a handful of everyday nouns and three made-up names."""
    topics = rng.sample(sorted(TOPICS), 2)
    words = (
        rng.sample(TOPICS[topics[0]], 10) * 2
        + rng.sample(TOPICS[topics[1]], 5)
        + rng.sample(NOUNS, 10)
    )
    names = [_name(rng) for _ in range(3)]
    adjectives, verbs = rng.sample(ADJECTIVES, 10), rng.sample(VERBS, 10)
    return " ".join(_sentence(rng, words, names, adjectives, verbs) for _ in range(sentences))


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(".") if s.strip()]


def light_text_edit(rng: random.Random, text: str) -> str:
    """A few typos, one word swapped in four sentences, one sentence dropped."""
    parts = _sentences(text)
    parts.pop(rng.randrange(len(parts)))
    out = []
    for s in parts:
        words = s.split()
        if rng.random() < 0.25:
            i = rng.randrange(len(words))
            words[i] = rng.choice(ADJECTIVES)
        if rng.random() < 0.3:
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        out.append(" ".join(words))
    return " ".join(out)


def heavy_text_edit(rng: random.Random, text: str) -> str:
    """Half the sentences kept, a third of their words replaced, sentences reordered and new ones mixed in."""
    parts = _sentences(text)
    kept = rng.sample(parts, max(3, len(parts) // 2))
    other = _sentences(make_text(rng))
    out = []
    for s in kept:
        words = s.split()
        for i in range(len(words)):
            if rng.random() < 0.33:
                words[i] = rng.choice(ADJECTIVES + VERBS + PLACES)
        out.append(" ".join(words))
    out += rng.sample(other, 3)
    rng.shuffle(out)
    return " ".join(out)


def paraphrase_text(rng: random.Random, text: str) -> str:
    """Synonyms for most function and descriptive words, sentences reordered, some clauses moved."""
    out = []
    for s in _sentences(text):
        words = s.rstrip(".").split()
        words = [SYNONYMS.get(w.lower(), w) if rng.random() < 0.8 else w for w in words]
        if " and " in " ".join(words) and rng.random() < 0.5:
            first, _, second = " ".join(words).partition(" and ")
            words = f"{second[0].upper() + second[1:]}, and {first[0].lower() + first[1:]}".split()
        sentence = " ".join(words)
        out.append(sentence[0].upper() + sentence[1:] + ".")
    rng.shuffle(out)
    return " ".join(out)


def mix_texts(rng: random.Random, a: str, b: str) -> str:
    """Half the sentences of each source, interleaved, lightly edited."""
    pa, pb = _sentences(a), _sentences(b)
    mixed = rng.sample(pa, len(pa) // 2) + rng.sample(pb, len(pb) // 2)
    rng.shuffle(mixed)
    return light_text_edit(rng, " ".join(mixed))


# --- images --------------------------------------------------------------------------


def make_image(rng: random.Random, size: int = 256) -> Image.Image:
    """Shapes in random colours over a two-colour gradient."""
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    gradient = np.linspace(0, 1, size)[:, None, None]
    base = (np.array(top) * (1 - gradient) + np.array(bottom) * gradient).astype(np.uint8)
    image = Image.fromarray(np.repeat(base, size, axis=1), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(5, 10)):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.randrange(size), rng.randrange(size)
        x1, y1 = x0 + rng.randint(20, size // 2), y0 + rng.randint(20, size // 2)
        shape = rng.choice(("ellipse", "rectangle", "polygon", "line"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "polygon":
            draw.polygon(
                [(rng.randrange(size), rng.randrange(size)) for _ in range(5)], fill=colour
            )
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(4, 14))
    return image


def encode(image: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def _noise(rng: random.Random, image: Image.Image, sigma: float) -> Image.Image:
    arr = np.asarray(image).astype(np.float32)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, sigma, arr.shape)
    return Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8), "RGB")


def light_image_edit(rng: random.Random, image: Image.Image) -> bytes:
    """Resized to 80% and re-encoded as JPEG."""
    w, h = image.size
    return encode(image.resize((int(w * 0.8), int(h * 0.8))), "JPEG", 75)


def heavy_image_edit(rng: random.Random, image: Image.Image) -> bytes:
    """5% cropped, halved, noisy, brighter, blurred and re-encoded at low JPEG quality."""
    w, h = image.size
    edited = image.crop((int(w * 0.05), int(h * 0.05), w, h)).resize((w // 2, h // 2))
    edited = ImageEnhance.Brightness(_noise(rng, edited, 12)).enhance(1.2)
    return encode(edited.filter(ImageFilter.GaussianBlur(1)), "JPEG", 35)


def paraphrase_image(rng: random.Random, image: Image.Image) -> bytes:
    """Rotated a few degrees, recoloured and contrast-shifted, cropped by 8%."""
    w, h = image.size
    edited = image.rotate(rng.uniform(-4, 4), resample=Image.Resampling.BILINEAR)
    edited = edited.crop((int(w * 0.08), int(h * 0.08), int(w * 0.92), int(h * 0.92)))
    edited = ImageEnhance.Color(ImageEnhance.Contrast(edited).enhance(0.7)).enhance(1.6)
    return encode(edited, "JPEG", 80)


def mix_images(rng: random.Random, a: Image.Image, b: Image.Image) -> bytes:
    """The two side by side (a collage), re-encoded."""
    w, h = a.size
    canvas = Image.new("RGB", (2 * w, h))
    canvas.paste(a, (0, 0))
    canvas.paste(b.resize((w, h)), (w, 0))
    return encode(canvas, "JPEG", 85)


# --- audio ---------------------------------------------------------------------------

RATE = 11025
SCALE = [0, 2, 4, 7, 9]


def make_melody(rng: random.Random, seconds: float = 24.0) -> list[tuple[float, float, float]]:
    """Notes as (start, duration, frequency)."""
    notes, t = [], 0.0
    while t < seconds:
        duration = rng.choice((0.2, 0.3, 0.4, 0.6))
        midi = 48 + 12 * rng.randrange(3) + rng.choice(SCALE)
        notes.append((t, duration, 440.0 * 2 ** ((midi - 69) / 12)))
        t += duration
    return notes


def render(
    rng: random.Random,
    notes: Sequence[tuple[float, float, float]],
    seconds: float = 24.0,
    harmonics: Sequence[float] = (1.0, 0.5, 0.25),
) -> np.ndarray:
    """The melody as float samples, with a noise-burst beat under it."""
    out = np.zeros(int(RATE * seconds), dtype=np.float64)
    for start, duration, freq in notes:
        n = int(RATE * duration)
        i = int(RATE * start)
        if i >= len(out):
            break
        t = np.arange(min(n, len(out) - i)) / RATE
        envelope = np.minimum(1.0, t * 40) * np.exp(-3 * t)
        tone = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))
        out[i : i + len(t)] += envelope * tone
    beat = np.random.default_rng(rng.randrange(2**32))
    for start in np.arange(0, seconds, 0.5):
        i = int(RATE * start)
        n = min(int(RATE * 0.05), len(out) - i)
        out[i : i + n] += 0.3 * beat.normal(0, 1, n) * np.exp(-np.arange(n) / (RATE * 0.01))
    return out / max(1e-9, np.abs(out).max())


def wav(samples: np.ndarray) -> bytes:
    """16-bit mono WAV."""
    pcm = (np.clip(samples, -1, 1) * 32000).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def add_noise(rng: random.Random, samples: np.ndarray, snr_db: float) -> np.ndarray:
    power = float(np.mean(samples**2))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(
        0, np.sqrt(power / 10 ** (snr_db / 10)), len(samples)
    )
    return samples + noise


def excerpt(rng: random.Random, samples: np.ndarray, seconds: float) -> np.ndarray:
    n = int(RATE * seconds)
    start = rng.randrange(0, max(1, len(samples) - n))
    return samples[start : start + n]


def light_audio_edit(rng: random.Random, samples: np.ndarray) -> bytes:
    """Noise at 30 dB SNR and a gain change."""
    return wav(0.7 * add_noise(rng, samples, 30))


def heavy_audio_edit(rng: random.Random, samples: np.ndarray) -> bytes:
    """A 10-second excerpt, noise at 10 dB SNR, a low-pass filter."""
    cut = add_noise(rng, excerpt(rng, samples, 10.0), 10)
    smoothed = np.convolve(cut, np.ones(4) / 4, mode="same")
    return wav(smoothed / max(1e-9, np.abs(smoothed).max()))


def mix_audio(rng: random.Random, a: np.ndarray, b: np.ndarray) -> bytes:
    """A medley: 10 seconds of one, then 10 seconds of the other, with noise."""
    return wav(add_noise(rng, np.concatenate([excerpt(rng, a, 10.0), excerpt(rng, b, 10.0)]), 20))
