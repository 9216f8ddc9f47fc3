"""Runs that end: finished, failed by an exception, or found `crashed` after their process died.

Why: a run row says `running` from its start until the engine finishes it. A process
killed mid-run (SIGKILL, OOM, a lost machine) never finishes it, and a run that raised
an exception other than a connector's fatal error used to stay open as well, so
`status` and the Runs page showed work in progress that nobody was doing.

- A run that raises anything is finished as `failed`, with the error, before the
  exception goes on (`RunLife.__exit__`). The error names the exception's type and, for
  billbridge's own errors (connector, store), their message, which is written to hold no
  record data; for any other exception only where it was raised, never its message (it
  may quote a record).
- A run left `running` by a dead process is marked `crashed` by the next run of its flow
  (and by `status`, the daily report and the Runs page) with an audit row. Which process
  runs a run is in its row (`RunOwner`): on the same host (and PID namespace) a run is
  alive while its pid is, and in this very process while its token is active here (the
  threads of `serve`, or a worker, may run several flows at once); a run of another host
  is alive while its heartbeat (written as it commits, at most every `HEARTBEAT_SECONDS`)
  is younger than `REMOTE_STALE`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from billbridge.connectors.base import ConnectorError
from billbridge.store.base import RunFigures, RunOwner, RunRow, Runs, StoreError

__all__ = [
    "HEARTBEAT_SECONDS",
    "REMOTE_STALE",
    "RunLife",
    "close_dead_runs",
    "describe_error",
    "is_alive",
    "pid_alive",
    "this_host",
]

HEARTBEAT_SECONDS = 30.0
REMOTE_STALE = timedelta(minutes=15)
_ERROR_CHARS = 500

_log = logging.getLogger(__name__)
_active: set[str] = set()  # tokens of the runs this process is running now
_active_lock = threading.Lock()


def this_host() -> str:
    """The host name, with the PID namespace when there is one (containers share names)."""
    name = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return name
    return f"{name}/{namespace}"


_HOST = this_host()


def pid_alive(pid: int) -> bool:
    """Whether a process of this host (and PID namespace) has `pid` (another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_alive(run: RunRow, *, now: datetime) -> bool:
    """Whether the process running `run` still runs it (see the module docstring)."""
    owner = run.owner
    if owner is not None and owner.host == _HOST:
        if owner.pid == os.getpid():
            with _active_lock:
                return owner.token in _active
        return pid_alive(owner.pid)
    last = run.heartbeat_at or run.started_at
    return now - last < REMOTE_STALE


def _why_dead(run: RunRow) -> str:
    owner = run.owner
    if owner is not None and owner.host == _HOST:
        if owner.pid == os.getpid():
            return "this process no longer runs it"
        return f"its process (pid {owner.pid}) is gone"
    last = (run.heartbeat_at or run.started_at).isoformat(timespec="seconds")
    where = f"host {owner.host.split('/')[0]}" if owner is not None else "its process"
    return f"no sign of life from {where} since {last}"


def close_dead_runs(
    store: Runs, *, flow: str | None = None, actor: str = "system", now: datetime | None = None
) -> list[int]:
    """Mark `crashed` every run of `flow` (None: of every flow) whose process is gone."""
    now = now or datetime.now(UTC)
    closed = []
    for run in store.running_runs(flow=flow):
        if is_alive(run, now=now):
            continue
        error = (
            f"the process running it ended without finishing it ({_why_dead(run)}); what it "
            "committed stays, and the next run of the flow resumes from there"
        )
        if store.close_dead_run(run.id, status="crashed", error=error, actor=actor):
            closed.append(run.id)
    return closed


def describe_error(exc: BaseException) -> str:
    """What ended a run, for its row: no record data, no secrets (see the module docstring)."""
    kind = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt); the next run resumes from the last commit"
    if isinstance(exc, ConnectorError | StoreError):
        text = " ".join(str(exc).split())
        return f"{kind}: {text}"[:_ERROR_CHARS]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "billbridge" in Path(f.filename).parts]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    if where is None:
        return f"{kind} (see the process's log)"
    parts = Path(where.filename).parts
    short = "/".join(parts[parts.index("billbridge") :]) if "billbridge" in parts else parts[-1]
    return f"{kind} in {short}:{where.lineno} ({where.name}); see the process's log"


class RunLife:
    """One run's row from start to end, owned by this process.

    Starting closes the flow's dead runs first, then starts this one with its owner;
    `beat` notes it alive (at most every `HEARTBEAT_SECONDS`); `finish` ends it; leaving a
    `with` block by an exception finishes it as `failed` with the error, then the
    exception goes on.
    """

    def __init__(
        self, store: Runs, *, flow: str, kind: str, actor: str, mapping_version: str = ""
    ) -> None:
        self.store = store
        close_dead_runs(store, flow=flow)
        self.owner = RunOwner(host=_HOST, pid=os.getpid(), token=secrets.token_hex(8))
        with _active_lock:
            _active.add(self.owner.token)
        try:
            self.run = store.start_run(
                flow=flow, kind=kind, actor=actor, mapping_version=mapping_version,
                owner=self.owner,
            )  # fmt: skip
        except BaseException:
            self._forget()
            raise
        self.counts: Mapping[str, int] = {}
        self._ended = False
        self._last_beat = time.monotonic()

    def _forget(self) -> None:
        with _active_lock:
            _active.discard(self.owner.token)

    def beat(self) -> None:
        if time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = time.monotonic()
            self.store.touch_run(self.run.id)

    def finish(
        self,
        *,
        counts: Mapping[str, int],
        status: str,
        figures: RunFigures | None = None,
        error: str = "",
    ) -> None:
        self.counts = counts
        try:
            self.store.finish_run(
                self.run.id, counts=counts, status=status, figures=figures, error=error
            )
            self._ended = True
        finally:
            self._forget()

    def fail(self, exc: BaseException) -> None:
        """Finish as `failed` with what `exc` was; never raises (the caller re-raises `exc`)."""
        if self._ended:
            return
        try:
            self.finish(counts=self.counts, status="failed", error=describe_error(exc))
        except Exception:  # the store itself may be what failed: the next run marks it crashed
            _log.warning("could not finish run %s as failed", self.run.id, exc_info=True)
        finally:
            self._forget()

    def __enter__(self) -> RunLife:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.fail(exc)
