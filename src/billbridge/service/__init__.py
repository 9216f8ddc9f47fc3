"""`billbridge serve`: the REST API and the web UI over the same engine calls as the CLI.

Install with the `service` extra (`pip install 'billbridge[service]'`); `create_app`
builds the FastAPI application for one workspace.
"""

from __future__ import annotations

__all__: list[str] = []
