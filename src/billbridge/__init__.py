"""billbridge: post every invoice, payment, refund and credit note to the books exactly once."""

from __future__ import annotations

__version__ = "0.1.0"
