"""Who a work's retained value is paid to: its owners, and its credits through the credit pool.

DESIGN section 1: a work's *payees* share what the work keeps (its retained
value). Each owner ``o`` gets ``(1 - pool) * ownership(o)`` and each credit
``c`` gets ``pool * weight(c) / sum(weights)``; the same person's parts add
up. Without credits (or with a pool of 0) the payees are the owners. A
credit's payee is a creator id, or ``credit:<id>`` for an unclaimed credit,
whose money waits in its escrow until a verified creator claims it.

This module is the one home of that rule: :func:`payee_shares` (and
:func:`payee_parts`, the same split kept per reason, for explanations) is
what every engine, the explanations and the interchange format use, and
:func:`check_credits` is the one check of a work's credits. Recouped costs
are not retained value: they go back to the owners alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import networkx as nx

from hitrack.domain.errors import InvalidInput, InvalidShare

__all__ = [
    "UNCLAIMED_PREFIX",
    "Credit",
    "PayeePart",
    "payee_parts",
    "payee_shares",
    "payees_of",
    "check_credits",
]

# A credit not yet claimed is paid to its escrow, named "credit:<credit id>".
UNCLAIMED_PREFIX = "credit:"


@dataclass(frozen=True)
class Credit:
    """A person credited on a work: who is paid (``payee``), for what ``role``, with what ``weight``.

    Examples
    --------
    >>> Credit("credit:k7", "sound mixer", Fraction(1)).payee
    'credit:k7'
    """

    payee: str
    role: str
    weight: Fraction


@dataclass(frozen=True)
class PayeePart:
    """One reason a payee is paid from a work, and the part of the work's retained value it gives.

    ``role`` is None for an owner's part and the credit's role for a credit's
    part. ``credit_pool`` is the work's pool: a credit's part comes through
    it, an owner's part is what the owner keeps after it.
    """

    payee: str
    share: Fraction
    role: str | None = None
    credit_pool: Fraction = Fraction(0)


def payee_parts(
    owners: Mapping[str, Fraction], credits: Sequence[Credit], credit_pool: Fraction
) -> list[PayeePart]:
    """Every non-zero part of a work's retained value: owners first, then credits in order.

    Examples
    --------
    >>> payee_parts({"studio": Fraction(1)}, [Credit("gina", "performer", Fraction(3)),
    ...              Credit("credit:k7", "sound mixer", Fraction(1))], Fraction(1, 4))
    ... # doctest: +NORMALIZE_WHITESPACE
    [PayeePart(payee='studio', share=Fraction(3, 4), role=None, credit_pool=Fraction(1, 4)),
     PayeePart(payee='gina', share=Fraction(3, 16), role='performer', credit_pool=Fraction(1, 4)),
     PayeePart(payee='credit:k7', share=Fraction(1, 16), role='sound mixer',
               credit_pool=Fraction(1, 4))]
    """
    kept = 1 - credit_pool
    parts = [
        PayeePart(owner, kept * fraction, None, credit_pool)
        for owner, fraction in owners.items()
        if kept * fraction
    ]
    if credit_pool and credits:
        total = sum((credit.weight for credit in credits), Fraction(0))
        parts.extend(
            PayeePart(credit.payee, credit_pool * credit.weight / total, credit.role, credit_pool)
            for credit in credits
        )
    return parts


def payee_shares(
    owners: Mapping[str, Fraction], credits: Sequence[Credit], credit_pool: Fraction
) -> dict[str, Fraction]:
    """Each payee's exact part of a work's retained value (DESIGN section 1), sorted by payee id.

    Parameters
    ----------
    owners : mapping
        Owner id -> ownership fraction (summing to 1).
    credits : sequence of Credit
        The work's credits (weights > 0).
    credit_pool : Fraction
        The part of the retained value that goes to the credits, in [0, 1];
        above 0 only with credits (:func:`check_credits`).

    Returns
    -------
    dict[str, Fraction]
        Payee id -> fraction, non-zero only; the fractions sum to 1.

    Examples
    --------
    >>> payee_shares({"studio": Fraction(1)}, [Credit("gina", "performer", Fraction(3)),
    ...               Credit("studio", "writer", Fraction(1))], Fraction(1, 4))
    {'gina': Fraction(3, 16), 'studio': Fraction(13, 16)}
    >>> payee_shares({"a": Fraction(1, 2), "b": Fraction(1, 2)}, [], Fraction(0))
    {'a': Fraction(1, 2), 'b': Fraction(1, 2)}
    """
    if not credit_pool:
        return dict(sorted(owners.items()))
    shares: dict[str, Fraction] = {}
    for part in payee_parts(owners, credits, credit_pool):
        shares[part.payee] = shares.get(part.payee, Fraction(0)) + part.share
    return dict(sorted(shares.items()))


def payees_of(G: nx.DiGraph, work: str) -> dict[str, Fraction]:
    """The payees of ``work`` in a graph built by :func:`~hitrack.domain.graph.build_graph`.

    Examples
    --------
    >>> from hitrack.domain.graph import Work, build_graph
    >>> G = build_graph([Work("f1", "record", {"studio": Fraction(1)},
    ...                       credits=(Credit("gina", "performer", Fraction(1)),),
    ...                       credit_pool=Fraction(1, 5))])
    >>> payees_of(G, "f1")
    {'gina': Fraction(1, 5), 'studio': Fraction(4, 5)}
    """
    data = G.nodes[work]
    return payee_shares(data["owners"], data.get("credits", ()), data.get("credit_pool", 0))


def check_credits(
    work: str,
    credits: Sequence[Credit],
    credit_pool: Fraction,
    *,
    min_credit_pool: Fraction = Fraction(0),
) -> None:
    """Check a work's credits and credit pool; errors name the work (and the payee).

    The rules: every credit names a payee (a creator id, or ``credit:<id>``)
    and a role, and has a weight > 0; the pool lies in [0, 1]; a pool above 0
    needs credits; a work with credits has a pool of at least
    ``min_credit_pool`` (the platform's ``HITRACK_MIN_CREDIT_POOL``, a rule
    for new and edited works, not for stored ones).

    Raises
    ------
    InvalidShare
        A weight or pool out of range.
    InvalidInput
        A missing payee or role, or a pool above 0 without credits.

    Examples
    --------
    >>> check_credits("f1", [], Fraction(1, 4))
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: work f1: credit_pool 1/4 is above 0 but the work has no credits
    """
    for credit in credits:
        payee = credit.payee
        if not isinstance(payee, str) or not payee or payee == UNCLAIMED_PREFIX:
            raise InvalidInput(
                f"work {work}: a credit's payee must be a creator id or credit:<id>, got {payee!r}",
                ids=(work,),
            )
        if not isinstance(credit.role, str) or not credit.role.strip():
            raise InvalidInput(f"work {work}: the credit of {payee} has no role", ids=(work, payee))
        weight = credit.weight
        if isinstance(weight, bool) or not isinstance(weight, int | Fraction) or weight <= 0:
            raise InvalidShare(
                f"work {work}: credit weight of {payee} must be positive, got {weight}",
                ids=(work, payee),
            )
    if isinstance(credit_pool, bool) or not isinstance(credit_pool, int | Fraction):
        raise InvalidShare(f"work {work}: credit_pool must be an exact number", ids=(work,))
    if not 0 <= credit_pool <= 1:
        raise InvalidShare(f"work {work}: credit_pool {credit_pool} is outside [0, 1]", ids=(work,))
    if credit_pool and not credits:
        raise InvalidInput(
            f"work {work}: credit_pool {credit_pool} is above 0 but the work has no credits",
            ids=(work,),
        )
    if credits and credit_pool < min_credit_pool:
        raise InvalidShare(
            f"work {work}: credit_pool {credit_pool} is below the minimum {min_credit_pool} "
            "for a work with credits",
            ids=(work,),
        )
