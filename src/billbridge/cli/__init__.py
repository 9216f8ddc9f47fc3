"""The `billbridge` command: thin typer commands over the engine, one module per job.

Why a package: each module imports its helpers from `_common` and nothing else of the
CLI, so adding a command never means an import circle. Importing this package registers
every command on `app`, in the order `billbridge --help` lists them.
"""

from __future__ import annotations

from importlib import import_module

from ._common import app
from .books import books_app
from .mapping import mapping_app
from .monitor import register as _register_monitor
from .numbers import numbers_cmd
from .service import serve, token_app, user_app
from .stripe import stripe_app
from .worker import worker_cmd

__all__ = ["app", "main"]

# Each module registers its commands when imported, in the order `billbridge --help` lists.
for _name in (
    "workspace", "sync", "recognize", "queue", "resolve", "approve", "erase", "audit", "doctor",
    "login",
):  # fmt: skip
    import_module(f"{__name__}.{_name}")

_register_monitor(app)
app.command("serve")(serve)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(books_app, name="books")
app.add_typer(mapping_app, name="mapping")
app.command("numbers")(numbers_cmd)
app.command("worker")(worker_cmd)
app.add_typer(stripe_app, name="stripe")


def main() -> None:
    app()
