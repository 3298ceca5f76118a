"""The error tree of hitrack.

Every error a user can cause is a :class:`HitrackError` with a stable ``code``
and a message that names the offending ids. The web layer maps the classes to
HTTP statuses in one place (``hitrack.web.errors``); the CLI prints the
message on one line and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "HitrackError",
    "InvalidInput",
    "InvalidShare",
    "InvalidCitation",
    "CycleError",
    "ConsentRequired",
    "UnknownWork",
    "InvalidEvent",
    "LedgerImbalance",
    "IdempotencyConflict",
    "NotFound",
    "PermissionDenied",
    "Conflict",
    "AuthenticationFailed",
    "InvalidUpload",
]


class HitrackError(Exception):
    """Base of every error a user of hitrack can cause."""

    code = "error"

    def __init__(self, message: str, *, ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.ids = ids

    def __str__(self) -> str:
        return self.message


class InvalidInput(HitrackError):
    """A value has the wrong type, is missing or is out of range."""

    code = "invalid_input"


class InvalidShare(InvalidInput):
    """A share or fraction cannot be parsed or lies outside its range."""

    code = "invalid_share"


class InvalidCitation(InvalidInput):
    """A citation breaks a graph rule (self-citation, share sum above 1, ...)."""

    code = "invalid_citation"


class CycleError(InvalidCitation):
    """A citation would close a cycle in the contribution graph."""

    code = "cycle"


class ConsentRequired(InvalidCitation):
    """A work's owners have not consented to this use (remix or AI training)."""

    code = "consent_required"


class UnknownWork(InvalidInput):
    """A work id that does not exist was named."""

    code = "unknown_work"


class InvalidEvent(InvalidInput):
    """A revenue event is malformed (negative amount, fee rate out of range, ...)."""

    code = "invalid_event"


class InvalidUpload(InvalidInput):
    """An uploaded file is empty, too large or not an allowed media type."""

    code = "invalid_upload"


class LedgerImbalance(HitrackError):
    """A ledger transaction's postings do not sum to zero per currency."""

    code = "ledger_imbalance"


class IdempotencyConflict(HitrackError):
    """An idempotency key was reused with a different payload."""

    code = "idempotency_conflict"


class Conflict(HitrackError):
    """The request conflicts with the current state (e.g. an e-mail already taken)."""

    code = "conflict"


class NotFound(HitrackError):
    """The thing does not exist, or is not visible to the caller."""

    code = "not_found"


class PermissionDenied(HitrackError):
    """The caller is known but may not do this."""

    code = "forbidden"


class AuthenticationFailed(HitrackError):
    """Credentials or token are missing or wrong."""

    code = "unauthorized"


class InvalidSignature(InvalidInput):
    """A webhook's signature is missing, does not match its body, or is too old."""

    code = "invalid_signature"


class ProviderUnavailable(HitrackError):
    """An external provider (payments, storage) could not be reached or failed; retry later."""

    code = "provider_unavailable"


# Appended rather than edited into the list above so concurrent additions to
# the tree merge cleanly.
__all__ += ["InvalidSignature", "ProviderUnavailable"]
