"""Users, API tokens and web sessions for `billbridge serve`, and the audit search it shows.

Why in the store: a service with several workers (or machines, on PostgreSQL) must
agree on who may log in and which sessions are live. Only hashes arrive here: the
service hashes passwords (argon2id) and tokens (SHA-256) before calling, so no secret
ever reaches the database, a log or an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .base import AuditRow, Role, StoreError, UserRow

__all__ = ["UserStoreMixin"]


class UserStoreMixin:
    """The user, token, session and audit-search methods of `SqlStore`."""

    if TYPE_CHECKING:  # provided by SqlStore and RowReader
        _q: dict[str, str]

        def _guard(self, what: str) -> AbstractContextManager[None]: ...
        def _write(self, *, lock: bool = False) -> AbstractContextManager[Any]: ...
        def _all(self, name: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _one(self, name: str, params: Sequence[Any] = ()) -> Any: ...
        def _ts(self, at: datetime) -> Any: ...
        def _opt_ts(self, at: datetime | None) -> Any: ...
        def _dt(self, value: Any) -> datetime: ...
        def _audit(self, r: Sequence[Any]) -> AuditRow: ...

    def _user(self, r: Sequence[Any]) -> UserRow:
        return UserRow(name=r[0], role=r[1], password_hash=r[2], created_at=self._dt(r[3]))

    def add_user(self, *, name: str, role: Role, password_hash: str) -> UserRow:
        now = datetime.now(UTC)
        with self._guard("add user"), self._write() as tx:
            params = (name, role, password_hash, self._ts(now))
            if not tx.execute(self._q["insert_user"], params).fetchall():
                raise StoreError(f"user {name!r} already exists")
        return UserRow(name=name, role=role, password_hash=password_hash, created_at=now)

    def get_user(self, name: str) -> UserRow | None:
        with self._guard("get user"):
            row = self._one("get_user", (name,))
        return None if row is None else self._user(row)

    def list_users(self) -> list[UserRow]:
        with self._guard("list users"):
            return [self._user(r) for r in self._all("list_users")]

    def add_token(
        self, *, user: str, token_hash: str, label: str, expires_at: datetime | None
    ) -> int:
        params = (user, token_hash, label, self._ts(datetime.now(UTC)), self._opt_ts(expires_at))
        with self._guard("add token"), self._write() as tx:
            (token_id,) = tx.execute(self._q["insert_token"], params).fetchall()[0]
        return int(token_id)

    def user_for_token(self, token_hash: str) -> UserRow | None:
        with self._guard("check token"):
            row = self._one("user_for_token", (token_hash, self._ts(datetime.now(UTC))))
        return None if row is None else self._user(row)

    def add_session(self, *, session_hash: str, user: str, csrf: str, expires_at: datetime) -> None:
        now = self._ts(datetime.now(UTC))
        with self._guard("start session"), self._write() as tx:
            tx.execute(self._q["delete_session"], ("", now))  # sweep the expired ones
            tx.execute(
                self._q["insert_session"], (session_hash, user, csrf, now, self._ts(expires_at))
            )

    def session_user(self, session_hash: str) -> tuple[UserRow, str] | None:
        with self._guard("check session"):
            row = self._one("session_user", (session_hash, self._ts(datetime.now(UTC))))
        return None if row is None else (self._user(row), str(row[4]))

    def end_session(self, session_hash: str) -> None:
        with self._guard("end session"), self._write() as tx:
            tx.execute(self._q["delete_session"], (session_hash, self._ts(datetime.now(UTC))))

    def search_audit(
        self,
        *,
        record_key: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditRow]:
        """The latest `limit` rows matching every given filter, in seq order."""
        lo, hi = self._opt_ts(since), self._opt_ts(until)
        params = (record_key, record_key, actor, actor, lo, lo, hi, hi, limit)
        with self._guard("search audit"):
            return [self._audit(r) for r in self._all("search_audit", params)]
