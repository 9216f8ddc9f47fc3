"""The `change_control:` and `approvals:` sections of billbridge.yaml.

Why their own module: `config.py` holds the workspace shape every part shares; who must
look at what before it reaches production changes with a business's risks. Both are
optional: without them a production flow still runs only its promoted mapping, and
promoting needs a second person (`four_eyes: true`, the default).

An approval rule holds a record as "awaiting approval: RULE" until an approver decides;
it never lets the record go by itself. Each condition written must hold (AND):

```yaml
approvals:
  - name: large-credit-notes
    object: credit_note
    over: 1000 EUR              # the record's amount in EUR, strictly more than 1,000
  - name: large-refunds
    object: refund
    over: 500 EUR
    any_currency: true          # other currencies converted at the mapping's `fx:` rates
  - name: acme-uk
    entity: acme-uk             # any record the mapping routes to this entity
  - name: invoice-changed
    object: invoice
    total_changed_after_posting: true
```
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billbridge.domain import is_currency

__all__ = ["APPROVABLE", "ApprovalRule", "ChangeControl"]

APPROVABLE = ("invoice", "credit_note", "payment", "refund", "payout")
_OVER = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s+([A-Z]{3})\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ChangeControl(_Strict):
    """`four_eyes`: on a production flow, a mapping is promoted only by an approver who did
    not write it, after a `mapping test` of exactly that draft (false: one person may)."""

    four_eyes: bool = True


class ApprovalRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    object: Literal["invoice", "credit_note", "payment", "refund", "payout"] | None = None
    over: str | None = None  # "1000 EUR": the record's amount strictly above it
    any_currency: bool = False
    entity: str | None = None
    total_changed_after_posting: bool = False

    @field_validator("over")
    @classmethod
    def _money(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _OVER.match(value)
        if match is None or not is_currency(match.group(2)):
            raise ValueError(f"{value!r} is not an amount and currency like `1000 EUR`")
        try:
            Decimal(match.group(1).replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount and currency like `1000 EUR`") from None
        return value

    @model_validator(mode="after")
    def _says_something(self) -> ApprovalRule:
        if self.over is None and self.entity is None and not self.total_changed_after_posting:
            raise ValueError(
                f"approval rule {self.name!r} holds nothing: give `over:`, `entity:` or "
                "`total_changed_after_posting: true`"
            )
        if self.total_changed_after_posting and self.object not in (None, "invoice"):
            raise ValueError("`total_changed_after_posting` is about invoices: `object: invoice`")
        if self.any_currency and self.over is None:
            raise ValueError("`any_currency` converts the `over:` amount: give `over:` too")
        return self

    @property
    def threshold(self) -> tuple[Decimal, str] | None:
        """`over` as (amount, currency)."""
        if self.over is None:
            return None
        match = _OVER.match(self.over)
        assert match is not None  # validated
        return Decimal(match.group(1).replace(",", "").replace("_", "")), match.group(2)

    def describe(self) -> str:
        parts = [f"{self.object.replace('_', ' ')}s" if self.object else "records"]
        if self.over:
            parts.append(f"over {self.over}" + (" (any currency)" if self.any_currency else ""))
        if self.entity:
            parts.append(f"of entity {self.entity}")
        if self.total_changed_after_posting:
            parts.append("whose total changed after posting")
        return " ".join(parts)
