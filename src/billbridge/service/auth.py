"""Who is asking: passwords, API tokens, web sessions, roles and the login rate limit.

Why these choices: passwords are hashed with argon2id (memory-hard, so a stolen user
table is expensive to crack); API tokens and session ids are long random strings the
store keeps only as SHA-256 digests (they are not guessable, so a fast hash suffices,
and a database dump holds nothing that logs in). Roles and what each may do are in
`billbridge.roles`, shared with the CLI (which must not need this module's extra).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from billbridge.identity import digest, new_token
from billbridge.roles import ROLES, Role, permits
from billbridge.store.base import UserRow, Users

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "USER_NAME",
    "LoginLimiter",
    "Principal",
    "allows",
    "create_session",
    "create_token",
    "digest",
    "hash_password",
    "verify_password",
]

USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"  # shown in the audit log and the page header
MIN_PASSWORD = 12
SESSION_HOURS = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The authenticated caller of one request."""

    name: str
    role: Role
    via: Literal["session", "token"]
    csrf: str = ""  # the session's CSRF token (empty for bearer tokens)

    @property
    def actor(self) -> str:
        """How the audit log names this caller: the user, and a token as `token:<user>`."""
        return self.name if self.via == "session" else f"token:{self.name}"


def allows(role: Role, needed: Role) -> bool:
    """At least role `needed`; `billbridge.roles.permits` decides (one function everywhere)."""
    return permits(role, needed)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: UserRow | None, password: str) -> bool:
    """Constant work whether or not the user exists, so timing does not reveal names."""
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        return _hasher.verify(stored, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def create_token(
    store: Users, *, user: str, label: str = "", expires_at: datetime | None = None
) -> str:
    """A new API token for `user`; the plain text is returned once and never stored."""
    return new_token(store, user=user, label=label, expires_at=expires_at)


def create_session(store: Users, user: str) -> tuple[str, str]:
    """A new web session: (session id for the cookie, CSRF token for the forms)."""
    session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    store.add_session(session_hash=digest(session), user=user, csrf=csrf, expires_at=expires)
    return session, csrf


class LoginLimiter:
    """At most `attempts` failed logins per (client, user name) in a sliding window.

    In memory on purpose: it slows down password guessing against one process; a
    multi-machine deployment puts its reverse proxy's rate limit in front as well.
    """

    def __init__(self, *, attempts: int = 5, window_seconds: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, client: str, name: str) -> bool:
        with self._lock:
            return len(self._recent((client, name), time.monotonic())) >= self.attempts

    def failed(self, client: str, name: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent((client, name), now).append(now)

    def succeeded(self, client: str, name: str) -> None:
        with self._lock:
            self._failures.pop((client, name), None)
