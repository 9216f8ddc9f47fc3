"""Serve the webhook app of a workspace on an inherited loopback socket (crash tests).

Usage: `python webhook_main.py FD WORKSPACE FLOW`; secrets come from the environment,
and BILLBRIDGE_CRASH_AT kills the process at a named point while it processes.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import uvicorn

from billbridge.config import load_workspace
from billbridge.service.stripe_webhooks import create_webhook_app


def main() -> None:
    fd, root, flow = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    app = create_webhook_app(load_workspace(root, env=dict(os.environ)), flow=flow)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[socket.socket(fileno=fd)])


if __name__ == "__main__":
    main()
