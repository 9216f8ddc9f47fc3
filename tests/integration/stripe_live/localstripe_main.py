"""Run localstripe on an inherited, already-bound loopback socket with its own data file.

Why not `localstripe --port`: its command line binds every interface and saves its
state to one fixed file in /tmp that parallel test runs would share. Usage:
`python localstripe_main.py FD DATA_FILE` (FD: a listening socket passed by the parent).

Two things real Stripe does are added, from Stripe's API reference, because write-back
depends on them and localstripe lacks them (named here so no test mistakes them for
localstripe's own behaviour):
- every answer carries a `Request-Id` header (`req_…`), which the SDK puts on its errors;
- `POST /v1/invoices/{id}/pay` takes `paid_out_of_band=true`: the invoice becomes `paid`
  with no charge (`paid_out_of_band: true` on the object); without it, localstripe's own
  pay runs unchanged.
"""

from __future__ import annotations

import itertools
import pickle
import socket
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError

_request_ids = itertools.count(1)


def _pay(id: str, paid_out_of_band: Any = None, **kwargs: Any) -> Any:
    if str(paid_out_of_band).lower() != "true":
        return _localstripe_pay(id, **kwargs)
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs))
    invoice = resources.Invoice._api_retrieve(id)
    if invoice.status == "paid":
        raise UserError(400, "Invoice is already paid")
    if invoice.status not in ("draft", "open"):
        raise UserError(400, f"You can only pay an open invoice; this one is {invoice.status}")
    invoice._draft = False
    invoice._bb_out_of_band = True
    invoice.paid_out_of_band = True
    invoice._on_payment_success()
    return invoice


def _status(self: Any) -> str:
    if getattr(self, "_bb_out_of_band", False) and not self._voided:
        return "paid"
    return str(_localstripe_status.fget(self))  # type: ignore[misc]


_localstripe_pay = resources.Invoice._api_pay_invoice
_localstripe_status = resources.Invoice.status
resources.Invoice.status = property(_status)  # type: ignore[method-assign,assignment]
resources.extra_apis[:] = [
    (method, url, _pay if url == "/v1/invoices/{id}/pay" else func)
    for method, url, func in resources.extra_apis
]

from localstripe import server  # noqa: E402 - routes are built from extra_apis on import


async def _request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Request-Id"] = f"req_localstripe{next(_request_ids):06d}"


def main() -> None:
    fd, data = int(sys.argv[1]), Path(sys.argv[2])

    def load(self: resources.Store) -> None:
        if data.exists():
            self.clear()
            self.update(pickle.loads(data.read_bytes()))

    def dump(self: resources.Store) -> None:
        data.write_bytes(pickle.dumps(dict(self), protocol=pickle.HIGHEST_PROTOCOL))

    resources.Store.try_load_from_disk = load  # type: ignore[method-assign]
    resources.Store.dump_to_disk = dump  # type: ignore[method-assign]
    server.app.on_response_prepare.append(_request_id)
    sock = socket.socket(fileno=fd)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
