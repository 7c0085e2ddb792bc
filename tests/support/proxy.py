"""A TCP proxy in front of PostgreSQL that a test can cut and restore.

It makes "the database is unreachable" real for a service under test without
stopping the server that every other test shares.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import make_url


class DatabaseProxy:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        socket_dir = url.query.get("host")
        if isinstance(socket_dir, str) and socket_dir.startswith("/"):
            self._unix: str | None = f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
        else:
            self._unix = None
        self._target = (url.host or "127.0.0.1", url.port or 5432)
        self._url = url
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0

    @property
    def url(self) -> str:
        proxied = self._url.set(host="127.0.0.1", port=self.port)
        query = {k: v for k, v in proxied.query.items() if k != "host"}
        return proxied.set(query=query).render_as_string(hide_password=False)

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix:
            return await asyncio.open_unix_connection(self._unix)
        return await asyncio.open_connection(*self._target)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_target()
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    def hold(self) -> None:
        """Keep connections open but pass nothing on: every query in flight stalls."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()
