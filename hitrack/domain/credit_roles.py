"""The vocabulary of credit roles: what a person credited on a work did.

Modelled on CRediT (the Contributor Roles Taxonomy, for research and text)
and the DDEX contributor roles (music, film and video). A role outside the
list is written ``other: <what they did>``. :func:`parse_role` is the one
check: it lower-cases, trims and collapses spaces, and names the offending
role in its error.
"""

from __future__ import annotations

import re

from hitrack.domain.errors import InvalidInput

__all__ = ["CREDIT_ROLES", "OTHER_PREFIX", "parse_role"]

OTHER_PREFIX = "other:"

#: CRediT's fourteen roles, then DDEX-style performance, production and crew roles.
CREDIT_ROLES: tuple[str, ...] = (
    # CRediT
    "conceptualization",
    "data curation",
    "formal analysis",
    "funding acquisition",
    "investigation",
    "methodology",
    "project administration",
    "resources",
    "software",
    "supervision",
    "validation",
    "visualization",
    "writing - original draft",
    "writing - review and editing",
    # DDEX contributor roles (performance)
    "actor",
    "performer",
    "featured artist",
    "musician",
    "singer",
    "voice actor",
    "narrator",
    "dancer",
    "stunt performer",
    "conductor",
    # writing and composition
    "writer",
    "screenwriter",
    "composer",
    "lyricist",
    "songwriter",
    "arranger",
    # production and direction
    "director",
    "assistant director",
    "producer",
    "executive producer",
    "production designer",
    "art director",
    "casting director",
    # camera, sound and picture
    "cinematographer",
    "camera operator",
    "editor",
    "colorist",
    "visual effects artist",
    "animator",
    "photographer",
    "sound designer",
    "sound mixer",
    "recording engineer",
    "mixing engineer",
    "mastering engineer",
    "programmer",
    # crew
    "costume designer",
    "makeup artist",
    "hair stylist",
    "set decorator",
    "gaffer",
    "grip",
    "location manager",
)
_KNOWN = frozenset(CREDIT_ROLES)
_SPACES = re.compile(r"\s+")


def parse_role(raw: object, *, who: str = "a credit") -> str:
    """The role in canonical form; InvalidInput naming ``who`` if it is outside the vocabulary.

    Examples
    --------
    >>> parse_role("  Sound   Mixer ")
    'sound mixer'
    >>> parse_role("other: Foley artist")
    'other: foley artist'
    >>> parse_role("gaffer's helper", who="credit 2 (Ann)")
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: credit 2 (Ann): role "gaffer's helper" is not in the vocabulary; write "other: gaffer's helper"
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(f"{who}: a role is required")
    role = _SPACES.sub(" ", raw.strip().lower())
    if role.startswith(OTHER_PREFIX):
        text = role[len(OTHER_PREFIX) :].strip()
        if not text:
            raise InvalidInput(f'{who}: "other:" needs a description of the role')
        role = f"{OTHER_PREFIX} {text}"
    elif role not in _KNOWN:
        raise InvalidInput(
            f'{who}: role "{raw.strip()}" is not in the vocabulary; write "other: {raw.strip()}"'
        )
    if len(role) > 120:
        raise InvalidInput(f"{who}: role is longer than 120 characters")
    return role
