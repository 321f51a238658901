"""lrs/service/guard.py: a response's head leaves with its body in one write; 100 Continue and bodiless answers
are not held back."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from lrs.service.guard import BoundedHttpToolsProtocol, OneWriteResponse


class Connection:
    """The transport side uvicorn's protocol writes to: records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 204 if scope["path"] == "/empty" else 200
    await send({"type": "http.response.start", "status": status,
                "headers": [] if status == 204 else [(b"content-length", str(len(body) + 2).encode())]})
    await send({"type": "http.response.body", "body": b"" if status == 204 else b"<" + body + b">"})


def _serve(*chunks: bytes) -> Connection:
    async def run() -> Connection:
        config = Config(app=echo, lifespan="off", log_level="warning")
        protocol = BoundedHttpToolsProtocol(config, ServerState(), {})
        connection = Connection()
        protocol.connection_made(connection)  # type: ignore[arg-type]
        for chunk in chunks:
            protocol.data_received(chunk)
            for _ in range(20):  # let the request's task run
                await asyncio.sleep(0)
        protocol.connection_lost(None)
        return connection
    return asyncio.run(run())


def test_head_and_body_leave_in_one_write() -> None:
    writes = _serve(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi").writes
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n<hi>")


def test_continue_is_sent_at_once_and_bodiless_answers_are_flushed() -> None:
    # The client waits for 100 Continue before it sends the body: it cannot be held back.
    writes = _serve(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", b"ok").writes
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n" and writes[1].endswith(b"<ok>") and len(writes) == 2
    head_only = _serve(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n").writes
    assert len(head_only) == 1 and head_only[0].startswith(b"HTTP/1.1 200 OK\r\n"), head_only
    empty = _serve(b"GET /empty HTTP/1.1\r\nHost: t\r\n\r\n").writes
    assert len(empty) == 1 and empty[0].startswith(b"HTTP/1.1 204"), empty


def test_a_held_head_is_sent_before_the_connection_closes() -> None:
    connection = Connection()
    view = OneWriteResponse(connection)
    view.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    assert connection.writes == []
    view.close()
    assert connection.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"] and connection.closed
