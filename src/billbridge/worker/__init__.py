"""`billbridge worker`: the work between requests, so nothing waits for a person or a delivery.

A webhook receiver answers Stripe before it processes an event; if `serve` dies right
after the answer, the event waits in the inbox. A flow that polls (the events API, an
export file) needs someone to run `sync`. The worker does both: it drains every
pending inbox and syncs each flow whose `every:` has passed.

On SQLite it is one loop in one process (`_local`); on PostgreSQL it is a procrastinate
worker (`_queue`), and any number of them, on any machines, share the jobs without
ever running one flow twice at once.
"""

from __future__ import annotations

from ._jobs import ACTOR, DRAIN, RECOGNIZE, SYNC, JobResult, due_jobs, run_job
from ._local import WorkerBusyError, run_local

__all__ = [
    "ACTOR",
    "DRAIN",
    "RECOGNIZE",
    "SYNC",
    "JobResult",
    "WorkerBusyError",
    "due_jobs",
    "run_job",
    "run_local",
]
