"""Background work: where a job runs, behind one small interface.

A job is a row (:class:`hitrack.db.models.Job`) with a kind, parameters, a
status and progress; :mod:`hitrack.services.jobs` creates it, runs it and
reports on it. This package only decides *where* the work happens once the
row is committed:

============ ============================================= ==================
queue        what ``enqueue`` does                         worker
============ ============================================= ==================
``inline``   runs the job at once, in this process         none (default)
``database`` nothing: the queued row is the queue          ``hitrack worker``
``rq``       puts the job id on an RQ queue in Redis       ``hitrack worker``
============ ============================================= ==================

Every queue hands the same job id to the same runner, so a job behaves the
same wherever it runs; the runner claims the row before working, so a job id
delivered twice (a redelivery after a killed worker) runs once.
"""

from hitrack.jobs.base import JobQueue
from hitrack.jobs.factory import make_job_queue

__all__ = ["JobQueue", "make_job_queue"]
