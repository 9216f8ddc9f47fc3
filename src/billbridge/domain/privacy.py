"""Pseudonyms for erased personal data: the same subject always gets the same stand-in.

Why deterministic: after a GDPR erasure the source still sends the person's records (an
invoice must stay in the books), and billbridge replaces their personal fields on the
way in. The stand-in must be the same bytes every time, or each sync would see a
"changed" record. It is derived from the subject's record key, which is an id in a
system, never personal data itself.
"""

from __future__ import annotations

import hashlib

__all__ = ["ERASED_DOMAIN", "pseudonym", "pseudonym_email", "same_length"]

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: never a real mail domain


def _tag(subject: str) -> str:
    return hashlib.blake2b(subject.encode(), digest_size=5).hexdigest()


def pseudonym(subject: str) -> str:
    """`erased-<10 hex>` for the subject key `connection:object:id` (or `object:id`)."""
    return f"erased-{_tag(subject)}"


def pseudonym_email(subject: str) -> str:
    return f"{pseudonym(subject)}@{ERASED_DOMAIN}"


def same_length(subject: str, original: str) -> str:
    """A stand-in of exactly as many UTF-8 bytes as `original` (ASCII, no quotes).

    For files whose byte offsets must not move (billbridge's own Beancount file, whose
    committed length the state store keeps): `erased-…` cut or padded with `x`.
    """
    size = len(original.encode())
    text = f"erased-{_tag(subject)}"
    return (
        (text + "x" * size)[:size] if size >= len(text) else _tag(subject)[:size].ljust(size, "x")
    )
