"""Every job kind the platform runs: importing this module registers their handlers."""

from hitrack.services import compact_graph, manifests, payout_runs, settlement

__all__ = ["KINDS"]

KINDS = (payout_runs.KIND, compact_graph.KIND, settlement.KIND, manifests.KIND)
