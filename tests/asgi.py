"""One HTTP request through the deployed ASGI application, in-process (no server, no socket)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from ticketing.config.asgi import application

WAIT = 30  # seconds: a deadline against hanging, not a timing assertion


def request(
    method: str, path: str, body: bytes = b"", headers: list | None = None
) -> tuple[int, dict, bytes]:
    async def scenario():
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "headers": [(b"host", b"localhost"), *(headers or [])],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        app = ApplicationCommunicator(application, scope)
        # The body in two parts: the handler must read until more_body is false.
        await app.send_input({"type": "http.request", "body": body[:3], "more_body": True})
        await app.send_input({"type": "http.request", "body": body[3:]})
        start = await app.receive_output(WAIT)
        chunks = []
        while True:
            message = await app.receive_output(WAIT)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await app.wait(WAIT)
        headers_out: dict[str, list[str]] = {}
        for name, value in start["headers"]:
            headers_out.setdefault(name.decode().lower(), []).append(value.decode())
        return start["status"], headers_out, b"".join(chunks)

    return async_to_sync(scenario)()
