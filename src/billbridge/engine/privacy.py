"""Values in the audit log without personal data: hashes salted per data subject.

Why: the audit chain is append-only and hashed row by row, so a value written into it
can never be erased without breaking the chain. What an auditor needs of a conflict's
values is to tell them apart and to match them against a value they are shown, not to
read them. So the log keeps `sha256(salt + value)`, with one random salt per subject
(the link's record key) in the state store; GDPR erasure deletes the salt, after which
no hash in the chain can be tied to anything, and the chain still verifies.
"""

from __future__ import annotations

import hashlib

__all__ = ["hashed"]


def hashed(salt: str, value: str) -> str:
    """`sha256:<hex>` of the value under the subject's salt."""
    return "sha256:" + hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()
