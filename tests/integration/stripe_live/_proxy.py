"""A real TCP proxy in front of localstripe that can drop a connection after the request.

`drop_next_response()` makes the proxy forward the next POST to localstripe, let
localstripe handle it (the change happens), read its answer and then close the client's
connection without sending it: the client sees a dropped connection after sending,
the ambiguous case of a write.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DroppingProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._drops = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._closing = False

    def drop_next_response(self, count: int = 1) -> None:
        with self._lock:
            self._drops += count

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drops:
                self._drops -= 1
                self.dropped += 1
                return True
            return False

    def serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        """One request per connection (the answer carries `Connection: close`)."""
        upstream = socket.create_connection(self.upstream)
        try:
            request = _read_request(client)
            if not request:
                return
            # one request per upstream connection: ask localstripe to close after answering
            head, _, body = request.partition(b"\r\n\r\n")
            lines = [
                line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")
            ]
            upstream.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body)
            response = b""
            while chunk := upstream.recv(65536):
                response += chunk
            if request.startswith(b"POST ") and self._take_drop():
                return  # the change happened upstream; the client never hears of it
            client.sendall(response)
        finally:
            upstream.close()
            client.close()

    def close(self) -> None:
        self._closing = True
        self._server.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def dropping_proxy(base_url: str) -> Iterator[DroppingProxy]:
    host, _, port = base_url.removeprefix("http://").partition(":")
    proxy = DroppingProxy((host, int(port)))
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
