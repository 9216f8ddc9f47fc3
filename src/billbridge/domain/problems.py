"""Problems in data are values, not exceptions.

Why: a run over ten thousand invoices must finish and say which ones are wrong and how
to fix each. A validation step returns `(value, problems)`; the engine turns problems
into exception-queue rows. Each problem names its record, its field and a fix hint, the
three things the person who owns the queue needs to act alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .frozen import fast_init

__all__ = ["DomainError", "Problem", "Severity"]


class Severity(StrEnum):
    """What the problem does to its record: an `error` stops it, a `warning` rides along."""

    ERROR = "error"
    WARNING = "warning"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with one record: `record` and `field` say where, `hint` what to do."""

    record: str
    field: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        text = f"{self.record}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text


class DomainError(ValueError):
    """A domain value refused to exist; carries the problems that say why."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
