"""Who acts: an identity the store can prove (an API token of one of its users) or not.

Why the CLI needs proof: four-eyes means the author of a mapping draft (or of a record's
last change) cannot approve it, which is only meaningful when people cannot claim any
name they like. A name from the environment (`BILLBRIDGE_ACTOR`, the OS user) is kept
for what needs no telling apart: a sandbox, or a store with no users yet.

Tokens reach the CLI through `BILLBRIDGE_TOKEN`, or through `billbridge login`, which
checks a user's password against the store and keeps a short-lived token (12 hours) in a
file only the OS user can read, one per state store. Only SHA-256 digests of tokens are
in the store, so a leaked database logs nobody in.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .roles import Action, Role, permits
from .store.base import Users

__all__ = [
    "LOGIN_HOURS",
    "TOKEN_ENV",
    "TOKEN_PREFIX",
    "Identity",
    "digest",
    "login_file",
    "new_token",
    "new_token_with_id",
    "person_of",
    "proven_identity",
]

TOKEN_ENV = "BILLBRIDGE_TOKEN"  # noqa: S105 - the name of a variable, not a secret
TOKEN_PREFIX = "bb_"  # noqa: S105 - a visible prefix, not a secret
LOGIN_HOURS = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """`name` is the person (a user name when `proven`); `actor` how the audit log names them.

    `proven`: signed in with a token checked against the store's users. An identity that
    is not proven comes from the environment and is trusted only where nobody has to be
    told apart (a sandbox, a store without users); four-eyes never accepts it.
    """

    name: str
    role: Role
    proven: bool
    actor: str = ""

    def __post_init__(self) -> None:
        if not self.actor:
            object.__setattr__(self, "actor", self.name)

    def may(self, what: Action | Role) -> bool:
        return permits(self.role, what)


def person_of(actor: str) -> str:
    """The person behind an audit actor: `token:ana` and `cli:ana` are ana."""
    for prefix in ("token:", "cli:"):
        if actor.startswith(prefix):
            return actor.removeprefix(prefix)
    return actor


def digest(secret: str) -> str:
    """What the store keeps of a token or session id (SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(
    store: Users, *, user: str, label: str = "", expires_at: datetime | None = None
) -> str:
    """A new API token for `user`; the plain text is returned once and never stored."""
    return new_token_with_id(store, user=user, label=label, expires_at=expires_at)[1]


def new_token_with_id(
    store: Users, *, user: str, label: str = "", expires_at: datetime | None = None
) -> tuple[int, str]:
    """(its id, the token): `billbridge login` keeps the id to revoke it at `logout`."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ident = store.add_token(user=user, token_hash=digest(token), label=label,
                            expires_at=expires_at)  # fmt: skip
    return ident, token


def proven_identity(store: Users, token: str) -> Identity | None:
    """The user a live token belongs to (None: unknown, revoked or expired)."""
    user = store.user_for_token(digest(token.strip()))
    if user is None:
        return None
    return Identity(name=user.name, role=user.role, proven=True, actor=user.name)


def login_file(state_url: str, *, home: Path | None = None) -> Path:
    """Where `billbridge login` keeps this OS user's token for one state store."""
    base = os.environ.get("XDG_STATE_HOME") or str((home or Path.home()) / ".local" / "state")
    return Path(base) / "billbridge" / f"login-{digest(state_url)[:16]}.token"


def login_expiry() -> datetime:
    return datetime.now(UTC) + timedelta(hours=LOGIN_HOURS)
