"""Users, API tokens and web sessions for `billbridge serve`, and the audit search it shows.

Why in the store: a service with several workers (or machines, on PostgreSQL) must
agree on who may log in and which sessions are live. Only hashes arrive here: the
service hashes passwords (argon2id) and tokens (SHA-256) before calling, so no secret
ever reaches the database, a log or an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from billbridge.roles import Role

from .base import AuditEvent, AuditRow, StoreError, UserRow

__all__ = ["LastAdminError", "NotFoundError", "TokenRow", "TokenStatus", "UserStoreMixin"]

TokenStatus = Literal["active", "expired", "revoked"]

TOUCH_EVERY = timedelta(minutes=1)  # how stale `last_used_at` may get: one write a minute


class NotFoundError(StoreError):
    """No such user or token."""


class LastAdminError(StoreError):
    """The change would leave nobody able to manage users: refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRow:
    """An API token as admins see it: never its hash, which stays in the store."""

    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None  # to the minute (see TOUCH_EVERY)
    revoked_at: datetime | None

    def status(self, now: datetime) -> TokenStatus:
        """`active`, `expired` or `revoked`: whether it authenticates at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


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
        def _prepare_audit(
            self, events: Sequence[AuditEvent], now: datetime
        ) -> list[tuple[AuditEvent, datetime, str, Any, str, bytes]]: ...
        def _append(
            self, tx: Any, events: list[tuple[AuditEvent, datetime, str, Any, str, bytes]]
        ) -> list[tuple[Any, ...]]: ...

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
        """The token's user while it is neither revoked nor expired; notes when it was used."""
        now = datetime.now(UTC)
        with self._guard("check token"):
            row = self._one("user_for_token", (token_hash, self._ts(now)))
        if row is None:
            return None
        if row[5] is None or self._dt(row[5]) <= now - TOUCH_EVERY:
            try:  # best effort: a busy writer lock must not refuse a valid token
                with self._guard("note token use"), self._write() as tx:
                    tx.execute(self._q["touch_token"], (self._ts(now), row[4]))
            except StoreError:
                pass  # the next request notes it
        return self._user(row)

    def _token(self, r: Sequence[Any]) -> TokenRow:
        opt = self._opt_dt
        return TokenRow(
            id=int(r[0]), user=r[1], label=r[2], created_at=self._dt(r[3]),
            expires_at=opt(r[4]), last_used_at=opt(r[5]), revoked_at=opt(r[6]),
        )  # fmt: skip

    def _opt_dt(self, value: Any) -> datetime | None:
        return None if value is None else self._dt(value)

    def list_tokens(self, *, user: str | None = None) -> list[TokenRow]:
        """Every token (revoked and expired ones too), oldest first; never a hash."""
        with self._guard("list tokens"):
            return [self._token(r) for r in self._all("list_tokens", (user, user))]

    def revoke_token(self, token_id: int, *, actor: str) -> tuple[TokenRow, bool]:
        """Revoke a token for good, with its audit row in the same transaction.

        Returns the token and whether this call revoked it (False: it already was, and
        nothing is written). Raises `NotFoundError` for an unknown id.
        """
        now = datetime.now(UTC)
        with self._guard("revoke token"), self._write(lock=True) as tx:
            rows = tx.execute(self._q["get_token"], (token_id,)).fetchall()
            if not rows:
                raise NotFoundError(f"no API token {token_id}; `billbridge token list` shows them")
            before = self._token(rows[0])
            if before.revoked_at is not None:
                return before, False
            tx.execute(self._q["revoke_token"], (self._ts(now), token_id))
            event = AuditEvent(
                actor=actor, action="token-revoked", at=now,
                diff={"token": [token_id, token_id], "user": [before.user, before.user],
                      "label": [before.label, before.label], "revoked": [False, True]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        after = TokenRow(
            id=before.id, user=before.user, label=before.label, created_at=before.created_at,
            expires_at=before.expires_at, last_used_at=before.last_used_at, revoked_at=now,
        )  # fmt: skip
        return after, True

    def _changing_user(self, tx: Any, name: str, *, demoting: bool) -> UserRow:
        """The user about to change, after the last-admin check (under the writer lock)."""
        rows = tx.execute(self._q["get_user"], (name,)).fetchall()
        if not rows:
            raise NotFoundError(f"no user {name!r}; `billbridge user list` shows them")
        user = self._user(rows[0])
        if demoting and user.role == "admin":
            (admins,) = tx.execute(self._q["count_admins"], ()).fetchall()[0]
            if int(admins) <= 1:
                raise LastAdminError(
                    f"{name!r} is the last admin; make another user admin first "
                    "(`billbridge user role NAME admin`), so someone can still manage users"
                )
        return user

    def remove_user(self, name: str, *, actor: str) -> tuple[UserRow, int]:
        """Remove a user: their tokens and sessions go with them (so stop working at once).

        Their audit rows stay: the log is append-only and names actors as text. Returns
        the removed user and how many live tokens went with them. Raises `NotFoundError`
        or `LastAdminError` (the last admin is never removed).
        """
        now = datetime.now(UTC)
        with self._guard("remove user"), self._write(lock=True) as tx:
            user = self._changing_user(tx, name, demoting=True)
            (tokens,) = tx.execute(self._q["count_tokens"], (name,)).fetchall()[0]
            tx.execute(self._q["delete_user"], (name,))
            event = AuditEvent(
                actor=actor, action="user-removed", at=now,
                diff={"user": [name, None], "role": [user.role, None],
                      "tokens": [int(tokens), 0]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        return user, int(tokens)

    def set_role(self, name: str, role: Role, *, actor: str) -> Role:
        """Change a user's role; returns the old one (no write, no audit row if unchanged).

        The role is read from this table on every request, so the user's open sessions
        and tokens act with the new role from their next request on.
        """
        now = datetime.now(UTC)
        with self._guard("change role"), self._write(lock=True) as tx:
            user = self._changing_user(tx, name, demoting=role != "admin")
            if user.role == role:
                return role
            tx.execute(self._q["set_role"], (role, name))
            event = AuditEvent(
                actor=actor, action="role-changed", at=now,
                diff={"user": [name, name], "role": [user.role, role]},
            )  # fmt: skip
            self._append(tx, self._prepare_audit([event], now))
        return user.role

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
