"""Attribution use cases: index a manifest, score an output, report it, feed revenue.

- :func:`index_manifest` computes the signatures a model's manifest records
  lack (each record once, reused by every model that trains on it) and stores
  them; it is idempotent, reports progress, and is what a job runs. Until
  there is a job queue it runs inline right after a model version is
  registered (:func:`index_after_registration`, called from
  :mod:`hitrack.services.ai_models`).
- :func:`submit_output` lets a model's operator submit an output (a text, a
  file, or their own scores); the platform keeps the confident matches and
  stores the output with its exact vector (integers summing to 10^6).
- :func:`output_vector` is the one way a revenue event naming an output gets
  its attribution (:mod:`hitrack.services.revenue`).
- :func:`output_report` is the attribution report: matched works, scores,
  signals and what the output's revenue paid through each. The model's
  operator, admins and the owners and credit holders of a matched work
  may read it.

A manifest's signatures are stacked into one in-memory index per media kind,
loaded once per process and cached under the state of its signatures (their
count and newest id): a finished index job, or a new signal version, makes a
new entry.
"""

from hitrack.services.attribution.indexing import (
    MAX_RECORD_BYTES,
    IndexResult,
    index_after_registration,
    index_manifest,
)
from hitrack.services.attribution.outputs import (
    MAX_OUTPUT_BYTES,
    MAX_TEXT_CHARS,
    OutputSubmission,
    output_vector,
    outputs_of_model,
    read_output_upload,
    submit_output,
)
from hitrack.services.attribution.reports import (
    MatchCount,
    OutputReport,
    ReportLine,
    matched_in,
    matches_for_creator,
    output_report,
)

__all__ = [
    "MAX_OUTPUT_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_TEXT_CHARS",
    "IndexResult",
    "MatchCount",
    "OutputReport",
    "OutputSubmission",
    "ReportLine",
    "index_after_registration",
    "index_manifest",
    "matched_in",
    "matches_for_creator",
    "output_report",
    "output_vector",
    "outputs_of_model",
    "read_output_upload",
    "submit_output",
]
