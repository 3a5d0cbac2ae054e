"""The tiny HTTP server each service runs for Prometheus and for orchestrator probes.

`/metrics` for Prometheus, `/healthz` (the process is alive) and `/readyz` (Postgres and NATS are
reachable and every stream and consumer is declared). Plain asyncio: three fixed routes need no
web framework.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


class ProbeServer:
    def __init__(self, host: str, port: int, readiness: ReadinessCheck) -> None:
        self._host = host
        self._port = port
        self._readiness = readiness
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            # Drain the headers; none of them matter here.
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = await self._route(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest()
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            checks = await self._readiness()
            text = "".join(
                f"{name} {'ok' if good else 'failing'}\n" for name, good in checks.items()
            )
            status = "200 OK" if all(checks.values()) else "503 Service Unavailable"
            return status, "text/plain", text.encode()
        return "404 Not Found", "text/plain", b"not found\n"
