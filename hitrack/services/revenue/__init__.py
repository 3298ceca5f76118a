"""Revenue in: record one event, fund it, settle it into the ledger, all or nothing.

The package is split along its concepts; this module names the public
surface so callers can say ``revenue.record_revenue``:

- :mod:`.entries`: an event's fields, parsed and validated (:class:`RevenueInput`);
- :mod:`.events`: who may send revenue for a work, may the work earn, who may see an event;
- :mod:`.recording`: record one event (idempotent on its external id), reported or funded;
- :mod:`.settling`: fund an event, settle it now or hold it for a period, its allocations;
- :mod:`.csv_import`: many events from a CSV file, all rows checked before any is written.
- :mod:`.bulk_events`: checked events recorded funded in bulk, then the immediate ones settled.
"""

from __future__ import annotations

from hitrack.services.revenue.csv_import import (
    CSV_COLUMNS,
    ImportError_,
    ImportResult,
    amounts_from_units,
    import_csv,
)
from hitrack.services.revenue.entries import RevenueInput, parse_revenue
from hitrack.services.revenue.events import (
    AllocationRow,
    allocation_page,
    check_permission,
    check_sender,
    get_event,
    may_see,
    visible_event,
)
from hitrack.services.revenue.recording import (
    Recorded,
    funded_on_arrival,
    record_revenue,
    report_into,
    settle_into,
    validate_entry,
)
from hitrack.services.revenue.settling import (
    DEFAULT_PERIOD_MIN_SOURCES,
    Part,
    creator_ids,
    domain_event,
    exact_text,
    fund_into,
    insert_allocations,
    require_reported,
    settle_funded,
    settle_or_hold,
    settlement_mode,
    settlement_parts,
)

__all__ = [
    "AllocationRow",
    "allocation_page",
    "RevenueInput",
    "Recorded",
    "ImportResult",
    "ImportError_",
    "parse_revenue",
    "check_permission",
    "check_sender",
    "record_revenue",
    "funded_on_arrival",
    "settle_into",
    "fund_into",
    "report_into",
    "settle_funded",
    "settle_or_hold",
    "settlement_mode",
    "validate_entry",
    "creator_ids",
    "insert_allocations",
    "exact_text",
    "DEFAULT_PERIOD_MIN_SOURCES",
    "require_reported",
    "domain_event",
    "settlement_parts",
    "Part",
    "may_see",
    "import_csv",
    "amounts_from_units",
    "get_event",
    "visible_event",
    "CSV_COLUMNS",
]
