"""Run localstripe on an inherited, already-bound loopback socket with its own data file.

Why not `localstripe --port`: its command line binds every interface and saves its
state to one fixed file in /tmp that parallel test runs would share. Usage:
`python localstripe_main.py FD DATA_FILE` (FD: a listening socket passed by the parent).
"""

from __future__ import annotations

import pickle
import socket
import sys
from pathlib import Path

from aiohttp import web
from localstripe import resources, server


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
    sock = socket.socket(fileno=fd)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
