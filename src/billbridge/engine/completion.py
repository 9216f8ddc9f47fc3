"""Records completed by their source before they go down the path (CompletingSource).

Why: a record can reach billbridge in a shape that lacks what its posting needs (a
webhook's copy of a Stripe charge names its balance transaction by id), or stand for
records it implies (a refunded charge, its refunds). Only the connector knows those
fields; the engine asks it, where the source can (`connectors.base.CompletingSource`).
"""

from __future__ import annotations

from collections.abc import Sequence

from billbridge.connectors.base import CompletingSource, FatalError, RawRecord, RetryableError

from .model import FlowRuntime, StopRun

__all__ = ["completed"]


def completed(
    flow: FlowRuntime, records: Sequence[RawRecord], *, implied: bool, strict: bool
) -> list[RawRecord]:
    """Records with what they need fetched by their source, when it can (CompletingSource).

    `implied`: also the records each implies (a refunded charge's refunds). `strict`: a
    source that cannot be asked now stops the run (`StopRun`), else the record goes on
    as it is (it fails or waits as it would have).
    """
    source = flow.source
    if not isinstance(source, CompletingSource):
        return list(records)
    done: list[RawRecord] = []
    for raw in records:
        try:
            found = source.complete(raw)
        except (RetryableError, FatalError) as exc:
            if strict:
                what = f"{raw.object} {raw.id}"
                raise StopRun(f"could not complete {what} from the source: {exc}") from exc
            found = [raw]
        if not implied:
            found = [r for r in found if (r.object, r.id) == (raw.object, raw.id)] or [raw]
        done.extend(found)
    return done
